"""Read a delimited text file into records *without losing any line*.

Every data line ends up either in a record (with its line number and raw text) or in a reject
with a reason code: ``invalid_encoding`` (not UTF-8), ``nul_byte``, ``unterminated_quote``,
``wrong_column_count``. Parsing is Python's :mod:`csv`, restarted after a broken record so one
bad quote cannot swallow the rest of the file; the values are then typed and validated in the
engine (:mod:`duckbook.contracts`).

Examples
--------
>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> _ = p.write_bytes(b'id,n\\na,1\\nb,2,3\\nc,"4\\nd,5\\n')
>>> parsed = read_records(p)
>>> parsed.header, [(r.line, r.values) for r in parsed.records]
(['id', 'n'], [(2, ['a', '1']), (5, ['d', '5'])])
>>> [(r.line, r.reason) for r in parsed.rejects]
[(3, 'wrong_column_count'), (4, 'unterminated_quote')]
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

BOM = b"\xef\xbb\xbf"


class FileError(ValueError):
    """The file cannot be read at all (empty, no header, duplicate header names)."""


@dataclasses.dataclass(frozen=True)
class Record:
    line: int  # 1-based line of the file where the record starts
    values: list[str]
    raw: str


@dataclasses.dataclass(frozen=True)
class Reject:
    line: int
    reason: str
    detail: str
    raw: str


@dataclasses.dataclass
class Parsed:
    header: list[str]
    records: list[Record]
    rejects: list[Reject]
    # fast path (a clean file): the values as an Arrow table, record i on line i + 2, and the
    # file's lines as an Arrow string array (the header first)
    arrow: Any = None  # pyarrow.Table of strings (pyarrow is untyped)
    lines: Any = None  # pyarrow.Array of strings

    @property
    def record_count(self) -> int:
        return self.arrow.num_rows if self.arrow is not None else len(self.records)


def read_header(path: Path) -> list[str]:
    """The header fields of ``path`` (BOM removed); :class:`FileError` if there is none."""
    with open(path, "rb") as f:
        first = f.readline()
    first = first.removeprefix(BOM).rstrip(b"\r\n")
    if not first.strip():
        raise FileError(f"{path}: empty file (no header line)")
    try:
        return next(csv.reader([first.decode("utf-8")]))
    except UnicodeDecodeError as exc:
        raise FileError(f"{path}: the header (line 1) is not UTF-8 (byte 0x{first[exc.start]:02x})") from None


def to_arrow(parsed: Parsed) -> Any:
    """The records as an Arrow table of strings (empty field -> null) plus ``_line`` and ``_raw``
    (the line as in the file)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if parsed.arrow is not None and parsed.lines is not None:  # the fast path keeps both, in Arrow
        import numpy as np

        n = parsed.arrow.num_rows
        values = [parsed.arrow.column(i) for i in range(len(parsed.header))]
        lines: Any = pa.array(np.arange(2, n + 2, dtype=np.int64))
        raws: Any = parsed.lines.slice(1, n)
    else:
        values = (
            list(zip(*(r.values for r in parsed.records), strict=True))
            if parsed.records
            else [() for _ in parsed.header]
        )
        lines = [r.line for r in parsed.records]
        raws = [r.raw for r in parsed.records]
    columns = {}
    for name, column in zip(parsed.header, values, strict=True):
        arr = column if isinstance(column, pa.ChunkedArray) else pa.array(column, type=pa.string())
        columns[name] = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    columns["_line"] = pa.array(lines, type=pa.int64()) if isinstance(lines, list) else lines
    columns["_raw"] = pa.array(raws, type=pa.string()) if isinstance(raws, list) else raws
    return pa.table(columns)


