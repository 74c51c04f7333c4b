"""Drive `duckbook run` as a real process and break it: kill it, interrupt it, read beside it.

Every run is the real command (the ``duckbook`` entry point next to ``sys.executable``), started
in a session of its own so that ``os.killpg`` reaches the runner; its kernel leads a process
group of its own (jupyter_client starts kernels with ``start_new_session``), so a full kill
signals both groups. Each run carries a unique environment marker, inherited by its kernel,
so :func:`leftover_processes` finds anything the run left alive.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil

import duckbook
from duckbook import engine

ROOT = Path(__file__).resolve().parents[2]
DUCKBOOK = str(Path(sys.executable).with_name("duckbook"))
RUN_DATE = "2019-08-11"
MARKER_ENV = "DUCKBOOK_FAULT_MARKER"
#: the test hook duckbook.run.session.PAUSE_BEFORE_COMMIT: the kernel sleeps this long before publishing
PAUSE_ENV = "DUCKBOOK_TEST_PAUSE_BEFORE_COMMIT"
COMMIT_PAUSE = 8
#: runs stopped at their commit execute the stages up to the marts: the same commit, in half the time
UP_TO_MARTS = ("-s", "10_ingest", "-s", "20_staging", "-s", "30_marts")


@dataclasses.dataclass(frozen=True)
class Answer:
    """What a reader sees: the orders mart and the runs the run log records as successful."""

    orders: int
    order_total: float
    published_runs: frozenset[str]


def answer(warehouse: Path) -> Answer:
    """Read the newest published snapshot with ``duckbook.connect(read_only=True)``."""
    con = duckbook.connect(warehouse, read_only=True)
    try:
        raw = engine.raw(con)
        orders, total = raw.execute("SELECT count(*), sum(order_total) FROM marts.orders").fetchone() or (0, 0)
        runs = raw.execute(
            "SELECT run_id FROM ops.run_log GROUP BY run_id HAVING bool_and(status = 'success')"
        ).fetchall()
    finally:
        con.disconnect()
    return Answer(int(orders), float(total), frozenset(r for (r,) in runs))


def recorded_as_failed(warehouse: Path, run_id: str) -> bool:
    """Whether the published run log records ``run_id`` as a failed run."""
    con = duckbook.connect(warehouse, read_only=True)
    try:
        rows = engine.raw(con).execute("SELECT status FROM ops.run_log WHERE run_id = ?", [run_id]).fetchall()
    finally:
        con.disconnect()
    return "failed" in {status for (status,) in rows}


def tree_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def copy_warehouse(source: Path, dest: Path) -> Path:
    """A copy of a warehouse root (catalog, data files, raw zone) that no process holds open."""
    shutil.copytree(source, dest, dirs_exist_ok=True)
    return dest


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a ``duckbook`` command to completion."""
    return subprocess.run([DUCKBOOK, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def run_args(warehouse: Path, reports: Path, *extra: str) -> list[str]:
    """A run over the same sample that rebuilds everything (``--full-refresh``): a rerun of
    unchanged input would otherwise skip every model, and the faults must hit a run that writes."""
    return [
        "run",
        "-p",
        f"run_date={RUN_DATE}",
        "--full-refresh",
        "--warehouse",
        str(warehouse),
        "--reports-dir",
        str(reports),
        *extra,
    ]


class Run:
    """One ``duckbook run`` in the background, its output collected line by line as it comes."""

    def __init__(self, warehouse: Path, reports: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.warehouse, self.reports = warehouse, reports
        self.marker = uuid.uuid4().hex
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [DUCKBOOK, *run_args(warehouse, reports, *extra)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # the runner leads its own process group, as in a shell
            env={**os.environ, "PYTHONUNBUFFERED": "1", MARKER_ENV: self.marker, **(env or {})},
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._collect, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._collect, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _collect(stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.append(line.rstrip("\n"))

    @property
    def started_id(self) -> str | None:
        """The run id, once the runner has printed it (None if it was stopped before)."""
        found = re.match(r"run (\S+): ", self.stdout[0]) if self.stdout else None
        return found.group(1) if found else None

    @property
    def run_id(self) -> str:
        assert self.started_id, f"the run printed no run id: {self.output()}"
        return self.started_id

    @property
    def run_dir(self) -> Path:
        return self.reports / "runs" / self.run_id

    def output(self) -> str:
        return "stdout:\n" + "\n".join(self.stdout) + "\nstderr:\n" + "\n".join(self.stderr)

    def stage_done(self, stage: str) -> bool:
        """Whether the runner printed ``stage``'s result line (not its ``running`` line)."""
        return any(line.split()[:1] == [stage] and line.split()[1:2] != ["running"] for line in self.stdout[1:])

    def stage_started(self, stage: str) -> bool:
        """Whether the runner printed that ``stage`` is running."""
        return any(line.split()[:2] == [stage, "running"] for line in self.stdout[1:])

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"the run ended before {what}:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {what} after {timeout}s:\n{self.output()}"
            time.sleep(0.05)

    def kernels(self) -> list[psutil.Process]:
        """The run's kernel processes (children of the runner)."""
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> None:
        """SIGKILL the runner's process group and its kernel's; wait for the runner to end, then
        remove the kernel's connection file and socket directory (nobody else will)."""
        kernels = self.kernels()
        leftovers = [path for kernel in kernels for path in _kernel_files(kernel)]
        os.killpg(self.proc.pid, signal.SIGKILL)
        for kernel in kernels:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(kernel.pid), signal.SIGKILL)
        self.wait()
        for path in leftovers:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def send(self, signum: int) -> None:
        """Send ``signum`` as a shell would: Ctrl-C to the foreground process group, SIGTERM to the runner."""
        if signum == signal.SIGINT:
            os.killpg(self.proc.pid, signum)
        else:
            self.proc.send_signal(signum)

    def wait(self, timeout: float = 300) -> int:
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        return code

    def wait_at_commit(self, last_stage: str) -> None:
        """Wait until the run (started with ``PAUSE_ENV``) sleeps at its commit, unpublished."""
        self.wait_until(lambda: self.stage_done(last_stage), f"stage {last_stage} ending")
        deadline = time.monotonic() + COMMIT_PAUSE / 2
        while not self._kernel_sleeps() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self._kernel_sleeps():  # /proc/<pid>/wchan says nothing here: the pause is long enough
            time.sleep(1)
        assert not any("succeeded" in line for line in self.stdout), self.output()

    def _kernel_sleeps(self) -> bool:
        """Whether the kernel's main thread sleeps (in the commit pause: nothing else sleeps there)."""
        for kernel in self.kernels():
            with contextlib.suppress(OSError):
                if "nanosleep" in Path(f"/proc/{kernel.pid}/wchan").read_text():
                    return True
        return False


def _kernel_files(kernel: psutil.Process) -> list[Path]:
    """A kernel's connection file (``-f FILE``) and the directory of its unix sockets."""
    with contextlib.suppress(psutil.Error, OSError, ValueError):
        args = kernel.cmdline()
        connection = Path(args[args.index("-f") + 1])
        sockets = Path(json.loads(connection.read_text())["ip"]).parent
        return [connection, sockets] if sockets.name.startswith("duckbook-kernel-") else [connection]
    return []


def leftover_processes(marker: str, grace: float = 10) -> list[str]:
    """Processes still alive (zombies aside) that carry a run's marker in their environment,
    after waiting up to ``grace`` seconds for them to go."""
    deadline = time.monotonic() + grace
    while True:
        alive = []
        for proc in psutil.process_iter(["pid", "cmdline", "status"]):
            try:
                if proc.info["status"] != psutil.STATUS_ZOMBIE and proc.environ().get(MARKER_ENV) == marker:
                    alive.append(f"{proc.pid}: {' '.join(proc.info['cmdline'] or [])}")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def traceback_free(text: str) -> bool:
    return "Traceback" not in text
