"""Every command's --help names its defaults and the environment variables of the settings it
overrides; --version names duckbook's, DuckDB's and Ibis' versions."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import re

import click
import pytest
import typer
from typer.testing import CliRunner

from duckbook import cli, config
from duckbook.cli.common import setting_help, version_line


def commands() -> list[tuple[str, click.Command]]:
    """Every command of the app, with its path (``metrics query``, ``runs show``...)."""
    found: list[tuple[str, click.Command]] = []

    def walk(prefix: str, command: click.Command) -> None:
        found.append((prefix, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk(f"{prefix} {name}".strip(), sub)

    walk("", typer.main.get_command(cli.app))
    return found


def flat(text: str) -> str:
    return " ".join(text.split())


COMMANDS = commands()
SETTINGS = {f.name for f in dataclasses.fields(config.Config)}


def test_the_app_has_every_command():
    assert {path for path, _ in COMMANDS} >= {
        "run", "backfill", "stages", "drops", "runs", "runs show", "maintain", "export", "docs", "check",
        "metrics", "metrics list", "metrics query",
    }  # fmt: skip


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p or "duckbook" for p, _ in COMMANDS])
def test_help_names_every_default_and_env_var(path, command):
    result = CliRunner().invoke(cli.app, [*path.split(), "--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    shown = flat(result.output)
    for param in command.params:
        if not isinstance(param, click.Option) or param.name in ("help", "version"):
            continue
        option = param.opts[-1] if param.opts[-1].startswith("--") else param.opts[0]
        assert option in shown, f"{path} --help lacks {option}"
        if param.is_flag or param.required:
            continue  # a flag is off unless given; a required option has no default
        record = flat(param.get_help_record(click.Context(command))[1])
        assert record in shown, f"{path} {option}: {record!r} not shown as written"
        assert "[default: " in record, f"{path} {option} does not name its default: {record!r}"
        setting = {"grace_minutes": "cleanup_grace_minutes"}.get(param.name, param.name)
        if setting in SETTINGS:
            assert f"env DUCKBOOK_{setting.upper()}" in record, f"{path} {option} hides its environment variable"
    for line in re.findall(r"\[default: [^\]]*\]", shown):
        assert "]" not in line[1:-1]  # brackets survive: no markup swallowed them


def test_setting_defaults_named_in_help_are_the_real_ones(tmp_path, monkeypatch):
    for name in SETTINGS:
        monkeypatch.delenv(f"DUCKBOOK_{name.upper()}", raising=False)
    bare = config.load(tmp_path)  # no pyproject.toml: the built-in defaults
    named = 0
    for path, command in COMMANDS:
        for param in command.params:
            text = flat(getattr(param, "help", "") or "")
            if match := re.search(r"setting (\w+) in pyproject\.toml, env DUCKBOOK_\w+, else ([^\]]+)\]", text):
                name, shown = match.groups()
                value = getattr(bare, name)
                assert str(value) == shown or value == (tmp_path / shown).resolve(), f"{path} {param.name}: {shown}"
                named += 1
    assert named >= 8  # warehouse (8 commands), reports_dir, retention_days, keep_runs, cleanup_grace_minutes
    assert setting_help("Root.", "warehouse", "data/warehouse").endswith("env DUCKBOOK_WAREHOUSE, else data/warehouse]")


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_names_duckbook_duckdb_and_ibis(flag):
    result = CliRunner().invoke(cli.app, [flag])
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert line == version_line()
    assert line.startswith(f"duckbook {importlib.metadata.version('duckbook')} (Python 3.")
    assert f"DuckDB {importlib.metadata.version('duckdb')}" in line
    assert f"Ibis {importlib.metadata.version('ibis-framework')}" in line
    assert len(result.output.splitlines()) == 1
