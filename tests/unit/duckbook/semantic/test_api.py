"""duckbook.semantic.api: a query's arguments checked against the layer (errors list the choices), and
queries over an open connection."""

from __future__ import annotations

import ibis
import pytest

from duckbook.semantic import MetricError, SemanticLayer, api, query_warehouse
from tests.unit.duckbook.semantic.sample import LAYER, D, changed, orders_model, query
from tests.unit.helpers import rows

# --- query errors -----------------------------------------------------------------------------


def test_unknown_metric_lists_the_choices(tables):
    with pytest.raises(
        MetricError, match=r"^metrics: unknown metric 'nope'; choose from: cumulative_revenue, customer_count,"
    ):
        LAYER.query(["revenue", "nope"], tables)


def test_an_unknown_keyword_argument_lists_the_query_options(tables, con):
    choices = "by, grain, where, start, end, keep_empty"
    message = rf"^unknown query argument\(s\) \['grian'\]; choose from: {choices}$"
    for entry_point in (
        lambda: LAYER.query(["revenue"], tables, grian="day"),
        lambda: api.query(LAYER, ["revenue"], tables, grian="day"),
        lambda: query_warehouse(con, LAYER, ["revenue"], grian="day"),
    ):
        with pytest.raises(api.QueryArgumentError, match=message) as raised:
            entry_point()
        # a TypeError, as for any unexpected keyword, and a MetricError (a user error, exit 2)
        assert isinstance(raised.value, TypeError) and isinstance(raised.value, MetricError)


def test_the_query_options_are_every_keyword_of_a_query():
    assert list(api.QueryOptions.__annotations__) == ["by", "grain", "where", "start", "end", "keep_empty"]


def test_unknown_dimension(tables):
    # the choices include the time dimensions, though `by` refuses them (they are the grain's)
    choices = "channel, is_food, item_ordered_at, location_name, opened_at, ordered_at"
    with pytest.raises(MetricError, match=rf"^by: unknown dimension 'colour'; choose from: {choices}$"):
        LAYER.query(["revenue"], tables, by=["colour"])


def test_a_dimension_the_metric_cannot_reach_lists_the_allowed_ones(tables):
    # is_food belongs to items, and orders -> items is one-to-many: not allowed
    with pytest.raises(
        MetricError, match=r"metric revenue cannot be sliced by \['is_food'\]; it allows: channel, location_name"
    ):
        LAYER.query(["revenue"], tables, by=["is_food"])
    # a time dimension is not a `by` dimension: use the grain
    with pytest.raises(MetricError, match=r"cannot be sliced by \['ordered_at'\]"):
        LAYER.query(["revenue"], tables, by=["ordered_at"])


def test_unknown_grain(tables):
    with pytest.raises(MetricError, match=r"unknown grain 'hour'; choose from: day, week, month, quarter, year"):
        LAYER.query(["revenue"], tables, grain="hour")


def test_a_grain_the_time_dimension_does_not_allow(tables):
    layer = SemanticLayer.from_dict(
        changed(lambda s: orders_model(s)["dimensions"][0].update(grains=["month", "quarter", "year"]))
    )
    with pytest.raises(MetricError, match=r"metric revenue allows grains month, quarter, year, not 'day'"):
        layer.query(["revenue"], tables, grain="day")
    # derived metrics are checked through their inputs
    with pytest.raises(MetricError, match=r"allows grains month, quarter, year, not 'week'"):
        layer.query(["revenue_growth"], tables, grain="week")
    assert rows(layer.query(["revenue"], tables, grain="year"))[0] == {"period": D(2023, 1, 1), "revenue": 25.0}


def test_where_over_an_unknown_name(tables):
    with pytest.raises(
        MetricError, match=r"^where: unknown dimension 'nope'; choose from: channel, location_name, period$"
    ):
        LAYER.query(["revenue"], tables, where="nope == 1")
    with pytest.raises(MetricError, match=r"^where: unknown dimension 'nope'; choose from: channel, is_food,"):
        LAYER.query([], tables, by=["channel"], where="nope == 1")


def test_bad_start_or_end(tables):
    with pytest.raises(MetricError, match=r"start: 'last week' is not a date"):
        LAYER.query(["revenue"], tables, start="last week")
    with pytest.raises(MetricError, match=r"end: '2024-13-01' is not a date"):
        LAYER.query(["revenue"], tables, end="2024-13-01")


