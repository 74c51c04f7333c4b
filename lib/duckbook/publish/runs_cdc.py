"""What the runs page and ``duckbook runs show`` say about CDC slots: sizes for people, one line per
slot of a run, and the warnings (a WAL status other than ``reserved``, lag growing run after run).

Pure functions of :class:`~duckbook.ops.history.RunRecord` objects; the lag chart is drawn by
:mod:`duckbook.publish.runs` with the page's other charts.
"""

from __future__ import annotations

from collections.abc import Sequence

from duckbook.ops.history import CdcHealth, RunRecord

#: how many runs in a row of growing lag make a warning
GROWING_RUNS = 3
#: what each WAL status other than reserved means, and what to do (PostgreSQL's pg_replication_slots)
WAL_STATUS = {
    "extended": "its WAL is beyond max_wal_size, kept only for the slot",
    "unreserved": "its WAL will be removed at the next checkpoint: the slot is about to be lost",
    "lost": "the WAL it needs was removed: run `duckbook cdc resnapshot {slot}`",
}


def readable_bytes(n: int) -> str:
    """A size in bytes for people (decimal units, like the rest of duckbook).

    >>> [readable_bytes(n) for n in (0, 999, 1_200, 1_234_567, 5_000_000_000)]
    ['0 B', '999 B', '1.2 kB', '1.2 MB', '5.0 GB']
    """
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def health_line(h: CdcHealth) -> str:
    """One slot of a run, as ``duckbook runs show`` prints it.

    >>> import datetime as dt
    >>> h = CdcHealth("shop", "shop", 1_234_567, 2_000_000, "reserved", "0/16B3748", dt.datetime(2024, 1, 2), 3, 12)
    >>> health_line(h)
    'shop (slot shop): lag 1.2 MB, retained WAL 2.0 MB, WAL reserved, landed 0/16B3748 committed 2024-01-02 00:00:00 UTC, 3 transactions, 12 events'
    """
    committed = f" committed {h.landed_commit_time:%Y-%m-%d %H:%M:%S} UTC" if h.landed_commit_time else ""
    return (
        f"{h.source} (slot {h.slot}): lag {readable_bytes(h.lag_bytes)}, "
        f"retained WAL {readable_bytes(h.retained_wal_bytes)}, WAL {h.wal_status}, "
        f"landed {h.landed_lsn or '-'}{committed}, {h.transactions:,} transactions, {h.events:,} events"
    )


def cdc_warnings(records: Sequence[RunRecord]) -> list[str]:
    """Warnings about the CDC slots of ``records`` (newest first): each slot whose newest check
    found a WAL status other than ``reserved``, and each whose lag grew over its last
    :data:`GROWING_RUNS` runs.

    >>> import datetime as dt
    >>> from duckbook.ops.history import CheckCounts
    >>> def run(lag, status="reserved"):
    ...     h = CdcHealth("shop", "shop", lag, lag, status, "0/1", None, 0, 0)
    ...     return RunRecord("r", "success", dt.datetime(2024, 1, 2), 1.0, 0, (), CheckCounts(), 0, "", None, (h,))
    >>> cdc_warnings([run(3_000_000, "unreserved"), run(2_000), run(1_000)])  # doctest: +NORMALIZE_WHITESPACE
    ['slot shop: WAL status unreserved: its WAL will be removed at the next checkpoint: the slot is about to be lost',
     'slot shop: lag grew over the last 3 runs (1.0 kB, 2.0 kB, 3.0 MB): the ingest is not keeping up with the
     database']
    >>> cdc_warnings([run(10), run(2_000), run(1_000)])
    []
    """
    newest: dict[str, CdcHealth] = {}
    lags: dict[str, list[int]] = {}
    for record in records:
        for h in record.cdc:
            newest.setdefault(h.slot, h)
            lags.setdefault(h.slot, []).append(h.lag_bytes)
    out = []
    for slot, h in sorted(newest.items()):
        if h.wal_status != "reserved":
            meaning = WAL_STATUS.get(h.wal_status, "not a status duckbook knows").format(slot=slot)
            out.append(f"slot {slot}: WAL status {h.wal_status}: {meaning}")
        last = list(reversed(lags[slot][:GROWING_RUNS]))  # oldest first
        if len(last) == GROWING_RUNS and all(a < b for a, b in zip(last, last[1:], strict=False)):
            shown = ", ".join(readable_bytes(n) for n in last)
            out.append(
                f"slot {slot}: lag grew over the last {GROWING_RUNS} runs ({shown}): "
                "the ingest is not keeping up with the database"
            )
    return out


def cdc_slots(records: Sequence[RunRecord]) -> list[str]:
    """The CDC slots of ``records``, in the order they first appear (oldest first given)."""
    return list(dict.fromkeys(h.slot for r in records for h in r.cdc))
