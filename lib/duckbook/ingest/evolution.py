"""Schema evolution of raw tables: what a delivery changes, and whether its contract allows it.

A delivery is compared with its contract and the raw table it lands in (:func:`compare`); the
differences are one :class:`SchemaChange` each:

* ``added``: a file column the raw table does not have (undeclared ones land as ``string``);
* ``missing``: a column the table has or the contract declares that the file lacks;
* ``renamed``: a missing column paired with an added one (a guess: it is handled as both);
* ``widened`` / ``narrowed``: a column delivered with a type wider / not wider than raw's.

:func:`resolve` applies the source's :class:`~duckbook.ingest.contracts.SchemaPolicy`: it returns
the :class:`Evolution` to apply (columns to add, types to widen, columns loaded as NULL) or raises
:class:`SchemaEvolutionError` with the rendered expected-vs-found diff and the setting a person
can change. Narrowing never passes, and a column is never dropped. Pure: no engine, no I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.datatypes as idt

from duckbook.ingest.contracts import TYPES, Column, Contract, ContractError, SchemaPolicy, ibis_type

KINDS = ("added", "widened", "missing", "renamed", "narrowed")
#: Raw table columns named so are ingestion metadata (``_batch_id``, ...), never compared.
METADATA_PREFIX = "_"
#: Decimal digits of the largest value of an integer type: ``(bytes, unsigned)``.
_DIGITS = {
    (1, False): 3,
    (2, False): 5,
    (4, False): 10,
    (8, False): 19,
    (1, True): 3,
    (2, True): 5,
    (4, True): 10,
    (8, True): 20,
}
_MARKS = {"added": "+", "missing": "-", "renamed": "->", "widened": "~", "narrowed": "~"}


class SchemaEvolutionError(ContractError):
    """A delivery's columns changed in a way its source's ``schema_evolution`` policy refuses."""


@dataclasses.dataclass(frozen=True)
class SchemaChange:
    """One difference between a delivery and its raw table (``kind`` one of :data:`KINDS`).

    Types are Ibis type names (``""`` where a side has none). ``detail``: for ``renamed``, the
    file's column guessed to replace ``column``; else a short note for people.
    """

    table: str
    column: str
    kind: str
    old_type: str = ""
    new_type: str = ""
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class SchemaDiff:
    """A delivery of ``contract.file`` against the raw table ``contract.name``.

    ``table``: the raw table's data columns and types (``None``: no table yet); ``found``: the
    file's columns, typed as declared (``string`` when undeclared).
    """

    contract: Contract
    table: tuple[tuple[str, str], ...] | None
    found: tuple[tuple[str, str], ...]
    changes: tuple[SchemaChange, ...]

    @property
    def expected(self) -> dict[str, str]:
        """The raw table's columns (the contract's when there is no table), then the declared
        columns the table lacks: ``{column: Ibis type}`` in order."""
        declared = {c.name: ibis_type(c.type) for c in self.contract.columns}
        base = dict(self.table) if self.table is not None else declared
        return base | {c: t for c, t in declared.items() if c not in base}

    def render(self) -> str:
        """The diff as aligned text, expected left and found right, marked ``+`` added,
        ``-`` missing, ``~`` retyped and ``->`` renamed (a guess)."""
        found = dict(self.found)
        by_column = {c.column: c for c in self.changes}
        targets = {c.detail for c in self.changes if c.kind == "renamed"}
        rows = []
        for name, type_ in self.expected.items():
            change = by_column.get(name)
            kind = change.kind if change else ""
            right = change.detail if change and kind == "renamed" else ("" if kind == "missing" else name)
            note = {"renamed": "renamed?", "added": "added (declared)"}.get(kind, kind)
            if change and change.kind in ("widened", "narrowed") and change.detail:
                note += f": {change.detail}"
            rows.append((_MARKS.get(kind, ""), name, type_, right, found.get(right, ""), note))
        rows += [("+", "", "", c, t, "added") for c, t in self.found if c not in self.expected and c not in targets]
        where = "raw table" if self.table is not None else "contract"
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        widths[1], widths[3] = max(widths[1], len("expected")), max(widths[3], len("found"))
        lines = [f"{self.contract.name}: expected ({where}) vs found ({self.contract.file})"]
        for row in [("", "expected", "", "found", "", ""), *rows]:
            lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Evolution:
    """What a delivery changes in its raw table, as its policy allows.

    ``add`` and ``widen`` (``{column: Ibis type}``) are for an existing table
    (:func:`duckbook.engine.evolve_table`); ``columns`` is the table's data columns afterwards
    (create a new table with them); ``fill_null`` the columns the file lacks, loaded as NULL;
    ``ignore`` the file's columns not loaded; ``contract`` the contract to land this delivery
    with (undeclared columns kept as nullable strings, NULL-filled ones nullable: add a null
    text column for each of ``fill_null`` before validating); ``changes`` what to record in
    ``ops.schema_history``.
    """

    table: str
    changes: tuple[SchemaChange, ...]
    add: Mapping[str, str]
    widen: Mapping[str, str]
    fill_null: tuple[str, ...]
    ignore: tuple[str, ...]
    columns: Mapping[str, str]
    contract: Contract

    def history(self, *, batch_id: str, run_id: str, changed_at: dt.datetime) -> list[dict[str, object]]:
        """The rows of ``ops.schema_history`` for these changes, made by batch ``batch_id``."""
        return [
            {
                "table_name": c.table,
                "column_name": c.column,
                "change": c.kind,
                "old_type": c.old_type,
                "new_type": c.new_type,
                "batch_id": batch_id,
                "run_id": run_id,
                "changed_at": changed_at,
            }
            for c in self.changes
        ]


def _dtype(name: str) -> idt.DataType:
    return ibis.dtype(name).copy(nullable=True)


def same_type(a: str, b: str) -> bool:
    """Whether Ibis types ``a`` and ``b`` are the same (nullability aside; DuckDB's TIMESTAMP is
    ``timestamp(6)``, which a contract's ``timestamp`` is).

    >>> same_type("timestamp", "timestamp(6)"), same_type("!int64", "int64"), same_type("int32", "int64")
    (True, True, False)
    """
    x, y = _dtype(a), _dtype(b)
    if isinstance(x, idt.Timestamp) and isinstance(y, idt.Timestamp):
        return x.timezone == y.timezone and (x.scale or 6) == (y.scale or 6)
    return bool(x == y)


def widens(old: str, new: str) -> bool:
    """Whether every value of Ibis type ``old`` is a value of ``new`` (and they differ): a wider
    integer (an unsigned one into a wider signed one too), an integer into a decimal with as many
    integer digits, ``float32`` into ``float64``, a decimal into one with no fewer integer digits
    and no smaller scale, anything into ``string``.

    >>> widens("int32", "int64"), widens("int64", "decimal(38, 0)"), widens("int64", "decimal(18, 2)")
    (True, True, False)
    >>> widens("decimal(10, 2)", "decimal(12, 2)"), widens("int64", "int32"), widens("date", "string")
    (True, False, True)
    """
    a, b = _dtype(old), _dtype(new)
    if same_type(old, new):
        return False
    if b.is_string():
        return True
    if isinstance(a, idt.Integer) and isinstance(b, idt.Integer):
        a_unsigned, b_unsigned = a.is_unsigned_integer(), b.is_unsigned_integer()
        return b.nbytes > a.nbytes and (a_unsigned or not b_unsigned)
    if isinstance(a, idt.Integer) and isinstance(b, idt.Decimal):
        return _integer_digits(b) >= _DIGITS[(a.nbytes, a.is_unsigned_integer())]
    if isinstance(a, idt.Floating) and isinstance(b, idt.Floating):
        return b.nbytes > a.nbytes
    if isinstance(a, idt.Decimal) and isinstance(b, idt.Decimal):
        return _integer_digits(b) >= _integer_digits(a) and _scale(b) >= _scale(a)
    return False


def _scale(decimal: idt.Decimal) -> int:
    # an unparameterized decimal is DuckDB's default DECIMAL(18,3)
    return 3 if decimal.precision is None else decimal.scale or 0


def _integer_digits(decimal: idt.Decimal) -> int:
    return (18 if decimal.precision is None else decimal.precision) - _scale(decimal)


def compare(contract: Contract, header: Sequence[str], current: Mapping[str, str] | None) -> SchemaDiff:
    """The differences between a delivery and its raw table.

    Parameters
    ----------
    contract
        The source's contract.
    header
        The delivered file's columns.
    current
        The existing raw table's ``{column: Ibis type}`` (``None``: no table yet, the contract is
        what is expected); columns starting with ``_`` (ingestion metadata) are not compared.

    Examples
    --------
    >>> from duckbook.ingest.contracts import Column, Contract
    >>> c = Contract("orders", "orders.csv", (Column("id", "string"), Column("tax", "int64")))
    >>> [(x.column, x.kind, x.detail) for x in compare(c, ["id", "note"], {"id": "string", "tax": "int32"}).changes]
    [('tax', 'renamed', 'note')]
    """
    declared = {c.name: ibis_type(c.type) for c in contract.columns}
    table = None if current is None else {c: t for c, t in current.items() if not c.startswith(METADATA_PREFIX)}
    found = {c: declared.get(c, "string") for c in header}
    diff = SchemaDiff(contract, None if table is None else tuple(table.items()), tuple(found.items()), ())
    expected = diff.expected
    baseline = declared if table is None else table
    name = contract.name
    changes = []
    for column, type_ in found.items():
        if column in baseline and not same_type(baseline[column], type_):
            old = baseline[column]
            kind = "widened" if widens(old, type_) else "narrowed"
            changes.append(SchemaChange(name, column, kind, old, type_, "" if kind == "widened" else _why(old, type_)))
    missing = [c for c in expected if c not in found]
    added = [c for c in found if c not in baseline]
    # a column that vanished while another appeared is probably a rename: pair them in order
    renames = dict(zip(missing, [c for c in added if c not in expected], strict=False))
    for column in missing:
        if column in renames:
            changes.append(
                SchemaChange(name, column, "renamed", expected[column], found[renames[column]], renames[column])
            )
        else:
            changes.append(SchemaChange(name, column, "missing", expected[column], ""))
    for column in added:
        if column not in renames.values():
            note = "declared" if column in declared else "not in the contract"
            changes.append(SchemaChange(name, column, "added", "", found[column], note))
    return dataclasses.replace(diff, changes=tuple(changes))


def _why(old: str, new: str) -> str:
    """Why changing Ibis type ``old`` to ``new`` is not a widening, when a number of digits says it."""
    a, b = _dtype(old), _dtype(new)
    if isinstance(a, idt.Integer) and isinstance(b, idt.Decimal):
        needed = _DIGITS[(a.nbytes, a.is_unsigned_integer())]
        return f"{new} holds {_integer_digits(b)} integer digits, {old} needs {needed}"
    if isinstance(a, idt.Decimal) and isinstance(b, idt.Decimal):
        held = f"{_integer_digits(b)} integer digits and scale {_scale(b)}"
        return f"{new} holds {held}, {old} needs {_integer_digits(a)} and {_scale(a)}"
    return ""


def resolve(diff: SchemaDiff, policy: SchemaPolicy | None = None, *, delivery: str = "") -> Evolution:
    """The :class:`Evolution` ``policy`` (default: the contract's ``schema_evolution``) allows.

    Raises
    ------
    SchemaEvolutionError
        A change the policy refuses, a narrowing, or a missing key column: one line per column
        naming the file, ``delivery`` and the setting to change, then :meth:`SchemaDiff.render`.
    """
    contract = diff.contract
    policy = policy or contract.schema_evolution
    plan = _Plan(contract, policy, None if diff.table is None else dict(diff.table))
    for change in diff.changes:
        if change.kind == "narrowed":
            why = f"; {change.detail}" if change.detail else ""
            plan.problems.append(
                f"column {change.column!r} would narrow from {change.old_type} to {change.new_type}{why} "
                f"(never applied: declare {change.old_type} or a wider type)"
            )
        elif change.kind == "widened" and policy.type_changes == "error":
            plan.problems.append(
                f"column {change.column!r} would widen from {change.old_type} to {change.new_type} "
                "(schema_evolution.type_changes: error; set it to widen to apply it)"
            )
        elif change.kind == "widened":
            plan.changes.append(change)
            plan.widen[change.column] = change.new_type
        elif change.kind == "added":
            plan.new_column(change.column, change.new_type)
        elif change.kind == "missing":
            plan.missing_column(change.column, change.old_type)
        else:  # renamed: handled as the missing column plus the new one
            plan.missing_column(change.column, change.old_type, also=f" (renamed to {change.detail!r}?)")
            plan.new_column(change.detail, change.new_type)
    if plan.problems:
        where = f"{contract.file} in delivery {delivery}" if delivery else contract.file
        lines = "\n".join(f"{where}: {p}" for p in plan.problems)
        raise SchemaEvolutionError(f"{lines}\n\n{diff.render()}")
    if diff.table is not None:
        columns = {c: plan.widen.get(c, t) for c, t in diff.table} | plan.add
    else:  # a new table: the declared columns, then the new ones kept
        found = dict(diff.found)
        columns = {c: t for c, t in diff.expected.items() if c in found or c in plan.fill_null}
        columns |= {c: t for c, t in found.items() if c not in columns and c not in plan.ignore}
    return Evolution(
        table=contract.name,
        changes=tuple(plan.changes),
        add=plan.add,
        widen=plan.widen,
        fill_null=tuple(plan.fill_null),
        ignore=tuple(plan.ignore),
        columns=columns,
        contract=dataclasses.replace(contract, columns=plan.landing_columns(columns)),
    )


@dataclasses.dataclass
class _Plan:
    """What :func:`resolve` decides, change by change, under ``policy``."""

    contract: Contract
    policy: SchemaPolicy
    table: dict[str, str] | None  # the raw table's columns (None: no table yet)
    changes: list[SchemaChange] = dataclasses.field(default_factory=list)
    add: dict[str, str] = dataclasses.field(default_factory=dict)
    widen: dict[str, str] = dataclasses.field(default_factory=dict)
    fill_null: list[str] = dataclasses.field(default_factory=list)
    ignore: list[str] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)

    def new_column(self, column: str, type_: str) -> None:
        """A file column raw does not have: added, unless undeclared and the policy says otherwise."""
        declared = column in self.contract.column_names
        if not declared and self.policy.new_columns == "ignore":
            self.ignore.append(column)
        elif not declared and self.policy.new_columns == "error":
            self.problems.append(
                f"column {column!r} is not in the contract of {self.contract.name} (schema_evolution.new_columns: "
                "error; set it to add to load it as a nullable string column, or to ignore to skip it)"
            )
        else:
            self.changes.append(SchemaChange(self.contract.name, column, "added", "", type_))
            if self.table is not None:
                self.add[column] = type_

    def missing_column(self, column: str, type_: str, also: str = "") -> None:
        """A column the file lacks: loaded as NULL if the policy says so and it is no key."""
        contract = self.contract
        if column in contract.primary_key or column == contract.latest_by:
            role = "the primary key" if column in contract.primary_key else "duplicates.by"
            self.problems.append(f"column {column!r}{also} is missing; it is part of {role}, never loaded as NULL")
        elif self.policy.missing_columns == "error":
            self.problems.append(
                f"column {column!r}{also} is missing (schema_evolution.missing_columns: error; "
                "set it to null to load it as NULL)"
            )
        else:
            self.fill_null.append(column)
            self.changes.append(SchemaChange(contract.name, column, "missing", type_, ""))
            if self.table is not None and column not in self.table:
                self.add[column] = type_  # declared but never delivered: raw gets it now

    def landing_columns(self, columns: Mapping[str, str]) -> tuple[Column, ...]:
        """The contract columns to land with: declared ones as declared (nullable when filled
        with NULL), the others nullable strings (or their raw type when filled with NULL)."""
        declared = {c.name: c for c in self.contract.columns}
        return tuple(
            dataclasses.replace(declared[c], nullable=declared[c].nullable or c in self.fill_null)
            if c in declared
            else Column(c, _contract_type(t) if c in self.fill_null else "string")
            for c, t in columns.items()
        )


def _contract_type(ibis_type_name: str) -> str:
    """The contract type holding Ibis type ``ibis_type_name`` (``string`` when there is none)."""
    dtype = _dtype(ibis_type_name)
    if isinstance(dtype, idt.Decimal) and dtype.precision is not None:
        return f"decimal({dtype.precision},{dtype.scale})"
    return next((name for name, t in TYPES.items() if same_type(t, ibis_type_name)), "string")
