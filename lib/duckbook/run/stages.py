"""The stage notebooks: discovered by name (``NN_name.ipynb``, run in number order), selected by
full or short name, and the parameters each declares."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from duckbook import config as _config
from duckbook import params
from duckbook.errors import unknown_name


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage notebook."""

    name: str
    path: Path

    @property
    def report_name(self) -> str | None:
        """``overview`` for ``50_report_overview``; None for a non-report stage."""
        _, _, rest = self.name.partition("_")
        return rest.removeprefix("report_") if rest.startswith("report_") else None


def discover(cfg: _config.Config) -> list[Stage]:
    """The stage notebooks of ``cfg.notebooks_dir``, in order."""
    return [Stage(p.stem, p) for p in sorted(cfg.notebooks_dir.glob("[0-9][0-9]_*.ipynb"))]


def select(stages: Sequence[Stage], names: Sequence[str], exclude: Sequence[str] = ()) -> list[Stage]:
    """Stages named ``names`` (full ``20_staging`` or short ``staging``; a report also by its
    name, ``overview``), in pipeline order;
    ``marts+`` adds every stage downstream of marts, ``+marts`` every stage upstream. No names:
    every stage. Stages named in ``exclude`` (the same forms) are left out.

    The stages form a DAG: each data stage reads every data stage before it; each report reads
    every data stage, and no report reads another.

    Raises :class:`duckbook.params.ParameterError` for an unknown name: the closest names and every stage.

    >>> stages = [Stage(n, Path(n)) for n in ("10_ingest", "20_staging", "30_marts", "50_report_a", "50_report_b")]
    >>> [s.name for s in select(stages, ["marts+"])]
    ['30_marts', '50_report_a', '50_report_b']
    >>> [s.name for s in select(stages, ["+report_a"])]
    ['10_ingest', '20_staging', '30_marts', '50_report_a']
    >>> [s.name for s in select(stages, ["staging+"], exclude=["report_b"])]
    ['20_staging', '30_marts', '50_report_a']
    """
    by_name = names_of(stages)
    for option, terms in (("--stage", names), ("--exclude", exclude)):
        if unknown := [n for n in terms if n.strip("+") not in by_name]:
            raise params.ParameterError(
                unknown_name(option, "stage", unknown[0].strip("+"), [s.name for s in stages], aliases=by_name)
            )
    chosen = {s.name for s in stages} if not names else set()
    for name in names:
        stage = by_name[name.strip("+")]
        chosen.add(stage.name)
        if name.endswith("+"):
            chosen |= {s.name for s in downstream(stages, stage)}
        if name.startswith("+"):
            chosen |= {s.name for s in upstream(stages, stage)}
    for name in exclude:
        stage = by_name[name.strip("+")]
        chosen.discard(stage.name)
        if name.endswith("+"):
            chosen -= {s.name for s in downstream(stages, stage)}
        if name.startswith("+"):
            chosen -= {s.name for s in upstream(stages, stage)}
    return [s for s in stages if s.name in chosen]


def names_of(stages: Sequence[Stage]) -> dict[str, Stage]:
    """Every name a stage answers to: ``50_report_overview``, ``report_overview``, ``overview``."""
    out = {s.report_name: s for s in stages if s.report_name}
    return out | {s.name.split("_", 1)[1]: s for s in stages} | {s.name: s for s in stages}


def upstream(stages: Sequence[Stage], stage: Stage) -> list[Stage]:
    """The stages ``stage`` reads: every data stage before it (a report: every data stage)."""
    index = list(stages).index(stage)
    return [s for s in stages[:index] if s.report_name is None]


def downstream(stages: Sequence[Stage], stage: Stage) -> list[Stage]:
    """The stages that read ``stage``: none for a report, else every stage after it."""
    if stage.report_name is not None:
        return []
    index = list(stages).index(stage)
    return list(stages[index + 1 :])


def declared_parameters(stages: Sequence[Stage]) -> dict[str, dict[str, str]]:
    """``{stage: {parameter: type name}}`` as the notebooks' ``parameters`` cells declare them."""
    return {stage.name: params.declared_in_notebook(stage.path) for stage in stages}
