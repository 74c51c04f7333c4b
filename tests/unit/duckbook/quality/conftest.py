"""Shared fixtures of the quality tests."""

from __future__ import annotations

import ibis
import pytest


@pytest.fixture
def tables():
    return {
        "customers": ibis.memtable({"customer_id": ["c1", "c2", "c3"], "customer_type": ["new", "returning", None]}),
        "orders": ibis.memtable(
            {
                "order_id": ["o1", "o2", "o3", "o4", "o5"],
                "customer_id": ["c1", "c2", "c9", None, "c8"],
                "subtotal": [10, 20, 30, 40, 50],
                "tax": [1, 2, 3, 4, None],
                "total": [11, 22, 30, 44, 50],
            }
        ),
        "lines": ibis.memtable(
            {
                "order_id": ["o1", "o1", "o2", "o2", "o2", None],
                "line_no": [1, 2, 1, 1, 2, 1],
            }
        ),
    }
