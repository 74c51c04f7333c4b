"""``duckbook backfill``: the pipeline once per date of a range, resumable.

Each date is one ordinary run (:func:`duckbook.run.runner.run` with ``run_date=D``), in date
order, each under the run lock and atomic on its own. A date is *done* when the warehouse's run
log (``ops.run_log``) has a successful run that carried ``run_date == D`` and ran every selected
stage; done dates are skipped, so after a failure (or Ctrl-C, which the runner records as a
failed run) the same command continues from the date that failed. ``restart=True`` reruns every
date. On a terminal a progress bar shows the dates; elsewhere one line per date is echoed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import sqlglot as sg

from duckbook import engine, ops, params
from duckbook.engine import ddl
from duckbook.errors import WarehouseNotFound
from duckbook.run import runner
from duckbook.run.runner import Echo, RunPlan, RunResult

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = ["BackfillResult", "backfill", "dates", "done_dates"]

#: The parameter a backfill sets, one value per run.
RUN_DATE = "run_date"


@dataclasses.dataclass(frozen=True)
class BackfillResult:
    """What a backfill did: dates run, dates skipped as already done, and where it stopped."""

    start: dt.date
    end: dt.date
    done: tuple[dt.date, ...]  # run now, successfully, in date order
    skipped: tuple[dt.date, ...]  # already done by an earlier run
    failed: dt.date | None = None  # where it stopped; the dates after it were not run
    run_id: str = ""  # the failed date's run ("" when it stopped before the run started)
    error: str = ""  # why, as the runner reports it
    seconds: float = 0.0

    def summary(self) -> str:
        """One line: what was run, or where it stopped and how to continue."""
        if self.failed is None:
            return (
                f"backfill {self.start}..{self.end}: {len(self.done)} date(s) run, "
                f"{len(self.skipped)} already done (skipped) in {self.seconds:.1f}s"
            )
        where = f"{self.failed} (run {self.run_id})" if self.run_id else str(self.failed)
        detail = "; ".join(line.strip().rstrip(":") for line in self.error.splitlines() if line.strip())
        return (
            f"backfill {self.start}..{self.end} stopped at {where}: {detail}; {len(self.done)} date(s) run before it; "
            f"run the same backfill again (without --restart) to continue from {self.failed}"
        )


def dates(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every date from ``start`` to ``end``, inclusive.

    >>> [str(d) for d in dates(dt.date(2024, 2, 28), dt.date(2024, 3, 1))]
    ['2024-02-28', '2024-02-29', '2024-03-01']

    Raises
    ------
    duckbook.params.ParameterError
        ``start`` is after ``end`` (both are named).
    """
    if start > end:
        raise params.ParameterError(f"backfill: --start {start} is after --end {end}; give the earlier date first")
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def done_dates(con: engine.Connection, stages: Sequence[str]) -> dict[dt.date, str]:
    """``{run_date: run id}`` of the dates already done: the newest successful run whose stages
    carried that ``run_date`` and included every one of ``stages``. A plain DuckDB connection will do."""
    if not engine.table_exists(con, ops.SCHEMA, "run_log"):
        return {}
    names = ("run_id", "stage", "status", "parameters")
    query = (
        sg.select(*(sg.column(c, quoted=True) for c in names))
        .from_(ddl.table(ops.SCHEMA, "run_log"))
        .order_by(sg.column("started_at", quoted=True))
    )
    succeeded: dict[str, bool] = {}  # in order of start: the newest run of a date wins
    ran: dict[str, set[str]] = {}
    run_date: dict[str, dt.date] = {}
    for run_id, stage, status, parameters in engine.execute(con, query).fetchall():
        succeeded[run_id] = succeeded.get(run_id, True) and status in ("success", "skipped", "stale")
        ran.setdefault(run_id, set()).add(stage)
        day = _run_date(parameters)
        if day is not None:
            run_date[run_id] = day
    wanted = set(stages)
    return {run_date[r]: r for r, ok in succeeded.items() if ok and r in run_date and wanted <= ran[r]}


def _run_date(parameters: str | None) -> dt.date | None:
    """The ``run_date`` a stage's parameters (JSON) carry; ``None`` for a stage that does not
    declare it (and for a failed run's own row, ``{}``)."""
    try:
        return dt.date.fromisoformat(json.loads(parameters or "{}").get(RUN_DATE, ""))
    except (ValueError, TypeError, AttributeError):
        return None


