"""What every ``duckbook`` command shares: the Typer apps, the error handler, common options."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from duckbook.errors import DuckbookError

app = typer.Typer(
    help="duckbook: notebook-centric analytics engineering on Ibis and DuckDB.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
metrics_app = typer.Typer(help="The semantic layer: list metrics, query them.", no_args_is_help=True)
app.add_typer(metrics_app, name="metrics")
runs_app = typer.Typer()
app.add_typer(runs_app, name="runs")

P = ParamSpec("P")
R = TypeVar("R")

WarehouseOption = Annotated[
    Path | None, typer.Option(help="Warehouse root directory [env DUCKBOOK_WAREHOUSE; default data/warehouse].")
]


def error_handler(command: Callable[P, R]) -> Callable[P, R]:
    """Turn duckbook's errors into one ``error: ...`` line and the error's exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _user_errors():
            return command(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except DuckbookError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None


@app.callback()
def main() -> None:
    """duckbook: notebook-centric analytics engineering on Ibis and DuckDB."""


ReportsDirOption = Annotated[
    Path | None, typer.Option(help="Where HTML reports and run artifacts go [default reports].")
]
