"""Ingestion: read source files without losing a line, apply contracts, land the raw zone.

* :mod:`duckbook.ingest.csvfile`: every data line becomes a record or a reject with a reason;
* :mod:`duckbook.ingest.contracts`: the contract types and the pure validation transforms;
* :mod:`duckbook.ingest.files`: a batch of files -> Parquet raw zone, raw build, quarantine, manifest.
"""
