"""Column lineage traced by sqlglot through compiled SQL."""

from __future__ import annotations

from duckbook.publish.column_lineage import cached_column_lineage, column_lineage

SQL = """
WITH o AS (SELECT order_id, customer_id, amount FROM staging._wap_orders)
SELECT o.order_id, c.name AS customer_name, o.amount * 2 AS doubled, 1 AS one, v.x AS from_view
FROM o JOIN staging.customers AS c ON o.customer_id = c.customer_id
JOIN raw._validated_view AS v ON v.x = o.order_id
"""


def test_traces_each_column_through_ctes_and_joins():
    assert column_lineage(SQL, ["order_id", "customer_name", "doubled", "one", "from_view"]) == {
        "order_id": ["staging.orders.order_id"],  # the staged name counts as the final one
        "customer_name": ["staging.customers.name"],
        "doubled": ["staging.orders.amount"],
        "one": [],
        "from_view": [],  # temporary views are not warehouse tables
    }


def test_an_unknown_column_or_unparsable_sql_maps_to_nothing():
    assert column_lineage(SQL, ["nope"]) == {"nope": []}
    assert column_lineage("SELECT FROM WHERE (", ["a"]) == {"a": []}


def test_cached_by_sql_and_columns_and_only_for_queries():
    cache: dict[str, dict[str, list[str]]] = {}
    first = cached_column_lineage(SQL, ["order_id"], cache)
    assert first == {"order_id": ["staging.orders.order_id"]} and len(cache) == 1
    (key,) = cache
    cache[key] = {"order_id": ["from.the.cache"]}
    assert cached_column_lineage(SQL, ["order_id"], cache) == {"order_id": ["from.the.cache"]}
    assert cached_column_lineage(SQL, ["customer_name"], cache) == {"customer_name": ["staging.customers.name"]}
    assert cached_column_lineage("  with x as (select 1 as a) select a from x", ["a"], cache) == {"a": []}
    assert cached_column_lineage("CREATE TABLE t AS SELECT 1 AS a", ["a"], cache) == {}
    assert len(cache) == 3
