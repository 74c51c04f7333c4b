"""Landing a CDC source's versions (:mod:`duckbook.ingest.cdc_versions`) in the raw zone, under its
contract: upserts validated as a file's rows are (:func:`duckbook.ingest.contracts.validate_rows`),
deletes needing only a key, truncates as they are; broken versions quarantined with the reason
and the commit LSN. One landed CDC file's versions of one table make one batch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from duckbook import engine
from duckbook.ingest import files
from duckbook.ingest.cdc_events import format_lsn
from duckbook.ingest.cdc_versions import VERSION_COLUMNS
from duckbook.ingest.contracts import Column, Contract, ibis_type, quarantine_rows, validate_rows


def land_versions(
    landing: files.Landing, contract: Contract, text: pa.Table, *, batch_id: str, path: Path
) -> files.Landed:
    """Validate the versions ``text`` and land the good ones as the batch ``batch_id``: upserts
    against ``contract``, deletes needing only a key, truncates as they are; the others quarantined
    with the reason and the LSN."""
    con, key = landing.con, list(contract.primary_key)
    n = text.num_rows
    lsn_text = pa.array([format_lsn(x) for x in text["_cdc_lsn"].to_pylist()], pa.string())
    fields = pc.binary_join_element_wise(*[pc.fill_null(text[c], "") for c in contract.column_names], ",")
    raw_row = pc.binary_join_element_wise(
        pa.array(["lsn="] * n), lsn_text, pa.array([" "] * n), text["_cdc_op"], pa.array([": "] * n), fields, ""
    )
    rows = ibis.memtable(
        text.append_column("_line", pa.array(range(1, n + 1), pa.int64()))
        .append_column("_raw", raw_row)
        .append_column("_lsn_text", lsn_text)
    )
    # a version is unique by key and commit LSN: the contract's duplicate rule never fires
    versioned = dataclasses.replace(
        contract, columns=(*contract.columns, Column("_cdc_lsn", "int64")), primary_key=(*key, "_cdc_lsn")
    )
    loose = dataclasses.replace(
        versioned,
        columns=tuple(
            c if c.name in key else dataclasses.replace(c, nullable=True, no_future=False) for c in versioned.columns
        ),
    )
    as_text = rows.mutate(_cdc_lsn=rows._cdc_lsn.cast("string"))
    latest = ibis.literal(dt.datetime.combine(landing.run_date, dt.time.max).replace(microsecond=0), type="timestamp")
    upserts = validate_rows(as_text.filter(as_text._cdc_op == "upsert"), versioned, latest_allowed=latest)
    deletes = validate_rows(as_text.filter(as_text._cdc_op == "delete"), loose)
    cuts = rows.filter(rows._cdc_op == "truncate")
    truncates = cuts.select(
        "_line",
        "_raw",
        _reason=ibis.null("string"),
        **{c.name: ibis.null(ibis_type(c.type)) for c in contract.columns},
        _cdc_lsn=cuts._cdc_lsn,
    )
    meta = rows.select("_line", "_lsn_text", *VERSION_COLUMNS[1:])
    checked = upserts.union(deletes).union(truncates.cast(upserts.schema())).inner_join(meta, "_line")
    checked = checked.mutate(_reason=(checked._reason + " at LSN " + checked._lsn_text))
    validated = engine.materialize_temp(con, checked, prefix="_cdc_validated")
    ingested_at = ibis.literal(landing.run_started_at, type="timestamp")
    metadata = {
        "_batch_id": ibis.literal(batch_id),
        "_source_file": ibis.literal(str(path)),
        "_ingested_at": ingested_at,
        "_delivery_date": ibis.literal(landing.run_date, type="date"),
    }
    good = validated.filter(validated._reason.isnull())
    parquet = files.batch_file(landing.raw_zone, contract.name, batch_id)
    engine.write_parquet(
        con, good.order_by("_line").select(*contract.column_names, *VERSION_COLUMNS, **metadata), parquet
    )
    stored = con.read_parquet(parquet, hive_partitioning=False)
    bad = quarantine_rows(
        validated, contract, batch_id=batch_id, source_file=str(path), run_id=landing.run_id, quarantined_at=ingested_at
    )
    bad = engine.materialize_temp(con, bad, prefix="_cdc_quarantined")
    n_landed, quarantined = engine.count_rows([stored, bad])
    batch = files.Batch(
        table=contract.name,
        batch_id=batch_id,
        source_file=str(path),
        parquet_path=str(parquet),
        rows_read=n,
        rows_landed=n_landed,
        rows_quarantined=quarantined,
        rows_duplicate=0,
        extra_columns="",
        delivery_date=landing.run_date,
    )
    return files.Landed(stored, bad, batch)
