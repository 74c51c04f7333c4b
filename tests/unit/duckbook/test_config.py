"""duckbook.config: pyproject settings, DUCKBOOK_* overrides, explicit overrides, path resolution."""

from __future__ import annotations

import os
import textwrap

import pytest

from duckbook import config
from duckbook.config import Config, load, project_root
from duckbook.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """The test plugin sets DUCKBOOK_WAREHOUSE and friends for nbval: start without any."""
    for name in list(os.environ):
        if name.startswith("DUCKBOOK_"):
            monkeypatch.delenv(name)


def make_project(tmp_path, settings: str = "") -> None:
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [project]
            name = "demo"

            [tool.duckbook]
            """
        )
        + textwrap.dedent(settings),
        encoding="utf-8",
    )


def test_load_defaults(tmp_path):
    make_project(tmp_path)
    cfg = load(tmp_path)
    assert cfg == Config(
        root=tmp_path,
        warehouse=tmp_path / "data" / "warehouse",
        source_dir=tmp_path / "data" / "sample",
        reports_dir=tmp_path / "reports",
        notebooks_dir=tmp_path / "notebooks",
        memory_limit="4GB",
        threads=2,
        package=None,
        project_files=(),
    )
    assert cfg.runs_dir == tmp_path / "reports" / "runs"


def test_load_without_pyproject_uses_defaults(tmp_path):
    cfg = load(tmp_path)
    assert cfg.warehouse == tmp_path / "data" / "warehouse"
    assert cfg.threads == 2


def test_load_reads_tool_duckbook(tmp_path):
    make_project(
        tmp_path,
        """
        warehouse = "db/wh"
        reports_dir = "out/reports"
        memory_limit = "1GB"
        threads = 8
        """,
    )
    cfg = load(tmp_path)
    assert cfg.warehouse == tmp_path / "db" / "wh"
    # everything the warehouse keeps lives under its root
    assert (cfg.catalog_file, cfg.data_dir, cfg.raw_zone, cfg.temp_directory, cfg.lock_file) == tuple(
        tmp_path / "db" / "wh" / name for name in ("catalog.sqlite", "data", "raw", "tmp", "run.lock")
    )
    assert cfg.catalog is None
    assert cfg.reports_dir == tmp_path / "out" / "reports"
    assert cfg.runs_dir == tmp_path / "out" / "reports" / "runs"
    assert cfg.source_dir == tmp_path / "data" / "sample"  # not set: default
    assert (cfg.memory_limit, cfg.threads) == ("1GB", 8)


def test_relative_paths_resolve_against_root_not_cwd(tmp_path, monkeypatch):
    make_project(tmp_path, 'warehouse = "../shared/wh.duckdb"\n')
    elsewhere = tmp_path / "notebooks"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load(tmp_path)
    assert cfg.warehouse == tmp_path.parent / "shared" / "wh.duckdb"
    assert cfg.warehouse.is_absolute()
    assert cfg.notebooks_dir == tmp_path / "notebooks"


def test_absolute_paths_are_kept(tmp_path):
    target = tmp_path / "abs" / "wh.duckdb"
    make_project(tmp_path, f'warehouse = "{target.as_posix()}"\n')
    assert load(tmp_path).warehouse == target


def test_environment_overrides_pyproject(tmp_path, monkeypatch):
    make_project(tmp_path, 'warehouse = "db/wh.duckdb"\nthreads = 8\n')
    monkeypatch.setenv("DUCKBOOK_WAREHOUSE", "env/other.duckdb")
    monkeypatch.setenv("DUCKBOOK_THREADS", "3")
    monkeypatch.setenv("DUCKBOOK_MEMORY_LIMIT", "")  # empty means not set
    cfg = load(tmp_path)
    assert cfg.warehouse == tmp_path / "env" / "other.duckdb"
    assert cfg.threads == 3
    assert cfg.memory_limit == "4GB"


def test_overrides_win_over_environment_and_none_is_not_given(tmp_path, monkeypatch):
    make_project(tmp_path, 'warehouse = "db/wh.duckdb"\nsource_dir = "in"\n')
    monkeypatch.setenv("DUCKBOOK_WAREHOUSE", "env/other.duckdb")
    cfg = load(tmp_path, warehouse="explicit.duckdb", source_dir=None, reports_dir=None, threads=4)
    assert cfg.warehouse == tmp_path / "explicit.duckdb"
    assert cfg.source_dir == tmp_path / "in"
    assert cfg.reports_dir == tmp_path / "reports"
    assert cfg.threads == 4


def test_an_empty_override_is_an_error_not_the_project_root(tmp_path):
    make_project(tmp_path)
    with pytest.raises(ConfigError, match=r"^setting 'source_dir' is empty"):
        load(tmp_path, source_dir="")


def test_project_settings(tmp_path, monkeypatch):
    make_project(tmp_path, 'package = "shop"\nproject_files = ["a.yml", "sub/b.yml"]\n')
    cfg = load(tmp_path)
    assert cfg.package == "shop"
    assert cfg.project_files == (tmp_path / "a.yml", tmp_path / "sub" / "b.yml")
    monkeypatch.setenv("DUCKBOOK_PROJECT_FILES", "x.yml,y.yml")
    assert load(tmp_path).project_files == (tmp_path / "x.yml", tmp_path / "y.yml")
    monkeypatch.delenv("DUCKBOOK_PROJECT_FILES")
    make_project(tmp_path, 'project_files = "a.yml"\n')
    assert load(tmp_path).project_files == (tmp_path / "a.yml",)
    make_project(tmp_path, "project_files = 3\n")
    with pytest.raises(ConfigError, match=r"'project_files' must be a list of paths, got 3"):
        load(tmp_path)


def test_unknown_setting_in_pyproject(tmp_path):
    make_project(tmp_path, 'warehouse = "w.duckdb"\nwarehuose = "typo"\nzzz = 1\n')
    with pytest.raises(
        ConfigError,
        match=r"pyproject.toml: unknown duckbook setting\(s\) warehuose, zzz; known: alerts, catalog, cleanup_grace_minutes, keep_runs, memory_limit, ",
    ):
        load(tmp_path)


def test_unknown_override(tmp_path):
    make_project(tmp_path)
    with pytest.raises(ConfigError, match=r"^unknown duckbook setting\(s\) colour; known: "):
        load(tmp_path, colour="blue")


def test_bad_threads(tmp_path, monkeypatch):
    make_project(tmp_path)
    monkeypatch.setenv("DUCKBOOK_THREADS", "many")
    with pytest.raises(ValueError, match=r"^setting 'threads' must be an integer, got 'many'$"):
        load(tmp_path)


def test_bad_threads_in_pyproject(tmp_path):
    make_project(tmp_path, 'threads = "two"\n')
    with pytest.raises(ValueError, match="setting 'threads' must be an integer"):
        load(tmp_path)


# --- project_root --------------------------------------------------------------------------


def test_project_root_finds_nearest_pyproject_with_tool_duckbook(tmp_path):
    make_project(tmp_path)
    nested = tmp_path / "sub" / "project"
    nested.mkdir(parents=True)
    (nested / "pyproject.toml").write_text('[project]\nname = "other"\n', encoding="utf-8")  # no [tool.duckbook]
    assert project_root(nested) == tmp_path.resolve()


def test_project_root_environment_variable_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("DUCKBOOK_PROJECT_DIR", str(tmp_path / "elsewhere"))
    assert project_root(tmp_path) == (tmp_path / "elsewhere").resolve()


def test_load_without_root_uses_project_root(tmp_path, monkeypatch):
    make_project(tmp_path, 'reports_dir = "r"\n')
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert config.load().reports_dir == tmp_path.resolve() / "r"


def test_catalog_is_sqlite_in_the_warehouse_or_postgres(tmp_path, monkeypatch):
    make_project(tmp_path)
    assert load(tmp_path).catalog is None
    monkeypatch.setenv("DUCKBOOK_CATALOG", "postgres:host=/run/pg dbname=duckbook")
    assert load(tmp_path).catalog == "postgres:host=/run/pg dbname=duckbook"
    monkeypatch.setenv("DUCKBOOK_CATALOG", "mysql:x")
    with pytest.raises(ConfigError, match=r"setting 'catalog' must be empty .* or postgres:<conninfo>, not 'mysql:x'"):
        load(tmp_path)


def test_maintenance_settings_default_and_are_overridden_like_every_setting(tmp_path, monkeypatch):
    make_project(tmp_path, "keep_runs = 5\n")
    cfg = load(tmp_path)
    assert (cfg.retention_days, cfg.keep_runs, cfg.cleanup_grace_minutes) == (7, 5, 60)
    monkeypatch.setenv("DUCKBOOK_RETENTION_DAYS", "30")
    monkeypatch.setenv("DUCKBOOK_CLEANUP_GRACE_MINUTES", "0")
    cfg = load(tmp_path, keep_runs=1)
    assert (cfg.retention_days, cfg.keep_runs, cfg.cleanup_grace_minutes) == (30, 1, 0)
    monkeypatch.setenv("DUCKBOOK_RETENTION_DAYS", "a week")
    with pytest.raises(ConfigError, match=r"^setting 'retention_days' must be an integer, got 'a week'$"):
        load(tmp_path)
    with pytest.raises(ConfigError, match=r"^setting 'keep_runs' must not be negative, got -1$"):
        load(tmp_path, retention_days=1, keep_runs=-1)
