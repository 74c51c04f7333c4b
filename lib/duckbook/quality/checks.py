"""Data checks: declared once, run against staged tables before they are published.

A check is a name, the table it guards, a severity and a function that returns the *failing rows*
of that table as an Ibis expression. Counting those rows, keeping a sample of their keys and
storing the result is the toolkit's job (:func:`run_checks`); each check only says what "bad"
means, so it runs on any Ibis backend.

Examples
--------
>>> import ibis
>>> t = ibis.memtable({"id": [1, 2, 2, None]})
>>> [c.name for c in (not_null("t", "id"), unique("t", "id"))]
['not_null__t__id', 'unique__t__id']
>>> results = run_checks([not_null("t", "id"), unique("t", "id")], {"t": t})
>>> results.select("check_name", "failing_rows", "status").to_pandas().values.tolist()
[['not_null__t__id', 1, 'fail'], ['unique__t__id', 2, 'fail']]
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa

Severity = Literal["error", "warn"]
Tables = Mapping[str, ir.Table]


@dataclasses.dataclass(frozen=True)
class Check:
    """One rule about one table.

    ``failing`` receives every table of the build by name (so relationship checks can look at
    the referenced table) and returns the rows of ``table`` that break the rule.
    """

    name: str
    table: str
    description: str
    failing: Callable[[Tables], ir.Table] | None = None
    column: str | None = None
    severity: Severity = "error"
    key: tuple[str, ...] = ()  # columns shown in the sample of failing rows
    # Thresholds: on the failing row count ("> 0", "> 10") or share of the table's rows ("> 1%"),
    # or, for checks that observe a value instead (freshness, row count, volume), on that value.
    # Unset: the severity decides (error: error_if "> 0"; warn: warn_if "> 0").
    error_if: str | None = None
    warn_if: str | None = None
    observe: Callable[[Tables], ir.Scalar] | None = None
    unit: str = "rows"  # what observed values are in, for display

    def __post_init__(self) -> None:
        if self.severity not in ("error", "warn"):
            raise ValueError(f"check {self.name}: severity must be error or warn, not {self.severity!r}")
        if (self.failing is None) == (self.observe is None):
            raise ValueError(f"check {self.name}: give failing (rows) or observe (a value), not both or neither")
        for text in (self.error_if, self.warn_if):
            if text is not None:
                parse_threshold(text, allow_pct=self.observe is None)

    @property
    def thresholds(self) -> tuple[str | None, str | None]:
        """(error_if, warn_if) with the severity's default filled in."""
        if self.error_if is None and self.warn_if is None:
            return (">0", None) if self.severity == "error" else (None, ">0")
        return self.error_if, self.warn_if


class CheckFailed(RuntimeError):
    """Raised when error-severity checks fail; the message lists every failing check."""


def not_null(table: str, column: str, *, severity: Severity = "error") -> Check:
    """Rows where ``column`` is null."""
    return Check(
        name=f"not_null__{table}__{column}",
        table=table,
        column=column,
        severity=severity,
        description=f"{table}.{column} is never null",
        failing=lambda t: t[table].filter(t[table][column].isnull()),
    )


def unique(table: str, *columns: str, severity: Severity = "error") -> Check:
    """Rows whose value of ``columns`` occurs more than once (every copy counts as failing)."""
    cols = list(columns)

    def failing(t: Tables) -> ir.Table:
        base = t[table]
        dupes = (
            base.filter(*[base[c].notnull() for c in cols]).group_by(cols).agg(_n=ibis._.count()).filter(ibis._._n > 1)
        )
        return base.semi_join(dupes, cols)

    return Check(
        name=f"unique__{table}__{'__'.join(cols)}",
        table=table,
        column=", ".join(cols),
        severity=severity,
        key=tuple(cols),
        description=f"{table}.({', '.join(cols)}) is unique",
        failing=failing,
    )


def accepted_values(table: str, column: str, values: Sequence[object], *, severity: Severity = "error") -> Check:
    """Rows where ``column`` is not null and not one of ``values``."""
    return Check(
        name=f"accepted_values__{table}__{column}",
        table=table,
        column=column,
        severity=severity,
        description=f"{table}.{column} in {list(values)}",
        failing=lambda t: t[table].filter(t[table][column].notnull() & ~t[table][column].isin(list(values))),
    )


