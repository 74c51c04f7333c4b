"""Deliveries: what ``source_dir`` holds and which of it a run still has to ingest.

``source_dir`` holds either the raw files themselves (one undated delivery, re-read by every run:
a changed file there is a new full delivery) or dated delivery folders ``YYYY-MM-DD/``, each
holding any subset of the raw files. A run with ``run_date=D`` ingests every dated delivery on or
before ``D`` that is not ingested yet, in date order; a file already ingested under the same path
with the same checksum is a no-op, with another checksum it is handled by the source's
``on_changed_file`` policy (:func:`plan`).

Examples
--------
>>> import datetime as dt, tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> for day in ("2024-01-01", "2024-01-03"):
...     (root / day).mkdir()
...     _ = (root / day / "raw_orders.csv").write_text("id\\n1\\n")
>>> [(d.date.isoformat(), d.files) for d in discover(root)]
[('2024-01-01', ('raw_orders.csv',)), ('2024-01-03', ('raw_orders.csv',))]
>>> missing_days(discover(root))
[datetime.date(2024, 1, 2)]
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from duckbook.errors import ContractError

if TYPE_CHECKING:  # the runner reads deliveries (``--when-new-data``) without importing Ibis
    from duckbook.ingest.contracts import Contract

_DATED = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclasses.dataclass(frozen=True)
class Delivery:
    """One delivery: a dated folder, or ``source_dir`` itself (``date`` None)."""

    date: dt.date | None
    path: Path
    files: tuple[str, ...]  # file names present, sorted


@dataclasses.dataclass(frozen=True)
class DeliveredFile:
    """One file of a delivery that a run has to ingest."""

    delivery: Delivery
    contract: Contract
    path: Path
    relative: str  # its path under source_dir: the identity the manifest records
    size: int
    checksum: str  # sha256 of the bytes
    status: str  # new | correction (accepted under on_changed_file: correct) | refresh (undated, changed)


def discover(source_dir: Path) -> list[Delivery]:
    """The deliveries in ``source_dir``, oldest first.

    Raises :class:`ContractError` when ``source_dir`` is missing, mixes dated folders with raw
    files at its top level, or has a folder that looks dated but is not a real date.
    """
    if not source_dir.is_dir():
        raise ContractError(f"source_dir {source_dir} is not a directory")
    folders, files = [], []
    for entry in sorted(source_dir.iterdir()):
        if entry.is_dir() and _DATED.match(entry.name):
            try:
                day = dt.date.fromisoformat(entry.name)
            except ValueError:
                raise ContractError(f"{entry}: delivery folder is not a valid date (YYYY-MM-DD)") from None
            folders.append(Delivery(day, entry, tuple(sorted(p.name for p in entry.iterdir() if p.is_file()))))
        elif entry.is_file() and entry.suffix == ".csv":
            files.append(entry.name)
    if folders and files:
        raise ContractError(
            f"source_dir {source_dir} holds both dated delivery folders and raw files ({', '.join(files[:3])}): "
            "move the files into a YYYY-MM-DD/ folder"
        )
    return folders or [Delivery(None, source_dir, tuple(files))]


def missing_days(deliveries: Sequence[Delivery]) -> list[dt.date]:
    """Days without a delivery folder between the first and the last one (a warning, not an error:
    a source may skip a day, and the next run catches up anyway)."""
    dates = sorted(d.date for d in deliveries if d.date is not None)
    present = set(dates)
    out = []
    for a, b in zip(dates, dates[1:], strict=False):
        out += [a + dt.timedelta(days=n) for n in range(1, (b - a).days) if a + dt.timedelta(days=n) not in present]
    return out


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, as hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def waiting(
    deliveries: Sequence[Delivery], files: Sequence[str], *, run_date: dt.date, ingested: Mapping[str, str]
) -> list[str]:
    """The paths (under ``source_dir``) of the source ``files`` delivered on or before ``run_date``
    that are not ingested with their current checksum: what ``duckbook run --when-new-data``
    waits for.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "2024-01-01").mkdir()
    >>> _ = (root / "2024-01-01" / "raw_orders.csv").write_text("id\\n1\\n")
    >>> waiting(discover(root), ["raw_orders.csv"], run_date=dt.date(2024, 1, 1), ingested={})
    ['2024-01-01/raw_orders.csv']
    >>> waiting(discover(root), ["raw_orders.csv"], run_date=dt.date(2023, 12, 31), ingested={})
    []
    """
    out = []
    for delivery in deliveries:
        if delivery.date is not None and delivery.date > run_date:
            continue
        for name in delivery.files:
            if name not in files:
                continue
            relative = name if delivery.date is None else f"{delivery.date.isoformat()}/{name}"
            if ingested.get(relative) != file_digest(delivery.path / name):
                out.append(relative)
    return out


def plan(
    deliveries: Sequence[Delivery],
    contracts: Mapping[str, Contract],
    *,
    run_date: dt.date,
    ingested: Mapping[str, str],
) -> list[DeliveredFile]:
    """The files a run with ``run_date`` ingests, in delivery order then contract order.

    ``ingested`` maps each file path (relative to ``source_dir``) already ingested to its
    checksum. A dated delivery after ``run_date`` waits; the same path with the same checksum is
    skipped; with another checksum, a dated file is a correction when its source says
    ``on_changed_file: correct`` and an error otherwise (nothing is ingested then). An undated
    file that changed is a new full delivery of its table. A dated delivery holds any subset of
    the files; an undated ``source_dir`` must hold every one.

    Raises :class:`ContractError` naming every changed file the policy refuses, or every file
    an undated ``source_dir`` lacks.
    """
    out, refused = [], []
    contracts = {n: c for n, c in contracts.items() if c.api is None}  # API pages: duckbook.ingest.api
    for delivery in deliveries:
        if delivery.date is not None and delivery.date > run_date:
            continue
        if delivery.date is None:  # the raw files themselves: the whole state, every file is needed
            missing = [f"- {delivery.path / c.file}: file is missing (source {c.name})" for c in contracts.values()]
            missing = [m for c, m in zip(contracts.values(), missing, strict=True) if c.file not in delivery.files]
            if missing:
                raise ContractError("cannot ingest:\n" + "\n".join(missing))
        for contract in contracts.values():
            if contract.file not in delivery.files:
                continue
            path = delivery.path / contract.file
            relative = contract.file if delivery.date is None else f"{delivery.date.isoformat()}/{contract.file}"
            checksum = file_digest(path)
            before = ingested.get(relative)
            if before == checksum:
                continue
            status = "new"
            if before is not None and delivery.date is None:
                status = "refresh"
            elif before is not None:
                if contract.on_changed_file != "correct":
                    refused.append(
                        f"{path}: ingested before with sha256 {before[:12]}, now {checksum[:12]} "
                        f"(source {contract.name}: on_changed_file: error; set it to correct to accept corrections)"
                    )
                    continue
                status = "correction"
            out.append(DeliveredFile(delivery, contract, path, relative, path.stat().st_size, checksum, status))
    if refused:
        raise ContractError("a delivered file changed after it was ingested:\n" + "\n".join(f"- {r}" for r in refused))
    return out
