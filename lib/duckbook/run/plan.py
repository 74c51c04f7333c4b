"""A run's plan and result: which stages and models a run executes, validated before anything
is written (stage terms ``marts+`` / ``+marts``, ``--select`` model terms, ``--exclude``,
parameters), and what it did."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from duckbook import config as _config
from duckbook import engine, ops, params
from duckbook.engine import lake
from duckbook.run.stages import Stage, declared_parameters, discover, names_of
from duckbook.run.stages import select as select_stages
from duckbook.run.summary import RunSummary


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """What a run executes: validated before anything is written."""

    cfg: _config.Config
    stages: tuple[Stage, ...]  # the selected stages, in order
    declared: Mapping[str, Mapping[str, str]]  # stage -> parameter -> type name (every stage)
    parameters: Mapping[str, object]  # the user's, typed
    run_id: str
    started: dt.datetime
    all_stages: tuple[Stage, ...] = ()  # every stage (what is not selected may be left stale)
    force: bool = False  # run every selected stage even when its fingerprint is unchanged
    models: frozenset[str] | None = None  # --select: the models to build (None: all)

    def stage_parameters(self, stage: Stage, warehouse: Path) -> dict[str, object]:
        """The values ``stage`` declares: the run's own (id, start, date, warehouse) and the user's."""
        common = {
            "run_id": self.run_id,
            "run_started_at": self.started.isoformat(),
            "run_date": str(self.parameters.get("run_date") or self.started.date()),
            "warehouse": str(warehouse),
        }
        return {k: v for k, v in {**common, **self.parameters}.items() if k in self.declared[stage.name]}

    @property
    def source_dir(self) -> Path:
        """Where the run's deliveries are: ``-p source_dir`` (relative to the project root) or the setting."""
        given = Path(str(self.parameters.get("source_dir") or self.cfg.source_dir))
        return given if given.is_absolute() else self.cfg.root / given

    @property
    def run_date(self) -> dt.date:
        value = self.parameters.get("run_date")
        return value if isinstance(value, dt.date) else params.parse_date("run_date", str(value or self.started.date()))


@dataclasses.dataclass
class RunResult:
    run_id: str
    status: str  # success | failed
    log: list[ops.RunLogEntry]
    warehouse: Path
    reports: list[Path]
    error: str = ""
    summary: RunSummary | None = None  # checks and quarantine of a successful run
    notes: list[str] = dataclasses.field(default_factory=list)  # pages not published, alerts sent

    @property
    def seconds(self) -> float:
        """Time spent in the stages."""
        return sum(entry.duration_s for entry in self.log)

    @property
    def executed(self) -> list[str]:
        """The stages the run executed (not skipped, not stale)."""
        return [e.stage for e in self.log if e.status in ("success", "failed") and e.stage != "(run)"]


def plan(
    *,
    stages: Sequence[str] = (),
    parameters: Mapping[str, str] | None = None,
    warehouse: str | os.PathLike[str] | None = None,
    reports_dir: str | os.PathLike[str] | None = None,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    force: bool = False,
) -> RunPlan:
    """Validate a run: stages (``NAME``, ``NAME+``, ``+NAME``), models (``select``), exclusions
    (stage or model terms) and ``NAME=VALUE`` parameters against what the notebooks declare.
    Raises :class:`duckbook.params.ParameterError` naming every problem."""
    cfg = _config.load(warehouse=warehouse, reports_dir=reports_dir)
    found = discover(cfg)
    if not found:
        raise params.ParameterError(f"no stage notebooks found in {cfg.notebooks_dir}")
    stage_names = set(names_of(found))
    stage_excludes = [t for t in exclude if t.strip("+") in stage_names]
    model_excludes = [t for t in exclude if t.strip("+") not in stage_names]
    chosen = select_stages(found, stages, stage_excludes) if stages or not select else []
    models = None
    if select or model_excludes:
        chosen, models = _select_models(cfg, found, chosen, list(select), model_excludes, bool(stages))
    if not chosen:
        raise params.ParameterError("the selection leaves no stage to run")
    declared = declared_parameters(found)
    # every stage's parameters: a stage not selected is still fingerprinted (is it stale?) with them
    user = params.validate(parameters or {}, declared)
    for reserved in ("warehouse", "run_id", "run_started_at"):
        if reserved in user:
            raise params.ParameterError(f"{reserved}: set by the runner; use --warehouse for the warehouse")
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    force = force or bool(user.get("full_refresh"))  # a full refresh asked for is work to do
    return RunPlan(cfg, tuple(chosen), declared, user, run_id, started, tuple(found), force, models)


def _select_models(
    cfg: _config.Config,
    found: Sequence[Stage],
    chosen: Sequence[Stage],
    terms: list[str],
    exclude: list[str],
    with_stages: bool,
) -> tuple[list[Stage], frozenset[str]]:
    """The stages a model selection runs and the models they build (loads the project: Ibis)."""
    from duckbook.project import load as load_project
    from duckbook.run import selection

    project = load_project(cfg)
    resolved = selection.resolve(project.edges, terms, exclude)
    by_group = {s.name.split("_", 1)[1]: s for s in found}
    wanted = {s.name for s in chosen}
    models = set(resolved.models)
    for name in sorted({project.models[m].group for m in resolved.models}):
        if name not in by_group:
            raise params.ParameterError(f"--select: no stage notebook builds group {name!r} (expected NN_{name})")
        wanted.add(by_group[name].name)
    if resolved.sources:
        wanted |= {s.name for s in found if s.report_name is None and s.name.split("_", 1)[1] == "ingest"}
    if resolved.downstream or not terms:
        wanted |= {s.name for s in found if s.report_name is not None}
    if with_stages:  # stages named with --stage build all their models
        models |= {m for m, model in project.models.items() if model.group in {s.name.split("_", 1)[1] for s in chosen}}
    return [s for s in found if s.name in wanted], frozenset(models)


def waiting_deliveries(plan: RunPlan) -> list[str]:
    """The delivered source files (paths under ``source_dir``) up to the run's date that are not
    ingested with their current content: what ``duckbook run --when-new-data`` waits for."""
    import yaml

    from duckbook.ingest import deliveries

    files = []
    for path in plan.cfg.project_files:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
        sources = (doc or {}).get("sources") or {}
        files += [str(spec["file"]) for spec in sources.values() if isinstance(spec, dict) and "file" in spec]
    ingested: dict[str, str] = {}
    if lake.exists(plan.cfg):
        with engine.connect_plain(plan.cfg, read_only=True) as con:
            if engine.table_exists(con, ops.SCHEMA, "ingest_manifest"):
                rows = con.execute(
                    f"SELECT file_path, arg_max(checksum, ingested_at) FROM {ops.SCHEMA}.ingest_manifest "
                    "WHERE file_path IS NOT NULL GROUP BY file_path"
                ).fetchall()
                ingested = {str(path): str(checksum) for path, checksum in rows}
    found = deliveries.discover(plan.source_dir)
    return deliveries.waiting(found, files, run_date=plan.run_date, ingested=ingested)