def relationship(table: str, column: str, to: str, field: str, *, severity: Severity = "error") -> Check:
    """Rows whose non-null ``column`` has no match in ``to.field`` (orphans)."""

    def failing(t: Tables) -> ir.Table:
        child, parent = t[table], t[to].view()  # a view: a table may reference itself (manager_id -> id)
        return child.filter(child[column].notnull()).anti_join(parent, child[column] == parent[field])

    return Check(
        name=f"relationship__{table}__{column}__{to}",
        table=table,
        column=column,
        severity=severity,
        key=(column,),
        description=f"every {table}.{column} exists in {to}.{field}",
        failing=failing,
    )


def expression(
    table: str,
    name: str,
    rule: Callable[[ir.Table], ir.BooleanValue],
    description: str,
    *,
    where: Callable[[ir.Table], ir.BooleanValue] | None = None,
    severity: Severity = "error",
) -> Check:
    """Rows for which the business rule is false (null counts as passing, as in SQL ``CHECK``),
    optionally only among rows matching ``where``."""

    def failing(t: Tables) -> ir.Table:
        base = t[table]
        if where is not None:
            base = base.filter(where(base))
        return base.filter(~rule(base).fill_null(True))

    return Check(name=f"{name}__{table}", table=table, severity=severity, description=description, failing=failing)


def _outside(t: ir.Table, column: str, low: object, high: object) -> ir.Table:
    """Rows whose ``column`` is below ``low`` or above ``high`` (inclusive bounds, None = open;
    nulls pass)."""
    c = t[column]
    bad = ibis.literal(False)
    if low is not None:
        bad = bad | (c < low)
    if high is not None:
        bad = bad | (c > high)
    return t.filter(bad.fill_null(False))


def in_range(
    table: str,
    column: str,
    *,
    min: float | None = None,
    max: float | None = None,
    severity: Severity = "error",
    **thresholds: str,
) -> Check:
    """Rows where ``column`` is below ``min`` or above ``max`` (bounds inclusive; nulls pass)."""
    if min is None and max is None:
        raise ValueError("range needs min and/or max")

    def failing(t: Tables) -> ir.Table:
        return _outside(t[table], column, min, max)

    bounds = "__".join(f"{k}_{v}" for k, v in (("min", min), ("max", max)) if v is not None)
    return Check(
        name=f"range__{table}__{column}__{bounds}",
        table=table,
        column=column,
        severity=severity,
        description=f"{table}.{column} within [{min}, {max}]",
        failing=failing,
        **thresholds,
    )


def regex(table: str, column: str, pattern: str, *, severity: Severity = "error", **thresholds: str) -> Check:
    """Rows where the non-null ``column`` does not fully match ``pattern``."""
    re.compile(pattern)  # fail at declaration, not at run time
    if re.search(r"\(\?<?[=!]|\\[1-9]", pattern):  # the engines' RE2 has no lookaround, no backreferences
        raise ValueError(f"regex {pattern!r}: lookaround and backreferences are not supported (RE2 syntax)")
    anchored = f"^(?:{pattern})$"
    return Check(
        name=f"regex__{table}__{column}",
        table=table,
        column=column,
        severity=severity,
        description=f"{table}.{column} matches /{pattern}/",
        failing=lambda t: t[table].filter(
            t[table][column].notnull() & ~t[table][column].cast("string").re_search(anchored)
        ),
        **thresholds,
    )


def date_window(
    table: str,
    column: str,
    *,
    after: object = None,
    not_after: object = None,
    severity: Severity = "error",
    **thresholds: str,
) -> Check:
    """Rows whose date/timestamp ``column`` is before ``after`` or later than ``not_after``
    (e.g. the run's time: no order dates in the future)."""
    if after is None and not_after is None:
        raise ValueError("date_window needs after and/or not_after")

    def failing(t: Tables) -> ir.Table:
        c = t[table][column]
        cast = lambda v: None if v is None else ibis.literal(v).cast(c.type())
        return _outside(t[table], column, cast(after), cast(not_after))

    return Check(
        name=f"date_window__{table}__{column}",
        table=table,
        column=column,
        severity=severity,
        description=f"{table}.{column} between {after or '-'} and {not_after or '-'}",
        failing=failing,
        **thresholds,
    )


