"""duckbook.quality.registry: checks from parsed YAML (every type, the common keys, errors naming
file, table, column and check), argument validation against each type's signature, and the
catalogue (a type added with the decorator is usable from a spec)."""

from __future__ import annotations

import datetime as dt
import textwrap

import ibis
import pytest
import yaml

from duckbook.quality.evaluate import run_checks
from duckbook.quality.registry import HISTORY, check_type, check_types, checks_from_spec, source_checks
from duckbook.quality.row_checks import in_range
from duckbook.quality.types import CheckDeclarationError, RowCheck, Severity
from tests.unit.helpers import check_outcome, check_result, rows

NOW = dt.datetime(2024, 1, 31, 23, 59, 59)


result, outcome = check_result, check_outcome


def load(paths, *, now):
    """What a project loader does with parsed YAML files: every entry's checks by table."""
    out = {}
    for path in paths:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, spec in (doc.get("sources") or {}).items():
            out.setdefault(f"raw.{name}", []).extend(source_checks(name, spec, now=now, origin=str(path)))
        for qualified, spec in (doc.get("models") or {}).items():
            out.setdefault(qualified, []).extend(checks_from_spec(qualified, spec or {}, now=now, origin=str(path)))
    return out


# --- checks_from_spec, source_checks ------------------------------------------------------------------------


