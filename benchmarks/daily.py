"""The daily section of ``make bench`` (issue 9): one daily run against a full refresh.

A jafgen dataset (3 years for ``make bench``) is split into daily deliveries, and a warehouse is
loaded with every delivery up to the last day minus :data:`HELD_BACK` days (two years and eleven
months of three years). Both are prepared once and cached under ``data/bench-daily/`` (not timed):

* the drops: ``duckbook drops SOURCE OUT --seed S --late-fraction F``, keyed by the dataset's
  bytes, the drops parameters and the splitter's code;
* the preloaded warehouse: loaded by catch-up runs (``duckbook run -p run_date=D``) of at most
  ``catch_up_days`` deliveries each (0: one run for all), not one run per day, then maintained
  down to its last snapshot (``duckbook maintain``), as one catch-up run would leave it. It holds
  the same data a day-by-day replay would (the replay == catch-up invariant is tested elsewhere).
  Keyed by the drops, the cutoff, ``catch_up_days`` and the pipeline's code (``lib/``, the
  notebooks, ``pyproject.toml``): a warehouse written by other code is rebuilt.

Then, through the CLI as a user would, each on a fresh copy of the preloaded warehouse:

a. the daily run: ``duckbook run -p source_dir=DROPS -p run_date=<next day>`` (ingests one
   delivery, brings the models up to date incrementally, checks, reports);
b. the full refresh: the same with ``--full-refresh`` (every raw table rebuilt from the raw zone,
   every model in full);

a, b and the SQL floor (on the undivided dataset) are interleaved ``repeat`` times and their
medians reported, with a / b (target <= :data:`TARGET`), the ratios to the floor, the disk growth
of one daily run and where its time goes (stages, then the slowest notebook cells). Also reported:

c. the full load from scratch, every delivery through the cutoff into an empty warehouse: the
   preparation's catch-up runs (measured once, when the cache was made).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib
import json
import shutil
import statistics
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from benchmarks.common import ROOT, disk_bytes, duckbook, run_floor, timed_run

#: Days held back from the preloaded warehouse: the daily run ingests the first of them.
HELD_BACK = 31
#: Deliveries per catch-up run of the preparation (about 60 files). One run over all 1,064 fails:
#: rendering the union of every landed file's quarantine rows (duckbook.ingest.files.record_quarantine)
#: exceeds Python's recursion limit (a chain of such unions fails from about 80 tables).
CATCH_UP_DAYS = 28
#: The daily run may cost at most this share of a full refresh.
TARGET = 0.10
CACHE = ROOT / "data" / "bench-daily"
#: What the preloaded warehouse depends on besides its deliveries.
CODE = ("lib/**/*.py", "lib/**/*.yml", "notebooks/*.ipynb", "pyproject.toml")
#: ``duckbook maintain`` options that keep only the last snapshot (run twice: release, then delete).
MAINTAIN = ("--retention-days", "0", "--keep-runs", "1", "--grace-minutes", "0")
#: The parts of a warehouse root whose growth is reported besides the root (paths under the root).
PARTS = {"raw zone": "raw", "table files": "data", "catalog": "catalog.sqlite*"}  # the catalog with its WAL

Cell = tuple[str, float, str]  # (stage, seconds, first line of the cell)


@dataclasses.dataclass(frozen=True)
class Measured:
    """One timed ``duckbook run``: wall and stage seconds, bytes per part before and after it,
    and its slowest cells."""

    wall_s: float
    stages_s: dict[str, float]
    before: dict[str, int]
    after: dict[str, int]
    cells: list[Cell]


@dataclasses.dataclass(frozen=True)
class Preloaded:
    """The cached warehouse a daily run starts from (``pristine``), and what loading it took.

    Each measured run works on a copy of ``pristine`` at ``warehouse``, where it was loaded: its
    raw zone's files are recorded by absolute path (``ops.ingest_manifest.parquet_path``), so a
    copy elsewhere would rebuild from the original's raw zone."""

    pristine: Path
    warehouse: Path
    through: dt.date  # the last delivery it holds
    deliveries: int
    runs: int  # catch-up runs that loaded it
    load_s: float  # their wall seconds, summed
    stages_s: dict[str, float]  # their stage seconds, summed
    loaded_bytes: int  # the warehouse root after loading, before maintain
    made_at: str  # when (UTC, ISO)
    made_now: bool


