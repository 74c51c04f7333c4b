"""One Jupyter kernel for every stage of a run: the namespace is reset between stages
(:func:`fresh_namespace`, run in the kernel) but imported modules stay loaded, and so does the warehouse connection, so imports
(~2.5 s), kernel start (~1 s) and attaching the lake (~0.4 s) are paid once per run, and all stages
write in the run's one transaction. The runner talks to it through one client, made ready once:
jupyter_client's ``wait_for_ready`` drains IOPub for 0.2 s, which a client per call would pay
each time."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

KERNEL = "python3"


class KernelError(RuntimeError):
    """Code the runner sent to the kernel raised; the message has the error's type and text."""


class Kernel:
    """The run's kernel, started on first use, over unix sockets in a private temp dir."""

    def __init__(self, cwd: Path, env: Mapping[str, str]) -> None:
        self.km: Any = None  # jupyter_client.KernelManager (untyped)
        self._kc: Any = None  # its BlockingKernelClient, channels started
        self._sockets = ""
        self._used = False
        self.cwd, self.env = cwd, dict(env)

    def _start(self) -> Any:
        if self.km is None:
            from jupyter_client.manager import KernelManager

            # Unix sockets instead of TCP ports on localhost.
            self._sockets = tempfile.mkdtemp(prefix="duckbook-kernel-")
            self.km = KernelManager(kernel_name=KERNEL, transport="ipc", ip=os.path.join(self._sockets, "k"))
            self.km.start_kernel(cwd=str(self.cwd), env=self.env)
        return self.km

    def client(self) -> Any:
        """The kernel's client (a ``jupyter_client.BlockingKernelClient``), ready (the kernel is
        started on first use)."""
        if self._kc is None:
            kc = self._start().client()
            kc.start_channels()
            try:
                kc.wait_for_ready(timeout=60)
            except BaseException:
                kc.stop_channels()
                raise
            self._kc = kc
        return self._kc

    def fresh(self) -> None:
        """Ready the kernel for the next stage notebook: its namespace reset since the last one."""
        if self._used:
            self.run("from duckbook.run.kernel import fresh_namespace as _reset; _reset()")
        self._used = True
        self.client()

    def execute(
        self, code: str, *, output_hook: Callable[[dict[str, Any]], None] | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Execute ``code`` in the kernel (no stdin; the queue stops at an error) and return the
        content of its ``execute_reply``; ``output_hook`` gets each IOPub message it produces.

        Raises :class:`KernelError` if the kernel dies meanwhile or ``timeout`` seconds pass.
        """
        kc = self.client()
        msg_id = kc.execute(code, store_history=True, allow_stdin=False, stop_on_error=True)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:  # its outputs, until the kernel is idle again
            msg = self._next(kc.iopub_channel, deadline)
            if msg is None or msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["header"]["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            if output_hook is not None:
                output_hook(msg)
        while True:  # its reply
            msg = self._next(kc.shell_channel, deadline)
            if msg is not None and msg["parent_header"].get("msg_id") == msg_id:
                return dict(msg["content"])

    def _next(self, channel: Any, deadline: float | None) -> dict[str, Any] | None:
        """The channel's next message, or None after a second without one (the kernel alive
        and time left: else :class:`KernelError`)."""
        try:
            return dict(channel.get_msg(timeout=1))
        except queue.Empty:
            if not self.alive():
                raise KernelError("the kernel died (killed, out of memory or crashed)") from None
            if deadline is not None and time.monotonic() > deadline:
                raise KernelError("timed out waiting for the kernel") from None
            return None

    def run(self, code: str, *, timeout: float = 600) -> None:
        """Execute ``code`` in the kernel; raise :class:`KernelError` if it raises."""
        content = self.execute(code, timeout=timeout)
        if content.get("status") == "error":
            raise KernelError(f"{content.get('ename', 'Error')}: {content.get('evalue', '')}")

    def alive(self) -> bool:
        return self.km is not None and self.km.is_alive()

    def kill(self) -> None:
        """Stop the kernel at once (SIGKILL to its process group; its uncommitted transaction dies
        with it), without the client's event loop: after an interruption that loop may still hold
        the interrupted execution's tasks, which raise the interruption again when it next runs."""
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is not None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)  # jupyter_client starts it in a session of its own
            process.wait()
        self.km = None
        self.shutdown()

    def shutdown(self) -> None:
        """Stop the kernel (an uncommitted transaction dies with it) and remove its sockets."""
        if self._kc is not None:
            self._kc.stop_channels()
            self._kc = None
        if self.km is not None and self.km.has_kernel:
            self.km.shutdown_kernel(now=True)
        self.km = None
        if self._sockets:
            shutil.rmtree(self._sockets, ignore_errors=True)
            self._sockets = ""


def fresh_namespace() -> None:
    """Empty the kernel's namespace for the next stage, as ``%reset -f`` does, but without its full
    garbage collection (~0.2 s a stage once Ibis and the run's modules are loaded): what the last
    stage left in reference cycles goes at the next automatic collection."""
    from IPython import get_ipython

    shell = get_ipython()
    hook = shell.displayhook
    full_cache, hook.do_full_cache = hook.do_full_cache, False  # its flush is where gc.collect() runs
    try:
        shell.reset(new_session=False)
    finally:
        hook.do_full_cache = full_cache
    hook._, hook.__, hook.___ = "", "", ""  # what the flush does besides collecting
    shell.user_ns.update({"_": "", "__": "", "___": ""})
