"""pytest plugin for notebook tests (``-p duckbook.testing``, set in pyproject.toml).

nbval runs the committed stage notebooks with their default parameters. This plugin points
those runs at a throw-away warehouse root (``DUCKBOOK_WAREHOUSE``, inherited by the notebook
kernels), so tests never touch ``data/warehouse``, and marks every notebook item ``slow``. The
notebooks get a warehouse of their own, fresh when the first of them starts, as ``make
notebooks`` gives them: a run's output depends on what the warehouse already holds (a second run
skips what did not change). Their jupytext twins (``notebooks/*.py``) are not imported for
doctests: importing one would run its stage.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_tmp: tempfile.TemporaryDirectory[str] | None = None


def isolate_environment(base: Path) -> dict[str, str]:
    """Point duckbook's warehouse, lake and temp directory under ``base``; return the settings."""
    env = {
        "DUCKBOOK_WAREHOUSE": str(base / "warehouse"),
    }
    os.environ.update(env)
    return env


def pytest_configure(config: pytest.Config) -> None:
    global _tmp
    _tmp = tempfile.TemporaryDirectory(prefix="duckbook-test-")
    isolate_environment(Path(_tmp.name))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _tmp is not None:
        _tmp.cleanup()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip the notebooks' jupytext twins (importing one runs its stage); nbval runs the notebooks."""
    if collection_path.suffix == ".py" and collection_path.parent.name == "notebooks":
        return True
    return None


_notebooks_started = False


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before the first notebook's kernel starts, give the notebooks a fresh warehouse."""
    global _notebooks_started
    if not _notebooks_started and str(item.fspath).endswith(".ipynb") and _tmp is not None:
        _notebooks_started = True
        isolate_environment(Path(_tmp.name) / "notebooks")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(pytest.mark.slow)
