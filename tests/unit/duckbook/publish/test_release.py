"""A run's pages are published as a whole: together, or (disk full) not at all; a crash during
the renames is finished by the next release."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from duckbook.publish import release, site


def rendered(run_dir: Path, run_id: str, *names: str) -> list[site.Page]:
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        (run_dir / f"{name}.html").write_text(f"<p>{name} of {run_id}</p>")
    return [site.Page(file=f"{n}.html", title=n, run_id=run_id) for n in names]


def published(reports: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(reports.glob("*.html")) if p.name != "index.html"}


def test_pages_and_index_are_published_together(tmp_path):
    reports = tmp_path / "reports"
    pages = rendered(tmp_path / "r1", "r1", "a", "b")
    out = release.release(reports, tmp_path / "r1", pages, run_id="r1", status="success")
    assert out == [reports / "a.html", reports / "b.html"]
    assert published(reports) == {"a.html": "<p>a of r1</p>", "b.html": "<p>b of r1</p>"}
    assert [p["file"] for p in json.loads((reports / "index.json").read_text())] == ["a.html", "b.html"]
    assert "r1" in (reports / "index.html").read_text()
    assert not list(reports.glob(".*")), "no temp file or journal is left"


def test_a_partial_run_keeps_the_pages_it_did_not_rebuild_and_marks_stale_ones(tmp_path):
    reports = tmp_path / "reports"
    release.release(
        reports, tmp_path / "r1", rendered(tmp_path / "r1", "r1", "a", "b", "c"), run_id="r1", status="success"
    )
    release.release(reports, tmp_path / "r2", rendered(tmp_path / "r2", "r2", "a"), run_id="r2", status="success",
                    stale=["b.html", "a.html"])  # fmt: skip
    index = {p["file"]: p for p in json.loads((reports / "index.json").read_text())}
    assert {f: (p["run_id"], p["status"]) for f, p in index.items()} == {
        "a.html": ("r2", "success"),  # rebuilt by this run: not stale, whatever the caller said
        "b.html": ("r1", "stale"),
        "c.html": ("r1", "success"),
    }
    assert published(reports)["b.html"] == "<p>b of r1</p>"
    assert "stale" in (reports / "index.html").read_text()


def test_a_full_disk_changes_no_published_page(tmp_path, monkeypatch):
    reports = tmp_path / "reports"
    release.release(reports, tmp_path / "r1", rendered(tmp_path / "r1", "r1", "a", "b"), run_id="r1", status="success")
    before = {p.name: p.read_bytes() for p in reports.iterdir()}
    copies = []
    real_temp_text = release._temp_text

    def copy_until_full(text, target, run_id):
        if copies:
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        copies.append(target)
        return real_temp_text(text, target, run_id)

    monkeypatch.setattr(release, "_temp_text", copy_until_full)
    with pytest.raises(release.ReleaseError, match="No space left on device"):
        release.release(reports, tmp_path / "r2", rendered(tmp_path / "r2", "r2", "a", "b"), run_id="r2",
                        status="success")  # fmt: skip
    assert {p.name: p.read_bytes() for p in reports.iterdir()} == before, "the old pages, the old index, no temp file"


def test_a_release_interrupted_during_the_renames_is_finished_by_the_next(tmp_path, monkeypatch):
    reports = tmp_path / "reports"
    release.release(reports, tmp_path / "r1", rendered(tmp_path / "r1", "r1", "a", "b"), run_id="r1", status="success")
    renamed = []
    real_replace = release.os.replace

    def crash_after_one(src, dst):
        if str(dst).endswith(".html"):
            if renamed:
                raise KeyboardInterrupt  # killed between two renames of pages
            renamed.append(dst)
        return real_replace(src, dst)

    monkeypatch.setattr(release.os, "replace", crash_after_one)
    with pytest.raises(KeyboardInterrupt):
        release.release(reports, tmp_path / "r2", rendered(tmp_path / "r2", "r2", "a", "b"), run_id="r2",
                        status="success")  # fmt: skip
    monkeypatch.setattr(release.os, "replace", real_replace)
    assert (reports / release.JOURNAL).exists()
    assert published(reports) == {"a.html": "<p>a of r2</p>", "b.html": "<p>b of r1</p>"}  # mixed until recovered
    release.recover(reports)
    assert published(reports) == {"a.html": "<p>a of r2</p>", "b.html": "<p>b of r2</p>"}
    assert {p["run_id"] for p in json.loads((reports / "index.json").read_text())} == {"r2"}
    assert not list(reports.glob(".*"))


def test_published_pages_name_the_snapshot_the_run_committed(tmp_path):
    reports, run_dir = tmp_path / "reports", tmp_path / "r1"
    run_dir.mkdir()
    header = '<p>Run r1 · <span class="snapshot" data-duckbook-snapshot="">the snapshot run r1 commits</span></p>'
    (run_dir / "a.html").write_text(header)
    release.release(reports, run_dir, [site.Page(file="a.html", title="a", run_id="r1")], run_id="r1",
                    status="success", snapshot=42)  # fmt: skip
    assert '<span class="snapshot" data-duckbook-snapshot="42">snapshot 42</span>' in (reports / "a.html").read_text()
    assert (run_dir / "a.html").read_text() == header, "the run directory keeps the page as rendered"


def test_a_page_without_the_placeholder_is_published_as_rendered(tmp_path):
    assert release.fill_snapshot("<p>no header</p>", 3) == "<p>no header</p>"
    assert release.fill_snapshot('<b data-duckbook-snapshot="">x</b>', None) == '<b data-duckbook-snapshot="">x</b>'
