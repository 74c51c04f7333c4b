"""Typed project configuration: one place for paths, engine settings and the project's files.

Values come from ``[tool.duckbook]`` in the project's ``pyproject.toml``; an environment variable
``DUCKBOOK_<KEY>`` (for example ``DUCKBOOK_WAREHOUSE``) overrides each one, and keyword overrides
(command-line options) override both. ``None`` means "not given" everywhere. Relative paths are
resolved against the project root, so a notebook opened in ``notebooks/`` and a papermill run
started from the repository root see the same files.

The toolkit names no domain: ``package`` (the Python package that declares the models, e.g.
``jaffle_shop``) and ``project_files`` (the YAML files with sources, model docs and checks, and
the semantic layer) are settings. :func:`duckbook.project.load` reads them.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from duckbook.errors import ConfigError

_MARKER = "[tool.duckbook]"


def project_root(start: Path | None = None) -> Path:
    """Return the project root: ``DUCKBOOK_PROJECT_DIR``, else the nearest parent of ``start``
    (default: the working directory) whose pyproject.toml has a ``[tool.duckbook]`` table, else
    the repository this package was installed from."""
    if env := os.environ.get("DUCKBOOK_PROJECT_DIR"):
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and _MARKER in pyproject.read_text(encoding="utf-8"):
            return candidate
    return Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class Config:
    """Resolved settings. Build one with :func:`load`."""

    root: Path
    #: the warehouse root: catalog, data files, raw zone, temp files and run lock all live under it
    warehouse: Path
    source_dir: Path
    reports_dir: Path
    notebooks_dir: Path
    memory_limit: str = "4GB"
    threads: int = 2
    #: the Python package whose ``MODELS`` declare the project's models (None: no models)
    package: str | None = None
    #: YAML files with ``sources:``, ``models:``, ``semantic_models:`` / ``metrics:`` sections
    project_files: tuple[Path, ...] = ()
    #: the DuckLake catalog: None for SQLite at <warehouse>/catalog.sqlite, or
    #: ``postgres:<libpq conninfo>`` (e.g. ``postgres:host=/run/pg dbname=duckbook``)
    catalog: str | None = None
    #: ``duckbook maintain``: snapshots older than this many days expire (the last ``keep_runs``
    #: successful runs' snapshots and the newest are always kept)
    retention_days: int = 7
    keep_runs: int = 3
    #: files no kept snapshot uses are deleted this long after they were released, so a reader
    #: that opened its snapshot shortly before keeps working
    cleanup_grace_minutes: int = 60
    #: the raw ``[tool.duckbook.alerts]`` table; :mod:`duckbook.run.alerts` parses it (secrets are
    #: never here: only the names of the environment variables that hold them)
    alerts: Mapping[str, object] = dataclasses.field(default_factory=dict, hash=False)

    # What lives under the warehouse root (see duckbook.engine.lake).
    catalog_file = property(lambda self: self.warehouse / "catalog.sqlite", doc="The SQLite catalog.")
    data_dir = property(lambda self: self.warehouse / "data", doc="Where DuckLake writes the tables' Parquet files.")
    raw_zone = property(lambda self: self.warehouse / "raw", doc="The raw zone: ``raw/<table>/batch_id=<id>/``.")
    temp_directory = property(lambda self: self.warehouse / "tmp", doc="DuckDB's spill files.")
    lock_file = property(lambda self: self.warehouse / "run.lock", doc="Held by the warehouse's one writer.")

    @property
    def runs_dir(self) -> Path:
        """Where executed notebooks of each run are kept (``reports/runs/<run_id>``)."""
        return self.reports_dir / "runs"


_PATH_DEFAULTS = {
    "warehouse": "data/warehouse",
    "source_dir": "data/sample",
    "reports_dir": "reports",
    "notebooks_dir": "notebooks",
}
#: the integer settings (threads, retention...) and their defaults
_INT_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Config) if f.type == "int"}
_SETTINGS = {f.name for f in dataclasses.fields(Config)} - {"root"}
#: settings that are TOML tables: no ``DUCKBOOK_*`` variable overrides them
_TABLES = {"alerts"}


def load(root: Path | None = None, **overrides: object) -> Config:
    """Load the configuration: pyproject.toml, then ``DUCKBOOK_*`` variables, then ``overrides``
    (keyword arguments whose value is ``None`` are not given).

    Raises :class:`duckbook.errors.ConfigError` for an unknown or malformed setting.
    """
    root = root or project_root()
    settings: dict[str, object] = {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        settings.update(tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("duckbook", {}))
    if unknown := sorted(set(settings) - _SETTINGS):
        raise ConfigError(
            f"{pyproject}: unknown duckbook setting(s) {', '.join(unknown)}; known: {', '.join(sorted(_SETTINGS))}"
        )
    for name in _SETTINGS - _TABLES:
        if value := os.environ.get(f"DUCKBOOK_{name.upper()}"):
            settings[name] = value
    if unknown := sorted(set(overrides) - _SETTINGS):
        raise ConfigError(f"unknown duckbook setting(s) {', '.join(unknown)}; known: {', '.join(sorted(_SETTINGS))}")
    if empty := sorted(k for k, v in overrides.items() if v == ""):
        raise ConfigError(f"setting {empty[0]!r} is empty: give a value, or None for the project's setting")
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return _resolve(root, settings)


def _resolve(root: Path, settings: Mapping[str, object]) -> Config:
    paths = {k: (root / str(settings.get(k, default))).resolve() for k, default in _PATH_DEFAULTS.items()}
    integers = {name: _integer(name, settings.get(name, default)) for name, default in _INT_DEFAULTS.items()}
    files = settings.get("project_files", [])
    if isinstance(files, str):  # from the environment: comma separated
        files = [p for p in files.split(",") if p]
    if not isinstance(files, list | tuple):
        raise ConfigError(f"setting 'project_files' must be a list of paths, got {files!r}")
    package = settings.get("package")
    catalog = settings.get("catalog")
    if catalog and not str(catalog).startswith("postgres:"):
        raise ConfigError(
            f"setting 'catalog' must be empty (SQLite in the warehouse) or postgres:<conninfo>, not {catalog!r}"
        )
    alerts = settings.get("alerts", {})
    if not isinstance(alerts, Mapping):
        raise ConfigError(f"setting 'alerts' must be a table ([tool.duckbook.alerts]), got {alerts!r}")
    return Config(
        alerts=dict(alerts),
        catalog=str(catalog) if catalog else None,
        root=root,
        memory_limit=str(settings.get("memory_limit", "4GB")),
        threads=integers["threads"],
        retention_days=integers["retention_days"],
        keep_runs=integers["keep_runs"],
        cleanup_grace_minutes=integers["cleanup_grace_minutes"],
        package=str(package) if package else None,
        project_files=tuple((root / str(p)).resolve() for p in files),
        **paths,
    )


def _integer(name: str, value: object) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise ConfigError(f"setting {name!r} must be an integer, got {value!r}") from None
    if number < 0:
        raise ConfigError(f"setting {name!r} must not be negative, got {number}")
    return number