def column_type(table: str, column: str, expected: str, *, severity: Severity = "error") -> Check:
    """The column exists with type ``expected`` (an Ibis type name such as ``int64``, ``decimal(16,2)``)."""
    try:
        want = ibis.dtype(expected)
    except Exception:  # ibis raises a parser error for an unknown name
        raise ValueError(f"unknown type {expected!r} (use an Ibis type such as int64, string, decimal(16,2))") from None

    def failing(t: Tables) -> ir.Table:
        schema = t[table].schema()
        got = schema.get(column)
        ok = got is not None and got.copy(nullable=True) == want.copy(nullable=True)
        return ibis.memtable({"found": [str(got)]}).limit(0 if ok else 1)

    return Check(
        name=f"type__{table}__{column}",
        table=table,
        column=column,
        severity=severity,
        description=f"{table}.{column} is {want}",
        failing=failing,
    )


def required_columns(table: str, columns: Sequence[str], *, severity: Severity = "error") -> Check:
    """One failing row per required column the table lacks."""
    cols = list(columns)

    def failing(t: Tables) -> ir.Table:
        missing = [c for c in cols if c not in t[table].columns]
        return ibis.memtable({"missing_column": missing or [""]}).limit(len(missing))

    return Check(
        name=f"required_columns__{table}",
        table=table,
        severity=severity,
        key=("missing_column",),
        description=f"{table} has columns {', '.join(cols)}",
        failing=failing,
    )


def row_count(table: str, *, min: int | None = None, max: int | None = None, severity: Severity = "error") -> Check:
    """The table's row count is within [min, max]."""
    conditions = [f"<{min}"] if min is not None else []
    conditions += [f">{max}"] if max is not None else []
    if len(conditions) != 1:  # two bounds: test each separately, error on either
        raise ValueError("row_count takes min or max; declare two checks for both")
    key = "error_if" if severity == "error" else "warn_if"
    return Check(
        name=f"row_count_{'min' if min is not None else 'max'}__{table}",
        table=table,
        severity=severity,
        unit="rows",
        description=f"{table} has {'at least ' + str(min) if min is not None else 'at most ' + str(max)} rows",
        observe=lambda t: t[table].count(),
        **{key: conditions[0]},
    )


def freshness(
    table: str,
    column: str,
    *,
    now: object,
    warn_after_hours: float | None = None,
    error_after_hours: float | None = None,
) -> Check:
    """Hours between the newest ``column`` value and ``now`` (the run's time), with warn and
    error SLAs. An empty table has no freshness: it fails (error SLA) or warns."""
    if warn_after_hours is None and error_after_hours is None:
        raise ValueError("freshness needs warn_after_hours and/or error_after_hours")

    def observe(t: Tables) -> ir.Scalar:
        newest = t[table][column].max().cast("timestamp")
        return (ibis.literal(now, type="timestamp").epoch_seconds() - newest.epoch_seconds()) / 3600.0

    return Check(
        name=f"freshness__{table}__{column}",
        table=table,
        column=column,
        unit="hours",
        severity="error" if error_after_hours is not None else "warn",
        description=f"newest {table}.{column} is recent (warn after {warn_after_hours} h, error after {error_after_hours} h)",
        observe=observe,
        error_if=f">{error_after_hours}" if error_after_hours is not None else None,
        warn_if=f">{warn_after_hours}" if warn_after_hours is not None else None,
    )


def volume(
    table: str, *, history: str, qualified_name: str, k: float = 3.0, min_runs: int = 5, severity: Severity = "warn"
) -> Check:
    """The row count is within ``k`` standard deviations of the mean of the trailing published
    row counts (``history``: a table with ``table`` and ``rows`` columns, one row per run, such
    as ``ops.publish_log``). Observes the z-score; with fewer than ``min_runs`` runs, 0."""

    def observe(t: Tables) -> ir.Scalar:
        if history not in t:  # no run has published anything yet
            return ibis.literal(0.0)
        h = t[history]
        past = h.filter(h.table == qualified_name)
        stats = past.aggregate(n=past.count(), mean=past.rows.mean(), sd=past.rows.std())
        current = t[table].count().cast("float64")
        mean, sd = stats.mean.as_scalar(), stats.sd.as_scalar()
        # a perfectly stable history (sd 0): any change is infinitely unusual, no change is 0
        z = ibis.ifelse(sd == 0, ibis.ifelse(current == mean, 0.0, float("inf")), ((current - mean) / sd).abs())
        return ibis.ifelse(stats.n.as_scalar() >= min_runs, z.fill_null(0.0), 0.0)

    key = "error_if" if severity == "error" else "warn_if"
    return Check(
        name=f"volume__{table}",
        table=table,
        severity=severity,
        unit="std devs",
        description=f"{table} row count within {k} std devs of the last runs (after {min_runs} runs)",
        observe=observe,
        **{key: f">{k}"},
    )


