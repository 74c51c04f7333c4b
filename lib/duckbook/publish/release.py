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
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
from collections.abc import Collection, Sequence
from pathlib import Path

from duckbook.errors import DuckbookError
from duckbook.publish import site

JOURNAL = ".release.json"


class ReleaseError(DuckbookError):
    """The pages could not be written (disk full, permissions); nothing published changed."""


def release(
    reports_dir: Path,
    run_dir: Path,
    pages: Sequence[site.Page],
    *,
    run_id: str,
    status: str,
    stale: Collection[str] = (),
) -> list[Path]:
    """Publish ``pages`` (rendered in ``run_dir``) and the index as one release; return the
    published page paths. The index lists ``pages`` and every page published before that this run
    did not rebuild, those named in ``stale`` (file names) marked ``stale``.

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
            moves.append(_temp_copy(run_dir / page.file, reports_dir / page.file, run_id))
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


def _temp_copy(source: Path, target: Path, run_id: str) -> tuple[Path, Path]:
    tmp = target.with_name(f".{target.name}.{run_id}.tmp")
    shutil.copyfile(source, tmp)
    _fsync(tmp)
    return tmp, target


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
