"""API pages as delivery files: one page's records as JSON lines, written durably, read like a CSV.

A page file (``*.ndjson``) holds one record per line, as the API sent it (re-serialized compactly),
so a quarantined record's raw text is its JSON. A page whose body is not JSON is landed as one
line holding the body (line breaks escaped): ingest quarantines it as ``invalid_json``.

:func:`read_records` gives the :class:`duckbook.ingest.csvfile.Parsed` the CSV reader gives: the
header is every field any record has (a field a record lacks is NULL), values are text (nested
values as JSON), and a line that is not a JSON object is a reject.

Examples
--------
>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "page.ndjson"
>>> write_page(p, [{"id": "a", "n": 1}, {"id": "b", "tags": ["x"]}])
>>> parsed = read_records(p)
>>> parsed.header, [(r.line, r.values) for r in parsed.records]
(['id', 'n', 'tags'], [(1, ['a', '1', '']), (2, ['b', '', '["x"]'])])
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from duckbook.ingest.csvfile import FileError, Parsed, Record, Reject

SUFFIX = ".ndjson"


def dumps(record: Any) -> str:
    """A record as one compact JSON line (keys in the order sent)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def write_page(path: Path, records: Sequence[Any] | None, *, body: str = "") -> None:
    """Write ``records`` (or, with ``records`` None, an unparseable ``body`` as one line) to ``path``
    durably: a temp file, fsync, rename, fsync of the folder. Re-writing the same content is a no-op
    for readers (the same bytes under the same name)."""
    if records is None:
        text = body.replace("\r", "\\r").replace("\n", "\\n") + "\n"
    else:
        text = "".join(dumps(r) + "\n" for r in records)
    atomic_write(path, text.encode("utf-8"))


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a crash leaves the old file or the new one, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return dumps(value)
    return str(value)


def read_records(path: Path) -> Parsed:
    """Parse a page file (see the module docstring). Raises :class:`FileError` for an empty file."""
    objects: list[tuple[int, dict[str, Any], str]] = []
    rejects: list[Reject] = []
    header: dict[str, None] = {}
    for number, raw in enumerate(Path(path).read_bytes().decode("utf-8", errors="replace").split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError as exc:
            rejects.append(Reject(number, "invalid_json", f"page {Path(path).name}: {exc}", raw))
            continue
        if not isinstance(value, dict):
            rejects.append(
                Reject(number, "invalid_record", f"a record is a JSON object, not {type(value).__name__}", raw)
            )
            continue
        header.update(dict.fromkeys(value))
        objects.append((number, value, raw))
    if not objects and not rejects:
        raise FileError(f"{path}: empty page file (no record)")
    names = list(header)
    records = [Record(n, [_text(obj.get(h)) for h in names], raw) for n, obj, raw in objects]
    return Parsed(names, records, rejects)


def read_header(path: Path) -> list[str]:
    """Every field a record of the page has (the page's columns)."""
    return read_records(path).header
