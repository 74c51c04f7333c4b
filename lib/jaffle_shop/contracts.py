"""The Jaffle Shop source contracts, loaded from ``sources.yml`` beside this module."""

from __future__ import annotations

from pathlib import Path

from duckbook.ingest.contracts import load_contracts

SOURCES_YML = Path(__file__).with_name("sources.yml")
CONTRACTS = load_contracts(SOURCES_YML)
