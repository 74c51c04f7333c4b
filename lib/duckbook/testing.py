"""pytest plugin for notebook tests (``-p duckbook.testing``, set in pyproject.toml).

nbval runs the committed stage notebooks with their default parameters. This plugin points
those runs at a throw-away warehouse root (``DUCKBOOK_WAREHOUSE``, inherited by the notebook
kernels), so tests never touch ``data/warehouse``, and marks
every notebook item ``slow``.
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(pytest.mark.slow)
