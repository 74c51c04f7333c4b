"""Source contracts: the columns, types, keys and nullability a raw file must honour.

Contracts are declared in YAML next to the domain code (one source of truth for types and
descriptions) and loaded into :class:`Contract` objects::

    sources:
      raw_orders:
        file: raw_orders.csv
        description: One row per order.
        primary_key: [id]
        columns:
          id: {type: string, nullable: false, description: Order id}
          ordered_at: {type: timestamp, no_future: true}
          amount: {type: 'decimal(18,2)'}  # quoted: a comma ends a value in {...}
        schema_evolution: {new_columns: add, missing_columns: error, type_changes: widen}

``schema_evolution`` says what a delivery whose columns differ may change (:class:`SchemaPolicy`;
:mod:`duckbook.ingest.evolution` applies it). The older key ``extra_columns: ignore | error`` is
still accepted and means ``new_columns: ignore | error``.

:func:`validate_rows` is the pure transform that applies a contract to rows read as text.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from duckbook.errors import ContractError, ProjectError
from duckbook.ingest.api_spec import ApiDeclarationError, ApiSpec, parse_api
from duckbook.ingest.cdc_spec import CdcDeclarationError, CdcSpec, parse_cdc

#: Contract type names and the Ibis types they cast to.
TYPES = {
    "string": "string",
    "int64": "int64",
    "float64": "float64",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}
#: ``decimal(p,s)``, the one parameterized contract type (1 <= p <= 38, s <= p).
_DECIMAL = re.compile(r"decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)")

#: The settings of ``schema_evolution:`` and their choices, the default first.
EVOLUTION_CHOICES = {
    "new_columns": ("add", "ignore", "error"),
    "missing_columns": ("error", "null"),
    "type_changes": ("widen", "error"),
}


class ContractDeclarationError(ProjectError, ContractError):
    """A contract in the project YAML is malformed (unknown type, key or option)."""


def ibis_type(type_name: str) -> str:
    """The Ibis type of contract type ``type_name``.

    >>> ibis_type("int64"), ibis_type("decimal(18, 2)")
    ('int64', 'decimal(18, 2)')
    """
    if type_name in TYPES:
        return TYPES[type_name]
    decimal = _DECIMAL.fullmatch(type_name)
    if decimal is None or not 1 <= int(decimal[1]) <= 38 or int(decimal[2]) > int(decimal[1]):
        raise ContractDeclarationError(
            f"{type_name!r} is not a contract type; use one of {', '.join(TYPES)} or decimal(p,s) (1 <= p <= 38, s <= p)"
        )
    return f"decimal({int(decimal[1])}, {int(decimal[2])})"


@dataclasses.dataclass(frozen=True)
class SchemaPolicy:
    """What a delivery whose columns differ from its contract and raw table may change.

    Narrowing a column's type always stops the stage; a primary key column is never loaded as NULL.
    """

    # file columns the contract does not declare: a nullable string column of raw | skipped (named
    # in the manifest) | stop. Default add; a source declaring `extra_columns: ignore` keeps ignoring.
    new_columns: str = "add"
    missing_columns: str = "error"  # columns the file lacks: stop | load them as NULL ("null")
    type_changes: str = "widen"  # a declared type wider than raw's: applied | stop

    def __post_init__(self) -> None:
        for key, choices in EVOLUTION_CHOICES.items():
            if getattr(self, key) not in choices:
                raise ContractDeclarationError(
                    f"schema_evolution.{key} must be one of {', '.join(choices)}, not {getattr(self, key)!r}"
                )


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    no_future: bool = False
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Contract:
    """The contract of one raw table, read from one file."""

    name: str
    file: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    description: str = ""
    # Duplicate deliveries of a key: keep the first seen (by line) or the latest by a column.
    keep: str = "first"  # first | latest
    latest_by: str = ""  # with keep: latest, the column whose greatest value wins (ties: last line)
    # Columns in the file but not in the contract: ignore them (listed in the manifest) or stop.
    # The older spelling of schema_evolution.new_columns (parse_contracts keeps them in step).
    extra_columns: str = "ignore"  # ignore | error
    # What a file holds in dated deliveries: new rows (``events``, merged by key) or the whole
    # table as of the delivery date (``snapshot``, replacing the previous one; history is kept by
    # snapshot models).
    # ``changes``: a CDC source's versions (its raw table is the current state); only with ``cdc:``
    kind: str = "snapshot"  # events | snapshot | changes
    # events: the column that dates a row (incremental models recompute from its earliest day)
    event_time: str = ""
    # A file already ingested under the same name comes again with other content: stop, or
    # accept it as a correction that replaces the earlier batch.
    on_changed_file: str = "error"  # error | correct
    schema_evolution: SchemaPolicy = SchemaPolicy()
    # an HTTP API source (``api:`` instead of ``file:``; ``file`` is then empty): its pages are
    # landed as deliveries by duckbook.ingest.api and ingested like files
    api: ApiSpec | None = None
    # a PostgreSQL CDC source (``cdc:`` instead of ``file:``): read by duckbook.ingest.cdc
    cdc: CdcSpec | None = None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def schema(self) -> ibis.Schema:
        return ibis.schema({c.name: ibis_type(c.type) for c in self.columns})


def parse_contracts(sources: Mapping[str, Any], *, origin: str) -> dict[str, Contract]:
    """Contracts from the parsed ``sources:`` section of a project file (``origin`` names the
    file in errors), checking names and types. Raises :class:`ContractDeclarationError`."""
    out = {}
    for name, spec in sources.items():
        where = f"{origin}: source {name}"
        cols = []
        for col_name, col in (spec.get("columns") or {}).items():
            col = col or {}
            try:
                type_name = ibis_type(str(col.get("type"))).replace(" ", "")  # decimal(18,2) as written
            except ContractDeclarationError:
                raise ContractDeclarationError(
                    f"{where}: column {col_name} has type {col.get('type')!r}; use one of {', '.join(TYPES)} "
                    "or decimal(p,s) (1 <= p <= 38, s <= p; quoted inside {...}: {type: 'decimal(18,2)'})"
                ) from None
            cols.append(
                Column(
                    col_name,
                    type_name,
                    bool(col.get("nullable", True)),
                    bool(col.get("no_future", False)),
                    str(col.get("description", "")),
                )
            )
        if not cols or sum(k in spec for k in ("file", "api", "cdc")) != 1:
            raise ContractDeclarationError(
                f"{where}: needs 'file' and at least one column ('api' for an HTTP API source or 'cdc' for a "
                "PostgreSQL table instead of 'file', only one of them)"
            )
        try:
            api = parse_api(spec["api"], where) if "api" in spec else None
        except ApiDeclarationError as exc:
            raise ContractDeclarationError(str(exc)) from None
        try:
            cdc = parse_cdc(spec["cdc"], where) if "cdc" in spec else None
        except CdcDeclarationError as exc:
            raise ContractDeclarationError(str(exc)) from None
        key = tuple(spec.get("primary_key") or ())
        unknown = set(key) - {c.name for c in cols}
        if unknown:
            raise ContractDeclarationError(f"{where}: primary_key names unknown column(s) {sorted(unknown)}")
        dedupe = spec.get("duplicates") or {}
        keep, latest_by = dedupe.get("keep", "first"), dedupe.get("by", "")
        if keep not in ("first", "latest") or (keep == "latest") != bool(latest_by):
            raise ContractDeclarationError(
                f"{where}: duplicates must be {{keep: first}} or {{keep: latest, by: <column>}}"
            )
        if latest_by and latest_by not in {c.name for c in cols}:
            raise ContractDeclarationError(f"{where}: duplicates.by names unknown column {latest_by!r}")
        # a JSON API leaves out a field that is null: a column no record of a page has is NULL
        policy = _parse_policy(spec, where, missing="null" if api else "error")
        extra = "error" if policy.new_columns == "error" else "ignore"
        kind = spec.get("kind", "events" if api else "changes" if cdc else "snapshot")
        if api is not None and kind != "events":
            raise ContractDeclarationError(f"{where}: an api source is kind events (its pages merge by primary_key)")
        if (cdc is not None) != (kind == "changes"):
            raise ContractDeclarationError(
                f"{where}: kind changes is the kind of a cdc source, and its only kind (leave kind out)"
            )
        if kind not in ("events", "snapshot", "changes"):
            raise ContractDeclarationError(f"{where}: kind must be events or snapshot, not {kind!r}")
        if cdc is not None and not key:
            raise ContractDeclarationError(
                f"{where}: a cdc source needs a primary_key: the columns that identify a row (the table's primary "
                "key, or with REPLICA IDENTITY FULL columns unique in it)"
            )
        if kind == "events" and not key:
            raise ContractDeclarationError(
                f"{where}: kind events needs a primary_key (rows delivered again merge by it)"
            )
        event_time = str(spec.get("event_time", ""))
        if event_time and event_time not in {c.name for c in cols}:
            raise ContractDeclarationError(f"{where}: event_time names unknown column {event_time!r}")
        on_changed = spec.get("on_changed_file", "error")
        if on_changed not in ("error", "correct"):
            raise ContractDeclarationError(f"{where}: on_changed_file must be error or correct, not {on_changed!r}")
        out[name] = Contract(
            name,
            str(spec.get("file", "")),
            tuple(cols),
            key,
            str(spec.get("description", "")),
            keep,
            latest_by,
            extra,
            kind,
            event_time,
            on_changed,
            policy,
            api,
            cdc,
        )
    return out


def _parse_policy(spec: Mapping[str, Any], where: str, *, missing: str = "error") -> SchemaPolicy:
    """The ``schema_evolution:`` mapping of a source (with ``extra_columns:``, its older spelling);
    ``missing`` is the default of ``missing_columns``."""
    given = spec.get("schema_evolution") or {}
    if not isinstance(given, Mapping):
        raise ContractDeclarationError(
            f"{where}: schema_evolution must be a mapping of {', '.join(EVOLUTION_CHOICES)}, not {given!r}"
        )
    # YAML reads a bare `null` as None: `missing_columns: null` means "load as NULL"
    settings = {k: "null" if k == "missing_columns" and v is None else v for k, v in given.items()}
    unknown = [k for k in settings if k not in EVOLUTION_CHOICES]
    if unknown:
        raise ContractDeclarationError(
            f"{where}: schema_evolution has no setting {unknown[0]!r}; settings: {', '.join(EVOLUTION_CHOICES)}"
        )
    if "extra_columns" in spec:
        extra = spec["extra_columns"]
        if extra not in ("ignore", "error"):
            raise ContractDeclarationError(f"{where}: extra_columns must be ignore or error, not {extra!r}")
        if settings.setdefault("new_columns", extra) != extra:
            raise ContractDeclarationError(
                f"{where}: extra_columns: {extra} contradicts schema_evolution.new_columns: "
                f"{settings['new_columns']}; keep only schema_evolution.new_columns"
            )
    settings.setdefault("missing_columns", missing)
    try:
        return SchemaPolicy(**settings)
    except ContractDeclarationError as exc:
        raise ContractDeclarationError(f"{where}: {exc}") from None


def validate_rows(text: ir.Table, contract: Contract, *, latest_allowed: ibis.Scalar | None = None) -> ir.Table:
    """Apply ``contract`` to rows read as text.

    ``text`` has one string column per contract column and ``_line``. The result has the
    typed columns, ``_line``, ``_raw`` (the row's fields joined with commas) and ``_reason``:
    null for a good row, else the first broken rule as ``rule:column`` —
    ``missing_key``, ``missing_value``, ``invalid_<type>``, ``future_value`` — or
    ``duplicate_key`` for every later copy of a key (the first by line is kept).

    Examples
    --------
    >>> import ibis
    >>> from duckbook.ingest.contracts import Column, Contract, validate_rows
    >>> c = Contract("t", "t.csv", (Column("id", "string", nullable=False), Column("n", "int64")), ("id",))
    >>> text = ibis.memtable({"_line": [2, 3, 4, 5], "id": ["a", "b", None, "a"], "n": ["1", "x", "3", "4"]})
    >>> validate_rows(text, c).order_by("_line").select("_line", "_reason").to_pyarrow().to_pylist()  # doctest: +NORMALIZE_WHITESPACE
    [{'_line': 2, '_reason': None}, {'_line': 3, '_reason': 'invalid_int64:n'},
     {'_line': 4, '_reason': 'missing_key:id'}, {'_line': 5, '_reason': 'duplicate_key:id'}]
    """
    typed = {}
    rules: list[tuple[ir.BooleanValue, str]] = []
    for col in contract.columns:
        raw = text[col.name]
        to = ibis_type(col.type)
        value = raw if col.type == "string" else raw.strip().try_cast(to)
        if col.type == "int64" or to.startswith("decimal"):  # the engine's cast rounds "2.5" and "0.125": refuse
            value = raw.strip().re_search(_exact_number(to)).ifelse(value, ibis.null(to))
        typed[col.name] = value
        if col.name in contract.primary_key:
            rules.append((raw.isnull(), f"missing_key:{col.name}"))
        elif not col.nullable:
            rules.append((raw.isnull(), f"missing_value:{col.name}"))
        if col.type != "string":
            rules.append((raw.notnull() & value.isnull(), f"invalid_{col.type.split('(')[0]}:{col.name}"))
        if col.no_future and latest_allowed is not None:
            rules.append((value > latest_allowed.cast(to), f"future_value:{col.name}"))
    reason = ibis.cases(*rules, else_=ibis.null("string")) if rules else ibis.null("string")
    raw_row = (
        text["_raw"]
        if "_raw" in text.columns
        else ibis.literal(",").join([text[c].fill_null("") for c in contract.column_names])
    )
    out = text.select("_line", _raw=raw_row, _reason=reason, **typed)
    if contract.primary_key:
        # One good row per key wins: the first by line, or the one with the greatest
        # `latest_by` value (ties: the last line). An aggregate and a join, not a window:
        # DuckDB windows over ~one partition per key are several times slower.
        key = list(contract.primary_key)
        good = out.filter(out._reason.isnull())
        if contract.keep == "latest":
            best = good.group_by(key).agg(_best=good[contract.latest_by].max())
            ranked = good.inner_join(best, key).filter(lambda t: t[contract.latest_by] == t._best)
            first = ranked.group_by(key).agg(_first_line=ranked._line.max())
        else:
            first = good.group_by(key).agg(_first_line=good._line.min())
        joined = out.left_join(first, key)
        dup = joined._reason.isnull() & (joined._line != joined._first_line)
        out = joined.select(
            "_line",
            "_raw",
            _reason=ibis.cases((dup, f"duplicate_key:{','.join(key)}"), else_=joined._reason),
            **{c: joined[c] for c in contract.column_names},
        )
    return out


def _exact_number(ibis_type_name: str) -> str:
    """The pattern of a number that ``ibis_type_name`` (an integer or decimal type) holds exactly."""
    decimal = _DECIMAL.fullmatch(ibis_type_name)
    scale = int(decimal[2]) if decimal else 0
    return r"^[+-]?[0-9]+$" if scale == 0 else rf"^[+-]?[0-9]+(\.[0-9]{{1,{scale}}})?$"


def quarantine_rows(
    validated: ir.Table,
    contract: Contract,
    *,
    batch_id: str,
    source_file: str,
    run_id: str,
    quarantined_at: ibis.Scalar,
) -> ir.Table:
    """The rows of ``validated`` that broke the contract, in the shape of ``ops.quarantine``."""
    bad = validated.filter(validated._reason.notnull())
    return bad.select(
        source_table=ibis.literal(contract.name),
        batch_id=ibis.literal(batch_id),
        source_file=ibis.literal(source_file),
        line=bad._line.cast("int64"),
        reason_code=bad._reason.split(":")[0],
        reason=bad._reason,
        raw_row=bad._raw,
        run_id=ibis.literal(run_id),
        quarantined_at=quarantined_at,
    )


def good_rows(validated: ir.Table, contract: Contract, metadata: Mapping[str, ibis.Value]) -> ir.Table:
    """The rows of ``validated`` that honour the contract, with ingestion metadata columns."""
    good = validated.filter(validated._reason.isnull())
    return good.select(*contract.column_names, **metadata)
