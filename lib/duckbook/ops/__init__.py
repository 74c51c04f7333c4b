"""The toolkit's own tables (schema ``ops``): run log, publish log, check results and failures,
quarantine, ingest manifest, lineage."""
