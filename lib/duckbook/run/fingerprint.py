"""Stage fingerprints: everything a stage's result depends on, hashed, so a stage whose
fingerprint is unchanged since it last ran is skipped.

A stage's fingerprint hashes

* its code: the notebook's bytes, every source file of the toolkit and of the domain package
  (Python, YAML, templates), the project files, the ``[tool.duckbook]`` settings and the versions
  of DuckDB and Ibis (:func:`code_digest`; a change anywhere in the library reruns every data
  stage, whose unchanged models then skip at model level: :mod:`duckbook.build.materialize`);
* its parameters, except the run's own id and start time and the warehouse path;
* the version of every table it reads: the DuckLake snapshot that last changed the table's data
  files, delete files or columns (:func:`table_versions`). A stage reads the tables written by
  itself and by the stages before it (a report reads every table); ``ops`` tables are not inputs;
* for a stage that reads delivered files (it declares ``source_dir``), the listing of that
  directory: every file's path, size and modification time (:func:`source_listing`).

The runner compares the fingerprint before a stage with the one recorded (``ops.run_log``) when
the stage last ran or was skipped, and records the fingerprint again after its commit, when the
tables it wrote have their new versions. Nothing here imports Ibis: the runner decides what to
skip without starting a kernel.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import json
import time
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from duckbook import config as _config
from duckbook.engine import lake
from duckbook.ops.tables import SCHEMA as OPS_SCHEMA

if TYPE_CHECKING:
    from duckbook.run.runner import RunPlan
    from duckbook.run.stages import Stage

#: Parameters that change nothing a stage computes: the run's id and start differ on every run;
#: the warehouse is the one whose run log holds the fingerprints (a moved or copied warehouse is
#: the same warehouse).
VOLATILE = frozenset({"run_id", "run_started_at", "warehouse"})
#: What counts as code in a package directory.
_CODE_SUFFIXES = frozenset({".py", ".yml", ".yaml", ".j2", ".sql", ".json", ".toml"})
_VERSIONED = ("duckdb", "ibis-framework")


def code_digest(cfg: _config.Config) -> str:
    """sha256 of the code every stage shares: the toolkit's and the domain package's source files,
    the project files, the ``[tool.duckbook]`` settings and the DuckDB and Ibis versions."""
    h = hashlib.sha256()
    dirs = [Path(__file__).resolve().parents[1]]  # the duckbook package
    if cfg.package and (spec := importlib.util.find_spec(cfg.package)) and spec.submodule_search_locations:
        dirs += [Path(p) for p in spec.submodule_search_locations]
    for directory in dirs:
        for path in sorted(p for p in directory.rglob("*") if p.suffix in _CODE_SUFFIXES and p.is_file()):
            _update(h, str(path.relative_to(directory.parent)), path.read_bytes())
    for path in cfg.project_files:
        _update(h, str(path), path.read_bytes() if path.is_file() else b"<missing>")
    pyproject = cfg.root / "pyproject.toml"
    settings = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("duckbook", {})
    _update(h, "settings", json.dumps(settings, sort_keys=True, default=str).encode())
    for dist in _VERSIONED:
        _update(h, dist, importlib.metadata.version(dist).encode())
    return h.hexdigest()


def source_listing(directory: Path) -> str:
    """sha256 of every file's relative path, size and modification time under ``directory``
    ("missing" if it does not exist): a new, changed or removed delivery changes it."""
    if not directory.is_dir():
        return "missing"
    h = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        stat = path.stat()
        _update(h, str(path.relative_to(directory)), f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()


def polls_sources(project_files: Iterable[Path]) -> bool:
    """Whether a project file declares an HTTP API source (``api:``) or a PostgreSQL CDC source
    (``cdc:``): only polling tells whether they have new data, so the stage that ingests never
    skips on an unchanged fingerprint."""
    import yaml

    for path in project_files:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
        sources = (doc or {}).get("sources") or {} if isinstance(doc, dict) else {}
        if any(isinstance(spec, dict) and ("api" in spec or "cdc" in spec) for spec in sources.values()):
            return True
    return False


def table_versions(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """``{schema.table: snapshot}`` for every live table outside ``ops``: the last snapshot that
    added or removed one of its data or delete files, changed a column, or created it."""
    meta = f"__ducklake_metadata_{lake.ALIAS}"
    rows = con.execute(
        f"""
        WITH live AS (
            SELECT s.schema_name, t.table_name, t.table_id, t.begin_snapshot
            FROM {meta}.ducklake_table t JOIN {meta}.ducklake_schema s USING (schema_id)
            WHERE t.end_snapshot IS NULL AND s.end_snapshot IS NULL AND s.schema_name <> '{OPS_SCHEMA}'),
        events AS (
            SELECT table_id, greatest(begin_snapshot, coalesce(end_snapshot, 0)) AS at FROM {meta}.ducklake_data_file
            UNION ALL
            SELECT table_id, greatest(begin_snapshot, coalesce(end_snapshot, 0)) FROM {meta}.ducklake_delete_file
            UNION ALL
            SELECT table_id, greatest(begin_snapshot, coalesce(end_snapshot, 0)) FROM {meta}.ducklake_column)
        SELECT schema_name || '.' || table_name, greatest(max(live.begin_snapshot), coalesce(max(events.at), 0))
        FROM live LEFT JOIN events USING (table_id)
        GROUP BY ALL
        """
    ).fetchall()
    return {str(name): int(version) for name, version in rows}


def stage_inputs(versions: Mapping[str, int], later_schemas: Iterable[str]) -> dict[str, int]:
    """The versions of the tables a stage reads: every table except those in schemas that later
    stages write.

    >>> stage_inputs({"raw.a": 3, "staging.b": 4, "marts.c": 5}, ["marts"])
    {'raw.a': 3, 'staging.b': 4}
    """
    later = set(later_schemas)
    return {t: v for t, v in versions.items() if t.partition(".")[0] not in later}


def stage_fingerprint(
    code: str,
    notebook: Path,
    parameters: Mapping[str, object],
    inputs: Mapping[str, int],
    sources: str = "",
) -> str:
    """sha256 of one stage's code, notebook, parameters (without :data:`VOLATILE` ones), input
    table versions and source listing."""
    h = hashlib.sha256()
    _update(h, "code", code.encode())
    _update(h, "notebook", notebook.read_bytes())
    kept = {k: v for k, v in parameters.items() if k not in VOLATILE}
    _update(h, "parameters", json.dumps(kept, sort_keys=True, default=str).encode())
    _update(h, "inputs", json.dumps(dict(sorted(inputs.items()))).encode())
    _update(h, "sources", sources.encode())
    return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class Known:
    """What the warehouse says about past runs: table versions, each stage's last recorded
    fingerprint (and the run that recorded it), and the schemas each stage publishes."""

    versions: Mapping[str, int] = dataclasses.field(default_factory=dict)
    recorded: Mapping[str, str] = dataclasses.field(default_factory=dict)
    recorded_run: Mapping[str, str] = dataclasses.field(default_factory=dict)
    writes: Mapping[str, frozenset[str]] = dataclasses.field(default_factory=dict)

    @classmethod
    def read_from(cls, con: duckdb.DuckDBPyConnection) -> Known:
        """What the warehouse open on ``con`` records (nothing yet for a new warehouse)."""
        ops_tables = {
            name
            for (name,) in con.execute(
                f"SELECT table_name FROM duckdb_tables() WHERE schema_name = '{OPS_SCHEMA}'"
            ).fetchall()
        }
        recorded: dict[str, tuple[str, str]] = {}
        if "run_log" in ops_tables:
            columns = {
                c
                for (c,) in con.execute(
                    f"SELECT column_name FROM duckdb_columns() WHERE schema_name = '{OPS_SCHEMA}' AND table_name = 'run_log'"
                ).fetchall()
            }
            if "fingerprint" in columns:
                rows = con.execute(
                    f"SELECT stage, fingerprint, run_id FROM {OPS_SCHEMA}.run_log "
                    "WHERE status IN ('success', 'skipped') "
                    "QUALIFY row_number() OVER (PARTITION BY stage ORDER BY ended_at DESC) = 1"
                ).fetchall()
                # the newest entry counts: one without a fingerprint (a failed run's, a hand run's, a
                # report whose pages could not be published) means the stage must run again
                recorded = {str(stage): (str(mark), str(run)) for stage, mark, run in rows if mark}
        writes: dict[str, set[str]] = {}
        if "publish_log" in ops_tables:
            for stage, schema in con.execute(
                f"SELECT DISTINCT stage, schema_name FROM {OPS_SCHEMA}.publish_log"
            ).fetchall():
                writes.setdefault(str(stage), set()).add(str(schema))
        return cls(
            versions=table_versions(con),
            recorded={k: v[0] for k, v in recorded.items()},
            recorded_run={k: v[1] for k, v in recorded.items()},
            writes={k: frozenset(v) for k, v in writes.items()},
        )

    def fingerprint(self, plan: RunPlan, stage: Stage, values: Mapping[str, object], code: str) -> str:
        """``stage``'s fingerprint with ``values`` (its parameters) as the warehouse stands."""
        order = [s.name for s in plan.all_stages]
        later = order[order.index(stage.name) + 1 :] if stage.name in order else []
        inputs = stage_inputs(self.versions, {schema for s in later for schema in self.writes.get(s, ())})
        sources = ""
        if "source_dir" in plan.declared.get(stage.name, {}):
            given = Path(str(values.get("source_dir") or plan.cfg.source_dir))
            sources = source_listing(given if given.is_absolute() else plan.cfg.root / given)
            if polls_sources(plan.cfg.project_files):  # a fingerprint never seen: the stage runs and polls
                sources += f":poll:{time.time_ns()}"
        return stage_fingerprint(code, stage.path, values, inputs, sources)


def _update(h: hashlib._Hash, name: str, data: bytes) -> None:
    """Hash ``name`` and ``data`` with their lengths, so no two different inputs hash alike."""
    h.update(f"{len(name)}:{name}:{len(data)}:".encode())
    h.update(data)