@dataclasses.dataclass(frozen=True)
class DailyResult:
    """What the daily section measured (medians of ``repeat`` runs; the full load is the preparation's)."""

    drops: str
    repeat: int
    first_day: str
    preloaded_through: str
    preloaded_deliveries: int
    preloaded_by: str  # how the start state was loaded
    preloaded_at: str  # when (UTC): c was measured then
    daily_run_date: str
    daily_delivery_rows: dict[str, int]
    daily_run_s: float
    full_refresh_s: float
    full_load_s: float  # the preparation's catch-up runs, summed
    floor_sql_s: float  # the harness's SQL floor on the undivided dataset
    daily_stages_s: dict[str, float]
    full_refresh_stages_s: dict[str, float]
    full_load_stages_s: dict[str, float]
    daily_slowest_cells: list[Cell]
    warehouse_before_bytes: int
    full_load_warehouse_bytes: int  # after the catch-up runs, before maintain
    growth_per_day_bytes: dict[str, int]  # after - before one daily run, per part
    full_refresh_growth_bytes: int  # what a full refresh adds under the warehouse root
    made_now: list[str]  # the cache entries this invocation prepared

    def ratios(self) -> dict[str, float]:
        """a / b (the target), a / c, and a and b over the SQL floor."""
        return {
            "daily_over_full_refresh": ratio(self.daily_run_s, self.full_refresh_s),
            "daily_over_full_load": ratio(self.daily_run_s, self.full_load_s),
            "daily_over_floor_sql": ratio(self.daily_run_s, self.floor_sql_s),
            "full_refresh_over_floor_sql": ratio(self.full_refresh_s, self.floor_sql_s),
        }

    def as_json(self) -> dict[str, object]:
        """The result for ``benchmarks/results/<time>.json``, with its ratios and the target."""
        return {**dataclasses.asdict(self), "ratios": self.ratios(), "target_ratio": TARGET}


def fingerprint(files: Iterable[Path], base: Path, extra: Mapping[str, object]) -> str:
    """A short sha256 of ``files`` (their names relative to ``base``, and their bytes) and ``extra``.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); _ = (d / "a.csv").write_text("id\\n1\\n")
    >>> fingerprint([d / "a.csv"], d, {"seed": 0}) == fingerprint([d / "a.csv"], d, {"seed": 0})
    True
    >>> fingerprint([d / "a.csv"], d, {"seed": 0}) == fingerprint([d / "a.csv"], d, {"seed": 1})
    False
    """
    h = hashlib.sha256(json.dumps(extra, sort_keys=True, default=str).encode())
    for path in sorted(files):
        h.update(str(path.relative_to(base)).encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:12]


def ratio(part: float, whole: float) -> float:
    """``part / whole`` to 3 places (``nan`` for a zero ``whole``).

    >>> ratio(3.0, 40.0), ratio(1.0, 0.0)
    (0.075, nan)
    """
    return round(part / whole, 3) if whole else float("nan")


def megabytes(n: int) -> str:
    """A growth in bytes as signed MB.

    >>> megabytes(2_345_678), megabytes(-500_000)
    ('+2.35 MB', '-0.50 MB')
    """
    return f"{n / 1e6:+.2f} MB"


def sizes(warehouse: Path) -> dict[str, int]:
    """Bytes under the warehouse root and under each of its :data:`PARTS`."""
    parts = {name: sum(disk_bytes(p) for p in warehouse.glob(pattern)) for name, pattern in PARTS.items()}
    return {"warehouse root": disk_bytes(warehouse)} | parts


