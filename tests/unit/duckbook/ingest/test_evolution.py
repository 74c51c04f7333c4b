"""duckbook.ingest.evolution: what a delivery changes in its raw table, and what its policy allows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import textwrap

import hypothesis.strategies as st
import ibis
import pytest
from hypothesis import given

from duckbook import ops
from duckbook.ingest.contracts import Column, Contract, ContractError, SchemaPolicy, validate_rows
from duckbook.ingest.evolution import (
    KINDS,
    SchemaChange,
    SchemaEvolutionError,
    compare,
    resolve,
    same_type,
    widens,
)
from tests.unit.helpers import rows

ORDERS = Contract(
    "raw_orders",
    "raw_orders.csv",
    (
        Column("id", "string", nullable=False),
        Column("customer", "string"),
        Column("amount", "int64", nullable=False),
        Column("tax", "int64", nullable=False),
    ),
    ("id",),
)
#: raw_orders as landed so far: data columns plus ingestion metadata
CURRENT = {"id": "string", "customer": "string", "amount": "int64", "tax": "int64", "_batch_id": "string"}
HEADER = ["id", "customer", "amount", "tax"]


def kinds(diff) -> list[tuple[str, str]]:
    return [(c.column, c.kind) for c in diff.changes]


def policy(**settings: str) -> SchemaPolicy:
    return SchemaPolicy(**settings)


# --- compare -------------------------------------------------------------------------------------


def test_a_delivery_like_the_table_changes_nothing():
    diff = compare(ORDERS, HEADER, CURRENT)
    assert diff.changes == ()
    assert diff.expected == {"id": "string", "customer": "string", "amount": "int64", "tax": "int64"}
    evolution = resolve(diff)
    assert (evolution.changes, evolution.add, evolution.widen, evolution.fill_null) == ((), {}, {}, ())
    assert evolution.columns == diff.expected
    assert evolution.contract == ORDERS


def test_types_compare_without_nullability_and_timestamp_precision():
    contract = Contract("t", "t.csv", (Column("at", "timestamp", nullable=False), Column("n", "int64")))
    assert compare(contract, ["at", "n"], {"at": "timestamp(6)", "n": "!int64"}).changes == ()


def test_metadata_columns_of_the_table_are_not_expected_in_the_file():
    diff = compare(ORDERS, HEADER, {**CURRENT, "_source_file": "string", "_ingested_at": "timestamp"})
    assert diff.changes == ()


def test_an_undeclared_column_is_added_as_string():
    diff = compare(ORDERS, [*HEADER, "note"], CURRENT)
    assert diff.changes == (SchemaChange("raw_orders", "note", "added", "", "string", "not in the contract"),)


def test_a_declared_column_the_table_lacks_is_added_with_its_declared_type():
    contract = dataclasses.replace(ORDERS, columns=(*ORDERS.columns, Column("paid", "decimal(18,2)")))
    diff = compare(contract, [*HEADER, "paid"], CURRENT)
    assert diff.changes == (SchemaChange("raw_orders", "paid", "added", "", "decimal(18, 2)", "declared"),)
    assert resolve(diff).add == {"paid": "decimal(18, 2)"}


def test_a_column_added_earlier_is_not_added_again():
    diff = compare(ORDERS, [*HEADER, "note"], {**CURRENT, "note": "string"})
    assert diff.changes == ()


def test_a_column_the_file_lacks_is_missing_whether_declared_or_added_earlier():
    diff = compare(ORDERS, ["id", "customer", "amount"], {**CURRENT, "note": "string"})
    assert diff.changes == (
        SchemaChange("raw_orders", "tax", "missing", "int64", ""),
        SchemaChange("raw_orders", "note", "missing", "string", ""),
    )


def test_a_missing_column_and_a_new_one_are_a_rename_guess():
    diff = compare(ORDERS, ["id", "client", "amount", "tax"], CURRENT)
    assert diff.changes == (SchemaChange("raw_orders", "customer", "renamed", "string", "string", "client"),)


def test_renames_pair_missing_and_new_columns_in_order_and_the_rest_stay_apart():
    diff = compare(ORDERS, ["id", "client", "amount", "note", "extra"], CURRENT)
    assert kinds(diff) == [("customer", "renamed"), ("tax", "renamed"), ("extra", "added")]
    assert [c.detail for c in diff.changes[:2]] == ["client", "note"]


def test_a_wider_declared_type_is_widened_a_narrower_one_narrowed():
    contract = dataclasses.replace(
        ORDERS, columns=(Column("id", "string"), Column("amount", "int64"), Column("tax", "decimal(18,2)"))
    )
    diff = compare(contract, ["id", "amount", "tax"], {"id": "string", "amount": "int32", "tax": "int64"})
    assert diff.changes == (
        SchemaChange("raw_orders", "amount", "widened", "int32", "int64", ""),
        SchemaChange(
            "raw_orders",
            "tax",
            "narrowed",
            "int64",
            "decimal(18, 2)",
            "decimal(18, 2) holds 16 integer digits, int64 needs 19",
        ),
    )


@pytest.mark.parametrize(
    ("table_type", "detail"),
    [
        ("decimal(12, 2)", "decimal(10, 2) holds 8 integer digits and scale 2, decimal(12, 2) needs 10 and 2"),
        ("decimal(10, 3)", "decimal(10, 2) holds 8 integer digits and scale 2, decimal(10, 3) needs 7 and 3"),
        ("string", ""),
    ],
)
def test_a_narrowing_says_why_when_digits_tell(table_type, detail):
    contract = Contract("t", "t.csv", (Column("p", "decimal(10,2)"),))
    (change,) = compare(contract, ["p"], {"p": table_type}).changes
    assert (change.kind, change.detail) == ("narrowed", detail)


def test_an_undeclared_column_typed_in_the_table_widens_to_string():
    # a column declared once as int64, then dropped from the contract, still delivered
    diff = compare(ORDERS, [*HEADER, "legacy"], {**CURRENT, "legacy": "int64"})
    assert diff.changes == (SchemaChange("raw_orders", "legacy", "widened", "int64", "string", ""),)


def test_without_a_table_the_contract_is_expected():
    diff = compare(ORDERS, ["id", "customer", "amount", "note"], None)
    assert diff.table is None
    assert kinds(diff) == [("tax", "renamed")]
    diff = compare(ORDERS, ["id", "customer", "amount", "tax", "note"], None)
    assert kinds(diff) == [("note", "added")]


def test_every_kind_is_known():
    assert set(KINDS) == {"added", "widened", "missing", "renamed", "narrowed"}


# --- render --------------------------------------------------------------------------------------


def test_render_aligns_expected_and_found_and_marks_each_change():
    contract = dataclasses.replace(
        ORDERS, columns=(*ORDERS.columns[:2], Column("amount", "int64"), Column("price", "decimal(18,2)"))
    )
    current = {"id": "string", "customer": "string", "amount": "int32", "tax": "int64", "price": "int64"}
    diff = compare(contract, ["id", "client", "amount", "price", "note", "extra"], current)
    assert diff.render() == textwrap.dedent(
        """\
        raw_orders: expected (raw table) vs found (raw_orders.csv)
            expected          found
            id        string  id      string
        ->  customer  string  client  string          renamed?
        ~   amount    int32   amount  int64           widened
        ->  tax       int64   note    string          renamed?
        ~   price     int64   price   decimal(18, 2)  narrowed: decimal(18, 2) holds 16 integer digits, int64 needs 19
        +                     extra   string          added"""
    )


def test_render_without_a_table_shows_the_contract_and_declared_additions():
    diff = compare(ORDERS, ["id", "amount", "tax"], None)
    assert diff.render() == textwrap.dedent(
        """\
        raw_orders: expected (contract) vs found (raw_orders.csv)
           expected          found
           id        string  id      string
        -  customer  string                  missing
           amount    int64   amount  int64
           tax       int64   tax     int64"""
    )
    contract = dataclasses.replace(ORDERS, columns=(*ORDERS.columns, Column("paid", "int64")))
    assert (
        "+  paid      int64   paid      int64   added (declared)"
        in compare(contract, [*HEADER, "paid"], CURRENT).render()
    )


# --- resolve: new columns ------------------------------------------------------------------------


def test_new_columns_add_evolves_the_table_and_lands_them_as_nullable_strings():
    diff = compare(ORDERS, [*HEADER, "note"], CURRENT)
    evolution = resolve(diff, policy(new_columns="add"))
    assert evolution.add == {"note": "string"}
    assert evolution.changes == (SchemaChange("raw_orders", "note", "added", "", "string"),)
    assert list(evolution.columns) == ["id", "customer", "amount", "tax", "note"]
    assert evolution.contract.columns[-1] == Column("note", "string", nullable=True)
    assert evolution.contract.primary_key == ("id",)


def test_new_columns_of_a_new_table_are_created_not_added():
    evolution = resolve(compare(ORDERS, [*HEADER, "note"], None))
    assert evolution.add == {}
    assert evolution.columns == {
        "id": "string",
        "customer": "string",
        "amount": "int64",
        "tax": "int64",
        "note": "string",
    }
    assert [c.kind for c in evolution.changes] == ["added"]  # recorded: the batch brought it


def test_new_columns_ignore_skips_them():
    evolution = resolve(compare(ORDERS, ["note", *HEADER], CURRENT), policy(new_columns="ignore"))
    assert (evolution.add, evolution.ignore, evolution.changes) == ({}, ("note",), ())
    assert evolution.contract.column_names == ORDERS.column_names


def test_new_columns_ignore_still_adds_declared_ones():
    contract = dataclasses.replace(ORDERS, columns=(*ORDERS.columns, Column("paid", "int64")))
    evolution = resolve(compare(contract, [*HEADER, "paid"], CURRENT), policy(new_columns="ignore"))
    assert evolution.add == {"paid": "int64"}


def test_new_columns_error_names_the_file_delivery_column_and_setting():
    diff = compare(ORDERS, [*HEADER, "note"], CURRENT)
    with pytest.raises(SchemaEvolutionError) as exc:
        resolve(diff, policy(new_columns="error"), delivery="2024-01-03")
    first, blank, *rendered = str(exc.value).splitlines()
    assert first == (
        "raw_orders.csv in delivery 2024-01-03: column 'note' is not in the contract of raw_orders "
        "(schema_evolution.new_columns: error; set it to add to load it as a nullable string column, "
        "or to ignore to skip it)"
    )
    assert blank == "" and "\n".join(rendered) == diff.render()
    assert exc.value.__class__.__mro__[1] is ContractError


# --- resolve: missing columns --------------------------------------------------------------------


def test_missing_columns_error_is_the_default():
    diff = compare(ORDERS, ["id", "customer", "amount"], CURRENT)
    with pytest.raises(
        SchemaEvolutionError, match="^raw_orders.csv in delivery 2024-01-03: column 'tax' is missing "
    ) as exc:
        resolve(diff, delivery="2024-01-03")
    assert (
        "column 'tax' is missing (schema_evolution.missing_columns: error; set it to null to load it as NULL)"
        in str(exc.value)
    )


def test_without_a_delivery_the_message_names_the_file():
    with pytest.raises(SchemaEvolutionError, match="^raw_orders.csv: column 'tax' is missing"):
        resolve(compare(ORDERS, ["id", "customer", "amount"], CURRENT))


def test_missing_columns_null_loads_them_as_null_and_relaxes_not_null():
    diff = compare(ORDERS, ["id", "customer", "amount"], CURRENT)
    evolution = resolve(diff, policy(missing_columns="null"))
    assert evolution.fill_null == ("tax",)
    assert evolution.add == {}
    assert evolution.changes == (SchemaChange("raw_orders", "tax", "missing", "int64", ""),)
    assert evolution.columns == dict(diff.table)
    assert evolution.contract.columns[3] == Column("tax", "int64", nullable=True)


def test_a_declared_column_never_delivered_is_added_when_loaded_as_null():
    contract = dataclasses.replace(ORDERS, columns=(*ORDERS.columns, Column("paid", "decimal(18,2)")))
    evolution = resolve(compare(contract, HEADER, CURRENT), policy(missing_columns="null"))
    assert (evolution.add, evolution.fill_null) == ({"paid": "decimal(18, 2)"}, ("paid",))
    assert evolution.contract.columns[-1] == Column("paid", "decimal(18,2)")


def test_an_undeclared_column_filled_with_null_keeps_its_raw_type():
    evolution = resolve(
        compare(ORDERS, HEADER, {**CURRENT, "n": "int32", "d": "decimal(9, 2)"}), policy(missing_columns="null")
    )
    assert evolution.contract.columns[-2:] == (Column("n", "string"), Column("d", "decimal(9,2)"))
    evolution = resolve(compare(ORDERS, HEADER, {**CURRENT, "n": "int64"}), policy(missing_columns="null"))
    assert evolution.contract.columns[-1] == Column("n", "int64")


@pytest.mark.parametrize("lenient", [policy(missing_columns="null"), policy(missing_columns="null", new_columns="add")])
def test_a_missing_key_column_always_stops(lenient):
    with pytest.raises(
        SchemaEvolutionError, match="column 'id' is missing; it is part of the primary key, never loaded as NULL"
    ):
        resolve(compare(ORDERS, ["customer", "amount", "tax"], CURRENT), lenient)


def test_a_missing_duplicates_by_column_always_stops():
    contract = dataclasses.replace(ORDERS, keep="latest", latest_by="amount")
    with pytest.raises(SchemaEvolutionError, match="column 'amount' is missing; it is part of duplicates.by"):
        resolve(compare(contract, ["id", "customer", "tax"], CURRENT), policy(missing_columns="null"))


# --- resolve: renames ----------------------------------------------------------------------------


def test_a_rename_guess_stops_by_default_naming_both_columns():
    diff = compare(ORDERS, ["id", "client", "amount", "tax"], CURRENT)
    with pytest.raises(SchemaEvolutionError) as exc:
        resolve(diff, delivery="2024-01-03")
    assert str(exc.value).splitlines()[0] == (
        "raw_orders.csv in delivery 2024-01-03: column 'customer' (renamed to 'client'?) is missing "
        "(schema_evolution.missing_columns: error; set it to null to load it as NULL)"
    )
    assert "->  customer  string  client  string  renamed?" in str(exc.value)


def test_a_rename_guess_with_lenient_settings_keeps_both_columns():
    diff = compare(ORDERS, ["id", "client", "amount", "tax"], CURRENT)
    evolution = resolve(diff, policy(missing_columns="null", new_columns="add"))
    assert evolution.fill_null == ("customer",)
    assert evolution.add == {"client": "string"}
    assert [(c.column, c.kind) for c in evolution.changes] == [("customer", "missing"), ("client", "added")]


def test_a_rename_guess_with_new_columns_error_names_the_new_column_too():
    diff = compare(ORDERS, ["id", "client", "amount", "tax"], CURRENT)
    with pytest.raises(SchemaEvolutionError, match="column 'client' is not in the contract"):
        resolve(diff, policy(missing_columns="null", new_columns="error"))


# --- resolve: type changes -----------------------------------------------------------------------


def widened_diff():
    return compare(ORDERS, HEADER, {**CURRENT, "amount": "int32"})


def test_type_changes_widen_applies_widening():
    evolution = resolve(widened_diff())
    assert evolution.widen == {"amount": "int64"}
    assert evolution.changes == (SchemaChange("raw_orders", "amount", "widened", "int32", "int64"),)
    assert evolution.columns["amount"] == "int64"


def test_type_changes_error_stops_a_widening():
    with pytest.raises(
        SchemaEvolutionError,
        match=r"column 'amount' would widen from int32 to int64 \(schema_evolution.type_changes: error; set it to widen",
    ):
        resolve(widened_diff(), policy(type_changes="error"))


def test_narrowing_always_stops_and_says_what_to_declare():
    # the table holds tax as decimal(38, 0): a contract declaring int64 would narrow it
    diff = compare(ORDERS, HEADER, {**CURRENT, "tax": "decimal(38, 0)"})
    with pytest.raises(SchemaEvolutionError) as exc:
        resolve(diff, policy(new_columns="add", missing_columns="null", type_changes="widen"))
    assert (
        "raw_orders.csv: column 'tax' would narrow from decimal(38, 0) to int64 "
        "(never applied: declare decimal(38, 0) or a wider type)"
    ) in str(exc.value)


def test_every_problem_is_listed_before_the_diff():
    diff = compare(ORDERS, ["id", "amount", "note"], {**CURRENT, "amount": "int32"})
    with pytest.raises(SchemaEvolutionError) as exc:
        resolve(diff, policy(new_columns="error", type_changes="error"))
    message = str(exc.value)
    problems = message.split("\n\n")[0].splitlines()
    # type changes first, then each missing column (a rename guess with its new column), then new ones
    assert [p.split(": column ")[1].split()[0] for p in problems] == ["'amount'", "'customer'", "'note'", "'tax'"]


# --- the evolution, landing and history ----------------------------------------------------------


def test_the_landing_contract_validates_a_delivery_with_new_and_missing_columns():
    diff = compare(ORDERS, ["id", "customer", "amount", "note"], CURRENT)
    evolution = resolve(diff, policy(missing_columns="null", new_columns="add"))
    assert evolution.fill_null == ("tax",) and evolution.add == {"note": "string"}
    text = ibis.memtable(
        {"_line": [2, 3], "id": ["a", "b"], "customer": ["c", None], "amount": ["1", "x"], "note": ["n", None]}
    ).mutate(**{c: ibis.null("string") for c in evolution.fill_null})
    validated = validate_rows(text, evolution.contract)
    assert rows(validated.select("_line", "_reason", *evolution.columns), "_line") == [
        {"_line": 2, "_reason": None, "id": "a", "customer": "c", "amount": 1, "tax": None, "note": "n"},
        {
            "_line": 3,
            "_reason": "invalid_int64:amount",
            "id": "b",
            "customer": None,
            "amount": None,
            "tax": None,
            "note": None,
        },
    ]


def test_history_rows_are_the_schema_history_table():
    evolution = resolve(compare(ORDERS, [*HEADER, "note"], {**CURRENT, "amount": "int32"}))
    at = dt.datetime(2024, 1, 3, 6)
    history = evolution.history(batch_id="raw_orders-abc", run_id="r1", changed_at=at)
    assert history == [
        {
            "table_name": "raw_orders",
            "column_name": "amount",
            "change": "widened",
            "old_type": "int32",
            "new_type": "int64",
            "batch_id": "raw_orders-abc",
            "run_id": "r1",
            "changed_at": at,
        },
        {
            "table_name": "raw_orders",
            "column_name": "note",
            "change": "added",
            "old_type": "",
            "new_type": "string",
            "batch_id": "raw_orders-abc",
            "run_id": "r1",
            "changed_at": at,
        },
    ]
    assert all(list(row) == list(ops.columns("schema_history")) for row in history)
    assert rows(ops.conform("schema_history", ibis.memtable(history)), "column_name")[0]["change"] == "widened"


def test_the_contracts_own_policy_is_the_default():
    contract = dataclasses.replace(ORDERS, schema_evolution=policy(new_columns="ignore"))
    assert resolve(compare(contract, [*HEADER, "note"], CURRENT)).ignore == ("note",)


# --- widening ------------------------------------------------------------------------------------

WIDENING = [
    ("int8", "int16"),
    ("int8", "int64"),
    ("int16", "int32"),
    ("int32", "int64"),
    ("uint8", "int16"),
    ("uint32", "uint64"),
    ("uint32", "int64"),
    ("int8", "decimal(3, 0)"),
    ("int32", "decimal(10, 0)"),
    ("int32", "decimal(18, 2)"),
    ("int64", "decimal(38, 0)"),
    ("int64", "decimal(21, 2)"),
    ("uint64", "decimal(20, 0)"),
    ("float32", "float64"),
    ("decimal(10, 2)", "decimal(12, 2)"),
    ("decimal(10, 2)", "decimal(11, 3)"),
    ("decimal(18, 2)", "decimal(38, 2)"),
    ("int64", "string"),
    ("decimal(18, 2)", "string"),
    ("date", "string"),
    ("timestamp(6)", "string"),
    ("boolean", "string"),
]
NOT_WIDENING = [
    ("int64", "int32"),
    ("int32", "int16"),
    ("int32", "uint64"),  # loses the negatives
    ("uint64", "int64"),
    ("int64", "decimal(18, 2)"),  # 16 integer digits < 19
    ("int32", "decimal(9, 0)"),
    ("uint64", "decimal(19, 0)"),
    ("float64", "float32"),
    ("int32", "float64"),  # not in the list: a float is not a number a person would call exact
    ("int64", "float64"),
    ("float64", "decimal(38, 10)"),
    ("decimal(12, 2)", "decimal(10, 2)"),
    ("decimal(10, 2)", "decimal(10, 3)"),  # one integer digit fewer
    ("decimal(10, 2)", "decimal(12, 1)"),  # scale lost
    ("decimal(18, 2)", "int64"),
    ("string", "int64"),
    ("date", "timestamp"),
    ("timestamp", "date"),
    ("boolean", "int64"),
    ("int64", "int64"),
    ("timestamp", "timestamp(6)"),
    ("string", "string"),
]


@pytest.mark.parametrize(("old", "new"), WIDENING)
def test_widenings(old, new):
    assert widens(old, new)


@pytest.mark.parametrize(("old", "new"), NOT_WIDENING)
def test_not_widenings(old, new):
    assert not widens(old, new)


def test_unparameterized_decimal_is_duckdbs_default():
    assert widens("decimal", "decimal(20, 3)") and not widens("decimal", "decimal(17, 3)")


TYPES = sorted({t for pair in WIDENING + NOT_WIDENING for t in pair})


@given(st.sampled_from(TYPES), st.sampled_from(TYPES))
def test_widening_is_one_way_and_never_between_equal_types(a, b):
    assert not (widens(a, b) and widens(b, a))
    if same_type(a, b):
        assert not widens(a, b)


@given(st.sampled_from(TYPES), st.sampled_from(TYPES), st.sampled_from(TYPES))
def test_widening_is_transitive(a, b, c):
    if widens(a, b) and widens(b, c):
        assert widens(a, c)


# --- the whole flow, as ingestion will run it ----------------------------------------------------


def deliver(con, contract, header, values, *, batch, delivery, policy=None):
    """What ingestion does with one delivery: compare, resolve, evolve raw, land, record history."""
    from duckbook import engine
    from duckbook.ingest.contracts import good_rows

    current = (
        {c: str(t) for c, t in con.table(contract.name, database="raw").schema().items()}
        if engine.table_exists(con, "raw", contract.name)
        else None
    )
    evolution = resolve(compare(contract, header, current), policy, delivery=delivery)
    if current is None:
        declared = ibis.schema({**evolution.columns, "_batch_id": "string"})
        engine.ensure_table(con, "raw", contract.name, declared.to_sqlglot_column_defs(dialect="duckdb"))
    else:
        engine.evolve_table(con, "raw", contract.name, evolution.add, evolution.widen)
    columns = {c: [row[i] for row in values] for i, c in enumerate(header)}
    text = ibis.memtable({"_line": list(range(2, 2 + len(values))), **columns})
    text = text.mutate(**{c: ibis.null("string") for c in evolution.fill_null})
    good = good_rows(validate_rows(text, evolution.contract), evolution.contract, {"_batch_id": ibis.literal(batch)})
    engine.replace_rows(con, "raw", contract.name, good, where={"_batch_id": batch})
    if evolution.changes:
        history = evolution.history(batch_id=batch, run_id="r1", changed_at=dt.datetime(2024, 1, 3))
        ops.record(con, "schema_history", ibis.memtable(history), replace_where={"batch_id": batch})
    return evolution


def test_three_deliveries_evolve_raw_and_record_each_change_with_its_batch():
    con = ibis.duckdb.connect()
    contract = dataclasses.replace(ORDERS, columns=(*ORDERS.columns[:3], Column("tax", "int64")))
    lenient = policy(missing_columns="null")
    deliver(con, contract, HEADER, [("a", "c1", "1", "10")], batch="b1", delivery="2024-01-01")
    deliver(con, contract, [*HEADER, "note"], [("b", "c2", "2", "20", "hi")], batch="b2", delivery="2024-01-02")
    # the note column vanishes again and tax too: both loaded as NULL, never dropped
    deliver(con, contract, HEADER[:3], [("c", "c3", "3")], batch="b3", delivery="2024-01-03", policy=lenient)
    with pytest.raises(SchemaEvolutionError, match="raw_orders.csv in delivery 2024-01-04: column 'tax' is missing"):
        deliver(con, contract, HEADER[:3], [("d", "c4", "4")], batch="b4", delivery="2024-01-04")

    raw = con.table("raw_orders", database="raw")
    assert list(raw.columns) == ["id", "customer", "amount", "tax", "_batch_id", "note"]
    assert [(r["id"], r["tax"], r["note"]) for r in rows(raw, "id")] == [
        ("a", 10, None),
        ("b", 20, "hi"),
        ("c", None, None),
    ]
    history = rows(
        ops.table(con, "schema_history").select("batch_id", "column_name", "change"), "batch_id", "column_name"
    )
    assert history == [
        {"batch_id": "b2", "column_name": "note", "change": "added"},
        {"batch_id": "b3", "column_name": "note", "change": "missing"},
        {"batch_id": "b3", "column_name": "tax", "change": "missing"},
    ]