def write(tmp_path, text, name="checks.yml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def describe(checks):
    return [(c.name, c.table, c.column, c.severity, c.error_if, c.warn_if) for c in checks]


def test_load_checks_sources_primary_keys(tmp_path):
    path = write(
        tmp_path,
        """
        sources:
          raw_people:
            file: people.csv
            primary_key: [id]
            columns:
              id: {type: string}
          raw_supplies:
            primary_key: [id, sku]
            checks:
              - {type: volume, k: 2, min_runs: 3}
          raw_notes:
            file: notes.csv
    """,
    )
    got = load([path], now=NOW)
    assert list(got) == ["raw.raw_people", "raw.raw_supplies", "raw.raw_notes"]
    assert describe(got["raw.raw_people"]) == [
        ("not_null__raw_people__id", "raw_people", "id", "error", None, None),
        ("unique__raw_people__id", "raw_people", "id", "error", None, None),
    ]
    assert describe(got["raw.raw_supplies"]) == [
        ("not_null__raw_supplies__id", "raw_supplies", "id", "error", None, None),
        ("not_null__raw_supplies__sku", "raw_supplies", "sku", "error", None, None),
        ("unique__raw_supplies__id__sku", "raw_supplies", "id, sku", "error", None, None),
        ("volume__raw_supplies", "raw_supplies", None, "warn", None, ">2"),
    ]
    assert got["raw.raw_notes"] == []
    # the composite key is unique as a pair
    t = {"raw_supplies": ibis.memtable({"id": ["s1", "s1", "s2"], "sku": ["a", "b", "a"]})}
    assert rows(run_checks(got["raw.raw_supplies"][:3], t), "check_name")[2]["failing_rows"] == 0


MODELS = """
    models:
      shop.orders:
        description: Orders.
        checks:
          - {type: row_count, min: 2}
          - type: expression
            name: total_ok
            expr: total == subtotal + tax
            where: "status != 'void'"
          - {type: freshness, column: loaded_at, warn_after_hours: 24, error_after_hours: 48}
          - {type: volume, k: 2, min_runs: 3}
          - {type: required_columns, columns: [order_id, total, discount]}
          - {type: unique, columns: [customer_id, status]}
        columns:
          order_id:
            description: Order id.
            checks: [not_null, unique]
          status:
            checks:
              - {type: accepted_values, values: [open, void]}
          customer_id:
            checks:
              - {type: relationship, to: customers, field: id}
          total:
            checks:
              - {type: range, min: 0, max: 44}
              - {type: type, expected: int64}
          code:
            checks:
              - {type: regex, pattern: '[A-Z]{2}-[0-9]+'}
          ordered_at:
            checks:
              - {type: date_window, after: '2024-01-01', not_after: run}
      shop.customers:
        columns:
          id: {checks: [not_null]}
          name: {description: no checks}
      shop.empty: {description: nothing declared}
"""


def shop_tables():
    ts = dt.datetime
    orders = ibis.memtable(
        {
            "order_id": [1, 2, 3, 3],
            "status": ["open", "void", "open", "lost"],
            "customer_id": ["c1", "c2", "c9", None],
            "subtotal": [10, 20, 30, 40],
            "tax": [1, 2, 3, 4],
            # o2 is void (its wrong total is not checked); o3's total is wrong; 99 > 44 is out of range
            "total": [11, 99, 30, 44],
            "code": ["AB-1", "AB-12", "ab-1", "AB-"],
            "ordered_at": [ts(2024, 1, 1), ts(2024, 1, 31, 23, 59, 59), ts(2023, 12, 31, 23, 59, 59), ts(2024, 2, 1)],
            "loaded_at": [ts(2024, 1, 30, 11, 59, 59), ts(2024, 1, 1), ts(2024, 1, 1), ts(2024, 1, 1)],
        },
        schema={
            "order_id": "int64",
            "status": "string",
            "customer_id": "string",
            "subtotal": "int64",
            "tax": "int64",
            "total": "int64",
            "code": "string",
            "ordered_at": "timestamp",
            "loaded_at": "timestamp",
        },
    )
    customers = ibis.memtable({"id": ["c1", "c2"]})
    # three earlier runs of shop.orders: mean 10, sd 2 -> 4 rows now is 3 std devs away (> k = 2)
    log = ibis.memtable({"table": ["shop.orders"] * 3 + ["shop.customers"] * 3, "rows": [10, 12, 8, 4, 4, 4]})
    return {"orders": orders, "customers": customers, HISTORY: log}


def test_load_checks_models_every_type(tmp_path):
    got = load([write(tmp_path, MODELS)], now=NOW)
    assert list(got) == ["shop.orders", "shop.customers", "shop.empty"]
    assert got["shop.empty"] == []
    assert describe(got["shop.customers"]) == [("not_null__customers__id", "customers", "id", "error", None, None)]
    results = rows(run_checks(got["shop.orders"], shop_tables()))
    summary = [
        (
            r["check_name"],
            r["column_name"],
            r["failing_rows"],
            r["observed"],
            r["threshold"],
            r["status"],
            r["failing_sample"],
        )
        for r in results
    ]
    assert summary == [
        ("row_count_min__orders", None, 0, 4.0, "error if <2 rows", "pass", ""),
        ("total_ok__orders", None, 1, None, "error if >0", "fail", ""),
        ("freshness__orders__loaded_at", "loaded_at", 1, 36.0, "error if >48 hours; warn if >24 hours", "warn", ""),
        ("volume__orders", None, 1, 3.0, "warn if >2 std devs", "warn", ""),
        ("required_columns__orders", None, 1, None, "error if >0", "fail", "discount"),
        ("unique__orders__customer_id__status", "customer_id, status", 0, None, "error if >0", "pass", ""),
        ("not_null__orders__order_id", "order_id", 0, None, "error if >0", "pass", ""),
        ("unique__orders__order_id", "order_id", 2, None, "error if >0", "fail", "3"),
        ("accepted_values__orders__status", "status", 1, None, "error if >0", "fail", ""),
        ("relationship__orders__customer_id__customers", "customer_id", 1, None, "error if >0", "fail", "c9"),
        ("range__orders__total__min_0__max_44", "total", 1, None, "error if >0", "fail", ""),
        ("type__orders__total", "total", 0, None, "error if >0", "pass", ""),
        ("regex__orders__code", "code", 2, None, "error if >0", "fail", ""),
        ("date_window__orders__ordered_at", "ordered_at", 2, None, "error if >0", "fail", ""),
    ]
    descriptions = {r["check_name"]: r["description"] for r in results}
    assert descriptions["total_ok__orders"] == "total == subtotal + tax"  # the rule is the default description
    assert (
        descriptions["date_window__orders__ordered_at"]
        == "orders.ordered_at between 2024-01-01 and 2024-01-31 23:59:59"
    )


def test_load_checks_expression_where_is_applied(tmp_path):
    path = write(
        tmp_path,
        """
        models:
          s.t:
            checks:
              - {type: expression, name: r, expr: a > 0}
              - {type: expression, name: r_where, expr: a > 0, where: "b in ('x', 'y') and a is not None"}
    """,
    )
    checks = load([path], now=NOW)["s.t"]
    t = {"t": ibis.memtable({"a": [1, -1, -2, None], "b": ["x", "z", "y", "x"]}, schema={"a": "int64", "b": "string"})}
    assert [(r["check_name"], r["failing_rows"]) for r in rows(run_checks(checks, t))] == [
        ("r__t", 2),
        ("r_where__t", 1),
    ]


def test_load_checks_not_after_run_uses_the_given_now(tmp_path):
    path = write(
        tmp_path,
        """
        models:
          s.t:
            columns:
              d:
                checks: [{type: date_window, not_after: run}]
    """,
    )
    t = {"t": ibis.memtable({"d": [dt.date(2024, 1, 31), dt.date(2024, 2, 1)]}, schema={"d": "date"})}
    at_end_of_january = load([path], now=NOW)["s.t"]
    assert outcome(at_end_of_january[0], t) == (1, None, "error if >0", "fail")
    a_day_later = load([path], now=NOW + dt.timedelta(days=1))["s.t"]
    assert outcome(a_day_later[0], t) == (0, None, "error if >0", "pass")


def test_load_checks_freshness_uses_the_given_now(tmp_path):
    path = write(
        tmp_path,
        """
        models:
          s.t:
            checks: [{type: freshness, column: ts, warn_after_hours: 1}]
    """,
    )
    t = {"t": ibis.memtable({"ts": [dt.datetime(2024, 1, 31, 20, 59, 59)]}, schema={"ts": "timestamp"})}
    assert outcome(load([path], now=NOW)["s.t"][0], t) == (1, 3.0, "warn if >1 hours", "warn")


def test_load_checks_severity_threshold_and_description_overrides(tmp_path):
    path = write(
        tmp_path,
        """
        models:
          s.t:
            checks:
              - {type: row_count, min: 10, severity: warn}
              - {type: volume, severity: error}
              - {type: required_columns, columns: [x, y], severity: warn, description: has x and y}
            columns:
              x:
                checks:
                  - {type: not_null, severity: warn}
                  - {type: unique, error_if: "> 2", description: x mostly unique}
                  - {type: accepted_values, values: [1], error_if: "> 50%", warn_if: "> 0"}
                  - {type: range, max: 2, severity: warn, warn_if: "> 1"}
                  - {type: regex, pattern: '[0-4]', error_if: ">= 3"}
                  - {type: type, expected: string, severity: warn}
              d:
                checks:
                  - {type: date_window, after: 2020-01-01, severity: warn}
              y:
                checks:
                  - {type: relationship, to: u, field: id, severity: warn}
                  - {type: expression, name: y_pos, expr: y > 0, severity: warn, warn_if: "> 10%"}
    """,
    )
    checks = load([path], now=NOW)["s.t"]
    assert describe(checks) == [
        ("row_count_min__t", "t", None, "warn", None, "<10"),
        ("volume__t", "t", None, "error", ">3.0", None),
        ("required_columns__t", "t", None, "warn", None, None),
        ("not_null__t__x", "t", "x", "warn", None, None),
        ("unique__t__x", "t", "x", "error", "> 2", None),
        ("accepted_values__t__x", "t", "x", "error", "> 50%", "> 0"),
        ("range__t__x__max_2", "t", "x", "warn", None, "> 1"),
        ("regex__t__x", "t", "x", "error", ">= 3", None),
        ("type__t__x", "t", "x", "warn", None, None),
        ("date_window__t__d", "t", "d", "warn", None, None),
        ("relationship__t__y__u", "t", "y", "warn", None, None),
        ("y_pos__t", "t", None, "warn", None, "> 10%"),
    ]
    by_name = {c.name: c for c in checks}
    assert by_name["required_columns__t"].description == "has x and y"
    assert by_name["unique__t__x"].description == "x mostly unique"
    assert by_name["y_pos__t"].description == "y > 0"
    d = [dt.date(2019, 12, 31), dt.date(2020, 1, 1), dt.date(2021, 1, 1), None]
    t = {
        "t": ibis.memtable(
            {"x": [1, 1, 1, 5], "y": [1, -1, 7, None], "d": d}, schema={"x": "int64", "y": "int64", "d": "date"}
        )
    }
    t["u"] = ibis.memtable({"id": [1, 5]}, schema={"id": "int64"})
    got = {r["check_name"]: (r["failing_rows"], r["threshold"], r["status"]) for r in rows(run_checks(checks, t))}
    assert got == {
        "row_count_min__t": (1, "warn if <10 rows", "warn"),
        "volume__t": (0, "error if >3.0 std devs", "pass"),
        "required_columns__t": (0, "warn if >0", "pass"),
        "not_null__t__x": (0, "warn if >0", "pass"),
        "unique__t__x": (3, "error if > 2", "fail"),
        "accepted_values__t__x": (1, "error if > 50%; warn if > 0", "warn"),  # 1 of 4 rows: 25%
        "range__t__x__max_2": (1, "warn if > 1", "pass"),
        "regex__t__x": (1, "error if >= 3", "pass"),
        "type__t__x": (1, "warn if >0", "warn"),
        "date_window__t__d": (1, "warn if >0", "warn"),
        "relationship__t__y__u": (2, "warn if >0", "warn"),
        "y_pos__t": (1, "warn if > 10%", "warn"),  # 1 of 4 rows: 25%
    }


ERRORS = [
    # (column or None, check item, message fragment)
    ("a", "{type: nope}", "unknown check type 'nope'"),
    ("a", "{type: not_null, foo: 1}", "unknown argument(s) ['foo'] for not_null"),
    ("a", "{type: expression, name: n, expr: a > 0, wher: a > 1}", "unknown argument(s) ['wher'] for expression"),
    ("a", "{type: range, minimum: 0}", "unknown argument(s) ['minimum'] for range"),
    ("a", "{type: accepted_values}", "'values'"),
    ("a", "{type: relationship, to: u}", "'field'"),
    ("a", "{type: regex}", "'pattern'"),
    ("a", "{type: type}", "'expected'"),
    (None, "{type: required_columns}", "'columns'"),
    (None, "{type: expression, expr: a > 1}", "'name'"),
    (None, "{type: expression, name: n}", "'expr'"),
    ("a", "{severity: warn}", "'type'"),
    ("a", "{type: regex, pattern: '(a'}", "missing ), unterminated subpattern"),
    ("a", "{type: regex, pattern: '[z-a]'}", "bad character range"),
    ("a", "{type: not_null, error_if: '== 1'}", "bad threshold '== 1'"),
    ("a", "{type: not_null, warn_if: 'lots'}", "bad threshold 'lots'"),
    (None, "{type: row_count, min: 1, error_if: '> 1%'}", "bad threshold '> 1%'"),
    (None, "{type: volume, warn_if: '> 5%'}", "bad threshold '> 5%'"),
    (None, "{type: row_count, min: 1, max: 3}", "row_count takes min or max"),
    (None, "{type: row_count}", "row_count takes min or max"),
    ("a", "{type: freshness}", "freshness needs warn_after_hours and/or error_after_hours"),
]


@pytest.mark.parametrize(("column", "item", "message"), ERRORS)
def test_load_checks_errors_name_file_table_and_check(tmp_path, column, item, message):
    if column:
        text = f"models:\n  s.t:\n    columns:\n      {column}:\n        checks:\n          - {item}\n"
    else:
        text = f"models:\n  s.t:\n    checks:\n      - {item}\n"
    path = write(tmp_path, text)
    parsed = yaml.safe_load(item)
    where = f"s.t.{column}" if column else "s.t"
    with pytest.raises(ValueError) as exc:
        load([path], now=NOW)
    error = str(exc.value)
    assert error.startswith(f"{path}: {where}: bad check {parsed!r}: "), error
    assert message in error


def test_load_checks_error_in_sources_and_second_file(tmp_path):
    good = write(tmp_path, "models:\n  s.t:\n    checks: [{type: row_count, min: 1}]\n", "good.yml")
    bad = write(tmp_path, "sources:\n  raw_x:\n    primary_key: [id]\n    checks: [{type: volume, kk: 3}]\n", "bad.yml")
    with pytest.raises(ValueError) as exc:
        load([good, bad], now=NOW)
    assert str(exc.value) == (
        f"{bad}: raw.raw_x: bad check {{'type': 'volume', 'kk': 3}}: unknown argument(s) ['kk'] for volume;"
        " volume takes k=3.0, min_runs=5 (and every check: column, description, error_if, name, severity, warn_if)"
    )


def test_load_checks_merges_files_and_empty_file(tmp_path):
    a = write(tmp_path, "models:\n  s.t:\n    checks: [{type: row_count, min: 1}]\n", "a.yml")
    b = write(tmp_path, "models:\n  s.t:\n    columns: {x: {checks: [not_null]}}\n", "b.yml")
    empty = write(tmp_path, "", "empty.yml")
    assert [c.name for c in load([a, b, empty], now=NOW)["s.t"]] == ["row_count_min__t", "not_null__t__x"]
    assert load([empty], now=NOW) == {}


def test_load_checks_rejects_unknown_severity(tmp_path):
    path = write(
        tmp_path, "models:\n  s.t:\n    columns:\n      a:\n        checks: [{type: not_null, severity: erorr}]\n"
    )
    with pytest.raises(ValueError, match=r"s\.t\.a: bad check"):
        load([path], now=NOW)


def test_load_checks_model_name_without_schema(tmp_path):
    path = write(tmp_path, "models:\n  orders:\n    description: no schema\n")
    with pytest.raises(ValueError, match="orders"):
        load([path], now=NOW)


def test_load_checks_table_level_column_check_needs_a_column(tmp_path):
    path = write(tmp_path, "models:\n  s.t:\n    checks: [not_null]\n")
    with pytest.raises(ValueError, match=r"s\.t: bad check 'not_null'"):
        load([path], now=NOW)


def test_load_checks_unknown_expected_type(tmp_path):
    path = write(
        tmp_path, "models:\n  s.t:\n    columns:\n      a:\n        checks: [{type: type, expected: notatype}]\n"
    )
    with pytest.raises(ValueError, match=r"s\.t\.a: bad check"):
        load([path], now=NOW)


@pytest.mark.parametrize("item", ["{type: range}", "{type: date_window}"])
def test_load_checks_bound_checks_need_a_bound(tmp_path, item):
    path = write(tmp_path, f"models:\n  s.t:\n    columns:\n      a:\n        checks: [{item}]\n")
    with pytest.raises(ValueError, match=r"s\.t\.a: bad check"):
        load([path], now=NOW)


def test_load_checks_gives_each_declared_check_a_unique_name(tmp_path):
    path = write(
        tmp_path,
        "models:\n  s.t:\n    checks:\n      - {type: row_count, min: 1}\n      - {type: row_count, max: 10}\n",
    )
    try:
        names = [c.name for c in load([path], now=NOW)["s.t"]]
    except ValueError:
        return
    assert len(set(names)) == len(names), names


# --- argument validation against each type's signature ------------------------------------

EVERY_CHECK = "(and every check: column, description, error_if, name, severity, warn_if)"


def declare(item, column="a"):
    """The one check ``item`` declares under ``column`` (None: at table level) of s.t."""
    spec = {"columns": {column: {"checks": [item]}}} if column else {"checks": [item]}
    (check,) = checks_from_spec("s.t", spec, now=NOW, origin="m.yml")
    return check


def declaration_error(item, column="a"):
    with pytest.raises(CheckDeclarationError) as exc:
        declare(item, column)
    where = "s.t.a" if column else "s.t"
    prefix = f"m.yml: {where}: bad check {item!r}: "
    assert str(exc.value).startswith(prefix), str(exc.value)
    return str(exc.value).removeprefix(prefix)


def test_unknown_argument_is_named_with_the_accepted_ones():
    assert declaration_error({"type": "range", "minimum": 0, "max": 5}) == (
        f"unknown argument(s) ['minimum'] for range; range takes min=None, max=None {EVERY_CHECK}"
    )
    assert declaration_error({"type": "not_null", "foo": 1, "bar": 2}) == (
        f"unknown argument(s) ['bar', 'foo'] for not_null; not_null takes no arguments {EVERY_CHECK}"
    )


def test_missing_argument_is_named_with_the_accepted_ones():
    assert declaration_error({"type": "relationship", "to": "u"}) == (
        f"missing argument(s) ['field'] for relationship; relationship takes to, field {EVERY_CHECK}"
    )
    assert declaration_error({"type": "totals_match"}) == (
        "missing argument(s) ['to', 'to_column'] for totals_match; totals_match takes to, to_column, agg='sum',"
        f" to_agg='sum' {EVERY_CHECK}"
    )
    assert declaration_error({"type": "expression", "expr": "a > 0"}, None) == (
        "missing argument(s) ['name'] for expression; expression takes name, expr, description=None, where=None"
        f" {EVERY_CHECK}"
    )


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"type": "range", "min": "zero"}, "argument 'min' of range must be a number or null, not 'zero'"),
        ({"type": "row_count", "min": 1.5}, "argument 'min' of row_count must be an integer or null, not 1.5"),
        ({"type": "row_count", "min": True}, "argument 'min' of row_count must be an integer or null, not True"),
        ({"type": "accepted_values", "values": "new"}, "argument 'values' of accepted_values must be a list"),
        ({"type": "unique", "columns": "id"}, "argument 'columns' of unique must be a list (text each), not 'id'"),
        ({"type": "required_columns", "columns": [1]}, "argument 'columns' of required_columns must be a list"),
        ({"type": "regex", "pattern": 7}, "argument 'pattern' of regex must be text, not 7"),
        ({"type": "expression", "name": "n", "expr": 1}, "argument 'expr' of expression must be text, not 1"),
        ({"type": "volume", "k": "3"}, "argument 'k' of volume must be a number, not '3'"),
        ({"type": "not_null", "severity": "fatal"}, "argument 'severity' of not_null must be 'error' or 'warn'"),
        ({"type": "freshness", "warn_after_hours": 1, "severity": "x"}, "argument 'severity' of freshness must be"),
        ({"type": "not_null", "name": ["a"]}, "argument 'name' of not_null must be text, not ['a']"),
        ({"type": "not_null", "column": 3}, "argument 'column' of not_null must be text, not 3"),
        ({"type": "totals_match", "to": "u", "to_column": "v", "agg": "avg"}, "'sum' or 'count' or 'count_distinct'"),
    ],
)
def test_value_of_the_wrong_kind_is_named_with_the_expected_kind(item, message):
    assert message in declaration_error(item)


