"""Split a jafgen dataset into dated daily delivery folders with the defects real sources have.

:func:`split` writes ``OUT/YYYY-MM-DD/`` per delivered day and ``OUT/deliveries.json``, the
manifest of the defects injected. Rows are written with :mod:`csv`'s default dialect, which is
jafgen's (minimal quoting, CRLF): an unchanged file is byte-identical to its input.

* Event sources (:data:`EVENTS`) carry new rows, in the folder of their event day: rows before
  ``start`` in the first (a historical load), a skipped day's in the next, rows after the last
  day in none; a child row always with its parent. Event files are in every folder (header-only
  on a day without rows). ``late_fraction`` of the root rows of the range (not of its last day)
  arrive 1 to 3 deliveries late, clamped to the last folder. One folder's event rows are delivered
  again, ahead of the next folder's own rows (duplicates by key).
* Entity sources (:data:`ENTITIES`) are full snapshots, written only when they change: all in the
  first folder, then each :data:`CHANGES` entry in a folder of its own, the previous snapshot
  with exactly that change. Defect days follow from the number of folders (each at its declared
  fraction of the range, moved apart), late rows and changed members from ``seed``.
"""

from __future__ import annotations

import bisect
import collections
import csv
import dataclasses
import datetime as dt
import json
import random
import shutil
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from duckbook.errors import UserError

__all__ = ["MANIFEST", "DropsError", "DropsSummary", "EntityChange", "LateRow", "split"]


@dataclasses.dataclass(frozen=True)
class EventSource:
    """A source of new rows: a root has an event-time column, a child travels with its parent."""

    key: str
    time: str | None = None
    parent: tuple[str, str] | None = None  # (column holding the parent's key, parent source)


@dataclasses.dataclass(frozen=True)
class Change:
    """An entity defect: ``scale`` or ``shift`` ``column`` by ``amount``, ``rename`` or ``withdraw`` a member."""

    source: str
    kind: str
    column: str | None
    at: float  # where in the range, as a fraction of the delivered days
    amount: str = "0"


# The jafgen 0.4.14 layout (files <name>.csv, columns in lib/jaffle_shop/sources.yml): the only
# place its names appear; the splitting below is generic over these tables.
EVENTS = {  # parents before children
    "raw_orders": EventSource(key="id", time="ordered_at"),
    "raw_items": EventSource(key="id", parent=("order_id", "raw_orders")),
}
ENTITIES = {"raw_customers": ("id",), "raw_products": ("sku",), "raw_stores": ("id",), "raw_supplies": ("id", "sku")}
CHANGES = {
    "price_change": Change("raw_products", "scale", "price", 0.30, "1.10"),  # +10%, whole cents
    "tax_rate_change": Change("raw_stores", "shift", "tax_rate", 0.45, "0.01"),
    "renamed": Change("raw_customers", "rename", "name", 0.60),
    "withdrawn": Change("raw_products", "withdraw", None, 0.80),  # after the price change
}
DOUBLE_AT = 0.50  # where the repeated delivery shows
MAX_DELAY = 3  # deliveries a late row can be late
MANIFEST = "deliveries.json"
MIN_DAYS = len(CHANGES) + 2  # the first (full) delivery, then each defect in a folder of its own


class DropsError(UserError, ValueError):
    """The source directory, the output directory or an option of :func:`split` is unusable."""


@dataclasses.dataclass(frozen=True)
class LateRow:
    """A root event row (and its children) delivered after its day."""

    source: str
    key: str
    event_day: dt.date
    delivered: dt.date  # its children (rows of a source whose parent it is) travel with it


@dataclasses.dataclass(frozen=True)
class EntityChange:
    """The one difference between an entity snapshot and the previous one."""

    kind: str
    source: str
    day: dt.date
    key: Mapping[str, str]
    column: str | None  # None for a withdrawn member (old and new are None too)
    old: str | None
    new: str | None


