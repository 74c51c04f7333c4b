"""duckbook.contracts: loading YAML contracts and applying them to rows read as text."""

from __future__ import annotations

import datetime as dt
import textwrap
from decimal import Decimal

import ibis
import pytest
import yaml

from duckbook.ingest.contracts import (
    Column,
    Contract,
    ContractDeclarationError,
    ContractError,
    SchemaPolicy,
    good_rows,
    ibis_type,
    parse_contracts,
    quarantine_rows,
    validate_rows,
)
from tests.unit.helpers import rows

GOOD_YAML = """
sources:
  raw_orders:
    file: raw_orders.csv
    description: One row per order.
    primary_key: [id]
    columns:
      id: {type: string, description: Order id}
      amount: {type: int64, nullable: false}
      ordered_at: {type: timestamp, no_future: true}
  raw_supplies:
    file: raw_supplies.csv
    primary_key: [id, sku]
    columns:
      id: {type: string}
      sku: {type: string}
      perishable: {type: boolean}
"""


def write(tmp_path, text):
    path = tmp_path / "sources.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_contracts(path):
    """What the project loader does with a file's ``sources:`` section."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return parse_contracts(doc.get("sources") or {}, origin=str(path))


# --- parse_contracts ------------------------------------------------------------------------


def test_load_contracts_good_file(tmp_path):
    contracts = load_contracts(write(tmp_path, GOOD_YAML))
    assert contracts == {
        "raw_orders": Contract(
            "raw_orders",
            "raw_orders.csv",
            (
                Column("id", "string", True, False, "Order id"),
                Column("amount", "int64", nullable=False),
                Column("ordered_at", "timestamp", no_future=True),
            ),
            ("id",),
            "One row per order.",
        ),
        "raw_supplies": Contract(
            "raw_supplies",
            "raw_supplies.csv",
            (Column("id", "string"), Column("sku", "string"), Column("perishable", "boolean")),
            ("id", "sku"),
        ),
    }
    orders = contracts["raw_orders"]
    assert orders.column_names == ["id", "amount", "ordered_at"]
    assert orders.schema == ibis.schema({"id": "string", "amount": "int64", "ordered_at": "timestamp"})


def test_load_contracts_empty_file(tmp_path):
    assert load_contracts(write(tmp_path, "")) == {}


def test_load_contracts_bad_type(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          raw_x:
            file: x.csv
            columns:
              n: {type: integer}
    """,
    )
    with pytest.raises(ContractError, match=r"source raw_x: column n has type 'integer'; use one of string, int64"):
        load_contracts(path)


def test_load_contracts_unknown_primary_key_column(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          raw_x:
            file: x.csv
            primary_key: [id, missing]
            columns:
              id: {type: string}
    """,
    )
    with pytest.raises(ContractError, match=r"source raw_x: primary_key names unknown column\(s\) \['missing'\]"):
        load_contracts(path)


def test_load_contracts_missing_file_key(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          raw_no_file:
            columns:
              id: {type: string}
    """,
    )
    with pytest.raises(ContractError, match=r"source raw_no_file: needs 'file' and at least one column") as exc:
        load_contracts(path)
    assert str(path) in str(exc.value)


