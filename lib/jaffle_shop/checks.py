"""The Jaffle Shop's checks, declared in YAML next to the contracts and model descriptions
(``sources.yml``: primary keys and volume of the raw files; ``models.yml``: staging, marts,
star schema and metric tables). Failing error checks stop the stage before it publishes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from duckbook.quality.registry import checks_from_spec, source_checks
from duckbook.quality.row_checks import ingest_reconciliation
from duckbook.quality.types import Check

HERE = Path(__file__).parent
YAML_FILES = (HERE / "sources.yml", HERE / "models.yml")


def for_schema(schema: str, run_date: dt.date) -> list[Check]:
    """Every check declared for tables of ``schema``; time-relative checks (freshness, no
    future dates) compare with the end of ``run_date``. Raw also gets the ingest reconciliation."""
    now = dt.datetime.combine(run_date, dt.time(23, 59, 59))
    found: list[Check] = []
    for path in YAML_FILES:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if schema == "raw":
            for name, spec in (doc.get("sources") or {}).items():
                found += source_checks(name, spec, now=now, origin=str(path))
        for qualified, spec in (doc.get("models") or {}).items():
            if qualified.split(".")[0] == schema:
                found += checks_from_spec(qualified, spec or {}, now=now, origin=str(path))
    return [ingest_reconciliation(), *found] if schema == "raw" else found