@dataclasses.dataclass(frozen=True)
class DropsSummary:
    """What :func:`split` wrote; :meth:`manifest` is the content of ``deliveries.json``."""

    out_dir: Path
    seed: int
    late_fraction: float
    days: tuple[dt.date, ...]  # the folders, in order
    skipped: tuple[dt.date, ...]
    files: Mapping[dt.date, Mapping[str, int]]  # folder -> file name -> data rows
    not_delivered: Mapping[str, int]  # event rows after the last day
    doubled: tuple[dt.date, dt.date]  # (the folder delivered twice, the folder repeating its event rows)
    late: tuple[LateRow, ...]
    changes: tuple[EntityChange, ...]

    @property
    def rows(self) -> dict[str, int]:
        """Data rows written per source over all folders (repeats included)."""
        totals: collections.Counter[str] = collections.Counter()
        for written in self.files.values():
            totals.update({name.removesuffix(".csv"): n for name, n in written.items()})
        return dict(totals)

    def manifest(self) -> dict[str, object]:
        """Every field but ``out_dir`` as JSON-ready data (dump with ``default=str`` for the dates)."""
        data = dataclasses.asdict(self)
        del data["out_dir"]  # the same split into another directory is the same manifest
        data["files"] = {day.isoformat(): dict(written) for day, written in self.files.items()}
        return data

    def lines(self) -> list[str]:
        """One summary line, then one per defect (what ``duckbook drops`` prints)."""
        counts = ", ".join(f"{name} {n:,}" for name, n in self.rows.items())
        out = [f"wrote {len(self.days)} deliveries {self.days[0]}..{self.days[-1]} to {self.out_dir} ({counts} rows)"]
        out += [f"  {d}: skipped (its rows are in the next folder)" for d in self.skipped]
        out.append(f"  {len(self.late)} late rows (1-{MAX_DELAY} deliveries late, with their children)")
        out.append(f"  {self.doubled[1]}: the event rows of {self.doubled[0]} delivered again")
        for c in self.changes:
            key = ",".join(f"{k}={v}" for k, v in c.key.items())
            what = f" {c.column} {c.old} -> {c.new}" if c.column else ""
            out.append(f"  {c.day}: {c.kind} {c.source} {key}{what}")
        return out


@dataclasses.dataclass(frozen=True)
class _Csv:
    path: Path
    header: list[str]
    rows: list[list[str]]

    def column(self, name: str) -> int:
        if name not in self.header:
            raise DropsError(f"{self.path}: no column {name!r} (columns: {', '.join(self.header)})")
        return self.header.index(name)

    def values(self, name: str) -> list[str]:
        col = self.column(name)
        return [row[col] for row in self.rows]


def split(
    source_dir: Path,
    out_dir: Path,
    *,
    seed: int = 0,
    start: dt.date | None = None,
    days: int | None = None,
    late_fraction: float = 0.02,
    skip_days: Sequence[dt.date] = (),
    force: bool = False,
) -> DropsSummary:
    """Write the daily deliveries of ``source_dir`` (a jafgen directory) into ``out_dir``.

    Parameters
    ----------
    source_dir
        Holds one ``<name>.csv`` per source of :data:`EVENTS` and :data:`ENTITIES` (jafgen's layout).
    out_dir
        Must not exist or be empty, unless ``force``: then it is replaced once the new one is written.
    seed
        Chooses the late rows, their delays and the changed members.
    start, days
        From ``start`` (default: the first event day) for ``days`` days (default: to the last event day).
    late_fraction
        Share of the root event rows delivered late (0 to 1).
    skip_days
        Days of the range (not the last) without a folder: their rows go to the next one.

    Raises
    ------
    DropsError
        A missing or malformed input file, an unusable ``out_dir`` or option, fewer than
        :data:`MIN_DAYS` folders.
    """
    if not 0 <= late_fraction <= 1:
        raise DropsError(f"--late-fraction must be between 0 and 1, not {late_fraction}")
    tables = {name: _read(source_dir / f"{name}.csv") for name in (*EVENTS, *ENTITIES)}
    _check_out(source_dir, out_dir, force)
    event_days = {name: _days(tables[name], s.time) for name, s in EVENTS.items() if s.time is not None}
    first, last = _range(event_days, start, days)
    for day in skip_days:
        if not first <= day < last:
            raise DropsError(f"--skip-day {day} must be a day from {first} to {last - dt.timedelta(days=1)}")
    folders = [d for d in (first + dt.timedelta(days=i) for i in range((last - first).days + 1)) if d not in skip_days]
    if len(folders) < MIN_DAYS:
        raise DropsError(f"--days: {len(folders)} deliveries from {first} to {last}, the defects need {MIN_DAYS}")
    slots = _place(len(folders))
    placed, late = _assign(tables, event_days, folders, first, seed, late_fraction)
    snapshots, changes = _snapshots(tables, folders, slots, seed)
    doubled = (folders[slots["double"] - 1], folders[slots["double"]])
    plan: dict[dt.date, dict[str, list[list[str]]]] = {day: {name: [] for name in EVENTS} for day in folders}
    for name in EVENTS:
        for row, index in zip(tables[name].rows, placed[name], strict=True):
            if index is not None:
                plan[folders[index]][name].append(row)
        plan[doubled[1]][name][:0] = plan[doubled[0]][name]  # the repeat comes ahead of the day's own rows
    for index, entities in snapshots.items():
        plan[folders[index]].update(entities)
    summary = DropsSummary(
        out_dir=out_dir,
        seed=seed,
        late_fraction=late_fraction,
        days=tuple(folders),
        skipped=tuple(sorted(set(skip_days))),
        files={day: {f"{name}.csv": len(rows) for name, rows in files.items()} for day, files in plan.items()},
        not_delivered={name: where.count(None) for name, where in placed.items()},
        doubled=doubled,
        late=tuple(late),
        changes=tuple(changes),
    )
    _publish(out_dir, {name: t.header for name, t in tables.items()}, plan, summary.manifest())
    return summary