def growth(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """What each part grew by.

    >>> growth({"raw zone": 10, "catalog": 5}, {"raw zone": 25, "catalog": 5})
    {'raw zone': 15, 'catalog': 0}
    """
    return {name: after[name] - before[name] for name in before}


def slowest_cells(run_dir: Path, count: int) -> list[Cell]:
    """The ``count`` slowest code cells of a run's executed notebooks, from papermill's per-cell
    durations: (stage, seconds, the cell's first line that is not a comment)."""
    cells = []
    for notebook in sorted(run_dir.glob("*.ipynb")):
        for cell in json.loads(notebook.read_text())["cells"]:
            seconds = cell.get("metadata", {}).get("papermill", {}).get("duration")
            code = [line for line in "".join(cell.get("source", "")).splitlines() if line.strip()]
            first = next((line for line in code if not line.startswith("#")), code[0] if code else "")
            if cell["cell_type"] == "code" and seconds is not None and first:
                cells.append((notebook.stem, round(float(seconds), 3), first.strip()[:70]))
    return sorted(cells, key=lambda c: -c[1])[:count]


def prepare_drops(source: Path, seed: int, late_fraction: float) -> tuple[Path, bool]:
    """The drops of ``source`` (cached), and whether they were made now."""
    params = {"source": source.name, "seed": seed, "late_fraction": late_fraction}
    key = fingerprint(sorted(source.glob("*.csv")), source, params)
    key = fingerprint([ROOT / "lib/duckbook/ingest/drops.py"], ROOT, {"data": key})  # the splitter's code too
    drops = CACHE / f"drops-{source.name}-{key}"
    if (drops / "deliveries.json").is_file():
        return drops, False
    _drop_others(drops)
    args = [str(source), str(drops), "--seed", str(seed), "--late-fraction", str(late_fraction), "--force"]
    duckbook(["drops", *args])  # writes beside the target, then renames: complete or absent
    return drops, True


def catch_up_dates(days: Sequence[dt.date], through: dt.date, per_run: int) -> list[dt.date]:
    """The ``run_date`` of each catch-up run loading ``days`` up to ``through``, at most ``per_run``
    deliveries a run (0: one run).

    >>> days = [dt.date(2024, 1, n) for n in range(1, 9)]
    >>> [d.day for d in catch_up_dates(days, dt.date(2024, 1, 7), 3)], catch_up_dates(days, days[-1], 0)
    ([3, 6, 7], [datetime.date(2024, 1, 8)])
    """
    loaded = [d for d in days if d <= through]
    if per_run <= 0:
        return loaded[-1:]
    return [loaded[min(i + per_run, len(loaded)) - 1] for i in range(0, len(loaded), per_run)]


def prepare_preloaded(drops: Path, days: Sequence[dt.date], through: dt.date, per_run: int) -> Preloaded:
    """The warehouse holding every delivery of ``drops`` up to ``through`` (cached): loaded by
    catch-up runs of at most ``per_run`` deliveries and maintained down to its last snapshot;
    complete once its ``meta.json`` is written."""
    code = sorted({p for pattern in CODE for p in ROOT.glob(pattern) if "__pycache__" not in p.parts})
    params = {"drops": drops.name, "through": through, "per_run": per_run}
    home = CACHE / f"preloaded-{drops.name}-{fingerprint(code, ROOT, params)}"
    made_now = not (home / "meta.json").is_file()
    if made_now:
        _drop_others(home)
        shutil.rmtree(home, ignore_errors=True)  # an interrupted preparation's
        home.mkdir(parents=True)
        warehouse, walls, stages = home / "warehouse", [], collections.Counter[str]()
        dates = catch_up_dates(days, through, per_run)
        for n, day in enumerate(dates, start=1):
            wall, seconds, _ = timed_run(_run_args(drops, day), warehouse, home / f"reports-{n}")
            shutil.rmtree(home / f"reports-{n}")
            walls.append(round(wall, 3))
            stages.update(seconds)
            print(f"  preparing the daily bench: catch-up run {n}/{len(dates)} through {day}: {wall:.1f} s", flush=True)
        loaded = disk_bytes(warehouse)
        for _ in range(2):  # the first releases the files of the expired snapshots, the second deletes them
            duckbook(["maintain", "--warehouse", str(warehouse), *MAINTAIN])
        meta = {
            "runs": len(dates),
            "load_s": round(sum(walls), 3),
            "stages_s": {name: round(s, 3) for name, s in stages.items()},
            "loaded_bytes": loaded,
            "made_at": f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}",
            "run_walls_s": walls,
        }
        warehouse.rename(home / "pristine")
        (home / "meta.json").write_text(json.dumps(meta, indent=2))
    meta = json.loads((home / "meta.json").read_text())
    return Preloaded(
        pristine=home / "pristine",
        warehouse=home / "warehouse",
        through=through,
        deliveries=sum(d <= through for d in days),
        runs=int(meta["runs"]),
        load_s=float(meta["load_s"]),
        stages_s=dict(meta["stages_s"]),
        loaded_bytes=int(meta["loaded_bytes"]),
        made_at=str(meta["made_at"]),
        made_now=made_now,
    )


