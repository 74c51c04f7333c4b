"""Every Jaffle Shop metric, on the committed sample, against an independent hand-written DuckDB query.

The marts are built once per module by ``benchmarks/floor.sql`` (the same marts as the pipeline,
in plain SQL). Each metric's definition in ``semantic_models.yml`` is then restated below as SQL
over those marts, and the semantic layer's answer must equal it row for row: decimals exactly,
floats approximately.

The sample holds three weeks of orders (2019-07-22 .. 2019-08-11) at two stores; four more stores
open later, so ``average_tax_rate`` (by store opening date) has its own periods.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import duckdb
import ibis
import pytest
import yaml

from duckbook.metrics import SemanticLayer
from tests.unit.helpers import rows

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
SEMANTIC_MODELS = ROOT / "lib" / "jaffle_shop" / "semantic_models.yml"

#: No grain: one "period" for everything (dropped from the result). No `by`: one member.
NO_PERIOD, NO_MEMBER = "DATE '2000-01-01'", "'(all)'"


# --- the independent definitions ----------------------------------------------------------------
#
# Three views, rebuilt for each grain and `by` dimension, each row with its `period` and `member`:
#   o  marts.orders       (+ location_name, customer_type)
#   i  marts.order_items  (+ location_name through the order, product_type)
#   s  marts.locations    (period from opened_date)

#: metric -> (view, aggregate): SELECT period, member, <aggregate> FROM <view> GROUP BY ALL
AGGREGATES = {
    "orders": ("o", "count(DISTINCT order_id)"),
    "new_customer_orders": ("o", "count(DISTINCT order_id) FILTER (WHERE customer_order_number = 1)"),
    # the layer computes orders - new_customer_orders; here: orders that were not the first
    "returning_customer_orders": ("o", "count(DISTINCT order_id) FILTER (WHERE customer_order_number > 1)"),
    "large_orders": ("o", "count(DISTINCT order_id) FILTER (WHERE order_total >= 20)"),
    "food_orders": ("o", "count(*) FILTER (WHERE is_food_order)"),
    "drink_orders": ("o", "count(*) FILTER (WHERE is_drink_order)"),
    "order_total": ("o", "sum(order_total)"),
    "median_revenue": ("o", "median(subtotal)"),
    "customers": ("o", "count(DISTINCT customer_id)"),
    "revenue": ("i", "sum(product_price)"),
    "order_cost": ("i", "sum(supply_cost)"),
    "food_revenue": ("i", "sum(product_price) FILTER (WHERE is_food_item)"),
    "drink_revenue": ("i", "sum(product_price) FILTER (WHERE is_drink_item)"),
    "food_revenue_pct": ("i", "sum(product_price) FILTER (WHERE is_food_item) / nullif(sum(product_price), 0)"),
    "drink_revenue_pct": ("i", "sum(product_price) FILTER (WHERE is_drink_item) / nullif(sum(product_price), 0)"),
    "order_gross_profit": ("i", "sum(product_price) - sum(supply_cost)"),
    "average_tax_rate": ("s", "avg(tax_rate)"),
}

#: metric -> a whole query returning (period, member, value); {step} is one period as an interval
QUERIES = {
    # item revenue of the period over the orders placed in it
    "average_order_value": """
        SELECT period, member, r.revenue / n.orders AS value
        FROM (SELECT period, member, sum(product_price) AS revenue FROM i GROUP BY ALL) AS r
        FULL JOIN (SELECT period, member, count(*) AS orders FROM o GROUP BY ALL) AS n USING (period, member)
    """,
    # a self-join on the previous period (a period with no revenue before it has no growth)
    "revenue_growth_mom": """
        WITH r AS (SELECT period, member, sum(product_price) AS revenue FROM i GROUP BY ALL)
        SELECT r.period, r.member, (r.revenue - prev.revenue) / prev.revenue AS value
        FROM r LEFT JOIN r AS prev ON prev.member = r.member AND prev.period = (r.period - {step})::date
    """,
    # every period from the first to the last with revenue, per member that has revenue, 0 where none
    "cumulative_revenue": """
        WITH r AS (SELECT period, member, sum(product_price) AS revenue FROM i GROUP BY ALL),
        periods AS (SELECT unnest(generate_series(min(period), max(period), {step}))::date AS period FROM r),
        grid AS (SELECT * FROM periods CROSS JOIN (SELECT DISTINCT member FROM r))
        SELECT period, member,
               sum(coalesce(r.revenue, 0)) OVER (PARTITION BY member ORDER BY period
                                                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS value
        FROM grid LEFT JOIN r USING (period, member)
    """,
}

METRICS = [  # in the order of semantic_models.yml
    "orders",
    "new_customer_orders",
    "returning_customer_orders",
    "large_orders",
    "food_orders",
    "drink_orders",
    "order_total",
    "revenue",
    "order_cost",
    "median_revenue",
    "food_revenue",
    "drink_revenue",
    "food_revenue_pct",
    "drink_revenue_pct",
    "revenue_growth_mom",
    "order_gross_profit",
    "average_order_value",
    "cumulative_revenue",
    "customers",
    "average_tax_rate",
]

#: which column of each view a `by` dimension is
MEMBERS = {
    "location_name": {"o": "l.location_name", "i": "l.location_name", "s": "location_name"},
    "customer_type": {"o": "c.customer_type"},
    "product_type": {"i": "p.product_type"},
}


def define_views(con: duckdb.DuckDBPyConnection, grain: str | None, by: str | None) -> None:
    def period(column: str) -> str:
        return f"date_trunc('{grain}', {column})::date" if grain else NO_PERIOD

    def member(view: str) -> str:
        return MEMBERS[by].get(view, "NULL") if by else NO_MEMBER

    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW o AS
        SELECT o.*, {period("o.ordered_at")} AS period, {member("o")} AS member
        FROM marts.orders o
        LEFT JOIN marts.locations l ON l.location_id = o.location_id
        LEFT JOIN marts.customers c ON c.customer_id = o.customer_id;

        CREATE OR REPLACE TEMP VIEW i AS
        SELECT i.*, {period("i.ordered_at")} AS period, {member("i")} AS member
        FROM marts.order_items i
        LEFT JOIN marts.orders o ON o.order_id = i.order_id
        LEFT JOIN marts.locations l ON l.location_id = o.location_id
        LEFT JOIN marts.products p ON p.product_id = i.product_id;

        CREATE OR REPLACE TEMP VIEW s AS
        SELECT *, {period("opened_date")} AS period, {member("s")} AS member FROM marts.locations;
    """)