def _publish(
    out_dir: Path, headers: dict[str, list[str]], plan: dict[dt.date, dict[str, list[list[str]]]], manifest: object
) -> None:
    """Write the folders and the manifest beside ``out_dir``, then rename them over it."""
    partial = out_dir.resolve().with_name(f".{out_dir.resolve().name}.partial")
    shutil.rmtree(partial, ignore_errors=True)  # a killed split's leftovers
    try:
        for day, files in plan.items():
            (partial / day.isoformat()).mkdir(parents=True)
            for name, rows in files.items():
                with open(partial / day.isoformat() / f"{name}.csv", "w", encoding="utf-8", newline="") as f:
                    writer = csv.writer(f)  # the default dialect is jafgen's: minimal quoting, CRLF
                    writer.writerow(headers[name])
                    writer.writerows(rows)
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if out_dir.exists():
        shutil.rmtree(out_dir)
    partial.rename(out_dir)


def _check_out(source_dir: Path, out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise DropsError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not force:
            raise DropsError(f"{out_dir}: exists and is not empty (--force replaces it)")
        if out_dir.resolve() in (source_dir.resolve(), *source_dir.resolve().parents):
            raise DropsError(f"{out_dir}: holds the source directory {source_dir}; --force would delete it")


def _read(path: Path) -> _Csv:
    if not path.is_file():
        raise DropsError(f"{path}: missing (the jafgen layout: {', '.join([*EVENTS, *ENTITIES])}, as .csv files)")
    with open(path, encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f)) or [[]]
    if not header:
        raise DropsError(f"{path}: no header line")
    for i, row in enumerate(rows, start=1):
        if len(row) != len(header):
            raise DropsError(f"{path}: data row {i} has {len(row)} fields, the header {len(header)}")
    return _Csv(path, header, rows)


def _days(table: _Csv, column: str) -> list[dt.date]:
    """The day of each row's timestamp in ``column``."""
    out = []
    for i, value in enumerate(table.values(column), start=1):
        try:
            out.append(dt.date.fromisoformat(value[:10]))
        except ValueError:
            raise DropsError(f"{table.path}: data row {i}: {column} {value!r} is not a timestamp") from None
    return out


def _range(event_days: dict[str, list[dt.date]], start: dt.date | None, days: int | None) -> tuple[dt.date, dt.date]:
    """First and last day of the range."""
    every = [day for of_source in event_days.values() for day in of_source]
    if start is None:
        if not every:
            raise DropsError(f"{', '.join(event_days)}: no event rows, give --start and --days")
        start = min(every)
    end = start + dt.timedelta(days=days - 1) if days is not None else max(every, default=start)
    if end < start:
        raise DropsError(f"--start {start} is after the last event day {end}: give --days")
    return start, end


def _place(count: int) -> dict[str, int]:
    """Folder index of each defect ("double": the repeating folder): at its fraction, moved apart into 1..count-1."""
    wanted = sorted([(c.at, name) for name, c in CHANGES.items()] + [(DOUBLE_AT, "double")])
    slots = [min(max(int(at * (count - 1) + 0.5), 1), count - 1) for at, _ in wanted]
    for i in range(1, len(slots)):
        slots[i] = max(slots[i], slots[i - 1] + 1)
    for i in range(len(slots)):
        slots[i] = min(slots[i], count - len(slots) + i)
    return {name: slot for (_, name), slot in zip(wanted, slots, strict=True)}


