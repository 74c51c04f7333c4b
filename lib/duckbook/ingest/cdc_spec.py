"""The ``cdc:`` block of a source: a PostgreSQL table read by log-based change data capture.

A source declares ``cdc:`` instead of ``file:``; its columns and primary key are the contract of
one row of the table (PostgreSQL's text of each value is cast to the contract's type; a row that
breaks the contract is quarantined)::

    sources:
      raw_customers:
        cdc:
          dsn: ${JAFFLE_PG_DSN:-dbname=jaffle}   # libpq conninfo; ${VAR} / ${VAR:-default} from the environment
          table: public.customers
          slot: duckbook_jaffle                    # default "duckbook"
        primary_key: [id]
        columns: ...

Secrets never go in YAML: the password comes from ``PGPASSWORD``, ``~/.pgpass`` or a ``${VAR}`` in
the DSN, expanded only when a consumer connects. The sources sharing one DSN and slot are read by
one :class:`duckbook.ingest.cdc.Consumer` (one replication slot, one landing folder
``<warehouse>/cdc/<slot>/``), so their changes land together, transaction by transaction.
A ``cdc`` source is of kind ``changes``: its raw table is the table's current state, and its
raw-zone batches hold every version (see :mod:`duckbook.ingest.cdc_versions`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from duckbook.errors import ContractError, ProjectError
from duckbook.ingest.api_spec import ApiDeclarationError, expand_env

if TYPE_CHECKING:
    from duckbook.ingest.cdc import CdcSource
    from duckbook.ingest.contracts import Contract

_CDC_KEYS = ("dsn", "table", "slot", "batch_changes")
#: a replication slot name: PostgreSQL allows lower-case letters, digits and underscores
_SLOT = re.compile(r"^[a-z0-9_]{1,63}$")
_TABLE = re.compile(r"^[^.\s]+\.[^.\s]+$")


class CdcDeclarationError(ProjectError, ContractError):
    """The ``cdc:`` block of a source in the project YAML is malformed."""


@dataclasses.dataclass(frozen=True)
class CdcSpec:
    """Where a CDC source's changes come from: the DSN as written (``${VAR}`` unexpanded), the
    ``schema.table``, the slot and the most changes one poll reads."""

    dsn: str
    table: str
    slot: str = "duckbook"
    batch_changes: int = 50_000

    def conninfo(self) -> str:
        """The DSN with ``${VAR}`` / ``${VAR:-default}`` taken from the environment.

        >>> CdcSpec("${NO_SUCH_VAR_Y:-dbname=shop}", "public.t").conninfo()
        'dbname=shop'
        """
        try:
            return expand_env(self.dsn, "cdc.dsn")
        except ApiDeclarationError as exc:
            raise CdcDeclarationError(str(exc)) from None


def parse_cdc(spec: Any, where: str) -> CdcSpec:
    """The ``cdc:`` mapping of a source (``where`` names file and source in errors).

    >>> parse_cdc({"dsn": "dbname=shop", "table": "public.orders"}, "sources.yml: source o")
    CdcSpec(dsn='dbname=shop', table='public.orders', slot='duckbook', batch_changes=50000)
    >>> parse_cdc({"dsn": "dbname=shop", "table": "orders"}, "sources.yml: source o")
    Traceback (most recent call last):
    ...
    duckbook.ingest.cdc_spec.CdcDeclarationError: sources.yml: source o: cdc.table must be schema.table (e.g. public.orders), not 'orders'
    """
    if not isinstance(spec, Mapping):
        raise CdcDeclarationError(f"{where}: cdc must be a mapping with dsn and table (and slot, batch_changes)")
    unknown = [k for k in spec if k not in _CDC_KEYS]
    if unknown:
        raise CdcDeclarationError(f"{where}: cdc has no setting {unknown[0]!r}; settings: {', '.join(_CDC_KEYS)}")
    dsn, table, slot = str(spec.get("dsn") or ""), str(spec.get("table") or ""), str(spec.get("slot") or "duckbook")
    if not dsn:
        raise CdcDeclarationError(f"{where}: cdc.dsn is required (a libpq conninfo or URI; ${{VAR}} for secrets)")
    if not _TABLE.match(table):
        raise CdcDeclarationError(f"{where}: cdc.table must be schema.table (e.g. public.orders), not {table!r}")
    if not _SLOT.match(slot):
        raise CdcDeclarationError(
            f"{where}: cdc.slot must be 1-63 lower-case letters, digits or underscores, not {slot!r}"
        )
    try:
        batch = int(spec.get("batch_changes", 50_000))
    except (TypeError, ValueError):
        batch = 0
    if batch < 1:
        raise CdcDeclarationError(
            f"{where}: cdc.batch_changes must be a positive integer, not {spec['batch_changes']!r}"
        )
    return CdcSpec(dsn, table, slot, batch)


def redacted(dsn: str) -> str:
    """A libpq DSN without its password, for messages.

    >>> redacted("host=/tmp port=5433 dbname=shop user=app password=s3cret")
    'host=/tmp port=5433 dbname=shop user=app password=***'
    >>> redacted("postgresql://app:s3cret@db:5432/shop")
    'postgresql://app:***@db:5432/shop'
    """
    if "://" in dsn:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", dsn)
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", dsn)


def landing_folder(warehouse: Path, slot: str) -> Path:
    """Where a slot's changes land: ``<warehouse>/cdc/<slot>/`` (the Parquet batches and position)."""
    return warehouse / "cdc" / slot


def consumers(contracts: Iterable[Contract], warehouse: Path) -> list[tuple[CdcSource, tuple[Contract, ...]]]:
    """The CDC sources to run: one per (DSN, slot), with the contracts of the tables it captures.

    Raises :class:`CdcDeclarationError` when two sources of one slot capture the same table, or
    sources of one slot give different DSNs or ``batch_changes``."""
    from duckbook.ingest.cdc import CdcSource  # psycopg: imported only where a CDC source runs

    groups: dict[str, list[Contract]] = {}
    for c in contracts:
        if c.cdc is not None:
            groups.setdefault(c.cdc.slot, []).append(c)
    out = []
    for slot, members in sorted(groups.items()):
        first = members[0].cdc
        assert first is not None
        for c in members[1:]:
            assert c.cdc is not None
            if (c.cdc.dsn, c.cdc.batch_changes) != (first.dsn, first.batch_changes):
                raise CdcDeclarationError(
                    f"sources {members[0].name} and {c.name} share slot {slot!r} but not dsn and batch_changes; "
                    "give them the same or use another slot"
                )
        tables = [c.cdc.table for c in members if c.cdc is not None]
        if len(set(tables)) < len(tables):
            twice = sorted({t for t in tables if tables.count(t) > 1})
            raise CdcDeclarationError(f"slot {slot!r}: table {twice[0]} is captured by two sources")
        source = CdcSource(
            name=slot,
            dsn=first.conninfo(),
            tables=tuple(tables),
            directory=landing_folder(warehouse, slot),
            slot=slot,
            batch_changes=first.batch_changes,
        )
        out.append((source, tuple(members)))
    return out
