"""Building the warehouse: a stage's context, write-audit-publish builds and table lineage."""
