"""The jaffle project's declarations: every SCD2 table documents its history columns alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from duckbook import config, project

JAFFLE = project.load(config.load(Path(__file__).resolve().parents[3]))
HISTORY_COLUMNS = ("valid_from", "valid_to", "is_current")
SCD2_TABLES = [
    *(m.qualified for m in JAFFLE.models.values() if m.materialization == "snapshot"),
    "marts.dim_customer",
    "marts.dim_product",
    "marts.dim_location",
]


def test_the_scd2_tables_are_the_snapshot_models_and_the_dimensions():
    assert len(SCD2_TABLES) == 7 and "staging.stg_products" in SCD2_TABLES


@pytest.mark.parametrize("table", SCD2_TABLES)
def test_history_columns_are_documented_with_one_wording(table):
    columns = JAFFLE.docs[table].columns
    wording = {c: columns[c].description for c in HISTORY_COLUMNS}
    assert wording == {c: JAFFLE.docs["staging.stg_products"].columns[c].description for c in HISTORY_COLUMNS}
    assert "1900-01-01 for a member's first version" in wording["valid_from"]
    assert "start of the day of the delivery" in wording["valid_from"]
    assert "(exclusive)" in wording["valid_to"] and "9999-12-31 while current" in wording["valid_to"]
