"""API page files: written durably, read back like a CSV (every line a record or a reject)."""

from __future__ import annotations

import pytest

from duckbook.ingest import pages
from duckbook.ingest.csvfile import FileError


def test_a_page_round_trips_with_raw_json_and_rejects(tmp_path):
    path = tmp_path / "000001-page1-abc.ndjson"
    path.write_text('{"id":"a","ok":true,"n":1.5}\n[1, 2]\n{"id": "b", "nested": {"x": null}}\n{"id": \n\n')
    parsed = pages.read_records(path)
    assert parsed.header == ["id", "ok", "n", "nested"]
    assert [(r.line, r.values, r.raw) for r in parsed.records] == [
        (1, ["a", "true", "1.5", ""], '{"id":"a","ok":true,"n":1.5}'),
        (3, ["b", "", "", '{"x":null}'], '{"id": "b", "nested": {"x": null}}'),
    ]
    assert [(r.line, r.reason) for r in parsed.rejects] == [(2, "invalid_record"), (4, "invalid_json")]
    assert "page 000001-page1-abc.ndjson" in parsed.rejects[1].detail


def test_an_unparseable_body_is_one_line_and_nothing_is_left_half_written(tmp_path):
    path = tmp_path / "p.ndjson"
    pages.write_page(path, None, body='{"data":\n [1, ')
    assert path.read_text() == '{"data":\\n [1, \n'
    assert [r.reason for r in pages.read_records(path).rejects] == ["invalid_json"]
    assert [p.name for p in tmp_path.iterdir()] == ["p.ndjson"]  # no temp file left


def test_an_empty_page_file_is_an_error_naming_it(tmp_path):
    (tmp_path / "e.ndjson").write_text("\n")
    with pytest.raises(FileError, match=r"e.ndjson: empty page file"):
        pages.read_records(tmp_path / "e.ndjson")
