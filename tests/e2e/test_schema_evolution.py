"""Schema evolution across daily deliveries, in-process: a new column reaches raw and staging and
is recorded with its batch; older snapshots keep their schema; a dropped column stops the stage
with a diff and publishes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import duckbook
from duckbook.ingest.contracts import ContractError
from tests.pipeline import contents, run_pipeline

pytestmark = pytest.mark.slow

DROPS = Path(__file__).resolve().parents[2] / "data" / "sample-drops"


def two_days(tmp_path: Path) -> Path:
    """The first two sample deliveries, the second with customers carrying a new ``email`` column."""
    src = tmp_path / "drops"
    for day in ("2019-07-22", "2019-07-23"):
        shutil.copytree(DROPS / day, src / day)
    lines = (DROPS / "2019-07-22" / "raw_customers.csv").read_text().splitlines()
    rows = [f"{lines[0]},email"] + [f"{line},{i}@example.com" for i, line in enumerate(lines[1:])]
    (src / "2019-07-23" / "raw_customers.csv").write_text("\n".join(rows) + "\n")
    return src


def test_a_new_column_reaches_raw_and_staging_and_is_recorded_with_its_batch(tmp_path):
    src, wh = two_days(tmp_path), tmp_path / "wh"
    run_pipeline(wh, src, "2019-07-22")
    run_pipeline(wh, src, "2019-07-23")
    con = duckbook.connect(wh, read_only=True)
    try:
        assert "email" in con.table("raw_customers", database="raw").columns
        stg = con.table("stg_customers", database="staging")
        assert "email" in stg.columns
        # every customer gained the attribute: its current version carries it, its first does not
        current = stg.filter(stg.is_current).email.notnull().all().execute()
        assert current and stg.filter(~stg.is_current).email.isnull().all().execute()
        history = con.table("schema_history", database="ops").to_pyarrow().to_pylist()
        assert [(h["table_name"], h["column_name"], h["change"]) for h in history] == [
            ("raw_customers", "email", "added")
        ]
        assert history[0]["batch_id"].startswith("raw_customers-20190723-")
    finally:
        con.disconnect()
    past = duckbook.connect(wh, read_only=True, as_of="test-2019-07-22")  # time travel to day one
    try:
        assert "email" not in past.table("raw_customers", database="raw").columns
        assert "email" not in past.table("stg_customers", database="staging").columns
    finally:
        past.disconnect()


def test_a_dropped_column_stops_the_stage_with_a_diff_and_publishes_nothing(tmp_path):
    src, wh = two_days(tmp_path), tmp_path / "wh"
    run_pipeline(wh, src, "2019-07-23")
    before = contents(wh)
    third = src / "2019-07-24"
    third.mkdir()
    lines = (src / "2019-07-23" / "raw_customers.csv").read_text().splitlines()
    (third / "raw_customers.csv").write_text("\n".join(line.rsplit(",", 2)[0] for line in lines) + "\n")  # no name
    with pytest.raises(ContractError) as failure:
        run_pipeline(wh, src, "2019-07-24")
    message = str(failure.value)
    assert "2019-07-24/raw_customers.csv" in message and "'name' is missing" in message
    assert "expected" in message.lower() and "found" in message.lower()  # the diff
    assert contents(wh) == before
