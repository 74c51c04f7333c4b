"""Staging inputs shared by the mart and star-schema tests (snapshot models: SCD2 histories of one
snapshot, every row one version valid for all time)."""

from __future__ import annotations

from decimal import Decimal as D

import ibis
import pytest

from tests.unit.helpers import history


@pytest.fixture
def stg_products():
    return history(
        ibis.memtable(
            {
                "product_id": ["JAF-001", "BEV-001"],
                "product_name": ["nutellaphone", "tea"],
                "product_type": ["jaffle", "beverage"],
                "product_description": ["toasted", "hot"],
                "product_price": [D("11.00"), D("6.00")],
                "is_food_item": [True, False],
                "is_drink_item": [False, True],
            }
        )
    )


@pytest.fixture
def stg_supplies():
    # JAF-001 needs two supplies (bread and nutella): its supply_cost is their sum.
    return history(
        ibis.memtable(
            {
                "supply_uuid": ["u1", "u2", "u3"],
                "supply_id": ["SUP-BREAD", "SUP-NUTELLA", "SUP-CUP"],
                "product_id": ["JAF-001", "JAF-001", "BEV-001"],
                "supply_name": ["bread", "nutella", "cup"],
                "supply_cost": [D("0.50"), D("1.25"), D("0.10")],
                "is_perishable_supply": [True, True, False],
            }
        )
    )