def _fast(data: bytes) -> Parsed | None:
    """Parse a clean file in one pass (valid UTF-8, no NUL, no blank line, one line per record,
    every record as wide as the header); None when any of that does not hold. Every check and
    the split into lines run in C, not per line in Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if b"\x00" in data or len(data) >= 2**31 - 1:  # NUL bytes; one Arrow string holds < 2 GiB
        return None
    if b"\r" in data:  # Windows line ends are fine; a lone carriage return is not
        data = data.replace(b"\r\n", b"\n")
        if b"\r" in data:
            return None
    try:  # UTF-8 throughout (Python's decoder: faster here than Arrow's validating cast)
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # the buffer as one Arrow string, without a copy
    text = pa.Array.from_buffers(
        pa.string(), 1, [None, pa.array([0, len(data)], pa.int32()).buffers()[1], pa.py_buffer(data)]
    )
    lines = pc.list_flatten(pc.split_pattern(text, "\n"))
    if len(lines) and data.endswith(b"\n"):
        lines = lines.slice(0, len(lines) - 1)
    if not len(lines) or pc.any(pc.equal(lines, "")).as_py():
        return None
    header = next(csv.reader([lines[0].as_py()]))
    if len(set(header)) != len(header):
        return None  # the slow path names the duplicates
    table = arrow_records(data, header, len(lines) - 1)
    return None if table is None else Parsed(header, [], [], arrow=table, lines=lines)


def arrow_records(data: bytes, header: list[str], records: int) -> pa.Table | None:
    """The records of a clean file's ``data`` as strings, read by Arrow's C++ reader; None when
    any row is irregular (field count, quoted newline) or there are not ``records`` of them."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    try:
        table = pa_csv.read_csv(
            pa.py_buffer(data),
            read_options=pa_csv.ReadOptions(use_threads=False),
            parse_options=pa_csv.ParseOptions(newlines_in_values=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, ValueError):
        return None
    return table if table.num_rows == records and table.column_names == header else None


def read_records(path: Path) -> Parsed:
    """Parse ``path`` (see the module docstring). Raises :class:`FileError` naming the file for
    an empty file, a missing header or duplicate column names."""
    data = Path(path).read_bytes()
    if data.startswith(BOM):
        data = data[len(BOM) :]
    fast = _fast(data)
    if fast is not None:
        _check_header(path, fast.header)
        return fast
    lines: list[tuple[int, str]] = []  # (line number, text) of the lines csv may read
    rejects: list[Reject] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        raw = raw.removesuffix(b"\r")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            rejects.append(
                Reject(
                    number,
                    "invalid_encoding",
                    f"not UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}",
                    raw.decode("utf-8", errors="replace"),
                )
            )
            continue
        if "\x00" in text:
            rejects.append(
                Reject(number, "nul_byte", f"NUL byte at column {text.index(chr(0)) + 1}", text.replace("\x00", "\\0"))
            )
            continue
        lines.append((number, text))
    while lines and not lines[-1][1].strip():
        lines.pop()  # trailing newline(s)
    if not lines:
        raise FileError(f"{path}: empty file (no header line)")
    header_line, header_text = lines[0]
    if header_line != 1:
        raise FileError(f"{path}: the header (line 1) is unreadable ({rejects[0].detail})")
    header = next(csv.reader([header_text]))
    _check_header(path, header)
    body = [(n, t) for n, t in lines[1:] if t.strip()]
    records: list[Record] = []
    start = 0
    while start < len(body):
        start = _parse_from(body, start, len(header), records, rejects)
    rejects.sort(key=lambda r: r.line)
    return Parsed(header, records, rejects)


def _check_header(path: Path, header: list[str]) -> None:
    if not any(h.strip() for h in header):
        raise FileError(f"{path}: empty header line")
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise FileError(f"{path}: duplicate column name(s) in the header: {', '.join(dupes)}")


def _parse_from(
    body: list[tuple[int, str]], start: int, width: int, records: list[Record], rejects: list[Reject]
) -> int:
    """Parse ``body[start:]`` until the end or a broken record; return where to resume."""
    consumed = start

    def feed() -> Iterator[str]:
        nonlocal consumed
        while consumed < len(body):
            consumed += 1
            yield body[consumed - 1][1] + "\n"

    reader = csv.reader(feed(), strict=True)
    while True:
        first = consumed  # index in body of the line the next record starts on
        try:
            values = next(reader)
        except StopIteration:
            return len(body)
        except csv.Error as exc:
            line, text = body[first]
            rejects.append(
                Reject(
                    line,
                    "unterminated_quote" if "EOF" in str(exc) or "end of data" in str(exc) else "malformed_quote",
                    str(exc),
                    text,
                )
            )
            return first + 1  # resume on the line after the broken one
        line = body[first][0]
        raw = "\n".join(t for _, t in body[first:consumed])
        if len(values) != width:
            rejects.append(Reject(line, "wrong_column_count", f"expected {width} fields, found {len(values)}", raw))
        else:
            records.append(Record(line, values, raw))
