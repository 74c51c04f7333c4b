"""One Jupyter kernel for every stage of a run: the namespace is reset between stages
(``%reset -f``) but imported modules stay loaded, and so does the warehouse connection, so imports
(~2.5 s), kernel start (~1 s) and attaching the lake (~0.4 s) are paid once per run, and all stages
write in the run's one transaction."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

KERNEL = "python3"


class KernelError(RuntimeError):
    """Code the runner sent to the kernel raised; the message has the error's type and text."""


class Kernel:
    """The run's kernel, started on first use, over unix sockets in a private temp dir."""

    def __init__(self, cwd: Path, env: Mapping[str, str]) -> None:
        self.km: Any = None  # jupyter_client.KernelManager (untyped)
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

    def manager(self) -> Any:
        """The kernel manager for the next stage notebook, its namespace reset since the last one."""
        km = self._start()
        if self._used:
            self.run("%reset -f")
        self._used = True
        return km

    def run(self, code: str, *, timeout: float = 600) -> None:
        """Execute ``code`` in the kernel; raise :class:`KernelError` if it raises."""
        kc = self._start().client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=60)
            reply = kc.execute_interactive(code, silent=False, timeout=timeout, output_hook=lambda msg: None)
        finally:
            kc.stop_channels()
        content = reply.get("content", {})
        if content.get("status") == "error":
            raise KernelError(f"{content.get('ename', 'Error')}: {content.get('evalue', '')}")

    def alive(self) -> bool:
        return self.km is not None and self.km.is_alive()

    def kill(self) -> None:
        """Stop the kernel at once (SIGKILL to its process group; its uncommitted transaction dies
        with it), without the client's event loop: after an interruption that loop may still hold
        papermill's interrupted tasks, which raise the interruption again when it next runs."""
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is not None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)  # jupyter_client starts it in a session of its own
            process.wait()
        self.km = None
        self.shutdown()

    def shutdown(self) -> None:
        """Stop the kernel (an uncommitted transaction dies with it) and remove its sockets."""
        if self.km is not None and self.km.has_kernel:
            self.km.shutdown_kernel(now=True)
        self.km = None
        if self._sockets:
            shutil.rmtree(self._sockets, ignore_errors=True)
            self._sockets = ""