def _assign(
    tables: dict[str, _Csv],
    event_days: dict[str, list[dt.date]],
    folders: list[dt.date],
    first: dt.date,
    seed: int,
    fraction: float,
) -> tuple[dict[str, list[int | None]], list[LateRow]]:
    """The folder index of every event row (None: after the range) and the late root rows."""
    placed: dict[str, list[int | None]] = {}
    late: list[LateRow] = []
    last = len(folders) - 1
    for name, src in EVENTS.items():
        table = tables[name]
        if src.parent is None:
            on_day, keys = event_days[name], table.values(src.key)
            on_time = [bisect.bisect_left(folders, max(day, first)) for day in on_day]  # len(folders): after
            eligible = [i for i, f in enumerate(on_time) if f < last and on_day[i] >= first]
            rng = random.Random(f"{seed}:late:{name}")
            for i in sorted(rng.sample(eligible, int(fraction * len(eligible) + 0.5))):
                on_time[i] = min(on_time[i] + rng.randint(1, MAX_DELAY), last)
                late.append(LateRow(name, keys[i], on_day[i], folders[on_time[i]]))
            placed[name] = [None if f > last else f for f in on_time]
        else:
            column, parent = src.parent
            of_parent = dict(zip(tables[parent].values(EVENTS[parent].key), placed[parent], strict=True))
            links = table.values(column)
            for i, value in ((i, v) for i, v in enumerate(links, start=1) if v not in of_parent):
                raise DropsError(f"{table.path}: data row {i}: {column} {value!r} is not in {parent}.csv")
            placed[name] = [of_parent[value] for value in links]
    return placed, late


def _snapshots(
    tables: dict[str, _Csv], folders: list[dt.date], slots: dict[str, int], seed: int
) -> tuple[dict[int, dict[str, list[list[str]]]], list[EntityChange]]:
    """The entity files of each folder index (all in the first, then one per change) and the changes."""
    current = {name: tables[name].rows for name in ENTITIES}
    snapshots = {0: dict(current)}
    changes: list[EntityChange] = []
    taken: set[tuple[str, ...]] = set()  # (source, *key): each member changes once, the repriced product stays
    for name in sorted(CHANGES, key=slots.__getitem__):
        change, table, rows = CHANGES[name], tables[CHANGES[name].source], current[CHANGES[name].source]
        keys = [table.column(k) for k in ENTITIES[change.source]]
        col = None if change.column is None else table.column(change.column)
        order = [i for i, r in enumerate(rows) if (change.source, *(r[k] for k in keys)) not in taken]
        rng = random.Random(f"{seed}:{name}")
        rng.shuffle(order)
        values = [] if col is None else [r[col] for r in rows]
        tries = ((i, None if col is None else _new_value(change, rows[i][col], values, rng)) for i in order)
        i, new = next(((i, new) for i, new in tries if col is None or new is not None), (-1, None))
        if i < 0:
            raise DropsError(f"{table.path}: no row whose {change.column} can take the {name} ({change.kind})")
        key = tuple(rows[i][k] for k in keys)
        taken.add((change.source, *key))
        changed = [] if new is None else [[new if c == col else v for c, v in enumerate(rows[i])]]
        current[change.source] = [*rows[:i], *changed, *rows[i + 1 :]]
        snapshots[slots[name]] = {change.source: current[change.source]}
        old = None if col is None else rows[i][col]
        by_key = dict(zip(ENTITIES[change.source], key, strict=True))
        changes.append(EntityChange(name, change.source, folders[slots[name]], by_key, change.column, old, new))
    return snapshots, changes


def _new_value(change: Change, old: str, values: list[str], rng: random.Random) -> str | None:
    """The changed value, or None when ``old`` cannot be changed that way."""
    if change.kind == "rename":  # keep the first names, take another member's last name
        head, _, tail = old.rpartition(" ")
        others = sorted({v.rpartition(" ")[2] for v in values} - {tail, ""})
        return f"{head} {rng.choice(others)}" if head and others else None
    try:
        number, amount = Decimal(old), Decimal(change.amount)
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    # a scaled value keeps its decimals (whole cents stay whole); a shifted one gains the amount's
    places = min(int(number.as_tuple().exponent), 0 if change.kind == "scale" else int(amount.as_tuple().exponent))
    new = number * amount if change.kind == "scale" else number + amount
    new = new.quantize(Decimal(1).scaleb(places), ROUND_HALF_UP)
    return None if new == number else str(new)
