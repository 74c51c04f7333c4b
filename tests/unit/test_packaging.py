"""The dependency pins agree across pyproject.toml, environment.yml and constraints.txt."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _pins(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        m = re.match(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^\s;#]+)", line)
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(3)
    return out


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _pins(project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip_section) == declared
    assert "python=3.11" in env["dependencies"]


def test_constraints_pin_every_direct_dependency_identically():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _pins(project["dependencies"] + project["optional-dependencies"]["dev"])
    constraints = _pins((ROOT / "constraints.txt").read_text().splitlines())
    for name, version in declared.items():
        assert constraints.get(name) == version, name


def test_gitignore_does_not_hide_lib():
    lines = (ROOT / ".gitignore").read_text().splitlines()
    assert not any(line.strip().strip("/") == "lib" for line in lines)


def test_gitignore_hides_no_package_directory():
    """A bare `build/` line once hid lib/duckbook/build/ from git: every package dir must be tracked."""
    import subprocess

    packages = sorted(p.parent for p in (ROOT / "lib").rglob("__init__.py"))
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *[str(p / "__init__.py") for p in packages]],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert ignored == []