@pytest.mark.parametrize("argument", ["now", "history", "qualified_name", "table"])
def test_context_parameters_cannot_be_declared(argument):
    item = {"type": "volume", argument: "x"}
    assert declaration_error(item, None).startswith(f"unknown argument(s) ['{argument}'] for volume")


def test_a_column_check_needs_a_column_unless_given_one():
    message = "not_null needs a column (declare it under columns:, or give column:)"
    assert declaration_error("not_null", None) == message
    assert declaration_error({"type": "unique"}, None) == message.replace("not_null", "unique")
    check = declare({"type": "not_null", "column": "b"}, None)
    assert (check.name, check.column) == ("not_null__t__b", "b")
    assert declare({"type": "not_null", "column": "b"}).column == "b"  # column: wins over the entry
    assert declare({"type": "unique", "columns": ["a", "b"]}, None).key == ("a", "b")


def test_common_keys_rename_redescribe_and_rethreshold_any_type():
    check = declare(
        {"type": "freshness", "warn_after_hours": 1, "name": "recent", "description": "d", "severity": "warn"}
    )
    assert (check.name, check.description, check.severity) == ("recent__t", "d", "warn")
    assert declare({"type": "not_null", "error_if": "> 5"}).thresholds == ("> 5", None)


def test_two_checks_with_one_name_need_a_name():
    spec = {"checks": [{"type": "row_count", "min": 1}, {"type": "row_count", "min": 2}]}
    with pytest.raises(CheckDeclarationError) as exc:
        checks_from_spec("s.t", spec, now=NOW, origin="m.yml")
    assert str(exc.value) == "m.yml: s.t: two checks are named row_count_min__t: give one a `name:`"
    spec["checks"][1]["name"] = "at_least_two"
    assert [c.name for c in checks_from_spec("s.t", spec, now=NOW, origin="m.yml")] == [
        "row_count_min__t",
        "at_least_two__t",
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"checks": "not_null"}, "m.yml: s.t: checks must be a list, not 'not_null'"),
        ({"columns": ["a"]}, "m.yml: s.t: columns: expected a mapping, not ['a']"),
        ({"columns": {"a": {"checks": {"type": "not_null"}}}}, "m.yml: s.t.a: checks must be a list"),
        ({"checks": [3]}, "m.yml: s.t: bad check 3: missing 'type': a check is a type name or a mapping"),
    ],
)
def test_malformed_spec_is_named(spec, message):
    with pytest.raises(CheckDeclarationError) as exc:
        checks_from_spec("s.t", spec, now=NOW, origin="m.yml")
    assert str(exc.value).startswith(message), str(exc.value)