def backfill(
    start: dt.date,
    end: dt.date,
    *,
    stages: Sequence[str] = (),
    parameters: Mapping[str, str] | None = None,
    warehouse: str | os.PathLike[str] | None = None,
    reports_dir: str | os.PathLike[str] | None = None,
    restart: bool = False,
    echo: Echo | None = None,
    progress: bool = True,
    run_one: Callable[[RunPlan], RunResult] | None = None,
    done: Callable[[RunPlan], Mapping[dt.date, str]] | None = None,
) -> BackfillResult:
    """Run the pipeline (``stages``, or all) once per date from ``start`` to ``end`` inclusive,
    with ``run_date`` set to the date, in date order; stop at the first failed date.

    Everything is validated before the first run (the range, the stages, the parameters).
    Dates already done (see :func:`done_dates`) are skipped unless ``restart``. ``run_one``
    executes one plan (default :func:`duckbook.run.runner.run`) and ``done`` reads the done
    dates for a plan (default: the warehouse's run log); both are there for tests.

    Raises
    ------
    duckbook.params.ParameterError
        ``start`` after ``end``, ``run_date`` among ``parameters``, an unknown stage or a bad parameter.
    duckbook.engine.lock.RunLocked
        Another run holds the warehouse (raised by the run of the date it stopped at).
    """
    days = dates(start, end)
    given = dict(parameters or {})
    if RUN_DATE in given:
        raise params.ParameterError(
            f"{RUN_DATE}: set by backfill to each date from --start {start} to --end {end}; do not pass it with -p"
        )

    def plan_for(day: dt.date) -> RunPlan:
        return runner.plan(
            stages=stages, parameters={**given, RUN_DATE: day.isoformat()}, warehouse=warehouse, reports_dir=reports_dir
        )

    first = plan_for(start)  # validates stages and parameters before anything runs
    already = {} if restart else dict((done or _done_in_warehouse)(first))
    say = echo or _print
    t0 = time.perf_counter()
    ran: list[dt.date] = []
    skipped: list[dt.date] = []
    failed: tuple[dt.date, str, str] | None = None
    with _display(len(days), say, bar=progress and sys.stdout.isatty()) as show:
        run = run_one or (lambda p: runner.run(p, echo=show.runner_echo))
        for day in days:
            if day in already:
                skipped.append(day)
                show.finished(f"{day}  skipped  done by run {already[day]}")
                continue
            show.starting(day)
            try:
                the_plan = plan_for(day)
                result = run(the_plan)
            except KeyboardInterrupt:  # outside a run's own handling: no run of this date started or is left
                show.finished(f"{day}  failed   interrupted")
                failed = (day, "", "interrupted (Ctrl-C) before its run started")
                break
            if result.status != "success":
                show.finished(f"{day}  failed   run {result.run_id}")
                failed = (day, result.run_id, result.error)
                break
            ran.append(day)
            show.finished(f"{day}  success  {result.seconds:6.1f}s  run {result.run_id}")
    seconds = round(time.perf_counter() - t0, 3)
    day_failed, run_id, error = failed or (None, "", "")
    return BackfillResult(start, end, tuple(ran), tuple(skipped), day_failed, run_id, error, seconds)


def _done_in_warehouse(plan: RunPlan) -> dict[dt.date, str]:
    """:func:`done_dates` of the plan's warehouse (none when it does not exist yet)."""
    try:
        with engine.connect_plain(plan.cfg, read_only=True) as con:
            return done_dates(con, [s.name for s in plan.stages])
    except WarehouseNotFound:
        return {}


class _Display:
    """Where a backfill reports. With a rich progress bar: one bar over the dates (the current
    date, the last run's status, the runner's latest line) and each date's line printed above it.
    Without: each date's line through ``echo``. The runner's per-stage lines only feed the bar."""

    def __init__(self, echo: Echo, bar: Progress | None = None, total: int = 0) -> None:
        self._echo = echo
        self._bar = bar
        self._task = bar.add_task("backfill", total=total, last="", detail="") if bar is not None else None

    def starting(self, day: dt.date) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=f"backfill {day}", detail="")

    def finished(self, line: str) -> None:
        """The line of a date done, skipped or failed (``"<date>  <status>  ..."``)."""
        if self._bar is None or self._task is None:
            self._echo(line)
            return
        from rich.text import Text

        self._bar.console.print(Text(line))
        self._bar.update(self._task, advance=1, last="last: " + " ".join(line.split()[:2]), detail="")

    def runner_echo(self, message: str, err: bool = False) -> None:
        """The runner's ``echo``: its errors are shown, its progress lines only update the bar."""
        if self._bar is None or self._task is None:
            if err:
                self._echo(message, err=True)
        elif err:
            from rich.text import Text

            self._bar.console.print(Text(message, style="red"))
        else:
            self._bar.update(self._task, detail=" ".join(message.split()))


@contextlib.contextmanager
def _display(total: int, echo: Echo, *, bar: bool) -> Iterator[_Display]:
    """A progress bar when ``bar`` (a terminal), else plain lines; rich is imported only for the bar."""
    if not bar:
        yield _Display(echo)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}  {task.fields[detail]}"),
    )
    with Progress(*columns) as progress:
        yield _Display(echo, progress, total)


def _print(message: str, err: bool = False) -> None:
    print(message, file=sys.stderr if err else sys.stdout)
