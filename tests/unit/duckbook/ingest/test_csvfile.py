"""The clean-file fast path of the CSV reader: Arrow does the checks, with the same verdicts and
the same records, lines and raw text as the per-line reading it replaced."""

from __future__ import annotations

import csv

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from duckbook.ingest import csvfile


def _reference(data: bytes) -> tuple[list[str], pa.Table, list[str]] | None:
    """The fast path as it was, line by line in Python: (header, values, lines) or None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or any(not line for line in lines):
        return None
    header = next(csv.reader([lines[0]]))
    if len(set(header)) != len(header):
        return None
    table = csvfile.arrow_records(text.encode("utf-8"), header, len(lines) - 1)  # the same Arrow read
    if table is None:
        return None
    return header, table, lines


PIECES = [b"a", b"b,c", b",", b'"', b'"x,y"', b"\n", b"\r\n", b"\r", b"\x00", b"\xc3\xa9", b"\xff", b" ", b"\n\n", b"1"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30))
def test_fast_path_agrees_with_the_line_by_line_reading(pieces):
    data = b"id,n\n" + b"".join(pieces)
    fast, reference = csvfile._fast(data), _reference(data)
    assert (fast is None) == (reference is None)
    if fast is not None:
        header, table, lines = reference
        assert fast.header == header and fast.arrow.equals(table)
        assert fast.lines.to_pylist() == lines
        arrow = csvfile.to_arrow(fast)
        assert arrow["_line"].to_pylist() == list(range(2, table.num_rows + 2))
        assert arrow["_raw"].to_pylist() == lines[1:]


def test_a_clean_file_is_read_by_the_fast_path_with_nulls_lines_and_raw_text(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b'id,name\r\n1,"Ann, B"\r\n2,\r\n')
    parsed = csvfile.read_records(path)
    assert parsed.arrow is not None and parsed.record_count == 2
    table = csvfile.to_arrow(parsed)
    assert table.to_pylist() == [
        {"id": "1", "name": "Ann, B", "_line": 2, "_raw": '1,"Ann, B"'},
        {"id": "2", "name": None, "_line": 3, "_raw": "2,"},
    ]
    assert table.schema.field("_raw").type == pa.string() and table.schema.field("_line").type == pa.int64()
