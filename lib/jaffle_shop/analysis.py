"""Aggregations for the published reports: always aggregate before charting, never show PII."""

from __future__ import annotations

import math

import ibis
import ibis.expr.types as ir

from jaffle_shop.star import UNKNOWN_KEY


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


#: Bin widths a person reads at a glance: these times a power of ten.
NICE_STEPS = (1.0, 2.0, 2.5, 5.0)


def nice_bin_width(low: float, high: float, *, max_bins: int = 25) -> float:
    """The smallest round width (1, 2, 2.5 or 5 times a power of ten) whose bins, aligned on
    multiples of the width, cover ``low`` to ``high`` in at most ``max_bins`` bins (so ~12 to 25).

    Examples
    --------
    >>> nice_bin_width(2.0, 390.0), nice_bin_width(0.0, 12_000.0), nice_bin_width(5.0, 5.0)
    (20.0, 500.0, 1.0)
    """
    if max_bins < 1:
        raise ValueError(f"max_bins must be at least 1, got {max_bins}")
    power = 10.0 ** math.floor(math.log10(max(high - low, 1e-9) / max_bins))
    for scale in (power / 10, power, power * 10):
        for step in NICE_STEPS:
            width = step * scale
            if math.floor(high / width) - math.floor(low / width) + 1 <= max_bins:
                return max(width, 1.0)  # never below a dollar: a cent-wide band says nothing
    raise AssertionError("unreachable: a width of ten times the span makes at most two bins")


def spend_distribution(customers: ir.Table, /, *, bin_width: float | None = None, max_bins: int = 25) -> ir.Table:
    """Customers with at least one order, counted per ``bin_width``-dollar band of lifetime
    spend: ``spend_from``, ``spend_to``, ``customers``, ``customer_type``.

    Without ``bin_width`` the bands are sized to the data (:func:`nice_bin_width` of the lowest
    and highest spend, at most ``max_bins``), which costs one small query.
    """
    c = customers.filter(customers.lifetime_spend.notnull())
    if bin_width is None:
        low, high = (
            c.aggregate(low=c.lifetime_spend.min(), high=c.lifetime_spend.max()).to_pyarrow().to_pylist()[0].values()
        )
        bin_width = 1.0 if low is None else nice_bin_width(float(low), float(high), max_bins=max_bins)
    band = (c.lifetime_spend.cast("float64") / bin_width).floor().cast("int64")
    grouped = c.group_by(band=band, customer_type=c.customer_type).agg(customers=ibis._.count())
    return grouped.select(
        spend_from=(grouped.band * bin_width).cast("float64"),
        spend_to=((grouped.band + 1) * bin_width).cast("float64"),
        customer_type="customer_type",
        customers="customers",
    ).order_by("spend_from", "customer_type")


def product_versions(dim_product: ir.Table, /) -> ir.Table:
    """The versions of each product that has more than one in ``dim_product`` (an SCD2
    dimension), the unknown member left out.

    Returns ``product_key``, ``product_id``, ``product_name``, ``version`` (1 for the first),
    ``versions`` (how many the product has), ``valid_from``, ``valid_to``, ``is_current`` and
    ``product_price``, ordered by product and ``valid_from``; no rows when no product changed.
    A version after the first took effect on its ``valid_from`` (the change day).

    Examples
    --------
    >>> import datetime as dt
    >>> d = ibis.memtable({"product_key": ["a1", "a2", "b1", "-1"], "product_id": ["A", "A", "B", "unknown"],
    ...                    "product_name": ["a", "a", "b", "unknown"], "product_price": [11.0, 12.1, 6.0, None],
    ...                    "valid_from": [dt.datetime(1900, 1, 1), dt.datetime(2019, 7, 23)] + [dt.datetime(1900, 1, 1)] * 2,
    ...                    "valid_to": [dt.datetime(2019, 7, 23)] + [dt.datetime(9999, 12, 31)] * 3,
    ...                    "is_current": [False, True, True, True]})
    >>> product_versions(d).select("product_id", "version", "versions", "product_price").to_pyarrow().to_pylist()
    [{'product_id': 'A', 'version': 1, 'versions': 2, 'product_price': 11.0}, {'product_id': 'A', 'version': 2, 'versions': 2, 'product_price': 12.1}]
    """
    known = dim_product.filter(dim_product.product_key != UNKNOWN_KEY)
    numbered = known.select(
        "product_key",
        "product_id",
        "product_name",
        version=(ibis.row_number().over(group_by="product_id", order_by="valid_from") + 1).cast("int32"),
        versions=known.product_key.count().over(group_by="product_id").cast("int32"),
        valid_from="valid_from",
        valid_to="valid_to",
        is_current="is_current",
        product_price="product_price",
    )
    return numbered.filter(numbered.versions > 1).order_by("product_id", "valid_from")


def price_history(fct_order_items: ir.Table, dim_product: ir.Table, /) -> ir.Table:
    """Daily revenue of each product with more than one version (:func:`product_versions`): at
    the price in force when the order was placed (the fact's ``product_price``) and what the same
    lines would bring at the current price (the product's latest version: the current one, or the
    last before the product was withdrawn).

    Returns ``product_id``, ``product_name`` (of the latest version), ``day``, ``lines``,
    ``revenue`` and ``revenue_at_current_price``, ordered by product and day; days without a sale
    of the product have no row.
    """
    versions = product_versions(dim_product)
    lines = fct_order_items.inner_join(versions.select("product_key", "product_id"), "product_key")
    daily = lines.group_by("product_id", day=lines.ordered_at.date()).agg(
        lines=ibis._.count(), revenue=lines.product_price.sum()
    )
    last = versions.filter(versions.version == versions.versions)
    current = last.select("product_id", "product_name", current_price="product_price")
    joined = daily.inner_join(current, "product_id")
    return joined.select(
        "product_id",
        "product_name",
        "day",
        "lines",
        "revenue",
        # the type of the summed revenue, so the two measures compare exactly
        revenue_at_current_price=(joined.lines * joined.current_price).cast(joined.revenue.type()),
    ).order_by("product_id", "day")
