"""The CDC latency bench's pure helpers (the section itself runs only under `make bench`: it needs
PostgreSQL and `duckbook stream`)."""

from __future__ import annotations

import datetime as dt

from benchmarks import cdc_latency


def test_commit_times_are_naive_utc():
    at = dt.datetime(2026, 1, 2, 3, 4, 5, 250_000)
    assert cdc_latency._epoch(at) == at.replace(tzinfo=dt.UTC).timestamp()


def test_quantile_is_inclusive_and_takes_a_single_value():
    values = [float(v) for v in range(1, 11)]
    assert cdc_latency._quantile(values, 0.9) == 9.1
    assert cdc_latency._quantile(values, 0.5) == 5.5
    assert cdc_latency._quantile([2.0], 0.9) == 2.0
