"""Progress events from a stage to the runner: one JSON object per line, appended to the file
named by ``DUCKBOOK_EVENTS`` (the runner sets it for its kernel and prints the events live).

Outside a run (a notebook run by hand) :func:`emit` does nothing.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "events.jsonl")
>>> os.environ[EVENTS_ENV] = path
>>> emit("model", model="marts.orders", action="full")
>>> events, offset = read(path, 0)
>>> events
[{'event': 'model', 'model': 'marts.orders', 'action': 'full'}]
>>> read(path, offset)[0]
[]
>>> del os.environ[EVENTS_ENV]
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

#: The environment variable naming the events file of the run.
EVENTS_ENV = "DUCKBOOK_EVENTS"


def emit(event: str, **fields: Any) -> None:
    """Append one event (``{"event": event, **fields}``) to the run's events file, if any."""
    path = os.environ.get(EVENTS_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:  # one short write per event: lines stay whole
        f.write(json.dumps({"event": event, **fields}, default=str) + "\n")


def read(path: str | Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """The whole events appended to ``path`` after byte ``offset``, and the offset after them."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    complete = data[: data.rfind(b"\n") + 1]  # a line being written is read next time
    return [json.loads(line) for line in complete.splitlines() if line.strip()], offset + len(complete)
