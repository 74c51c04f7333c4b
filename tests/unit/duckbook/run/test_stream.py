"""The stream loop with fake micro-batches: triggers, idle, waiting for the lock, failure, signals, the log."""

from __future__ import annotations

import json
import os
import signal

import pytest

from duckbook.engine.lock import RunLocked
from duckbook.errors import UserError
from duckbook.run.stream import BatchResult, StreamError, parse_trigger, stream


def published(number: int, **fields: object) -> BatchResult:
    defaults: dict[str, object] = {
        "sources": {"raw_orders": (1, 10)},
        "models": ("marts.orders",),
        "latency_median_s": 1.5,
        "latency_max_s": 2.0,
        "snapshot": number,
    }
    return BatchResult(number, f"stream-x-{number}", "published", 0.25, **{**defaults, **fields})  # type: ignore[arg-type]


class Clock:
    """A fake monotonic clock that sleeping advances; batches take ``batch_seconds``."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Script:
    """A batcher that plays a script: a BatchResult, None (nothing new) or an exception per trigger."""

    def __init__(self, clock: Clock, steps: list[object], batch_seconds: float = 0.0) -> None:
        self.clock, self.steps, self.batch_seconds = clock, list(steps), batch_seconds
        self.calls: list[tuple[int, float]] = []

    def __call__(self, number: int) -> BatchResult | None:
        self.calls.append((number, self.clock.now))
        self.clock.now += self.batch_seconds
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step  # type: ignore[return-value]


def run(steps: list[object], **options: object) -> tuple[object, Script, list[tuple[str, bool]]]:
    clock = Clock()
    script = Script(clock, steps, float(options.pop("batch_seconds", 0.0)))  # type: ignore[arg-type]
    lines: list[tuple[str, bool]] = []
    result = stream(
        script,
        trigger=float(options.pop("trigger", 1.0)),  # type: ignore[arg-type]
        echo=lambda message, err=False: lines.append((message, err)),
        sleep=clock.sleep,
        clock=clock,
        **options,  # type: ignore[arg-type]
    )
    return result, script, lines


def test_until_idle_stops_at_the_first_trigger_with_nothing_new():
    result, script, lines = run([published(1), published(2), None, published(3)], until_idle=True)
    assert [b.number for b in result.batches] == [1, 2]
    assert result.triggers == 3 and result.stopped == "idle"
    assert [n for n, _ in script.calls] == [1, 2, 3]  # the batch number is the next one to publish
    assert lines[0][0].startswith("batch 1 stream-x-1: raw_orders 1 file(s) 10 row(s); 1 model(s) rebuilt; 0.25s")
    assert lines[-1][0] == (
        "stream stopped (idle): 2 batch(es) published from 3 trigger(s), 20 row(s) ingested, 0.25s per batch"
    )


def test_without_until_idle_an_idle_trigger_sleeps_to_the_next_one():
    result, script, _ = run([None, None, published(1)], max_batches=1, trigger=2.0, batch_seconds=0.5)
    assert result.stopped == "max-batches" and len(result.published) == 1
    # each trigger starts `trigger` seconds after the previous one started, however long it took
    assert [t for _, t in script.calls] == [0.0, 2.0, 4.0]


def test_a_batch_longer_than_the_trigger_is_followed_at_once():
    _, script, _ = run([published(1), published(2)], max_batches=2, trigger=1.0, batch_seconds=3.0)
    assert [t for _, t in script.calls] == [0.0, 3.0]


def test_a_run_holding_the_lock_makes_the_trigger_wait_and_say_so_once():
    locked = RunLocked("another run holds /w/.lock (run 2024, pid 7); try again when it ends")
    result, script, lines = run([locked, locked, published(1), None], until_idle=True)
    assert [m for m, _ in lines if m.startswith("waiting")] == [f"waiting: {locked}"]
    assert result.stopped == "idle" and len(result.published) == 1
    assert len(script.calls) == 4  # waiting for the lock is not idleness


def test_a_failed_batch_stops_the_stream_with_the_error(tmp_path):
    failed = BatchResult(2, "stream-x-2", "failed", 0.1, error="CheckFailed: marts.orders: unique order_id")
    log = tmp_path / "stream.jsonl"
    with pytest.raises(StreamError, match="rolled back and recorded in the run log: CheckFailed: marts.orders"):
        run([published(1), failed, published(3)], log_file=log)
    rows = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [(r["number"], r["status"]) for r in rows] == [(1, "published"), (2, "failed")]
    assert rows[0]["sources"] == {"raw_orders": [1, 10]} and rows[0]["latency_max_s"] == 2.0


def test_the_failed_line_goes_to_stderr_and_the_summary_is_printed():
    failed = BatchResult(1, "stream-x-1", "failed", 0.1, error="boom")
    lines: list[tuple[str, bool]] = []
    with pytest.raises(StreamError):
        stream(Script(Clock(), [failed]), trigger=1, echo=lambda m, err=False: lines.append((m, err)))
    assert lines[0] == ("batch 1 stream-x-1 failed after 0.10s: boom", True)
    assert lines[1][0].startswith("stream stopped (failed): 0 batch(es) published")


def test_sigterm_lets_the_current_batch_finish_then_stops():
    clock = Clock()

    def batch(number: int) -> BatchResult:
        os.kill(os.getpid(), signal.SIGTERM)  # arrives mid-batch
        return published(number)

    lines: list[str] = []
    result = stream(batch, trigger=60, echo=lambda m, err=False: lines.append(m), sleep=clock.sleep, clock=clock)
    assert result.stopped == "signal" and [b.number for b in result.published] == [1]
    assert clock.slept == []  # no sleep to the next trigger once asked to stop
    assert lines[-1].startswith("stream stopped (signal): 1 batch(es) published")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handlers are restored


def test_a_second_signal_interrupts_the_batch():
    calls = []

    def batch(number: int) -> BatchResult:
        calls.append(number)
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # the second raises KeyboardInterrupt: the batch rolls back
        raise AssertionError("not reached")

    result = stream(batch, trigger=1, echo=lambda m, err=False: None)
    assert result.stopped == "signal" and result.batches == [] and calls == [1]


def test_a_signal_while_sleeping_wakes_the_stream():
    clock = Clock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        os.kill(os.getpid(), signal.SIGTERM)

    result = stream(Script(clock, [None, None]), trigger=10, echo=lambda m, err=False: None, sleep=sleep, clock=clock)
    assert result.stopped == "signal" and result.triggers == 1 and clock.now == pytest.approx(0.05)


def test_batch_line_shows_cdc_lag_and_unknown_latency():
    assert "latency n/a" in published(1, latency_median_s=None, latency_max_s=None).line()
    line = published(1, cdc_lag_s=0.75).line()
    assert "latency 1.50s median, 2.00s max, CDC lag 0.75s -> snapshot 1" in line
    line = published(1, cdc_lag_s=0.75, cdc_lag_bytes=123456).line()
    assert "CDC lag 0.75s, slot lag 123,456 B -> snapshot 1" in line


@pytest.mark.parametrize("text", ["", "fast", "0s", "-1s", "5h"])
def test_parse_trigger_refuses_what_is_not_a_positive_duration(text):
    with pytest.raises(UserError, match=r"--trigger: .* is not a positive duration \(e.g. 5s, 500ms, 2m, 1.5\)"):
        parse_trigger(text)
