"""The checks every run must pass, per layer. Failing error checks stop the stage before publish."""

from __future__ import annotations

from duckbook.checks import Check, accepted_values, expression, not_null, relationship, unique
from duckbook.ingest import reconciliation_check
from jaffle_shop.contracts import CONTRACTS


def primary_key(table: str, *columns: str) -> list[Check]:
    """not_null on each key column and unique on the key."""
    return [*(not_null(table, c) for c in columns), unique(table, *columns)]


RAW = [
    reconciliation_check(),
    *(check for c in CONTRACTS.values() for check in primary_key(c.name, *c.primary_key)),
]

STAGING = [
    *primary_key("stg_customers", "customer_id"),
    *primary_key("stg_orders", "order_id"),
    *primary_key("stg_order_items", "order_item_id"),
    *primary_key("stg_products", "product_id"),
    *primary_key("stg_locations", "location_id"),
    *primary_key("stg_supplies", "supply_uuid"),
]

MARTS = [
    *primary_key("customers", "customer_id"),
    *primary_key("orders", "order_id"),
    *primary_key("order_items", "order_item_id"),
    *primary_key("products", "product_id"),
    *primary_key("locations", "location_id"),
    *primary_key("supplies", "supply_uuid"),
    expression("orders", "order_total_is_subtotal_plus_tax", lambda t: t.order_total == t.subtotal + t.tax_paid,
               "orders.order_total = subtotal + tax_paid"),
    expression("orders", "items_subtotal_matches", lambda t: t.order_items_subtotal == t.subtotal,
               "orders.order_items_subtotal = subtotal where the order has items",
               where=lambda t: t.count_order_items > 0),
    expression("customers", "lifetime_spend_is_pretax_plus_tax",
               lambda t: t.lifetime_spend == t.lifetime_spend_pretax + t.lifetime_tax_paid,
               "customers.lifetime_spend = lifetime_spend_pretax + lifetime_tax_paid"),
    not_null("customers", "customer_type"),
    accepted_values("customers", "customer_type", ["new", "returning"]),
    relationship("orders", "customer_id", "customers", "customer_id"),
    relationship("order_items", "order_id", "orders", "order_id"),
    # star schema
    *primary_key("dim_customer", "customer_key"),
    *primary_key("dim_product", "product_key"),
    *primary_key("dim_location", "location_key"),
    *primary_key("dim_date", "date_key"),
    *primary_key("fct_order_items", "order_item_id"),
    *(not_null("fct_order_items", k) for k in ("date_key", "customer_key", "product_key", "location_key")),
    relationship("fct_order_items", "customer_key", "dim_customer", "customer_key"),
    relationship("fct_order_items", "product_key", "dim_product", "product_key"),
    relationship("fct_order_items", "location_key", "dim_location", "location_key"),
    relationship("fct_order_items", "date_key", "dim_date", "date_key"),
    # no fact is dropped: every order line of the mart is in the fact table
    relationship("order_items", "order_item_id", "fct_order_items", "order_item_id"),
]
