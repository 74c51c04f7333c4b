"""What every ``duckbook`` command shares: the Typer apps, the error handler, common options."""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import platform
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from duckbook.errors import DuckbookError

# No rich markup: help texts are shown as written, so "[default: data/warehouse]" stays visible
# (rich reads square brackets as style tags and drops them).
app = typer.Typer(
    help="duckbook: notebook-centric analytics engineering on Ibis and DuckDB.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
metrics_app = typer.Typer(
    help="The semantic layer: list metrics, query them.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(metrics_app, name="metrics")
runs_app = typer.Typer(rich_markup_mode=None)
app.add_typer(runs_app, name="runs")

P = ParamSpec("P")
R = TypeVar("R")


def setting_help(text: str, setting: str, default: object) -> str:
    """Help for an option that overrides a project setting: where its default comes from.

    >>> setting_help("Warehouse root directory.", "warehouse", "data/warehouse")
    'Warehouse root directory. [default: setting warehouse in pyproject.toml, env DUCKBOOK_WAREHOUSE, else data/warehouse]'
    """
    return f"{text} [default: setting {setting} in pyproject.toml, env DUCKBOOK_{setting.upper()}, else {default}]"


WarehouseOption = Annotated[
    Path | None,
    typer.Option(metavar="DIR", help=setting_help("Warehouse root directory.", "warehouse", "data/warehouse")),
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


def version_line() -> str:
    """duckbook's version and the engine's: ``duckbook 0.1.0 (Python 3.11.7, DuckDB 1.4.4, Ibis 12.0.0)``.

    Read from the installed distributions' metadata, so it costs no import of DuckDB or Ibis.
    """

    def version(distribution: str) -> str:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return (
        f"duckbook {version('duckbook')} (Python {platform.python_version()}, "
        f"DuckDB {version('duckdb')}, Ibis {version('ibis-framework')})"
    )


def _show_version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_show_version,
            is_eager=True,
            help="Print duckbook's, DuckDB's and Ibis' versions.",
        ),
    ] = False,
) -> None:
    """duckbook: notebook-centric analytics engineering on Ibis and DuckDB."""


ReportsDirOption = Annotated[
    Path | None,
    typer.Option(
        metavar="DIR", help=setting_help("Where HTML reports and run artifacts go.", "reports_dir", "reports")
    ),
]