def test_source_checks_primary_key_must_be_a_list_of_columns():
    with pytest.raises(CheckDeclarationError) as exc:
        source_checks("raw_x", {"primary_key": "id"}, now=NOW, origin="s.yml")
    assert str(exc.value) == "s.yml: raw.raw_x: primary_key must be a list of column names, not 'id'"


def test_totals_match_from_spec_reads_the_qualified_table():
    spec = {
        "checks": [
            {"type": "totals_match", "column": "revenue", "to": "marts.order_items", "to_column": "product_price"},
            {
                "type": "totals_match",
                "column": "orders",
                "to": "marts.orders",
                "to_column": "order_id",
                "to_agg": "count_distinct",
            },
        ]
    }
    revenue, orders = checks_from_spec("metrics.daily", spec, now=NOW, origin="m.yml")
    assert (revenue.name, revenue.references) == ("totals_match__daily__revenue__order_items", ("marts.order_items",))
    assert (orders.name, orders.references) == ("totals_match__daily__orders__orders", ("marts.orders",))
    tables = {
        "daily": ibis.memtable({"revenue": [10.0, 5.5], "orders": [2, 1]}),
        "marts.order_items": ibis.memtable({"product_price": [6.0, 4.0, 5.5]}),
        "marts.orders": ibis.memtable({"order_id": ["o1", "o2", "o2", "o3"]}),
    }
    assert [outcome(c, tables) for c in (revenue, orders)] == [(0, 0.0, "error if >0", "pass")] * 2


