"""nbgrader's kernels, started inside a sandbox (`lrcourse.grading.sandbox`).

nbgrader's execute step builds a jupyter_client kernel manager for each notebook; in a grading worker that
class is `SandboxedKernelManager`. It talks to the kernel over Unix sockets in a folder bound into the
sandbox (ZeroMQ's `ipc` transport), so the kernel's network namespace stays empty; it starts the kernel
with the student's notebook folder copied to a scratch folder that appears in its place; and it enforces
the wall-clock limit of the whole notebook, killing the sandbox when it is reached. What stopped a kernel
(a limit) is kept in `LIMIT_HITS`, by notebook folder, for the grader's report.
"""
from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from lrcourse.grading.sandbox import Limits, Sandbox

LIMITS = Limits()               # set by the grading worker from nbgrader_config.py
LIMIT_HITS: dict[str, str] = {}  # notebook folder -> which limit stopped its kernel
SANDBOXES: dict[str, Sandbox] = {}  # notebook folder -> the sandbox of its kernel, until cleaned up


def limit_hit(folder: Path) -> str | None:
    """Which limit stopped the kernel of the notebook in `folder`, if one did; ends a sandbox left behind
    (a kernel that died is not always cleaned up by its manager)."""
    key = str(folder.resolve())
    sandbox = SANDBOXES.pop(key, None)
    if sandbox is not None:
        LIMIT_HITS.setdefault(key, sandbox.limit_hit() or "")
        sandbox.close()
    return LIMIT_HITS.pop(key, None) or None


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in a fresh sandbox of its own."""

    sandbox: Sandbox | None = None
    _deadline: asyncio.TimerHandle | None = None

    async def _async_pre_start_kernel(self, **kw):
        folder = Path(kw.get("cwd") or os.getcwd()).resolve()
        sockets = Path(tempfile.mkdtemp(prefix="lrc-"))  # short: a Unix socket path has ~100 bytes
        self.transport, self.ip = "ipc", str(sockets / "k")
        self.connection_file = str(sockets / "kernel.json")
        self.sandbox = Sandbox(LIMITS, scratch_from=folder, mount_at=folder, sockets=sockets)
        self.sandbox._give(sockets)
        self._folder = str(folder)
        SANDBOXES[self._folder] = self.sandbox
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        os.chmod(self.connection_file, 0o644)  # the kernel reads it as the sandbox's user
        return self.sandbox.command(kernel_cmd, cwd=folder), kw

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        await super()._async_launch_kernel(kernel_cmd, **kw)
        self._deadline = asyncio.get_running_loop().call_later(LIMITS.wall_seconds, self._out_of_time)

    def _out_of_time(self) -> None:
        LIMIT_HITS[self._folder] = f"wall-clock limit ({LIMITS.wall_seconds} s for the notebook)"
        self.sandbox.kill()

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._deadline is not None:
            self._deadline.cancel()
        if self.sandbox is not None and SANDBOXES.pop(self._folder, None) is not None:
            hit = self.sandbox.limit_hit()
            if hit:
                LIMIT_HITS.setdefault(self._folder, hit)
            self.sandbox.close()
            import shutil

            shutil.rmtree(Path(self.connection_file).parent, ignore_errors=True)
            self.sandbox = None