def expected(con, metric: str, grain: str | None = "month", by: str | None = None) -> list[dict]:
    """``metric`` per period and ``by`` member, from the SQL above, shaped like a layer query."""
    define_views(con, grain, by)
    if metric in AGGREGATES:
        view, aggregate = AGGREGATES[metric]
        sql = f"SELECT period, member, {aggregate} AS value FROM {view} GROUP BY ALL"
    else:
        sql = QUERIES[metric].format(step=f"INTERVAL 1 {grain or 'day'}")
    out = []
    for period, member, value in con.sql(f"SELECT * FROM ({sql}) ORDER BY period, member").fetchall():
        row = {"period": period} if grain else {}
        out.append({**row, **({by: member} if by else {}), metric: value})
    return out


def assert_same(got: list[dict], want: list[dict]) -> None:
    """Same rows in the same order: floats approximately, everything else (decimals too) exactly,
    and the same Python types (a decimal turned float would still compare equal)."""
    assert got == [{k: pytest.approx(v, rel=1e-12) if isinstance(v, float) else v for k, v in r.items()} for r in want]
    assert [{k: type(v) for k, v in r.items()} for r in got] == [{k: type(v) for k, v in r.items()} for r in want]


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def con():
    """An in-memory DuckDB with the marts of the committed sample, built by the SQL floor."""
    con = duckdb.connect()
    sql = (ROOT / "benchmarks" / "floor.sql").read_text(encoding="utf-8")
    con.execute(sql.replace("{source}", str(ROOT / "data" / "sample")))
    yield con
    con.close()


@pytest.fixture(scope="module")
def tables(con):
    ibis_con = ibis.duckdb.from_connection(con)
    return lambda name: ibis_con.table(name.split(".")[1], database=name.split(".")[0])


@pytest.fixture(scope="module")
def layer():
    return SemanticLayer.from_dict(yaml.safe_load(SEMANTIC_MODELS.read_text(encoding="utf-8")))


def compute(layer, tables, metric, grain="month", by=None, **kwargs):
    return rows(layer.query([metric], tables, grain=grain, by=[by] if by else [], **kwargs))


# --- the layer ----------------------------------------------------------------------------------


def test_every_metric_has_an_independent_definition(layer):
    assert list(layer.metrics) == METRICS
    assert set(METRICS) == set(AGGREGATES) | set(QUERIES)


def test_the_project_loads_this_layer():
    from duckbook import metrics

    assert list(metrics.load().metrics) == METRICS


#: The columns of the published metric tables (as before the time axes were declared).
ORDER_TIME_COLUMNS = [m for m in METRICS if m != "average_tax_rate"]
PUBLISHED = {
    "daily": ["period", *ORDER_TIME_COLUMNS],
    "weekly": ["period", *ORDER_TIME_COLUMNS],
    "monthly": ["period", *ORDER_TIME_COLUMNS],
    "monthly_by_location": ["period", "location_name", *ORDER_TIME_COLUMNS],
    "monthly_by_product": [
        "period",
        "product_name",
        "product_type",
        "revenue",
        "order_cost",
        "food_revenue",
        "drink_revenue",
        "food_revenue_pct",
        "drink_revenue_pct",
        "revenue_growth_mom",
        "order_gross_profit",
        "cumulative_revenue",
    ],
}