# --- the catalogue and the decorator -------------------------------------------------------

BUILT_IN = {
    "not_null": True,
    "unique": False,
    "accepted_values": True,
    "relationship": True,
    "expression": False,
    "range": True,
    "regex": True,
    "date_window": True,
    "type": True,
    "required_columns": False,
    "row_count": False,
    "freshness": True,
    "volume": False,
    "totals_match": True,
}  # type -> needs a column


def test_catalogue_lists_every_built_in_type_with_its_arguments_and_doc():
    catalogue = check_types()
    modules = {"duckbook.quality.row_checks", "duckbook.quality.aggregate_checks"}
    built_in = {name: t for name, t in catalogue.items() if t.function.__module__ in modules}
    assert {name: t.needs_column for name, t in built_in.items()} == BUILT_IN
    assert list(catalogue) == sorted(catalogue)
    assert all(t.doc and t.name == name for name, t in catalogue.items())
    assert [p.name for p in catalogue["range"].arguments] == ["min", "max", "severity", "error_if", "warn_if"]
    assert [p.name for p in catalogue["volume"].arguments] == ["k", "min_runs", "severity"]  # context left out
    assert catalogue["not_null"].doc == "Rows where ``column`` is null."
    assert catalogue["range"].function is in_range


@check_type("test_positive")
def positive(table: str, column: str, *, strict: bool = True, severity: Severity = "error") -> RowCheck:
    """Rows whose ``column`` is negative (or zero, when ``strict``)."""
    return RowCheck(
        name=f"positive__{table}__{column}",
        table=table,
        column=column,
        severity=severity,
        description=f"{table}.{column} > 0" if strict else f"{table}.{column} >= 0",
        failing=lambda t: t[table].filter(t[table][column] <= 0 if strict else t[table][column] < 0),
    )


