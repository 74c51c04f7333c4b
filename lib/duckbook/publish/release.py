"""Publishing a run's pages as a whole: the pages of one run appear together or not at all.

The runner renders a run's pages into its run directory. :func:`release` then

1. copies every new page and the new index (``index.html``, ``index.json``) next to its target
   as a temp file: the only step that needs disk space, so a full disk fails here, before any
   published file changed (the temp files are removed and :class:`ReleaseError` names the cause);
2. writes a journal (``reports/.release.json``) listing the renames, atomically;
3. renames every temp file over its target and removes the journal.

A crash during step 3 leaves the journal: :func:`recover` (called by the next release, and by
the runner before a run) finishes the renames, so the folder never keeps a mix of two runs. A
partial run keeps the pages it did not rebuild in the index; a report whose inputs changed since
it was rendered is listed as ``stale``.

A report runs before its run commits, so its header cannot know the snapshot id yet: it leaves
an empty ``data-duckbook-snapshot`` element (:func:`duckbook.publish.page.header`) that step 1
fills with the committed snapshot, so every published page names the snapshot it shows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
from collections.abc import Collection, Sequence
from pathlib import Path

from duckbook.errors import DuckbookError
from duckbook.publish import site

JOURNAL = ".release.json"
#: The header's placeholder for the snapshot a run commits: ``<span ... data-duckbook-snapshot="">text</span>``.
SNAPSHOT_MARK = re.compile(r'data-duckbook-snapshot=""([^>]*)>[^<]*<')


class ReleaseError(DuckbookError):
    """The pages could not be written (disk full, permissions); nothing published changed."""


def release(
    reports_dir: Path,
    run_dir: Path,
    pages: Sequence[site.Page],
    *,
    run_id: str,
    status: str,
    snapshot: int | None = None,
    stale: Collection[str] = (),
) -> list[Path]:
    """Publish ``pages`` (rendered in ``run_dir``) and the index as one release; return the
    published page paths. The index lists ``pages`` and every page published before that this run
    did not rebuild, those named in ``stale`` (file names) marked ``stale``. ``snapshot`` (the one
    the run committed) fills each page's snapshot placeholder (:func:`fill_snapshot`).

    Raises :class:`ReleaseError` (nothing published changed) when a file cannot be written.
    """
    reports_dir.mkdir(parents=True, exist_ok=True)
    recover(reports_dir)
    listed = {p.file: p for p in site.published_pages(reports_dir)}
    listed.update({p.file: p for p in pages})
    fresh = {p.file for p in pages}
    for name in stale:
        if name in listed and name not in fresh:
            listed[name] = dataclasses.replace(listed[name], status="stale")
    html, index_json = site.index_texts(list(listed.values()), run_id=run_id, status=status)
    moves: list[tuple[Path, Path]] = []
    try:
        for page in pages:
            text = (run_dir / page.file).read_text(encoding="utf-8")
            moves.append(_temp_text(fill_snapshot(text, snapshot), reports_dir / page.file, run_id))
        moves.append(_temp_text(html, reports_dir / "index.html", run_id))
        moves.append(_temp_text(index_json, reports_dir / "index.json", run_id))
        _write_journal(reports_dir, moves)
    except OSError as exc:
        for tmp, _ in moves:
            tmp.unlink(missing_ok=True)
        (reports_dir / f"{JOURNAL}.tmp").unlink(missing_ok=True)
        raise ReleaseError(f"could not publish the pages of run {run_id} in {reports_dir}: {exc}") from None
    _finish(reports_dir, moves)
    return [reports_dir / p.file for p in pages]


def recover(reports_dir: Path) -> None:
    """Finish a release a crash interrupted (see module docstring); do nothing without a journal."""
    journal = reports_dir / JOURNAL
    try:
        moves = [(Path(a), Path(b)) for a, b in json.loads(journal.read_text(encoding="utf-8"))]
    except FileNotFoundError:
        return
    except ValueError:  # cannot happen (written atomically); a journal nobody can read is dropped
        journal.unlink(missing_ok=True)
        return
    _finish(reports_dir, [(tmp, target) for tmp, target in moves if tmp.exists()])


def _finish(reports_dir: Path, moves: Sequence[tuple[Path, Path]]) -> None:
    for tmp, target in moves:
        os.replace(tmp, target)
    (reports_dir / JOURNAL).unlink(missing_ok=True)


def fill_snapshot(page: str, snapshot: int | None) -> str:
    """``page`` with its snapshot placeholder naming ``snapshot`` (unchanged when None).

    Examples
    --------
    >>> fill_snapshot('<span class="snapshot" data-duckbook-snapshot="">the snapshot run r1 commits</span>', 7)
    '<span class="snapshot" data-duckbook-snapshot="7">snapshot 7</span>'
    """
    if snapshot is None:
        return page
    return SNAPSHOT_MARK.sub(lambda m: f'data-duckbook-snapshot="{snapshot}"{m.group(1)}>snapshot {snapshot}<', page)


def _temp_text(text: str, target: Path, run_id: str) -> tuple[Path, Path]:
    tmp = target.with_name(f".{target.name}.{run_id}.tmp")
    tmp.write_text(text, encoding="utf-8")
    _fsync(tmp)
    return tmp, target


def _write_journal(reports_dir: Path, moves: Sequence[tuple[Path, Path]]) -> None:
    tmp = reports_dir / f"{JOURNAL}.tmp"
    tmp.write_text(json.dumps([[str(a), str(b)] for a, b in moves]), encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, reports_dir / JOURNAL)


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError), open(path, "rb") as f:
        os.fsync(f.fileno())
