"""``duckbook stream``: micro-batches that keep the marts current.

Each trigger (``--trigger``, default 5 s) runs the ingest stage in this process (no kernel, no
notebook: the build code the stage notebooks call), under the run lock: it polls the API and CDC
sources and takes every delivery folder not ingested yet. When nothing landed, the transaction is
rolled back and the stream sleeps to the next trigger (nothing published, no run-log row). Else
the data stages after ingest (``20_staging``, ``30_marts``, ``40_metrics``: each builds the model
group its name says, as their notebooks do) bring their models up to date incrementally, each
build audited and published, and the micro-batch commits as one DuckLake snapshot with its run
log (run id ``stream-<UTC time>-<n>``), so ``duckbook runs`` lists it. Report pages are not
rebuilt: ``duckbook run`` does.

Readers see the last snapshot until the commit, never part of a batch. A failed batch is rolled
back, recorded as a failed run, and stops the stream. A killed stream loses nothing: its
transaction was never committed, the manifest still lacks what it landed, and the next start
ingests it again. The lock is taken per batch, so ``duckbook run`` may run between triggers; while
it holds the lock the trigger waits. SIGINT / SIGTERM let the current batch finish (a second one
rolls it back) and end the stream with a summary.

This module is the loop (:func:`stream`, over any :class:`Batcher`: tests drive it with fakes);
:mod:`duckbook.run.stream_batch` runs a micro-batch on the warehouse.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from duckbook import errors
from duckbook.engine.lock import RunLocked

Echo = Callable[..., None]


@dataclasses.dataclass(frozen=True)
class BatchResult:
    """One micro-batch: what it ingested and published, and how long the data waited."""

    number: int
    run_id: str
    status: str  # published | failed
    seconds: float
    #: source -> (files or pages or CDC batches ingested, rows landed)
    sources: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)
    models: tuple[str, ...] = ()  # models the batch rebuilt (fully or incrementally)
    stages: dict[str, float] = dataclasses.field(default_factory=dict)  # stage -> seconds
    rows_written: int = 0
    snapshot: int | None = None
    #: publication time minus each CDC commit time (or delivered file's mtime) in the batch
    latency_median_s: float | None = None
    latency_max_s: float | None = None
    #: publication time minus the newest CDC commit in the batch (None: no CDC change in it)
    cdc_lag_s: float | None = None
    #: the CDC slots' lag in bytes after the batch's poll, summed (None: no CDC source)
    cdc_lag_bytes: int | None = None
    error: str = ""

    def line(self) -> str:
        """The batch as one line of the stream's output."""
        if self.status != "published":
            return f"batch {self.number} {self.run_id} failed after {self.seconds:.2f}s: {self.error}"
        ingested = ", ".join(f"{s} {n} file(s) {rows:,} row(s)" for s, (n, rows) in sorted(self.sources.items()))
        latency = (
            f"latency {self.latency_median_s:.2f}s median, {self.latency_max_s:.2f}s max"
            if self.latency_median_s is not None and self.latency_max_s is not None
            else "latency n/a"
        )
        lag = f", CDC lag {self.cdc_lag_s:.2f}s" if self.cdc_lag_s is not None else ""
        lag += f", slot lag {self.cdc_lag_bytes:,} B" if self.cdc_lag_bytes is not None else ""
        return (
            f"batch {self.number} {self.run_id}: {ingested}; {len(self.models)} model(s) rebuilt; "
            f"{self.seconds:.2f}s; {latency}{lag} -> snapshot {self.snapshot}"
        )


