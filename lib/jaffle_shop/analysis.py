"""Aggregations for the published reports: always aggregate before charting, never show PII."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def cohorts(orders: ir.Table, /) -> ir.Table:
    """Customers by first-order month (cohort) and months since that first order.

    Returns ``cohort_month``, ``months_since_first``, ``active_customers``, ``orders``,
    ``revenue`` (order subtotal), and ``cohort_size`` (customers whose first order fell in the
    cohort month), so ``active_customers / cohort_size`` is the retention curve.
    """
    first = orders.group_by("customer_id").agg(first_ordered_at=orders.ordered_at.min())
    o = orders.inner_join(first, "customer_id")
    cohort = o.first_ordered_at.truncate("M").cast("date")
    month = o.ordered_at.truncate("M").cast("date")
    months_since = (month.year() - cohort.year()) * 12 + (month.month() - cohort.month())
    per = o.group_by(cohort_month=cohort, months_since_first=months_since.cast("int32")).agg(
        active_customers=o.customer_id.nunique(), orders=o.order_id.nunique(), revenue=o.subtotal.sum()
    )
    sizes = first.group_by(cohort_month=first.first_ordered_at.truncate("M").cast("date")).agg(
        cohort_size=ibis._.count()
    )
    return per.inner_join(sizes, "cohort_month").order_by("cohort_month", "months_since_first")


def spend_distribution(customers: ir.Table, /, *, bin_width: float = 25.0) -> ir.Table:
    """Customers with at least one order, counted per ``bin_width``-dollar band of lifetime
    spend: ``spend_from``, ``spend_to``, ``customers``, ``customer_type``."""
    c = customers.filter(customers.lifetime_spend.notnull())
    band = (c.lifetime_spend.cast("float64") / bin_width).floor().cast("int64")
    grouped = c.group_by(band=band, customer_type=c.customer_type).agg(customers=ibis._.count())
    return grouped.select(
        spend_from=(grouped.band * bin_width).cast("float64"),
        spend_to=((grouped.band + 1) * bin_width).cast("float64"),
        customer_type="customer_type",
        customers="customers",
    ).order_by("spend_from", "customer_type")
