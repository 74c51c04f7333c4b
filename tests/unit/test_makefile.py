"""The Makefile: `make help` describes every target, `make setup` registers the `duckbook` kernel
(venv and --user, idempotent: stamped on the venv's kernel spec), `make lab` runs as root too."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = (ROOT / "Makefile").read_text()

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args: str) -> str:
    proc = subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_help_lists_every_phony_target_with_a_one_liner():
    phony = set(re.search(r"^\.PHONY: (.*)$", MAKEFILE, re.M).group(1).split())
    shown = dict(re.findall(r"^\s+(?:\x1b\[36m)?([\w-]+)\s*(?:\x1b\[0m)?\s+(.+)$", make("help"), re.M))
    assert set(shown) == phony
    assert all(len(text) > 15 and "$(" not in text for text in shown.values()), shown


def test_setup_registers_the_duckbook_kernel_for_the_venv_and_the_user():
    dry = make("-n", "-W", "pyproject.toml", "setup")  # as if the dependencies changed
    for where in ("--sys-prefix", "--user"):
        assert f'-m ipykernel install {where} --name duckbook --display-name "Python (duckbook)"' in dry


def test_lab_allows_root_only_as_root():
    dry = make("-n", "-o", ".venv/.installed", "-o", ".venv/share/jupyter/kernels/duckbook/kernel.json", "lab")
    assert 'jupyter lab $([ "$(id -u)" = 0 ] && echo --allow-root)' in dry
