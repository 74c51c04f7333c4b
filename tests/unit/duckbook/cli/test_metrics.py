"""``duckbook metrics query``: a typo in a metric, dimension, grain or --where is named with the
closest names and every valid one before any warehouse is opened; --format json keeps numbers."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import ibis
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from duckbook import cli, metrics
from duckbook.cli.metrics import json_rows

NOWHERE = ["--warehouse", "/nonexistent/warehouse"]  # the names are checked before it is opened


def invoke(*args: str):
    return CliRunner().invoke(cli.app, ["metrics", "query", *args])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["revenu"], "error: metrics: unknown metric 'revenu'; did you mean revenue"),
        (
            ["revenue", "--by", "locaton_name"],
            "error: by: unknown dimension 'locaton_name'; did you mean location_name?",
        ),
        (
            ["revenue", "--grain", "mnth"],
            "error: grain: unknown grain 'mnth'; did you mean month? choose from: day, week",
        ),
        (["revenue", "--start", "last week"], "error: start: 'last week' is not a date (expected YYYY-MM-DD, today or"),
    ],
)
def test_a_typo_names_the_argument_the_closest_names_and_every_choice(args, message):
    result = invoke(*args, *NOWHERE)
    assert result.exit_code == 2
    assert result.output.startswith(message), result.output
    assert "choose from:" in result.output or "not a date" in result.output
    assert "does not exist" not in result.output


def test_a_where_error_lists_the_dimensions_not_the_internal_columns():
    layer = metrics.load()
    result = invoke("revenue", "--where", "locaton_name == 'Brooklyn'", *NOWHERE)
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.startswith("error: where: unknown dimension 'locaton_name'; did you mean location_name? choose from: ")
    choices = line.rpartition("choose from: ")[2].split(", ")
    assert choices == sorted(layer.dimensions("revenue") | {"period"})
    assert not [c for c in choices if c.startswith("_")]
    totals = invoke("revenue", "--grain", "none", "--where", "period > 1", *NOWHERE)
    assert "where: unknown dimension 'period'" in totals.output  # no period without a grain


def test_an_unknown_format_is_named():
    result = invoke("revenue", "--format", "yaml", *NOWHERE)
    assert result.exit_code == 2 and "--format must be table, csv or json, not 'yaml'" in result.output


def test_json_keeps_integers_decimals_dates_and_nulls_typed(monkeypatch):
    rows = {
        "period": [dt.date(2024, 1, 1), dt.date(2024, 2, 1)],
        "orders": [3, 12345678901],
        "revenue": [decimal.Decimal("1234.50"), None],
        "share": [0.25, float("nan")],
    }
    table = ibis.memtable(
        pa.table(
            rows,
            schema=pa.schema(
                [
                    ("period", pa.date32()),
                    ("orders", pa.int64()),
                    ("revenue", pa.decimal128(16, 2)),
                    ("share", pa.float64()),
                ]
            ),
        )
    )
    monkeypatch.setattr(metrics, "query", lambda *args, **kwargs: table)
    result = invoke("orders", "revenue", "--format", "json")
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.output)
    assert parsed == [
        {"period": "2024-01-01", "orders": 3, "revenue": 1234.5, "share": 0.25},
        {"period": "2024-02-01", "orders": 12345678901, "revenue": None, "share": None},
    ]
    assert type(parsed[0]["orders"]) is int and type(parsed[0]["revenue"]) is float
    assert '"revenue": 1234.5' in result.output  # a number, not the string "1234.50"


def test_json_rows_timestamps_are_iso_strings():
    assert json.loads(json_rows([{"at": dt.datetime(2024, 1, 2, 3, 4, 5), "n": decimal.Decimal("0.10")}])) == [
        {"at": "2024-01-02T03:04:05", "n": 0.1}
    ]
