"""Typed project configuration: one place for paths and engine settings.

Values come from ``[tool.duckbook]`` in the project's ``pyproject.toml``; an environment variable
``DUCKBOOK_<KEY>`` (for example ``DUCKBOOK_WAREHOUSE``) overrides each one. Relative paths are
resolved against the project root, so a notebook opened in ``notebooks/`` and a papermill run
started from the repository root see the same files.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path

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
    warehouse: Path
    lake_dir: Path
    source_dir: Path
    reports_dir: Path
    notebooks_dir: Path
    temp_directory: Path
    semantic_layer: Path
    memory_limit: str = "4GB"
    threads: int = 2
    docs_yaml: tuple[Path, ...] = ()

    @property
    def runs_dir(self) -> Path:
        """Where executed notebooks of each run are kept (``reports/runs/<run_id>``)."""
        return self.reports_dir / "runs"


_PATH_KEYS = ("warehouse", "lake_dir", "source_dir", "reports_dir", "notebooks_dir", "temp_directory", "semantic_layer")


def load(root: Path | None = None, **overrides: object) -> Config:
    """Load the configuration: pyproject.toml, then ``DUCKBOOK_*`` variables, then ``overrides``.

    Empty strings and ``None`` in ``overrides`` mean "not given", so notebook parameters can
    default to ``""`` and fall through to the project setting.
    """
    root = root or project_root()
    settings: dict[str, object] = {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        settings.update(tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("duckbook", {}))
    for field in dataclasses.fields(Config):
        if field.name == "root":
            continue  # the root is where pyproject.toml is (or DUCKBOOK_PROJECT_DIR), not a setting
        if (value := os.environ.get(f"DUCKBOOK_{field.name.upper()}")) not in (None, ""):
            settings[field.name] = value
    settings.update({k: v for k, v in overrides.items() if v not in (None, "")})
    unknown = set(settings) - {f.name for f in dataclasses.fields(Config)} | ({"root"} & set(settings))
    if unknown:
        raise ValueError(f"unknown duckbook setting(s): {', '.join(sorted(unknown))}")
    defaults = {
        "warehouse": "data/warehouse.duckdb",
        "lake_dir": "data/lake",
        "source_dir": "data/sample",
        "reports_dir": "reports",
        "notebooks_dir": "notebooks",
        "temp_directory": "data/tmp",
        "semantic_layer": "lib/jaffle_shop/semantic_models.yml",
    }
    paths = {k: (root / str(settings.get(k, defaults[k]))).resolve() for k in _PATH_KEYS}
    try:
        threads = int(settings.get("threads", 2))  # type: ignore[arg-type]
    except ValueError:
        raise ValueError(f"setting 'threads' must be an integer, got {settings['threads']!r}") from None
    docs = settings.get("docs_yaml", [])
    if isinstance(docs, str):
        docs = [p for p in docs.split(",") if p]
    docs_yaml = tuple((root / str(p)).resolve() for p in docs)  # type: ignore[union-attr]
    return Config(
        root=root, memory_limit=str(settings.get("memory_limit", "4GB")), threads=threads, docs_yaml=docs_yaml, **paths
    )
