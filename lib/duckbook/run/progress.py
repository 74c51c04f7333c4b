"""What the terminal shows while a run executes: each stage as it starts and ends, what its models
did, checks passed / warned / failed, rows quarantined, rows written, and a progress bar on long
work (many deliveries). The stage reports through :mod:`duckbook.events`; a thread tails the
run's events file while the stage runs. On a terminal the bar is drawn with rich; otherwise (cron,
CI, a pipe) progress is a line every few seconds."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from duckbook import events

Echo = Callable[..., None]
#: Seconds between two progress lines when there is no terminal.
_PLAIN_EVERY = 5.0


class Progress:
    """Prints a run's progress through ``echo``; ``live`` draws a rich bar for long work."""

    def __init__(self, echo: Echo, events_file: Path, *, live: bool = False) -> None:
        self.echo, self.events_file, self.live = echo, events_file, live
        self.offset = 0
        self.rows: dict[str, int] = {}  # stage -> rows published
        self.checks: dict[str, dict[str, int]] = {}  # stage -> {pass, warn, fail}
        self.models: dict[str, dict[str, int]] = {}  # stage -> {action: models}
        self._bar: Any = None
        self._task: Any = None
        self._last_plain = 0.0

    def skipped(self, stage: str, why: str) -> None:
        self.echo(f"  {stage:<24} skipped  ({why})")

    def stale(self, stage: str, why: str) -> None:
        self.echo(f"  {stage:<24} stale    ({why})")

    @contextlib.contextmanager
    def stage(self, stage: str) -> Iterator[None]:
        """Show ``stage``'s events while the block (its execution) runs."""
        self.echo(f"  {stage:<24} running")
        done = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(stage, done), daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join()
            self._drain(stage)
            self._stop_bar()

    def ended(self, stage: str, status: str, seconds: float) -> None:
        checks = self.checks.get(stage)
        parts = [f"  {stage:<24} {status:<8} {seconds:6.2f}s"]
        if stage in self.rows:
            parts.append(f"{self.rows[stage]:,} rows")
        if checks:
            parts.append(
                f"checks {checks.get('pass', 0)} passed, {checks.get('warn', 0)} warned, {checks.get('fail', 0)} failed"
            )
        if actions := self.models.get(stage):
            parts.append("models " + ", ".join(f"{n} {action}" for action, n in sorted(actions.items())))
        self.echo("  ".join(parts))

    def _watch(self, stage: str, done: threading.Event) -> None:
        while not done.wait(0.2):
            self._drain(stage)

    def _drain(self, stage: str) -> None:
        found, self.offset = events.read(self.events_file, self.offset)
        for event in found:
            self._show(stage, event)

    def _show(self, stage: str, e: dict[str, Any]) -> None:
        kind = e.get("event")
        if kind == "model":
            actions = self.models.setdefault(stage, {})
            actions[str(e["action"])] = actions.get(str(e["action"]), 0) + 1
            if e.get("action") not in ("unchanged", "not selected"):
                self.echo(f"      {e['model']}: {e['action']} ({e.get('detail', '')})")
        elif kind == "checks":
            totals = self.checks.setdefault(stage, {})
            for status in ("pass", "warn", "fail"):
                totals[status] = totals.get(status, 0) + int(e.get(status, 0))
        elif kind == "published":
            self.rows[stage] = self.rows.get(stage, 0) + int(e.get("rows", 0))
        elif kind == "quarantined":
            self.echo(f"      quarantined {int(e['rows']):,} row(s) of {e['file']} (raw.{e.get('table', '?')})")
        elif kind == "progress":
            self._progress(str(e.get("what", "")), int(e["done"]), int(e["total"]))

    def _progress(self, what: str, done: int, total: int) -> None:
        if total < 2:
            return
        if self.live:
            if self._bar is None:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

                self._bar = Progress(
                    TextColumn(f"      {what}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeRemainingColumn(),
                    transient=True,
                )
                self._task = self._bar.add_task(what, total=total)
                self._bar.start()
            self._bar.update(self._task, completed=done)
        elif done == total or time.monotonic() - self._last_plain >= _PLAIN_EVERY:
            self._last_plain = time.monotonic()
            self.echo(f"      {what}: {done}/{total}")

    def _stop_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