@dataclasses.dataclass
class StreamResult:
    """What a stream did until it stopped."""

    batches: list[BatchResult] = dataclasses.field(default_factory=list)
    triggers: int = 0
    stopped: str = ""  # idle | signal | failed | max-batches
    error: str = ""

    @property
    def published(self) -> list[BatchResult]:
        return [b for b in self.batches if b.status == "published"]

    def summary(self) -> str:
        """One line: batches published, rows, why the stream stopped."""
        rows = sum(rows for b in self.published for _, rows in b.sources.values())
        seconds = [b.seconds for b in self.published]
        mean = f", {statistics.mean(seconds):.2f}s per batch" if seconds else ""
        return (
            f"stream stopped ({self.stopped}): {len(self.published)} batch(es) published from {self.triggers} "
            f"trigger(s), {rows:,} row(s) ingested{mean}"
        )


class Batcher(Protocol):
    """Runs one micro-batch: its result, or None when the trigger found nothing new (rolled back).
    Raises :class:`duckbook.engine.lock.RunLocked` when a run holds the warehouse."""

    def __call__(self, number: int) -> BatchResult | None: ...


class StreamError(errors.DuckbookError):
    """A micro-batch failed: it was rolled back and recorded; the stream stopped."""


def parse_trigger(text: str) -> float:
    """Seconds between triggers from ``5s``, ``500ms``, ``2m`` or a plain number of seconds.

    >>> parse_trigger("5s"), parse_trigger("500ms"), parse_trigger("2m"), parse_trigger("1.5")
    (5.0, 0.5, 120.0, 1.5)
    """
    value = text.strip().lower()
    for suffix, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if value.endswith(suffix):
            value, factor = value.removesuffix(suffix), scale
            break
    else:
        factor = 1.0
    try:
        seconds = float(value) * factor
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise errors.UserError(f"--trigger: {text!r} is not a positive duration (e.g. 5s, 500ms, 2m, 1.5)")
    return seconds


def stream(
    batch: Batcher,
    *,
    trigger: float,
    until_idle: bool = False,
    echo: Echo | None = None,
    log_file: Path | None = None,
    max_batches: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> StreamResult:
    """Run ``batch`` every ``trigger`` seconds (from one trigger's start to the next) until a
    signal, a failed batch, the first idle trigger (``until_idle``) or ``max_batches`` published.

    Each published or failed batch is echoed as one line and appended to ``log_file`` as a JSON
    object. Raises :class:`StreamError` when a batch failed (after recording it in the result).
    """
    echo = echo or _print
    result = StreamResult()
    waiting = False
    with _Stop() as stop:
        while not stop.requested:
            started = clock()
            result.triggers += 1
            try:
                found = batch(len(result.batches) + 1)
            except RunLocked as exc:
                if not waiting:
                    echo(f"waiting: {exc}")
                waiting = True
                found = None
            except KeyboardInterrupt:  # a second signal: the batch was rolled back
                result.stopped = "signal"
                break
            else:
                waiting = False
                if found is None and until_idle:
                    result.stopped = "idle"
                    break
            if found is not None:
                result.batches.append(found)
                echo(found.line(), err=found.status != "published")
                if log_file is not None:
                    with open(log_file, "a", encoding="utf-8") as f:
                        f.write(json.dumps(dataclasses.asdict(found), default=str) + "\n")
                if found.status != "published":
                    result.stopped, result.error = "failed", found.error
                    break
                if max_batches is not None and len(result.published) >= max_batches:
                    result.stopped = "max-batches"
                    break
            stop.sleep_until(started + trigger, sleep, clock)
        result.stopped = result.stopped or "signal"
    echo(result.summary())
    if result.stopped == "failed":
        raise StreamError(f"micro-batch failed, rolled back and recorded in the run log: {result.error}")
    return result


class _Stop:
    """SIGINT / SIGTERM: the first asks the stream to stop after the current batch, the second
    interrupts the batch (it is rolled back)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Stop:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def sleep_until(self, deadline: float, sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
        """Sleep until ``deadline`` in short steps, waking early when a stop is requested."""
        while not self.requested and (left := deadline - clock()) > 0:
            sleep(min(left, 0.05))


def _print(message: str, err: bool = False) -> None:
    import sys

    print(message, file=sys.stderr if err else sys.stdout, flush=True)
