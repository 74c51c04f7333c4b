"""duckbook.engine.count_rows: many row counts in one query."""

from __future__ import annotations

import ibis

from duckbook.engine import count_rows


def test_count_rows():
    t = ibis.memtable({"a": [1, 2, 3]})
    assert count_rows([]) == []
    assert count_rows([t]) == [3]
    assert count_rows([t, t.filter(t.a > 1), t.filter(t.a > 5)]) == [3, 2, 0]


def test_count_rows_of_many_expressions_keeps_their_order():
    # the index literal of each part changes type past 127 (int8 -> int16); the union must still work
    t = ibis.memtable({"a": list(range(200))})
    assert count_rows([t.filter(t.a < i) for i in range(200)]) == list(range(200))
