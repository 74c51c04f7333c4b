"""``duckbook run``, ``backfill``, ``stages``, ``drops``, ``pull`` and ``stream``: running the pipeline and making its input."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from duckbook.cli.common import ReportsDirOption, WarehouseOption, app, error_handler, setting_help


@app.command()
@error_handler
def run(
    stage: Annotated[
        list[str] | None,
        typer.Option(
            "--stage",
            "-s",
            metavar="STAGE",
            help="Run only this stage (repeatable): staging, 20_staging, overview; marts+ adds every stage downstream, "
            "+marts every stage upstream. [default: every stage]",
        ),
    ] = None,
    select: Annotated[
        list[str] | None,
        typer.Option(
            metavar="MODEL",
            help="Build only this model (repeatable): orders, marts.orders; orders+ adds its downstream models "
            "and the reports, +orders its upstream models and sources. [default: every model]",
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME", help="Leave out this stage or model (repeatable; the same forms). [default: none]"
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            metavar="NAME=VALUE",
            help="NAME=VALUE passed to every stage that declares NAME (repeatable; `duckbook stages` lists them; "
            "dates YYYY-MM-DD, today or yesterday). [default: none; run_date: today]",
        ),
    ] = None,
    warehouse: WarehouseOption = None,
    reports_dir: ReportsDirOption = None,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Rebuild every raw table from the raw zone and every model in full (-p full_refresh=true).",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Run the selected stages even when nothing they depend on changed.")
    ] = False,
    when_new_data: Annotated[
        bool,
        typer.Option(
            "--when-new-data",
            help="Exit at once (code 0, one line) when no delivery is waiting: a sensor for cron (a project with API or CDC sources always runs: only polling tells; `duckbook stream` polls them).",
        ),
    ] = False,
) -> None:
    """Execute the stage notebooks in order, as one atomic run: it publishes one snapshot of the
    warehouse, or nothing. A run ingests every delivery not ingested yet (dated folders up to
    -p run_date=YYYY-MM-DD) and updates only what the new data reaches; a stage whose code,
    parameters and inputs did not change since it last ran is skipped (--force runs it anyway)."""
    from duckbook import params
    from duckbook.run import runner
    from duckbook.run.fingerprint import polls_sources

    assignments = params.split_assignments(param or [])
    if full_refresh:
        assignments["full_refresh"] = "true"
    the_plan = runner.plan(
        stages=stage or [],
        parameters=assignments,
        warehouse=warehouse,
        reports_dir=reports_dir,
        select=select or [],
        exclude=exclude or [],
        force=force,
    )
    if when_new_data and polls_sources(the_plan.cfg.project_files):
        typer.echo("the project has API or CDC sources (only polling tells whether they have new data): running")
    elif when_new_data:
        waiting = runner.waiting_deliveries(the_plan)
        if not waiting:
            typer.echo(f"no new delivery in {the_plan.source_dir} up to {the_plan.run_date}: nothing to run")
            return
        typer.echo(f"{len(waiting)} new delivered file(s), e.g. {waiting[0]}: running")
    result = runner.run(the_plan, echo=typer.echo, live=sys.stdout.isatty())
    for note in result.notes:
        typer.echo(note, err=note.startswith(("warning", "note")))
    if result.status != "success":
        if "No space left on device" in result.error:  # one line: what a person must do is free space
            typer.echo(
                f"error: run {result.run_id} failed: no space left on device under {result.warehouse}; "
                "nothing was published (free space and run again)",
                err=True,
            )
            raise typer.Exit(1)
        typer.echo(f"error: run {result.run_id} failed; nothing was published.\n{result.error}", err=True)
        raise typer.Exit(1)
    if not result.executed:
        typer.echo(f"run {result.run_id}: nothing changed, every stage skipped (--force reruns) -> {result.warehouse}")
    else:
        typer.echo(f"run {result.run_id} succeeded in {result.seconds:.1f}s -> {result.warehouse}")
    if result.summary is not None:
        for line in result.summary.lines():
            typer.echo(f"  {line}")
    for page in result.reports:
        typer.echo(f"  report: {page}")


@app.command()
@error_handler
def backfill(
    start: Annotated[
        str, typer.Option(metavar="DATE", help="First date (YYYY-MM-DD, today or yesterday), inclusive. [required]")
    ],
    end: Annotated[
        str, typer.Option(metavar="DATE", help="Last date (YYYY-MM-DD, today or yesterday), inclusive. [required]")
    ],
    stage: Annotated[
        list[str] | None,
        typer.Option(
            "--stage",
            "-s",
            metavar="STAGE",
            help="Run only this stage (repeatable): 20_staging or staging. [default: every stage]",
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            metavar="NAME=VALUE",
            help="NAME=VALUE passed to every stage that declares NAME (not run_date). [default: none]",
        ),
    ] = None,
    warehouse: WarehouseOption = None,
    reports_dir: ReportsDirOption = None,
    restart: Annotated[bool, typer.Option("--restart", help="Rerun dates already done too.")] = False,
) -> None:
    """Run the pipeline once per date from --start to --end (run_date=DATE), in date order.
    Dates already done are skipped, so after a failure the same command continues where it stopped."""
    from duckbook import params
    from duckbook.run.backfill import backfill as run_backfill

    result = run_backfill(
        params.parse_date("--start", start),
        params.parse_date("--end", end),
        stages=stage or [],
        parameters=params.split_assignments(param or []),
        warehouse=warehouse,
        reports_dir=reports_dir,
        restart=restart,
        echo=typer.echo,
    )
    if result.failed is not None:
        typer.echo(f"error: {result.summary()}", err=True)
        raise typer.Exit(1)
    typer.echo(result.summary())


@app.command()
@error_handler
def stages() -> None:
    """List the stage notebooks and the parameters each declares."""
    from duckbook import config
    from duckbook.run import runner

    found = runner.discover(config.load())
    for name, declared in runner.declared_parameters(found).items():
        typer.echo(f"{name}: " + ", ".join(f"{k}: {v}" for k, v in declared.items()))


@app.command()
@error_handler
def drops(
    source_dir: Annotated[Path, typer.Argument(help="A jafgen directory (raw_orders.csv, raw_items.csv, ...).")],
    out_dir: Annotated[Path, typer.Argument(help="Where the daily folders YYYY-MM-DD/ and deliveries.json go.")],
    seed: Annotated[int, typer.Option(metavar="N", help="Chooses the late rows and the changed members.")] = 0,
    start: Annotated[
        str | None,
        typer.Option(metavar="DATE", help="First day (YYYY-MM-DD, today or yesterday). [default: the first event day]"),
    ] = None,
    days: Annotated[
        int | None, typer.Option(metavar="N", help="Number of days. [default: to the last event day]")
    ] = None,
    late_fraction: Annotated[
        float, typer.Option(metavar="FRACTION", help="Share of the orders delivered 1-3 days late.")
    ] = 0.02,
    skip_day: Annotated[
        list[str] | None,
        typer.Option("--skip-day", metavar="DATE", help="A day without delivery (repeatable). [default: none]"),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace OUT_DIR if it is not empty.")] = False,
) -> None:
    """Split a jafgen dataset into daily delivery folders with late rows, a repeated delivery and
    changed entity snapshots; deliveries.json lists every defect."""
    from duckbook import params
    from duckbook.ingest.drops import split

    summary = split(
        source_dir,
        out_dir,
        seed=seed,
        start=params.parse_date("--start", start) if start else None,
        days=days,
        late_fraction=late_fraction,
        skip_days=[params.parse_date("--skip-day", day) for day in skip_day or []],
        force=force,
    )
    for line in summary.lines():
        typer.echo(line)


@app.command()
@error_handler
def pull(
    source: Annotated[
        list[str] | None, typer.Argument(metavar="SOURCE", help="An API source. [default: every API source]")
    ] = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Poll API sources now: land their new pages under <warehouse>/api/<source>/ for the next run
    to ingest (`duckbook run` polls them too). Credentials come from the environment only."""
    from duckbook import config, errors
    from duckbook.ingest import api
    from duckbook.project import load

    cfg = config.load(warehouse=warehouse)
    sources = {name: c for name, c in load(cfg).sources.items() if c.api is not None}
    for name in source or []:
        if name not in sources:
            raise errors.UserError(errors.unknown_name("SOURCE", "API source", name, sorted(sources)))
    for name in source or sorted(sources):
        folder = api.landing_folder(cfg.warehouse, name)
        polled = api.poll(sources[name], folder)
        stopped = f"; stopped: {polled.stopped}" if polled.stopped else ""
        typer.echo(f"{name}: {polled.records:,} record(s) in {len(polled.files)} page(s) landed in {folder}{stopped}")


