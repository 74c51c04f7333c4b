"""The stage notebooks: discovered by name (``NN_name.ipynb``, run in number order), selected by
full or short name, and the parameters each declares."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from duckbook import config as _config
from duckbook import params


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


def select(stages: Sequence[Stage], names: Sequence[str]) -> list[Stage]:
    """Stages named ``names`` (full ``20_staging`` or short ``staging``), in pipeline order.
    Raises :class:`duckbook.params.ParameterError` listing the stages for an unknown name."""
    if not names:
        return list(stages)
    by_name = {s.name: s for s in stages} | {s.name.split("_", 1)[1]: s for s in stages}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise params.ParameterError(f"unknown stage(s) {unknown}; stages are: {', '.join(s.name for s in stages)}")
    chosen = {by_name[n].name for n in names}
    return [s for s in stages if s.name in chosen]


def declared_parameters(stages: Sequence[Stage]) -> dict[str, dict[str, str]]:
    """``{stage: {parameter: type name}}`` as the notebooks' ``parameters`` cells declare them."""
    return {stage.name: params.declared_in_notebook(stage.path) for stage in stages}