_RESULT_SCHEMA = ibis.schema(
    {
        "check_name": "string",
        "table_name": "string",
        "column_name": "string",
        "severity": "string",
        "description": "string",
        "failing_rows": "int64",
        "observed": "float64",
        "threshold": "string",
        "status": "string",
        "failing_sample": "string",
    }
)

SAMPLE_SIZE = 5
_THRESHOLD = re.compile(r"^\s*(>=|>|<=|<)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*(%?)\s*$")


def parse_threshold(text: str, *, allow_pct: bool = True) -> tuple[str, float, bool]:
    """``"> 10"`` -> (">", 10.0, False); ``">1%"`` -> (">", 1.0, True). Raises ``ValueError``."""
    m = _THRESHOLD.match(str(text))
    if not m or (m.group(3) and not allow_pct):
        raise ValueError(
            f"bad threshold {text!r}: use '> N', '>= N', '< N', '<= N'" + (" or '> p%'" if allow_pct else "")
        )
    return m.group(1), float(m.group(2)), bool(m.group(3))


def _exceeds(threshold: str | None, value: float, total: int | None) -> bool:
    if threshold is None:
        return False
    op, limit, pct = parse_threshold(threshold)
    if pct:
        value = 100.0 * value / total if total else 0.0
    return {">": value > limit, ">=": value >= limit, "<": value < limit, "<=": value <= limit}[op]


def run_checks(checks: Sequence[Check], tables: Tables) -> ir.Table:
    """Evaluate every check and return one result row per check.

    All checks run, so one call reports every failure, not only the first. ``status`` is
    ``fail`` when the error threshold is crossed, else ``warn`` when the warn threshold is, else
    ``pass``. ``failing_rows`` counts the rows breaking a row check (observing checks: 1 when not
    passing); ``observed`` is the failing share in % or the observed value. The result is an
    in-memory table; :class:`duckbook.build.stage.Build` stores it with the run id.
    """
    row_checks = [c for c in checks if c.failing is not None]
    failing = {id(c): c.failing(tables) for c in row_checks}  # type: ignore[misc]  # by identity: names may repeat
    counts = dict(zip(failing, count_rows(list(failing.values())), strict=True))
    pct_tables = sorted({c.table for c in row_checks if any(t and "%" in t for t in c.thresholds)})
    totals = dict(zip(pct_tables, count_rows([tables[t] for t in pct_tables]), strict=True))
    rows = []
    for check in checks:
        error_if, warn_if = check.thresholds
        sample = ""
        if check.failing is not None:
            n = counts[id(check)]
            total = totals.get(check.table)
            observed = (100.0 * n / total) if total else None
            value: float = n
            if n and check.key:
                bad = failing[id(check)]
                keys = (
                    bad.select(*check.key)
                    .distinct()
                    .order_by(list(check.key))
                    .limit(SAMPLE_SIZE)
                    .to_pyarrow()
                    .to_pylist()
                )
                sample = "; ".join(", ".join(str(v) for v in row.values()) for row in keys)
        else:
            raw = check.observe(tables).to_pyarrow().as_py()  # type: ignore[misc]
            value = float(raw) if raw is not None else float("nan")
            observed, total = (None if raw is None else value), None
        if value != value:  # nothing to observe (empty table): an error check fails, a warn warns
            status = "fail" if error_if else "warn"
        else:
            status = (
                "fail" if _exceeds(error_if, value, total) else ("warn" if _exceeds(warn_if, value, total) else "pass")
            )
        if check.failing is None:
            n = 0 if status == "pass" else 1
        rows.append(
            {
                "check_name": check.name,
                "table_name": check.table,
                "column_name": check.column,
                "severity": "error" if error_if else "warn",
                "description": check.description,
                "failing_rows": n,
                "observed": observed,
                "threshold": "; ".join(
                    f"{k} if {v} {check.unit if check.observe else ''}".strip()
                    for k, v in (("error", error_if), ("warn", warn_if))
                    if v
                ),
                "status": status,
                "failing_sample": sample,
            }
        )
    return ibis.memtable(pa.Table.from_pylist(rows, schema=_RESULT_SCHEMA.to_pyarrow()))