def test_the_published_tables_keep_their_columns(tables):
    """The metric tables declared in jaffle_shop/models.py, computed by their models."""
    from duckbook import config, project

    declared = project.load(config.load(ROOT))
    models = {m.name: m for m in declared.group("metrics")}
    assert sorted(models) == sorted(PUBLISHED)
    for name, model in models.items():
        assert model.function(*(tables(i) for i in declared.edges[model.qualified])).columns == tuple(PUBLISHED[name])


def test_the_order_time_axis(layer):
    assert {layer.time_axis(m) for m in ORDER_TIME_COLUMNS} == {"order_time"}
    assert layer.time_axis("average_tax_rate") == "opened_date"


def test_the_sample_is_what_these_tests_assume(con):
    assert con.sql("SELECT min(ordered_at)::date, max(ordered_at)::date, count(*) FROM marts.orders").fetchone() == (
        dt.date(2019, 7, 22),
        dt.date(2019, 8, 11),
        6771,
    )
    assert con.sql("SELECT count(*) FROM marts.order_items").fetchone() == (10161,)
    assert con.sql("SELECT count(*) FROM marts.locations").fetchone() == (6,)


# --- every metric against its SQL ---------------------------------------------------------------


@pytest.mark.parametrize("metric", METRICS)
def test_by_month(con, layer, tables, metric):
    want = expected(con, metric)
    assert len(want) == (6 if metric == "average_tax_rate" else 2)  # six opening months; July and August
    assert_same(compute(layer, tables, metric), want)


@pytest.mark.parametrize("metric", METRICS)
def test_by_month_and_location(con, layer, tables, metric):
    assert_same(compute(layer, tables, metric, by="location_name"), expected(con, metric, by="location_name"))


@pytest.mark.parametrize("grain", ["day", "week"])
@pytest.mark.parametrize("metric", METRICS)
def test_by_day_and_week(con, layer, tables, metric, grain):
    assert_same(compute(layer, tables, metric, grain), expected(con, metric, grain))


@pytest.mark.parametrize(("grain", "by"), [("month", "location_name"), ("week", None)])
def test_all_metrics_in_one_query(con, layer, tables, grain, by):
    """Together, each metric has its own value where it has a row, and null elsewhere."""
    keys = ["period"] + ([by] if by else [])
    got = rows(layer.query(METRICS, tables, grain=grain, by=[by] if by else []))
    for name in METRICS:
        own = {tuple(r[k] for k in keys): r for r in expected(con, name, grain, by)}
        assert_same(
            [{**{k: r[k] for k in keys}, name: r[name]} for r in got],
            [{**{k: r[k] for k in keys}, name: own.get(tuple(r[k] for k in keys), {}).get(name)} for r in got],
        )
        assert own.keys() <= {tuple(r[k] for k in keys) for r in got}


@pytest.mark.parametrize(
    "metric",
    [
        "revenue",
        "orders",
        "average_order_value",
        "revenue_growth_mom",
        "cumulative_revenue",
        "median_revenue",
        "customers",
    ],
)
def test_by_day_and_location(con, layer, tables, metric):
    assert_same(compute(layer, tables, metric, "day", "location_name"), expected(con, metric, "day", "location_name"))


# revenue_growth_mom has no total (see test_offset_without_grain in tests/unit/duckbook/test_metrics.py)
@pytest.mark.parametrize("metric", [m for m in METRICS if m != "revenue_growth_mom"])
def test_totals(con, layer, tables, metric):
    assert_same(compute(layer, tables, metric, None), expected(con, metric, None))


@pytest.mark.parametrize("metric", ["orders", "revenue", "average_order_value", "median_revenue"])
def test_totals_by_location(con, layer, tables, metric):
    assert_same(compute(layer, tables, metric, None, "location_name"), expected(con, metric, None, "location_name"))


@pytest.mark.parametrize(
    ("metric", "by"),
    [
        ("orders", "customer_type"),  # orders -> customers
        ("new_customer_orders", "customer_type"),
        ("revenue", "product_type"),  # order_items -> products
        ("order_gross_profit", "product_type"),
        ("cumulative_revenue", "product_type"),
    ],
)
def test_by_other_joined_dimensions(con, layer, tables, metric, by):
    assert_same(compute(layer, tables, metric, by=by), expected(con, metric, by=by))