@app.command()
@error_handler
def stream(
    source: Annotated[
        list[str] | None,
        typer.Argument(metavar="SOURCE", help="Ingest only this source (repeatable). [default: every source]"),
    ] = None,
    trigger: Annotated[
        str, typer.Option(metavar="DURATION", help="Time from one micro-batch's start to the next: 5s, 500ms, 2m.")
    ] = "5s",
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Stop (code 0) after the first trigger that finds nothing new.")
    ] = False,
    source_dir: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help=setting_help(
                "Where delivery folders YYYY-MM-DD/ appear (relative to the project root).", "source_dir", "data/sample"
            ),
        ),
    ] = None,
    log: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Append each micro-batch as one JSON object per line.")
    ] = None,
    warehouse: WarehouseOption = None,
    reports_dir: ReportsDirOption = None,
) -> None:
    """Keep the warehouse current in micro-batches: each trigger polls the API and CDC sources and
    takes new delivery folders; when anything landed, the data stages (ingest, staging, marts,
    metrics) run in this process with the same code as a batch run, incrementally, and publish one
    snapshot (a run `duckbook runs` lists); else nothing is published. Report pages are not
    rebuilt (`duckbook run` does); the runs page is, at most every minute. Waits while a `duckbook run` holds the warehouse. Ctrl-C or
    SIGTERM ends the stream after the current micro-batch (twice: rolls it back); a failed
    micro-batch is rolled back, recorded, and ends the stream with code 1. Deliver a folder by
    renaming it into place, so a half-copied file is never read."""
    from duckbook import config
    from duckbook.run import stream as streaming
    from duckbook.run.stream_batch import WarehouseBatcher

    seconds = streaming.parse_trigger(trigger)
    cfg = config.load(warehouse=warehouse, reports_dir=reports_dir)
    with WarehouseBatcher(cfg, sources=source or None, source_dir=source_dir) as batch:
        typer.echo(f"streaming into {cfg.warehouse} every {trigger} from {batch.origins()} (Ctrl-C stops)")
        streaming.stream(batch, trigger=seconds, until_idle=until_idle, echo=typer.echo, log_file=log)