def count_rows(tables: Sequence[ir.Table]) -> list[int]:
    """Row counts of many expressions in one query (one round trip instead of one per check)."""
    if not tables:
        return []
    parts = [t.aggregate(_i=ibis.literal(i, type="int64"), _n=ibis._.count()) for i, t in enumerate(tables)]
    result = ibis.union(*parts).to_pyarrow().to_pylist() if len(parts) > 1 else parts[0].to_pyarrow().to_pylist()
    by_index = {r["_i"]: int(r["_n"]) for r in result}
    return [by_index[i] for i in range(len(tables))]


def raise_for_failures(results: ir.Table) -> None:
    """Raise :class:`CheckFailed` listing every failing error check in ``results``."""
    failed = results.filter(results.status == "fail").order_by("check_name").to_pyarrow().to_pylist()
    if failed:
        lines = [
            f"- {r['check_name']}: {r['failing_rows']} failing row(s) in {r['table_name']} ({r['threshold']})"
            + (f" (e.g. {r['failing_sample']})" if r["failing_sample"] else "")
            for r in failed
        ]
        raise CheckFailed(f"{len(failed)} error check(s) failed; nothing was published:\n" + "\n".join(lines))


# -- declared in YAML ---------------------------------------------------------------------------

#: Name under which a build's audit sees the published row-count history (for volume checks).
HISTORY = "publish_log"


def load_checks(paths: Sequence[str | Path], *, now: object) -> dict[str, list[Check]]:
    """Checks declared in YAML, by ``schema.table``.

    ``sources:`` entries (contracts, schema ``raw``) get not_null + unique on their primary key;
    ``models:`` entries declare ``checks:`` (table level) and ``columns: {col: {checks: [...]}}``.
    A check is a name (``not_null``, ``unique``) or a mapping with ``type`` and its arguments,
    plus optional ``severity`` (error | warn), ``error_if`` / ``warn_if`` thresholds (``"> 10"``,
    ``"> 1%"``). ``now`` (the run's time) is what ``freshness`` and ``not_after: run`` compare
    with. Raises ``ValueError`` naming the file, table and check for a bad declaration.
    """
    import yaml

    out: dict[str, list[Check]] = {}
    for path in paths:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        for name, spec in (doc.get("sources") or {}).items():
            key = [k for k in (spec.get("primary_key") or [])]
            found = [*(not_null(name, k) for k in key), *([unique(name, *key)] if key else [])]
            found += _declared(path, f"raw.{name}", spec, now)
            out.setdefault(f"raw.{name}", []).extend(found)
        for qualified, spec in (doc.get("models") or {}).items():
            out.setdefault(qualified, []).extend(_declared(path, qualified, spec or {}, now))
    return out


def _declared(path: object, qualified: str, spec: Mapping[str, object], now: object) -> list[Check]:
    if "." not in qualified:
        raise ValueError(f"{path}: model {qualified!r} must be named schema.table")
    table = qualified.split(".", 1)[1]
    items = [(None, c) for c in spec.get("checks") or []]  # type: ignore[union-attr]
    for column, col_spec in (spec.get("columns") or {}).items():  # type: ignore[union-attr]
        items += [(column, c) for c in (col_spec or {}).get("checks") or []]
    checks = []
    for column, item in items:
        try:
            checks.append(_build(qualified, table, column, item, now))
        except (KeyError, TypeError, ValueError, re.error) as exc:
            raise ValueError(
                f"{path}: {qualified}{'.' + column if column else ''}: bad check {item!r}: {exc}"
            ) from None
    names = [c.name for c in checks]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise ValueError(f"{path}: {qualified}: two checks are named {', '.join(dupes)}: give one a `name:`")
    return checks


_ARGUMENTS = {
    "not_null": set(),
    "unique": {"columns"},
    "accepted_values": {"values"},
    "relationship": {"to", "field"},
    "expression": {"name", "expr", "where"},
    "range": {"min", "max"},
    "regex": {"pattern"},
    "date_window": {"after", "not_after"},
    "type": {"expected"},
    "required_columns": {"columns"},
    "row_count": {"min", "max"},
    "freshness": {"warn_after_hours", "error_after_hours"},
    "volume": {"k", "min_runs"},
}


