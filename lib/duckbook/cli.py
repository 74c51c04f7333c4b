"""The ``duckbook`` command: a thin layer over :mod:`duckbook.runner`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="duckbook: notebook-centric analytics engineering on Ibis and DuckDB.", no_args_is_help=True,
                  add_completion=False)


@app.callback()
def main() -> None:
    """duckbook: notebook-centric analytics engineering on Ibis and DuckDB."""


@app.command()
def run(
    stage: Annotated[list[str], typer.Option("--stage", "-s", help="Run only this stage (repeatable): 20_staging or staging.")] = [],  # noqa: B006
    param: Annotated[list[str], typer.Option("--param", "-p", help="NAME=VALUE passed to every stage that declares NAME (repeatable).")] = [],  # noqa: B006
    warehouse: Annotated[Path | None, typer.Option(help="Warehouse file [env DUCKBOOK_WAREHOUSE; default data/warehouse.duckdb].")] = None,
    reports_dir: Annotated[Path | None, typer.Option(help="Where HTML reports and run artifacts go [default reports].")] = None,
    isolated: Annotated[bool, typer.Option(help="Start a fresh kernel per stage instead of one warm kernel.")] = False,
) -> None:
    """Execute the stage notebooks in order with papermill, as one atomic run."""
    from duckbook import params, runner

    try:
        values = params.split_assignments(param)
        result = runner.run(stages=stage, parameters=values, warehouse=str(warehouse or ""), reports_dir=str(reports_dir or ""),
                            isolated=isolated, echo=typer.echo)
    except params.ParameterError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except runner.RunLocked as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if result.status != "success":
        typer.echo(f"error: run {result.run_id} failed; the warehouse was not changed.\n{result.error}", err=True)
        raise typer.Exit(1)
    total = sum(float(e["duration_s"]) for e in result.log)
    typer.echo(f"run {result.run_id} succeeded in {total:.1f}s -> {result.warehouse}")
    for page in result.reports:
        typer.echo(f"  report: {page}")


@app.command()
def stages() -> None:
    """List the stage notebooks and the parameters each declares."""
    from duckbook import config, runner

    found = runner.discover(config.load())
    for name, declared in runner.declared_parameters(found).items():
        typer.echo(f"{name}: " + ", ".join(f"{k}: {v}" for k, v in declared.items()))


if __name__ == "__main__":
    app()
