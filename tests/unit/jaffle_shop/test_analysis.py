"""Report aggregations: the price history of products with more than one version."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal as D

import ibis
import pytest

from jaffle_shop import analysis, star
from tests.unit.helpers import BEGINNING_OF_TIME as BEGIN
from tests.unit.helpers import END_OF_TIME as END
from tests.unit.helpers import history, rows

CHANGE = dt.datetime(2019, 7, 23)
WITHDRAWN = dt.datetime(2019, 7, 25)
PRICE = "decimal(16,2)"


@pytest.fixture
def dim_product():
    """JAF-002 repriced on the change day, BEV-001 unchanged, JAF-004 renamed then withdrawn, the
    unknown member."""
    return ibis.memtable(
        {
            "product_key": ["j2a", "j2b", "b1", "j4a", "j4b", "-1"],
            "product_id": ["JAF-002", "JAF-002", "BEV-001", "JAF-004", "JAF-004", "unknown"],
            "product_name": ["doctor stew", "doctor stew", "tea", "flame", "flame impala", "unknown"],
            "product_price": [11.0, 12.1, 6.0, 9.0, 9.0, None],
            "valid_from": [BEGIN, CHANGE, BEGIN, BEGIN, CHANGE, BEGIN],
            "valid_to": [CHANGE, END, END, CHANGE, WITHDRAWN, END],
            "is_current": [False, True, True, False, False, True],
        }
    ).cast({"product_price": PRICE, "valid_from": "timestamp", "valid_to": "timestamp"})


def fact(*lines: tuple[str, dt.datetime, str]) -> ibis.Table:
    """Order lines as (product_key, ordered_at, product_price)."""
    return ibis.memtable(
        {
            "order_item_id": [f"i{n}" for n in range(len(lines))],
            "product_key": [k for k, _, _ in lines],
            "ordered_at": [at for _, at, _ in lines],
            "product_price": [D(p) for _, _, p in lines],
        }
    ).cast({"ordered_at": "timestamp", "product_price": PRICE})


def test_product_versions_keeps_products_with_several_versions_numbered(dim_product):
    got = [tuple(r.values()) for r in rows(analysis.product_versions(dim_product).drop("product_key", "product_name"))]
    assert got == [  # product_id, version, versions, valid_from, valid_to, is_current, product_price
        ("JAF-002", 1, 2, BEGIN, CHANGE, False, D("11.00")),
        ("JAF-002", 2, 2, CHANGE, END, True, D("12.10")),
        ("JAF-004", 1, 2, BEGIN, CHANGE, False, D("9.00")),
        ("JAF-004", 2, 2, CHANGE, WITHDRAWN, False, D("9.00")),
    ]


def test_product_versions_of_a_dimension_without_history_is_empty(dim_product):
    flat = dim_product.filter(dim_product.product_key.isin(["b1", "j2b", "-1"]))
    assert rows(analysis.product_versions(flat)) == []


def test_price_history_compares_the_price_in_force_with_the_current_one(dim_product):
    lines = fact(
        ("j2a", dt.datetime(2019, 7, 22), "11.00"),
        ("j2a", dt.datetime(2019, 7, 22), "11.00"),
        ("j2b", CHANGE, "12.10"),
        ("b1", CHANGE, "6.00"),  # a product without history: not shown
        ("-1", CHANGE, "1.00"),  # an unknown product: not shown
        ("j4a", dt.datetime(2019, 7, 22), "9.00"),  # withdrawn: its last version is the current price
    )
    got = rows(analysis.price_history(lines, dim_product))
    assert got == [
        {
            "product_id": "JAF-002",
            "product_name": "doctor stew",
            "day": dt.date(2019, 7, 22),
            "lines": 2,
            "revenue": D("22.00"),
            "revenue_at_current_price": D("24.20"),
        },
        {
            "product_id": "JAF-002",
            "product_name": "doctor stew",
            "day": dt.date(2019, 7, 23),
            "lines": 1,
            "revenue": D("12.10"),
            "revenue_at_current_price": D("12.10"),
        },
        {
            "product_id": "JAF-004",
            "product_name": "flame impala",  # the latest version's name
            "day": dt.date(2019, 7, 22),
            "lines": 1,
            "revenue": D("9.00"),
            "revenue_at_current_price": D("9.00"),
        },
    ]
    schema = analysis.price_history(lines, dim_product).schema()
    assert schema["revenue"] == schema["revenue_at_current_price"]


def test_price_history_on_the_star_schema_after_a_price_change():
    """dim_product and fct_order_items as the marts build them: a line before the change day was
    sold at the old price, a line on it at the new one."""
    products = history(
        ibis.memtable(
            {
                "product_id": ["JAF-002", "JAF-002"],
                "product_name": ["doctor stew"] * 2,
                "product_type": ["jaffle"] * 2,
                "product_description": [""] * 2,
                "product_price": [D("11.00"), D("12.10")],
                "is_food_item": [True] * 2,
                "is_drink_item": [False] * 2,
            }
        ).cast({"product_price": PRICE})
    ).mutate(
        valid_from=ibis.cases((ibis._.product_price == D("11.00"), BEGIN), else_=CHANGE).cast("timestamp"),
        valid_to=ibis.cases((ibis._.product_price == D("11.00"), CHANGE), else_=END).cast("timestamp"),
        is_current=ibis._.product_price != D("11.00"),
    )
    supplies = history(
        ibis.memtable(
            {
                "supply_uuid": ["u1"],
                "supply_id": ["SUP"],
                "product_id": ["JAF-002"],
                "supply_name": ["bread"],
                "supply_cost": [D("0.50")],
                "is_perishable_supply": [True],
            }
        )
    )
    orders = ibis.memtable(
        {
            "order_id": ["o1", "o2"],
            "customer_id": ["c1", "c1"],
            "location_id": ["s1", "s1"],
            "ordered_at": [dt.datetime(2019, 7, 22), CHANGE],
        }
    )
    items = ibis.memtable({"order_item_id": ["i1", "i2"], "order_id": ["o1", "o2"], "product_id": ["JAF-002"] * 2})
    customers = history(ibis.memtable({"customer_id": ["c1"], "customer_name": ["Ann"]}))
    locations = history(
        ibis.memtable({"location_id": ["s1"], "location_name": ["Philly"], "tax_rate": [0.06], "opened_date": [BEGIN]})
    )
    dim_product = star.dim_product(products, supplies)
    fct = star.fct_order_items(
        items, orders, star.dim_customer(customers), dim_product, star.dim_location(locations), star.dim_date(orders)
    )
    got = rows(analysis.price_history(fct, dim_product).select("day", "revenue", "revenue_at_current_price"))
    assert got == [
        {"day": dt.date(2019, 7, 22), "revenue": D("11.00"), "revenue_at_current_price": D("12.10")},
        {"day": dt.date(2019, 7, 23), "revenue": D("12.10"), "revenue_at_current_price": D("12.10")},
    ]
    changes = analysis.product_versions(dim_product)
    assert rows(changes.filter(changes.version > 1).select("valid_from")) == [{"valid_from": CHANGE}]


def spenders(*amounts: str | None) -> ibis.Table:
    """Customers by lifetime spend (None: no order yet)."""
    import pyarrow as pa

    spend = pa.array([None if a is None else D(a) for a in amounts], pa.decimal128(38, 2))
    return ibis.memtable(pa.table({"lifetime_spend": spend, "customer_type": ["returning"] * len(amounts)}))


def test_spend_bins_are_sized_to_the_data():
    got = rows(analysis.spend_distribution(spenders("2.00", "55.00", "389.99", None)))
    assert [(r["spend_from"], r["spend_to"], r["customers"]) for r in got] == [
        (0.0, 20.0, 1),  # 20-dollar bands: 20 bins cover 2 to 390; the customer without orders is left out
        (40.0, 60.0, 1),
        (380.0, 400.0, 1),
    ]
    wide = rows(analysis.spend_distribution(spenders("0.00", "12000.00")))
    assert [r["spend_to"] - r["spend_from"] for r in wide] == [500.0, 500.0]
    fixed = rows(analysis.spend_distribution(spenders("2.00", "55.00"), bin_width=25.0))
    assert [r["spend_from"] for r in fixed] == [0.0, 50.0]


@pytest.mark.parametrize(("low", "high"), [(0.0, 12.0), (2.0, 390.0), (13.5, 4321.0), (0.0, 1e6), (100.0, 101.0)])
def test_nice_bin_width_is_round_and_gives_at_most_25_bins(low, high):
    width = analysis.nice_bin_width(low, high)
    mantissa = width / 10 ** math.floor(math.log10(width))
    assert round(mantissa, 9) in (1.0, 2.0, 2.5, 5.0)
    bins = math.floor(high / width) - math.floor(low / width) + 1
    assert bins <= 25
    assert width == 1.0 or bins > 10  # not coarser than it needs to be


def test_spend_bins_of_no_spender_and_a_bad_bin_count():
    assert rows(analysis.spend_distribution(spenders(None))) == []
    with pytest.raises(ValueError, match="max_bins must be at least 1, got 0"):
        analysis.nice_bin_width(0.0, 10.0, max_bins=0)
