"""The runner's drawing process: report charts to SVG with vl-convert, beside the kernel.

vl-convert holds the GIL while it draws (~0.3 s a chart, ~0.6 s to start its JavaScript engine),
so it runs in a process of its own: ``python -m duckbook.run.drawing``, fed one JSON line per
chart (:data:`duckbook.publish.page.CHART_MIME` content) on stdin, answering one JSON line per
chart, in order (``{"svg": ...}`` or ``{"error": "Type: message"}``). It ignores Ctrl-C (the
runner handles it) and ends when its stdin closes, at the latest when the runner exits.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any, TextIO

from duckbook.publish import page

#: The chart :meth:`Drawer.warm_up` draws: an axis, so its text loads the fonts too.
WARM_UP = {
    "spec": {"mark": "point", "data": {"values": [{"a": 1}]}, "encoding": {"x": {"field": "a", "type": "ordinal"}}},
    "vl_version": None,
}


class DrawingError(RuntimeError):
    """vl-convert could not draw a chart, or the drawing process died."""


class Drawer:
    """The drawing process, started on first use; :meth:`draw` returns the SVG's future."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._waiting: deque[Future[str]] = deque()
        self._lock = threading.Lock()

    def draw(self, chart: Mapping[str, Any]) -> Future[str]:
        """Send ``chart`` to be drawn; its future holds the SVG or raises :class:`DrawingError`."""
        drawn: Future[str] = Future()
        with self._lock:
            proc = self._start()
            self._waiting.append(drawn)
            try:
                assert proc.stdin is not None
                proc.stdin.write(json.dumps(chart) + "\n")
                proc.stdin.flush()
            except OSError as exc:
                self._waiting.remove(drawn)
                drawn.set_exception(DrawingError(f"the drawing process is gone: {exc}"))
        return drawn

    def warm_up(self) -> None:
        """Start the process and its JavaScript engine now, before the first real chart."""
        self.draw(WARM_UP)

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "duckbook.run.drawing"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
            threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True).start()
            atexit.register(self.close)
        return self._proc

    def _read(self, answers: TextIO) -> None:
        """Settle the futures in order, one answer line each; fail the rest if the process ends."""
        for line in answers:
            with self._lock:
                drawn = self._waiting.popleft()
            answer = json.loads(line)
            if "svg" in answer:
                drawn.set_result(answer["svg"])
            else:
                drawn.set_exception(DrawingError(answer["error"]))
        with self._lock:
            while self._waiting:
                self._waiting.popleft().set_exception(DrawingError("the drawing process ended"))

    def close(self) -> None:
        """End the process (it finishes the charts it was sent first)."""
        if self._proc is not None:
            proc, self._proc = self._proc, None
            if proc.stdin is not None:
                with contextlib.suppress(OSError):  # it may be gone already
                    proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    """The drawing process: one chart per stdin line, one answer per stdout line."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for line in sys.stdin:
        try:
            answer = {"svg": page.draw(json.loads(line))}
        except Exception as exc:  # a chart vl-convert refuses: the runner fails that cell
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
