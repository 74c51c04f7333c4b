"""The Jaffle Shop's checks, declared in YAML next to the contracts and model descriptions
(``sources.yml``: primary keys and volume of the raw files; ``models.yml``: staging, marts,
star schema and metric tables). Failing error checks stop the stage before it publishes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from duckbook.ingest.files import reconciliation_check
from duckbook.quality.checks import Check, load_checks

HERE = Path(__file__).parent
YAML_FILES = (HERE / "sources.yml", HERE / "models.yml")


def for_schema(schema: str, run_date: dt.date) -> list[Check]:
    """Every check declared for tables of ``schema``; time-relative checks (freshness, no
    future dates) compare with the end of ``run_date``. Raw also gets the ingest reconciliation."""
    now = dt.datetime.combine(run_date, dt.time(23, 59, 59))
    found = [c for key, cs in load_checks(YAML_FILES, now=now).items() if key.split(".")[0] == schema for c in cs]
    return [reconciliation_check(), *found] if schema == "raw" else found