def test_load_contracts_without_columns(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          raw_empty:
            file: e.csv
    """,
    )
    with pytest.raises(ContractError, match="raw_empty"):
        load_contracts(path)


def test_contract_error_is_a_value_error():
    assert issubclass(ContractError, ValueError)


# --- schema_evolution and decimal types ----------------------------------------------------


def source_yaml(tmp_path, settings: str):
    return write(
        tmp_path,
        f"""
        sources:
          raw_x:
            file: x.csv
            {settings}
            columns:
              id: {{type: string}}
    """,
    )


@pytest.mark.parametrize(
    ("settings", "policy", "extra"),
    [
        ("", SchemaPolicy("add", "error", "widen"), "ignore"),
        ("extra_columns: ignore", SchemaPolicy("ignore", "error", "widen"), "ignore"),
        ("extra_columns: error", SchemaPolicy("error", "error", "widen"), "error"),
        ("schema_evolution: {new_columns: error}", SchemaPolicy("error", "error", "widen"), "error"),
        (
            "schema_evolution: {missing_columns: null, type_changes: error}",
            SchemaPolicy("add", "null", "error"),
            "ignore",
        ),
        ("schema_evolution: {missing_columns: 'null'}", SchemaPolicy("add", "null", "widen"), "ignore"),
        (
            "extra_columns: ignore\n            schema_evolution: {new_columns: ignore}",
            SchemaPolicy("ignore"),
            "ignore",
        ),
    ],
)
def test_schema_evolution_policy_and_its_older_spelling(tmp_path, settings, policy, extra):
    contract = load_contracts(source_yaml(tmp_path, settings))["raw_x"]
    assert contract.schema_evolution == policy
    assert contract.extra_columns == extra  # what preflight reads today


def test_the_default_policy_adds_new_columns_and_stops_on_missing_ones():
    assert Contract("t", "t.csv", (Column("id", "string"),)).schema_evolution == SchemaPolicy("add", "error", "widen")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            "schema_evolution: {new_columns: drop}",
            r"source raw_x: schema_evolution.new_columns must be one of add, ignore, error, not 'drop'",
        ),
        (
            "schema_evolution: {missing_columns: skip}",
            r"source raw_x: schema_evolution.missing_columns must be one of error, null, not 'skip'",
        ),
        (
            "schema_evolution: {type_changes: narrow}",
            r"source raw_x: schema_evolution.type_changes must be one of widen, error, not 'narrow'",
        ),
        (
            "schema_evolution: {new_column: add}",
            r"source raw_x: schema_evolution has no setting 'new_column'; settings: new_columns, missing_columns, type_changes",
        ),
        ("schema_evolution: add", r"source raw_x: schema_evolution must be a mapping of new_columns, .*not 'add'"),
        ("extra_columns: add", r"source raw_x: extra_columns must be ignore or error, not 'add'"),
        (
            "extra_columns: ignore\n            schema_evolution: {new_columns: add}",
            r"source raw_x: extra_columns: ignore contradicts schema_evolution.new_columns: add; keep only",
        ),
    ],
)
def test_schema_evolution_mistakes_are_named(tmp_path, settings, message):
    with pytest.raises(ContractDeclarationError, match=message):
        load_contracts(source_yaml(tmp_path, settings))


def test_a_policy_built_in_code_is_checked_too():
    with pytest.raises(ContractDeclarationError, match="schema_evolution.type_changes must be one of widen, error"):
        SchemaPolicy(type_changes="narrow")


def test_decimal_columns(tmp_path):
    path = source_yaml(tmp_path, "").parent / "d.yml"
    path.write_text(
        "sources:\n  raw_d:\n    file: d.csv\n    columns:\n      id: {type: string}\n"
        "      price: {type: 'decimal(18, 2)'}\n      n:\n        type: decimal(38,0)\n",
        encoding="utf-8",
    )
    contract = load_contracts(path)["raw_d"]
    assert [c.type for c in contract.columns] == ["string", "decimal(18,2)", "decimal(38,0)"]
    assert contract.schema == ibis.schema({"id": "string", "price": "decimal(18, 2)", "n": "decimal(38, 0)"})
    assert ibis_type("decimal(18,2)") == "decimal(18, 2)"


def test_an_unquoted_decimal_in_a_flow_mapping_gets_a_hint(tmp_path):
    path = write(tmp_path, "sources:\n  raw_x:\n    file: x.csv\n    columns:\n      n: {type: decimal(18,2)}\n")
    with pytest.raises(
        ContractDeclarationError, match=r"has type 'decimal\(18'; .*quoted inside \{...\}: \{type: 'decimal\(18,2\)'\}"
    ):
        load_contracts(path)


@pytest.mark.parametrize("bad", ["decimal(39,0)", "decimal(2,3)", "decimal(0,0)", "decimal", "decimal(18)"])
def test_decimal_bounds(tmp_path, bad):
    path = write(tmp_path, f"sources:\n  raw_x:\n    file: x.csv\n    columns:\n      n: {{type: '{bad}'}}\n")
    with pytest.raises(
        ContractDeclarationError, match=r"column n has type .*; use one of .* or decimal\(p,s\) \(1 <= p <= 38"
    ):
        load_contracts(path)


def test_validate_rows_keeps_decimals_exact():
    contract = Contract("d", "d.csv", (Column("id", "string"), Column("price", "decimal(6,2)")), ("id",))
    values = ["12.5", "-0.25", " 3 ", "1.255", "1e2", "12345.6", "x"]
    text = ibis.memtable({"_line": list(range(2, 9)), "id": list("abcdefg"), "price": values})
    got = rows(validate_rows(text, contract).select("_line", "_reason", "price"), "_line")
    assert [(r["price"], r["_reason"]) for r in got] == [
        (Decimal("12.50"), None),
        (Decimal("-0.25"), None),
        (Decimal("3.00"), None),
        (None, "invalid_decimal:price"),  # would round
        (None, "invalid_decimal:price"),
        (None, "invalid_decimal:price"),  # 5 integer digits > 4
        (None, "invalid_decimal:price"),
    ]


# --- validate_rows -------------------------------------------------------------------------

CONTRACT = Contract(
    "raw_t",
    "t.csv",
    (
        Column("id", "string"),
        Column("n", "int64", nullable=False),
        Column("at", "timestamp", no_future=True),
        Column("flag", "boolean"),
    ),
    ("id",),
)
LATEST = ibis.literal(dt.datetime(2024, 6, 30, 23, 59, 59))

TEXT_ROWS = [  # _line, id, n, at, flag
    (2, "a", " 5 ", "2024-01-02 03:04:05", "true"),
    (3, None, "1", "2024-01-01", "false"),
    (4, "b", None, "2024-01-01", "false"),
    (5, "c", "x", "2024-01-01", "false"),
    (6, "d", "1", "not a time", "false"),
    (7, "e", "1", "2024-01-01", "maybe"),
    (8, "f", "1", "2024-07-01", None),
    (9, "a", "2", "2024-01-01", "false"),
    (10, "g", "oops", "2024-01-01", "true"),
    (11, "g", "7", "2024-01-01", "true"),
    (12, "g", "8", "2024-01-01", "true"),
]


@pytest.fixture
def text():
    cols = ["_line", "id", "n", "at", "flag"]
    return ibis.memtable(
        {c: [r[i] for r in TEXT_ROWS] for i, c in enumerate(cols)},
        schema={"_line": "int64", "id": "string", "n": "string", "at": "string", "flag": "string"},
    )


def test_validate_rows_reasons(text):
    got = rows(validate_rows(text, CONTRACT, latest_allowed=LATEST).select("_line", "_reason"), "_line")
    assert [(r["_line"], r["_reason"]) for r in got] == [
        (2, None),
        (3, "missing_key:id"),
        (4, "missing_value:n"),
        (5, "invalid_int64:n"),
        (6, "invalid_timestamp:at"),
        (7, "invalid_boolean:flag"),
        (8, "future_value:at"),
        (9, "duplicate_key:id"),  # line 2 has the same id and comes first
        (10, "invalid_int64:n"),
        (11, None),  # the first good copy of g is kept; line 10 was broken anyway
        (12, "duplicate_key:id"),
    ]


def test_validate_rows_types_values_and_raw(text):
    got = rows(validate_rows(text, CONTRACT, latest_allowed=LATEST), "_line")
    assert got[0] == {
        "_line": 2,
        "_raw": "a, 5 ,2024-01-02 03:04:05,true",
        "_reason": None,
        "id": "a",
        "n": 5,
        "at": dt.datetime(2024, 1, 2, 3, 4, 5),
        "flag": True,
    }
    assert got[1]["_raw"] == ",1,2024-01-01,false"  # nulls become empty fields
    assert got[3]["n"] is None  # 'x' does not cast


def test_validate_rows_without_latest_allowed_does_not_check_the_future(text):
    got = rows(validate_rows(text, CONTRACT).filter(ibis._._line == 8).select("_reason"))
    assert got == [{"_reason": None}]


def test_validate_rows_composite_key():
    contract = Contract("s", "s.csv", (Column("id", "string"), Column("sku", "string")), ("id", "sku"))
    text = ibis.memtable({"_line": [2, 3, 4, 5], "id": ["1", "1", "1", "1"], "sku": ["a", "b", "a", None]})
    got = rows(validate_rows(text, contract).select("_line", "_reason"), "_line")
    assert [r["_reason"] for r in got] == [None, None, "duplicate_key:id,sku", "missing_key:sku"]


# --- good_rows / quarantine_rows -----------------------------------------------------------


def test_good_and_quarantined_rows(text):
    validated = validate_rows(text, CONTRACT, latest_allowed=LATEST)
    at = dt.datetime(2024, 7, 1, 12)
    good = good_rows(validated, CONTRACT, {"_batch_id": ibis.literal("b1"), "_source_file": ibis.literal("t.csv")})
    bad = quarantine_rows(
        validated, CONTRACT, batch_id="b1", source_file="t.csv", run_id="r1", quarantined_at=ibis.literal(at)
    )

    assert good.columns == ("id", "n", "at", "flag", "_batch_id", "_source_file")
    assert rows(good, "id") == [
        {
            "id": "a",
            "n": 5,
            "at": dt.datetime(2024, 1, 2, 3, 4, 5),
            "flag": True,
            "_batch_id": "b1",
            "_source_file": "t.csv",
        },
        {"id": "g", "n": 7, "at": dt.datetime(2024, 1, 1), "flag": True, "_batch_id": "b1", "_source_file": "t.csv"},
    ]

    assert bad.columns == (
        "source_table",
        "batch_id",
        "source_file",
        "line",
        "reason_code",
        "reason",
        "raw_row",
        "run_id",
        "quarantined_at",
    )
    assert bad.schema()["line"].is_int64()
    quarantined = rows(bad, "line")
    assert quarantined[0] == {
        "source_table": "raw_t",
        "batch_id": "b1",
        "source_file": "t.csv",
        "line": 3,
        "reason_code": "missing_key",
        "reason": "missing_key:id",
        "raw_row": ",1,2024-01-01,false",
        "run_id": "r1",
        "quarantined_at": at,
    }
    assert [r["reason_code"] for r in quarantined] == [
        "missing_key",
        "missing_value",
        "invalid_int64",
        "invalid_timestamp",
        "invalid_boolean",
        "future_value",
        "duplicate_key",
        "invalid_int64",
        "duplicate_key",
    ]
    assert len(rows(good)) + len(quarantined) == len(TEXT_ROWS)