def _drop_others(keep: Path) -> None:
    """Remove the cache's other entries of ``keep``'s kind, ``drops`` or ``preloaded``: the cache
    keeps one of each (a stale one is hundreds of MB)."""
    kind = keep.name.split("-", 1)[0]
    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.iterdir():
        if old != keep and old.name.split("-", 1)[0] == kind:
            shutil.rmtree(old)


def _run_args(drops: Path, day: dt.date, *extra: str) -> list[str]:
    return ["-p", f"source_dir={drops}", "-p", f"run_date={day}", *extra]


def measure(drops: Path, day: dt.date, start: Preloaded, work: Path, *extra: str) -> Measured:
    """One timed ``duckbook run`` on a fresh copy of the preloaded warehouse, its reports in ``work``."""
    warehouse, reports = start.warehouse, work / f"reports-{time.monotonic_ns()}"
    shutil.rmtree(warehouse, ignore_errors=True)  # an interrupted bench's
    shutil.copytree(start.pristine, warehouse, symlinks=True)
    before = sizes(warehouse)
    wall, stages, run_dir = timed_run(_run_args(drops, day, *extra), warehouse, reports)
    measured = Measured(wall, stages, before, sizes(warehouse), slowest_cells(run_dir, 8))
    shutil.rmtree(warehouse)
    return measured