def test_a_dimension_only_query_takes_one_model(tables):
    with pytest.raises(MetricError, match="one semantic model"):
        LAYER.query([], tables, by=["location_name", "channel"])


def test_where_with_a_syntax_error(tables):
    with pytest.raises(MetricError, match=r"where: cannot parse expression"):
        LAYER.query(["revenue"], tables, where="channel ==")


def test_offset_without_grain_is_not_a_comparison_with_itself(tables):
    with pytest.raises(
        MetricError, match=r"^grain: metric revenue_growth compares periods \(an offset\), so it needs a grain$"
    ):
        LAYER.query(["revenue_growth"], tables, grain=None)


def test_a_dimension_only_query_over_an_unknown_dimension(tables):
    with pytest.raises(MetricError, match=r"^by: unknown dimension 'colour'"):
        LAYER.query([], tables, by=["colour"])


# --- the entry points -------------------------------------------------------------------------


def test_the_layer_method_is_the_api_function(tables):
    kwargs = {"by": ["location_name"], "grain": "quarter", "start": "2024-01-01"}
    assert rows(api.query(LAYER, ["revenue", "orders"], tables, **kwargs)) == query(
        tables, "revenue", "orders", **kwargs
    )


@pytest.fixture
def con(tables):
    """An in-memory DuckDB with the shop's tables in schema ``shop``."""
    con = ibis.duckdb.connect()
    con.raw_sql("CREATE SCHEMA shop")
    for name, table in tables.items():
        con.create_table(name.split(".")[1], table, database="shop")
    yield con
    con.disconnect()


def test_query_warehouse_reads_schema_tables_of_the_connection(con, tables):
    got = query_warehouse(
        con, LAYER, ["revenue", "item_revenue", "revenue_growth"], by=["location_name"], grain="month"
    )
    assert rows(got) == query(tables, "revenue", "item_revenue", "revenue_growth", by=["location_name"])
    assert rows(got)[:2] == [
        {
            "period": D(2023, 12, 1),
            "location_name": "Brooklyn",
            "revenue": 25.0,
            "item_revenue": None,
            "revenue_growth": None,
        },
        {
            "period": D(2024, 1, 1),
            "location_name": "Brooklyn",
            "revenue": 15.0,
            "item_revenue": 10.0,
            "revenue_growth": -0.4,
        },
    ]


def test_query_warehouse_passes_every_argument(con):
    got = query_warehouse(
        con,
        LAYER,
        ["orders"],
        by=["location_name"],
        grain="month",
        where="location_name != 'Chicago'",
        start="2024-02-01",
        end=D(2024, 3, 31),
        keep_empty=True,
    )
    assert rows(got) == [
        {"period": D(2024, 2, 1), "location_name": "Brooklyn", "orders": 0},
        {"period": D(2024, 2, 1), "location_name": "Denver", "orders": 0},
        {"period": D(2024, 3, 1), "location_name": "Brooklyn", "orders": 1},
        {"period": D(2024, 3, 1), "location_name": "Denver", "orders": 0},
    ]
    assert rows(query_warehouse(con, LAYER, [], by=["channel"], where="channel != 'app'")) == [{"channel": "web"}]


def test_query_warehouse_checks_the_arguments(con):
    with pytest.raises(MetricError, match=r"unknown grain 'hour'; choose from: day, week, month, quarter, year"):
        query_warehouse(con, LAYER, ["revenue"], grain="hour")


def test_query_warehouse_on_a_missing_table_names_it(con):
    layer = SemanticLayer.from_dict(changed(lambda s: orders_model(s).update(table="shop.nope")))
    with pytest.raises(MetricError, match=r"^table shop\.nope of the semantic layer is not in the warehouse"):
        query_warehouse(con, layer, ["revenue"])


def test_a_query_over_the_same_tables_is_compiled_once(tables):
    first = LAYER.query(["revenue"], tables, by=["location_name"])
    assert LAYER.query(["revenue"], dict(tables), by=["location_name"]) is first  # equal tables: kept
    assert LAYER.query(["revenue"], tables, by=["channel"]) is not first  # other arguments
    other = {**tables, "shop.orders": tables["shop.orders"].filter(ibis._.total > 0)}
    assert LAYER.query(["revenue"], other, by=["location_name"]) is not first  # other tables
    assert LAYER.query(["revenue"], tables.__getitem__, by=["location_name"]) is not first  # a function: no key
    assert rows(LAYER.query(["revenue"], dict(tables), by=["location_name"])) == rows(first)
