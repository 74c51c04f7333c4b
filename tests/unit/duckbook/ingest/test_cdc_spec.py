"""The ``cdc:`` block of a source: parsing, errors naming the setting, grouping by slot."""

from __future__ import annotations

from pathlib import Path

import pytest

from duckbook.ingest.cdc_spec import CdcDeclarationError, consumers, parse_cdc
from duckbook.ingest.contracts import ContractDeclarationError, parse_contracts

COLUMNS = {"id": {"type": "int64"}, "name": {"type": "string"}}


def source(**cdc: object) -> dict[str, object]:
    return {
        "cdc": {"dsn": "dbname=shop", "table": "public.customers", **cdc},
        "primary_key": ["id"],
        "columns": COLUMNS,
    }


def test_a_cdc_source_is_of_kind_changes_with_its_spec():
    c = parse_contracts({"raw_customers": source(slot="shop")}, origin="s.yml")["raw_customers"]
    assert c.kind == "changes" and c.file == "" and c.api is None
    assert c.cdc is not None and (c.cdc.table, c.cdc.slot, c.cdc.batch_changes) == ("public.customers", "shop", 50_000)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"cdc": {"dsn": "x", "table": "public.t"}, "file": "t.csv", "primary_key": ["id"], "columns": COLUMNS},
            "only one of them",
        ),
        ({**source(), "kind": "events"}, "kind changes is the kind of a cdc source"),
        ({**source(), "primary_key": []}, "a cdc source needs a primary_key"),
        ({**source(), "cdc": {"table": "public.t"}}, "cdc.dsn is required"),
        ({**source(), "cdc": {"dsn": "x", "table": "t"}}, "cdc.table must be schema.table"),
        ({**source(), "cdc": {"dsn": "x", "table": "public.t", "slot": "Bad-Slot"}}, "cdc.slot must be"),
        ({**source(), "cdc": {"dsn": "x", "table": "public.t", "batch_changes": 0}}, "cdc.batch_changes must be"),
        ({**source(), "cdc": {"dsn": "x", "table": "public.t", "tables": "y"}}, "cdc has no setting 'tables'"),
        ({"file": "t.csv", "kind": "changes", "primary_key": ["id"], "columns": COLUMNS}, "kind changes is the kind"),
    ],
)
def test_malformed_cdc_declarations_name_the_source_and_setting(spec, message):
    with pytest.raises(ContractDeclarationError, match="s.yml: source t") as err:
        parse_contracts({"t": spec}, origin="s.yml")
    assert message in str(err.value)


def test_sources_of_one_slot_share_a_consumer_and_the_dsn_is_expanded_late(monkeypatch, tmp_path: Path):
    specs = {
        "raw_customers": source(dsn="${SHOP_DSN}", slot="shop"),
        "raw_orders": {
            **source(dsn="${SHOP_DSN}", slot="shop"),
            "cdc": {"dsn": "${SHOP_DSN}", "table": "public.orders", "slot": "shop"},
        },
        "raw_other": source(dsn="dbname=other", slot="other"),
    }
    contracts = parse_contracts(specs, origin="s.yml")
    with pytest.raises(CdcDeclarationError, match="environment variable SHOP_DSN is not set"):
        consumers(contracts.values(), tmp_path)
    monkeypatch.setenv("SHOP_DSN", "dbname=shop user=secret")
    got = consumers(contracts.values(), tmp_path)
    assert [(s.slot_name, s.dsn, s.tables, s.directory) for s, _ in got] == [
        ("other", "dbname=other", ("public.customers",), tmp_path / "cdc" / "other"),
        ("shop", "dbname=shop user=secret", ("public.customers", "public.orders"), tmp_path / "cdc" / "shop"),
    ]
    assert [c.name for c in got[1][1]] == ["raw_customers", "raw_orders"]


def test_one_table_twice_in_a_slot_or_two_dsns_in_a_slot_are_refused(tmp_path: Path):
    twice = parse_contracts({"a": source(), "b": source()}, origin="s.yml")
    with pytest.raises(CdcDeclarationError, match="table public.customers is captured by two sources"):
        consumers(twice.values(), tmp_path)
    two = parse_contracts({"a": source(), "b": source(dsn="dbname=x", table="public.b")}, origin="s.yml")
    with pytest.raises(CdcDeclarationError, match="share slot 'duckbook' but not dsn"):
        consumers(two.values(), tmp_path)


def test_parse_cdc_refuses_a_non_mapping():
    with pytest.raises(CdcDeclarationError, match="cdc must be a mapping"):
        parse_cdc("dbname=x", "s.yml: source t")