def test_a_type_added_with_the_decorator_is_usable_from_a_spec():
    assert check_types()["test_positive"].needs_column
    spec = {
        "columns": {"x": {"checks": ["test_positive", {"type": "test_positive", "strict": False, "name": "nonneg"}]}}
    }
    strict, lax = checks_from_spec("s.t", spec, now=NOW, origin="m.yml")
    assert (strict.name, lax.name, lax.description) == ("positive__t__x", "nonneg__t", "t.x >= 0")
    t = {"t": ibis.memtable({"x": [-1, 0, 1]})}
    assert [outcome(c, t)[0] for c in (strict, lax)] == [2, 1]
    assert "argument 'strict' of test_positive must be true or false, not 'no'" in declaration_error(
        {"type": "test_positive", "strict": "no"}
    )


def test_decorator_rejects_a_taken_name_and_undeclarable_signatures():
    with pytest.raises(ValueError, match="check type 'not_null' is already registered"):
        check_type("not_null")(positive)

    def no_table(name: str) -> RowCheck: ...

    def kwargs(table: str, **options: object) -> RowCheck: ...

    def args_first(table: str, threshold: int, *columns: str) -> RowCheck: ...

    with pytest.raises(ValueError, match="the first parameter must be table"):
        check_type("test_no_table")(no_table)
    with pytest.raises(ValueError, match=r"\*\*kwargs cannot be validated"):
        check_type("test_kwargs")(kwargs)
    with pytest.raises(ValueError, match=r"only context parameters .* may precede \*args"):
        check_type("test_args_first")(args_first)
    assert not {"test_no_table", "test_kwargs", "test_args_first"} & check_types().keys()
