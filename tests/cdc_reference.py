"""The test oracle of CDC: a captured table's current state, folded row by row from its landed events.

The pipeline derives versions with duckbook.ingest.cdc_versions; the tests check it and the
consumer against this plain fold.

The fold is the reference semantics of the landed format: ``S`` and ``I`` put a row, ``U`` moves
the row from its old key (``identity``) to its new one and overwrites only the columns it carries
(columns in ``unchanged`` keep their old value: PostgreSQL left those TOAST values out), ``D``
removes the row of its ``identity``, ``T`` empties the table. Events apply in (commit_lsn, seq)
order, the snapshot first. Values stay PostgreSQL text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from duckbook.ingest.cdc_events import TableSchema

Row = dict[str, str | None]


def _key(row: Mapping[str, str | None], key: tuple[str, ...]) -> tuple[Any, ...]:
    # without a primary key (REPLICA IDENTITY FULL) the whole row is the identity
    if key:
        return tuple(row.get(k) for k in key)
    return tuple(sorted(row.items()))


def fold(events: Iterable[Mapping[str, Any]], schema: TableSchema) -> list[Row]:
    """Apply one table's events (dicts of the landed columns, in order) to an empty table.

    >>> s = TableSchema({"id": "integer", "doc": "text", "n": "integer"}, ("id",))
    >>> fold([
    ...     {"op": "I", "values": [("id", "1"), ("doc", "long"), ("n", "1")]},
    ...     {"op": "U", "values": [("id", "2"), ("n", "5")], "identity": [("id", "1")], "unchanged": ["doc"]},
    ...     {"op": "I", "values": [("id", "3"), ("doc", None), ("n", "0")]},
    ...     {"op": "D", "identity": [("id", "3")]},
    ... ], s)
    [{'id': '2', 'doc': 'long', 'n': '5'}]
    """
    state: dict[tuple[Any, ...], list[Row]] = {}  # a list: keyless tables may hold equal rows
    for e in events:
        op = e["op"]
        if op == "T":
            state.clear()
            continue
        old: Row | None = None
        if op in ("U", "D"):
            identity = dict(e["identity"] or e["values"])
            rows = state.get(_key(identity, schema.key))
            if rows:
                old = rows.pop()
                if not rows:
                    del state[_key(identity, schema.key)]
        if op == "D":
            continue
        row = {**(old or {}), **dict(e["values"])}
        state.setdefault(_key(row, schema.key), []).append(row)
    return [row for rows in state.values() for row in rows]


def current_state(
    events: pa.Table, table: str, schema: TableSchema, history: Iterable[Mapping[str, Any]] = ()
) -> pa.Table:
    """The current rows of ``table`` (``schema.table``) from landed ``events``, as text columns in
    the schema's column order. A column added later (``history``: the position's schema changes)
    takes its recorded ``fill`` in rows no event has touched since."""
    mine = events.filter(pc.equal(events["table_name"], table)).select(
        ["commit_lsn", "seq", "op", "values", "identity"]
    )
    # snapshot rows carry the slot's consistent point as commit_lsn; no change commits before it
    ordered = sorted(mine.to_pylist(), key=lambda e: (e["commit_lsn"], e["op"] != "S", e["seq"]))
    rows = fold(ordered, schema)
    fills = {h["column"]: h.get("fill") for h in history if h["table"] == table and h["change"] == "added"}
    names = list(schema.columns)
    return pa.table({n: pa.array([r.get(n, fills.get(n)) for r in rows], pa.string()) for n in names})