@pytest.mark.parametrize("grain", ["quarter", "year"])
def test_average_tax_rate_by_quarter_and_year(con, layer, tables, grain):
    want = expected(con, "average_tax_rate", grain)
    if grain == "year":  # two stores opened in 2020 (6.25%, 7.5%) and two in 2021 (4%, 8%)
        assert [r["average_tax_rate"] for r in want] == pytest.approx([0.06, 0.04, 0.06875, 0.06])
    assert_same(compute(layer, tables, "average_tax_rate", grain), want)


def test_where_start_and_end(con, layer, tables):
    define_views(con, "day", "location_name")
    sql = """SELECT period, sum(product_price) FROM i
             WHERE member = 'Brooklyn' AND period BETWEEN '2019-08-01' AND '2019-08-04' GROUP BY 1 ORDER BY 1"""
    want = [{"period": day, "revenue": revenue} for day, revenue in con.sql(sql).fetchall()]
    assert len(want) == 4
    got = compute(
        layer, tables, "revenue", "day", where="location_name == 'Brooklyn'", start="2019-08-01", end="2019-08-04"
    )
    assert_same(got, want)


def test_keep_empty_shows_every_store(con, layer, tables):
    """Four stores had no orders yet: orders (fill_nulls_with: 0) shows 0 there, revenue null."""
    got = rows(layer.query(["orders", "revenue"], tables, by=["location_name"], grain=None, keep_empty=True))
    sold = {r["location_name"]: r for r in expected(con, "orders", None, "location_name")}
    revenue = {r["location_name"]: r["revenue"] for r in expected(con, "revenue", None, "location_name")}
    names = [name for (name,) in con.sql("SELECT location_name FROM marts.locations ORDER BY 1").fetchall()]
    assert got == [
        {"location_name": n, "orders": sold[n]["orders"] if n in sold else 0, "revenue": revenue.get(n)} for n in names
    ]
    assert sum(r["orders"] == 0 for r in got) == 4


# --- the checks above would catch a wrong definition --------------------------------------------


def altered(change) -> SemanticLayer:
    """The Jaffle Shop layer with ``change`` applied to its YAML document."""
    doc = copy.deepcopy(yaml.safe_load(SEMANTIC_MODELS.read_text(encoding="utf-8")))
    change(doc)
    return SemanticLayer.from_dict(doc)


def measure(doc, model, name):
    return next(m for m in doc["semantic_models"][model]["measures"] if m["name"] == name)


def metric(doc, name):
    return next(m for m in doc["metrics"] if m["name"] == name)


@pytest.mark.parametrize(
    ("change", "name", "grain"),
    [
        pytest.param(
            lambda d: measure(d, "order_items", "item_revenue").update(expr="supply_cost"),
            "revenue",
            "month",
            id="revenue from supply cost",
        ),
        pytest.param(
            lambda d: measure(d, "order_items", "item_revenue").update(filter="is_food_item"),
            "revenue",
            "month",
            id="revenue of food only",
        ),
        pytest.param(
            lambda d: measure(d, "orders", "order_count").update(expr="customer_id"),
            "orders",
            "month",
            id="orders counting customers",
        ),
        pytest.param(
            lambda d: measure(d, "orders", "new_customer_order_count").update(filter="customer_order_number == 2"),
            "new_customer_orders",
            "month",
            id="second orders as new",
        ),
        pytest.param(
            lambda d: measure(d, "orders", "order_revenue_median").update(agg="avg"),
            "median_revenue",
            "month",
            id="mean for median",
        ),
        pytest.param(
            lambda d: metric(d, "food_revenue_pct").update(denominator="order_total"),
            "food_revenue_pct",
            "month",
            id="share of the total with tax",
        ),
        pytest.param(
            lambda d: metric(d, "revenue_growth_mom")["inputs"][1].update(offset=2),
            "revenue_growth_mom",
            "day",
            id="growth over two periods",
        ),
        pytest.param(
            lambda d: metric(d, "cumulative_revenue").update(window=7),
            "cumulative_revenue",
            "day",
            id="trailing week for running total",
        ),
        pytest.param(
            lambda d: measure(d, "locations", "tax_rate_avg").update(agg="max"),
            "average_tax_rate",
            "year",
            id="max for average tax rate",
        ),
    ],
)
def test_a_wrong_definition_does_not_match(con, tables, change, name, grain):
    want = expected(con, name, grain)
    got = compute(altered(change), tables, name, grain)
    assert len(got) == len(want)  # same periods: the values differ
    with pytest.raises(AssertionError):
        assert_same(got, want)


def test_a_wrong_definition_of_a_derived_metric_does_not_match(con, tables):
    layer = altered(lambda d: metric(d, "returning_customer_orders").update(expr="orders - new_customer_orders - 1"))
    got = compute(layer, tables, "returning_customer_orders")
    assert [r["returning_customer_orders"] for r in got] == [
        r["returning_customer_orders"] - 1 for r in expected(con, "returning_customer_orders")
    ]
