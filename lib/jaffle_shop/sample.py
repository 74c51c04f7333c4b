"""Cut the committed sample (``data/sample``) from a full jafgen dataset.

jafgen cannot be seeded (uuid4, Faker and numpy are unseeded), so the sample is generated once,
cut with this module and committed; every default run, notebook baseline and test uses it.

    python -m jaffle_shop.sample SOURCE_DIR data/sample --start 2019-07-22 --end 2019-08-11

keeps the orders placed from ``start`` to ``end`` inclusive, their items, and every customer,
store, product and supply, with each kept line copied byte for byte.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

WHOLE_FILES = ("raw_customers.csv", "raw_products.csv", "raw_stores.csv", "raw_supplies.csv")


def cut_sample(source: Path, dest: Path, start: dt.date, end: dt.date) -> dict[str, int]:
    """Copy the orders in ``[start, end]`` and their items; return data rows written per file."""
    dest.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name in WHOLE_FILES:
        shutil.copyfile(source / name, dest / name)
        counts[name] = _data_rows(dest / name)
    kept_orders: set[str] = set()

    def keep_order(row: dict[str, str]) -> bool:
        day = dt.date.fromisoformat(row["ordered_at"][:10])
        if start <= day <= end:
            kept_orders.add(row["id"])
            return True
        return False

    counts["raw_orders.csv"] = _filter_lines(source / "raw_orders.csv", dest / "raw_orders.csv", keep_order)
    counts["raw_items.csv"] = _filter_lines(
        source / "raw_items.csv", dest / "raw_items.csv", lambda r: r["order_id"] in kept_orders
    )
    return counts


def _filter_lines(src: Path, dst: Path, keep: Callable[[dict[str, str]], bool]) -> int:
    """Copy the header and every line whose parsed row passes ``keep`` (lines copied verbatim)."""
    with open(src, encoding="utf-8", newline="") as f:
        lines = f.read().splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    kept = [line for line in lines[1:] if keep(dict(zip(header, next(csv.reader([line])), strict=True)))]
    dst.write_text(lines[0] + "".join(kept), encoding="utf-8", newline="")
    return len(kept)


def _data_rows(path: Path) -> int:
    with open(path, encoding="utf-8", newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--start", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--end", type=dt.date.fromisoformat, required=True)
    args = parser.parse_args()
    for name, rows in cut_sample(args.source, args.dest, args.start, args.end).items():
        print(f"{name}: {rows} rows")


if __name__ == "__main__":
    main()