def bench(
    source: Path, work: Path, *, repeat: int, seed: int, late_fraction: float, catch_up_days: int = CATCH_UP_DAYS
) -> DailyResult:
    """Prepare (cached), then measure a and b ``repeat`` times interleaved with the SQL floor on
    ``source`` (see the module docstring)."""
    drops, drops_made = prepare_drops(source, seed, late_fraction)
    manifest = json.loads((drops / "deliveries.json").read_text())
    days = [dt.date.fromisoformat(d) for d in manifest["days"]]
    pre = prepare_preloaded(drops, days, days[-1] - dt.timedelta(days=HELD_BACK), catch_up_days)
    day = min(d for d in days if d > pre.through)

    daily, full, floors = [], [], []
    for _ in range(repeat):  # interleaved, so machine noise hits every side alike
        daily.append(measure(drops, day, pre, work))
        full.append(measure(drops, day, pre, work, "--full-refresh"))
        floors.append(run_floor(source, work)[0])

    grown = [growth(m.before, m.after) for m in daily]
    return DailyResult(
        drops=str(drops),
        repeat=repeat,
        first_day=str(days[0]),
        preloaded_through=str(pre.through),
        preloaded_deliveries=pre.deliveries,
        preloaded_by=f"{pre.runs} catch-up run(s) of at most {catch_up_days or pre.deliveries} deliveries, then maintain",
        preloaded_at=pre.made_at,
        daily_run_date=str(day),
        daily_delivery_rows={name.removesuffix(".csv"): n for name, n in manifest["files"][str(day)].items()},
        daily_run_s=round(statistics.median(m.wall_s for m in daily), 3),
        full_refresh_s=round(statistics.median(m.wall_s for m in full), 3),
        full_load_s=pre.load_s,
        floor_sql_s=round(statistics.median(floors), 3),
        daily_stages_s=_median_stages(daily),
        full_refresh_stages_s=_median_stages(full),
        full_load_stages_s=pre.stages_s,
        daily_slowest_cells=sorted(daily, key=lambda m: m.wall_s)[len(daily) // 2].cells,
        warehouse_before_bytes=daily[0].before["warehouse root"],
        full_load_warehouse_bytes=pre.loaded_bytes,
        growth_per_day_bytes={name: int(statistics.median(g[name] for g in grown)) for name in grown[0]},
        full_refresh_growth_bytes=int(
            statistics.median(m.after["warehouse root"] - m.before["warehouse root"] for m in full)
        ),
        made_now=[name for name, made in (("drops", drops_made), ("preloaded warehouse", pre.made_now)) if made],
    )


def _median_stages(measured: Sequence[Measured]) -> dict[str, float]:
    return {name: round(statistics.median(m.stages_s[name] for m in measured), 3) for name in measured[0].stages_s}


def report(r: DailyResult) -> list[str]:
    """The lines the harness prints for a :func:`bench` result."""
    a, b, c = r.daily_run_s, r.full_refresh_s, r.full_load_s
    ratios = r.ratios()
    delivered = ", ".join(f"{name} {n:,}" for name, n in r.daily_delivery_rows.items() if n)
    made = f"; prepared now: {', '.join(r.made_now)}" if r.made_now else f"; from the cache of {r.preloaded_at}"
    verdict = "met" if ratios["daily_over_full_refresh"] <= TARGET else "MISSED"
    outside = a - sum(r.daily_stages_s.values())
    return [
        f"daily deliveries: {r.drops}  (median of {r.repeat}{made})",
        (
            f"  start state: {r.preloaded_deliveries} deliveries {r.first_day}..{r.preloaded_through} loaded by "
            f"{r.preloaded_by}: not a day-by-day replay (the same data: the replay == catch-up invariant is "
            "tested elsewhere); each run below starts from a fresh copy of it"
        ),
        f"  next delivery: {r.daily_run_date} ({delivered or 'no'} rows)",
        f"  a. daily run (wall)              {a:8.2f} s",
        f"  b. full refresh (wall)           {b:8.2f} s",
        f"  c. full load from scratch (wall) {c:8.2f} s   (the start state's catch-up runs, {r.preloaded_at})",
        f"  floor SQL (undivided dataset)    {r.floor_sql_s:8.2f} s",
        f"ratio daily / full refresh     = {ratios['daily_over_full_refresh']:.3f}   (target <= {TARGET:.2f}: {verdict})",
        f"ratio daily / full load        = {ratios['daily_over_full_load']:.3f}",
        (
            f"ratio daily / floor_sql        = {ratios['daily_over_floor_sql']:.2f}   "
            f"(full refresh / floor_sql = {ratios['full_refresh_over_floor_sql']:.2f})"
        ),
        "daily run, where the time goes (median seconds):",
        *(f"  stage {name:<26} {s:8.2f} s" for name, s in r.daily_stages_s.items()),
        f"  outside the stages               {outside:8.2f} s   (CLI start, kernel start, commit, pages)",
        "  slowest cells (the median run):",
        *(f"    {stage:<20} {s:7.2f} s  {line}" for stage, s, line in r.daily_slowest_cells),
        (
            f"disk growth per day (a warehouse of {r.warehouse_before_bytes / 1e6:.1f} MB before the daily run; "
            f"{r.full_load_warehouse_bytes / 1e6:.1f} MB after c, before maintain):"
        ),
        *(f"  {name:<30} {n:>+14,} bytes  {megabytes(n)}" for name, n in r.growth_per_day_bytes.items()),
        f"  (a full refresh adds {megabytes(r.full_refresh_growth_bytes)} under the root)",
    ]