def _build(qualified: str, table: str, column: str | None, item: object, now: object) -> Check:
    from duckbook.expressions import to_ibis

    spec = {"type": item} if isinstance(item, str) else dict(item)  # type: ignore[arg-type]
    kind = spec.pop("type")
    common = {k: spec.pop(k) for k in ("severity", "error_if", "warn_if") if k in spec}
    description = spec.pop("description", None)
    column = spec.pop("column", column)
    if kind not in _ARGUMENTS:
        raise ValueError(f"unknown check type {kind!r}; use one of {', '.join(sorted(_ARGUMENTS))}")
    if unknown := sorted(set(spec) - _ARGUMENTS[kind] - {"name"}):
        raise ValueError(f"unknown argument(s) {unknown} for {kind}")
    name = spec.pop("name", None) if kind != "expression" else None
    if (
        column is None
        and kind
        in ("not_null", "accepted_values", "relationship", "range", "regex", "date_window", "type", "freshness")
        or (kind == "unique" and column is None and "columns" not in spec)
    ):
        raise ValueError(f"{kind} needs a column (declare it under columns:, or give column:)")
    if "severity" in common and common["severity"] not in ("error", "warn"):
        raise ValueError(f"severity must be error or warn, not {common['severity']!r}")
    if kind == "not_null":
        check = not_null(table, column, severity=common.pop("severity", "error"))
    elif kind == "unique":
        check = unique(table, *(spec.pop("columns", None) or [column]), severity=common.pop("severity", "error"))
    elif kind == "accepted_values":
        check = accepted_values(table, column, spec.pop("values"), severity=common.pop("severity", "error"))
    elif kind == "relationship":
        check = relationship(table, column, spec.pop("to"), spec.pop("field"), severity=common.pop("severity", "error"))
    elif kind == "expression":
        rule_text, where_text = spec.pop("expr"), spec.pop("where", None)
        check = expression(
            table,
            spec.pop("name"),
            lambda t, e=rule_text: to_ibis(e, t),
            description or rule_text,
            where=(lambda t, w=where_text: to_ibis(w, t)) if where_text else None,
            severity=common.pop("severity", "error"),
        )
    elif kind == "range":
        check = in_range(
            table,
            column,
            min=spec.pop("min", None),
            max=spec.pop("max", None),
            severity=common.pop("severity", "error"),
        )
    elif kind == "regex":
        check = regex(table, column, spec.pop("pattern"), severity=common.pop("severity", "error"))
    elif kind == "date_window":
        bounds = {k: (now if spec.get(k) == "run" else spec.get(k)) for k in ("after", "not_after")}
        spec.pop("after", None), spec.pop("not_after", None)
        check = date_window(table, column, **bounds, severity=common.pop("severity", "error"))
    elif kind == "type":
        check = column_type(table, column, spec.pop("expected"), severity=common.pop("severity", "error"))
    elif kind == "required_columns":
        check = required_columns(table, spec.pop("columns"), severity=common.pop("severity", "error"))
    elif kind == "row_count":
        check = row_count(
            table, min=spec.pop("min", None), max=spec.pop("max", None), severity=common.pop("severity", "error")
        )
    elif kind == "freshness":
        check = freshness(
            table,
            column,
            now=now,
            warn_after_hours=spec.pop("warn_after_hours", None),
            error_after_hours=spec.pop("error_after_hours", None),
        )
    elif kind == "volume":
        check = volume(
            table,
            history=HISTORY,
            qualified_name=qualified,
            k=spec.pop("k", 3.0),
            min_runs=spec.pop("min_runs", 5),
            severity=common.pop("severity", "warn"),
        )
    else:
        raise ValueError(f"unknown check type {kind!r}")
    if spec:
        raise ValueError(f"unknown argument(s) {sorted(spec)} for {kind}")
    if common or description or name:
        extra = {"description": description} if description else {}
        if name:
            extra["name"] = f"{name}__{table}"
        check = dataclasses.replace(check, **common, **extra)
        if check.observe is None and check.failing is not None:
            parse_threshold(check.error_if or ">0")
    return check
