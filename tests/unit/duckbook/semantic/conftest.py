"""Fixtures of the semantic layer tests."""

from __future__ import annotations

import pytest

from tests.unit.duckbook.semantic.sample import shop_tables


@pytest.fixture
def tables():
    """The shop's tables by name (fresh memtables per test)."""
    return shop_tables()
