"""wal2json v2 messages -> transactions -> the landed Arrow table (no database)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from duckbook.ingest.cdc_events import (
    EVENT_SCHEMA,
    ChangeStreamError,
    TableSchema,
    decode,
    events_table,
    format_lsn,
    parse_lsn,
)


def _msg(**fields: Any) -> str:
    return json.dumps(fields)


def _tx(xid: int, commit: str, end: str, *events: str) -> list[str]:
    edge = {"xid": xid, "timestamp": "2026-11-26 23:58:53.00607+00", "lsn": commit, "nextlsn": end}
    return [_msg(action="B", **edge), *events, _msg(action="C", **edge)]


def _col(name: str, type_: str, value: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "value": value}


def _schemas() -> dict[str, TableSchema]:
    return {"public.c": TableSchema({"id": "integer", "doc": "text", "amt": "numeric(38,10)"}, ("id",))}


def test_lsn_round_trip_and_order() -> None:
    assert parse_lsn("0/0") == 0
    assert parse_lsn("1/FFFFFFFF") + 1 == parse_lsn("2/0")
    assert format_lsn(parse_lsn("16/B374D848")) == "16/B374D848"


def test_numbers_keep_their_exact_digits() -> None:
    # a raw JSON number with more digits than a float holds: the text is kept, Decimal is exact
    raw = '{"action":"I","xid":5,"lsn":"0/10","schema":"public","table":"c","columns":[{"name":"id","type":"integer","value":1},{"name":"doc","type":"text","value":null},{"name":"amt","type":"numeric(38,10)","value":1234567890123456789012345678.1234567890}]}'
    [tx], _ = decode(_tx(5, "0/20", "0/28", raw), _schemas())
    values = tx.events[0].values
    assert values == {"id": "1", "doc": None, "amt": "1234567890123456789012345678.1234567890"}
    assert Decimal(values["amt"]) == Decimal("1234567890123456789012345678.1234567890")


def test_booleans_and_json_values_are_postgres_text() -> None:
    event = _msg(
        action="I",
        lsn="0/10",
        schema="public",
        table="c",
        columns=[_col("id", "integer", 1), _col("doc", "text", "x"), _col("amt", "numeric(38,10)", None)],
    )
    flags = _msg(action="I", lsn="0/11", schema="public", table="f", columns=[_col("on", "boolean", True)])
    [tx], _ = decode(_tx(5, "0/20", "0/28", event, flags), _schemas())
    assert tx.events[1].values == {"on": "true"}


def test_update_names_unchanged_toast_columns_and_keeps_the_old_key() -> None:
    update = _msg(
        action="U",
        lsn="0/10",
        schema="public",
        table="c",
        columns=[_col("id", "integer", 2), _col("amt", "numeric(38,10)", 1.5)],
        identity=[_col("id", "integer", 1)],
    )
    [tx], changes = decode(_tx(9, "0/20", "0/28", update), _schemas())
    event = tx.events[0]
    assert (event.op, event.identity, event.unchanged) == ("U", {"id": "1"}, ("doc",))
    assert "doc" not in event.values and changes == []


def test_a_column_added_mid_stream_is_recorded_once() -> None:
    schemas = _schemas()
    row = [_col("id", "integer", 3), _col("doc", "text", None), _col("amt", "numeric(38,10)", None)]
    first = _msg(action="I", lsn="0/30", schema="public", table="c", columns=[*row, _col("tier", "smallint", 2)])
    second = _msg(action="I", lsn="0/40", schema="public", table="c", columns=[*row, _col("tier", "smallint", 3)])
    txs, changes = decode([*_tx(1, "0/35", "0/38", first), *_tx(2, "0/45", "0/48", second)], schemas)
    assert [(c.table, c.column, c.type, c.change, c.commit_lsn) for c in changes] == [
        ("public.c", "tier", "smallint", "added", 0x35)
    ]
    assert list(schemas["public.c"].columns) == ["id", "doc", "amt", "tier"]
    assert len(txs) == 2


def test_a_column_missing_from_an_insert_was_dropped() -> None:
    schemas = _schemas()
    insert = _msg(action="I", lsn="0/30", schema="public", table="c", columns=[_col("id", "integer", 3)])
    _, changes = decode(_tx(1, "0/35", "0/38", insert), schemas)
    assert {(c.column, c.change) for c in changes} == {("doc", "dropped"), ("amt", "dropped")}
    assert list(schemas["public.c"].columns) == ["id"]


def test_delete_truncate_and_empty_transactions() -> None:
    delete = _msg(action="D", lsn="0/10", schema="public", table="c", identity=[_col("id", "integer", 7)])
    truncate = _msg(action="T", lsn="0/50", schema="public", table="c")
    txs, _ = decode([*_tx(1, "0/20", "0/28", delete), *_tx(2, "0/40", "0/48"), *_tx(3, "0/60", "0/68", truncate)], {})
    assert [[e.op for e in tx.events] for tx in txs] == [["D"], [], ["T"]]
    assert txs[0].events[0].identity == {"id": "7"} and txs[0].events[0].values is None
    assert [tx.end_lsn for tx in txs] == [0x28, 0x48, 0x68]


def test_a_cut_or_unknown_stream_is_an_error() -> None:
    begin = _tx(1, "0/20", "0/28")[0]
    with pytest.raises(ChangeStreamError, match="transaction 1 has no commit"):
        decode([begin], {})
    with pytest.raises(ChangeStreamError, match="outside a transaction"):
        decode([_msg(action="I", lsn="0/1", schema="s", table="t", columns=[])], {})
    with pytest.raises(ChangeStreamError, match="unknown wal2json action 'X'"):
        decode([begin, _msg(action="X")], {})


def test_events_table_keys_events_by_commit_lsn_and_sequence() -> None:
    # several events of one COPY share an lsn: (commit_lsn, seq) stays unique
    rows = [
        _msg(action="I", lsn="0/10", schema="public", table="c", columns=[_col("id", "integer", i)]) for i in range(3)
    ]
    txs, _ = decode(_tx(4, "0/20", "0/28", *rows), {})
    table = events_table(txs)
    assert table.schema == EVENT_SCHEMA
    assert table.column("lsn").to_pylist() == [0x10] * 3
    assert list(zip(table.column("commit_lsn").to_pylist(), table.column("seq").to_pylist(), strict=True)) == [
        (0x20, 0),
        (0x20, 1),
        (0x20, 2),
    ]
    assert table.column("values").to_pylist()[2] == [("id", "2")]
