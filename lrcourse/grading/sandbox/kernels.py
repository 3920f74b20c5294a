"""nbgrader's kernels while a class is graded: forked from a kernel zygote, inside a sandbox.

nbgrader's execute step builds a jupyter_client kernel manager for each notebook; in a grading worker that
class is `ForkedKernelManager`. Instead of starting a new interpreter (and paying torch's import again),
it asks the worker's `KernelZygoteHandle` (`lrcourse.grading.sandbox.kernel_zygote`) to fork a kernel, and manages the
small relay process (`kernel_relay.py`) that stands for it. Under the sandbox (`lrcourse.grading.sandbox.bwrap`)
the zygote lives in a sandbox of its own and each kernel is the first process of a new user and PID
namespace inside it; between two notebooks the zygote kills whatever is left and empties /tmp, and the
grader replaces the scratch folder. The kernel talks to nbgrader over Unix sockets in a folder bound into
the sandbox (ZeroMQ's `ipc` transport), so its network namespace stays empty; the student's notebook folder
is a read-only scratch copy at `/notebook`, which each kernel copies into its own tmpfs and runs in, at
`/tmp/notebook` (`kernel_zygote`). The manager enforces the wall-clock limit of the whole
notebook; what stopped a kernel (a limit) is kept in the worker's `Kernels`, by notebook folder, for the run's
outcomes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from lrcourse.grading.sandbox.bwrap import Sandbox
from lrcourse.grading.sandbox.kernel_client import BoundedKernelClient, MeasuredSession, manager_context
from lrcourse.grading.sandbox.limits import Limits, budget_text
from lrcourse.grading.sandbox.namespaces import kill_quietly, mount_tmpfs, unmount
from lrcourse.grading.sandbox.tree_removal import empty_folder, remove_tree
from lrcourse.grading.sandbox.zygote import ISOLATE, LINE_FAULTS, Handle, ZygoteFault, spawn

NOTEBOOK = Path("/notebook")  # where a sandboxed kernel sees the student's folder
RELAY = Path(__file__).with_name("kernel_relay.py")


class Kernels:
    """A grading worker's kernels: its kernel zygote, the notebook's wall-clock limit, the student's time
    budget (`deadline`, set by the worker per student), and, by notebook folder, the managers still running
    and which limit stopped a kernel (for the run's outcomes)."""

    def __init__(self, handle: KernelZygoteHandle, limits: Limits):
        self.handle, self.limits = handle, limits
        self.limit_hits: dict[str, str] = {}
        self.running: dict[str, ForkedKernelManager] = {}
        self.deadline: float | None = None  # time.monotonic() at which the student's time budget ends

    def notebook_seconds(self) -> tuple[float, str]:
        """How long a notebook starting now may run, and the limit that says so."""
        wall = self.limits.wall_seconds
        left = wall if self.deadline is None else self.deadline - time.monotonic()
        if left < wall:
            return max(0.0, left), budget_text(self.limits)
        return wall, f"wall-clock limit ({wall} s for the notebook)"

    def manager_class(self) -> type[ForkedKernelManager]:
        """A kernel manager class whose kernels come from these (jupyter_client builds it with no arguments)."""
        return type("ForkedKernelManager", (ForkedKernelManager,), {"kernels": self})

    def limit_hit(self, folder: Path) -> str | None:
        """Which limit stopped the kernel of the notebook in `folder`, if one did; ends a kernel left behind
        (a kernel that died is not always cleaned up by its manager)."""
        key = str(folder.resolve())
        manager = self.running.pop(key, None)
        if manager is not None:
            manager.finish()
        return self.limit_hits.pop(key, None) or None

    def close(self) -> None:
        self.handle.close()


def use_forked_kernels(kernels: Kernels) -> None:
    """Make nbgrader run every notebook of this process in a kernel forked by `kernels.handle`'s zygote.

    nbgrader's execute step (nbgrader.preprocessors.execute) names jupyter_client's AsyncKernelManager in a
    default argument and offers no setting for it, so the class is substituted in that module: this is the
    one place that does it, once per grading worker."""
    from nbgrader.preprocessors import execute

    execute.AsyncKernelManager = kernels.manager_class()


class KernelZygoteHandle(Handle):
    """A worker's kernel zygote: `fork_kernel(...)` for each notebook, `after_kernel()` once it is done.

    With `limits` it runs in a sandbox of its own; without, as the grader's user (`--no-sandbox`).
    """

    module = "lrcourse.grading.sandbox.kernel_zygote"
    # Not -I: it implies -P, and a kernel without the notebook's folder on sys.path could not import
    # a module next to the notebook. -E -s keep out the environment's PYTHON* and the user's site.
    python_flags = ("-E", "-s")
    name = "the kernel zygote"
    own_group = True  # a session of its own: stopping it ends every kernel it forked

    def __init__(self, limits: Limits | None):
        super().__init__(limits)
        self.private = Path(tempfile.mkdtemp(prefix=f"lrcourse-zygote-{os.getpid()}-"))  # the grader's own: its log
        # Short (a Unix socket path has ~100 bytes), and not under /tmp, which each kernel replaces by its own.
        self.sockets = Path(tempfile.mkdtemp(prefix=f"lrc-{os.getpid()}-", dir=_sockets_parent()))
        # Kernels write their sockets here: as root, a small tmpfs of its own, so no notebook fills the disk.
        self.sockets_mounted = limits is not None and os.geteuid() == 0 and mount_tmpfs(self.sockets, SOCKETS_MB)
        self.numbers = itertools.count()

    def launch(self) -> tuple[subprocess.Popen, socket.socket]:
        with open(self.private / "zygote.log", "wb") as log:
            return spawn(self.command, stdout=log, stderr=log, start_new_session=True)

    def why_not_started(self) -> str:
        return (self.private / "zygote.log").read_text(errors="replace")

    def sandboxed(self, command: list[str]) -> list[str]:
        # Read-only inside: each kernel works in its own copy, in its own /tmp (kernel_zygote.py).
        self.sandbox = Sandbox(self.limits, mount_at=NOTEBOOK, sockets=self.sockets, scratch_writable=False)
        return self.sandbox.command([*command, ISOLATE], cwd=NOTEBOOK)

    def _reply(self) -> str:
        """The zygote's reply, "" if none came (it closed, went silent, or said too much)."""
        try:
            return self.reply().decode().strip()
        except LINE_FAULTS:
            return ""

    def kernel_folders(self, folder: Path) -> tuple[Path, Path]:
        """The kernel's working folder as the kernel sees it, and its connection file's folder: under the
        sandbox, a fresh scratch copy of `folder` appears at /notebook."""
        self.ready()
        # Each kernel's sockets in a fresh folder of its own, unpredictable, inside one the sandbox cannot
        # write (as root): nothing a kernel does there can be in the next kernel's way.
        empty_folder(self.sockets)
        sockets = Path(tempfile.mkdtemp(prefix="k", dir=self.sockets))
        if self.sandbox is None:
            return folder, sockets
        self.sandbox.give(sockets)
        empty_folder(self.sandbox.scratch)
        shutil.copytree(
            folder,
            self.sandbox.scratch,
            symlinks=True,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns(".lrcourse-*"),
        )
        self.sandbox.give(self.sandbox.scratch)
        return NOTEBOOK, sockets

    def fork_kernel(
        self, link: socket.socket, connection_file: str, cwd: Path, env: dict | None, output_kb: tuple = ()
    ) -> int:
        request = {
            "connection_file": connection_file,
            "cwd": str(cwd),
            "env": env if self.sandbox is None else None,
            "tmp_mb": (self.limits or Limits()).tmp_mb,  # never 0: a tmpfs of size=0m has no limit at all
            "output_kb": list(output_kb),  # what the kernel's streams pass on (kernel_output)
        }
        try:
            socket.send_fds(self.control, [b"fork " + json.dumps(request).encode()], [link.fileno()])
            return int(self._reply())
        except (OSError, ValueError) as error:
            self.stop()
            raise ZygoteFault(f"the kernel zygote did not fork a kernel: {error}") from error

    def after_kernel(self) -> None:
        """Nothing of one notebook meets the next: processes, /tmp, sockets and scratch are cleared."""
        if self.alive():
            try:
                self.control.sendall(b"sweep\n")
                if self._reply() != "swept":
                    self.stop()
            except OSError:
                self.stop()
        empty_folder(self.sockets)
        if self.sandbox is not None:
            empty_folder(self.sandbox.scratch)

    def counts(self) -> tuple[int, int]:
        return self.sandbox.counts() if self.sandbox is not None else (0, 0)

    def limit_hit(self, since: tuple[int, int]) -> str | None:
        return self.sandbox.limit_hit(since) if self.sandbox is not None else None

    def close(self) -> None:
        self.stop()
        remove_tree(self.private)
        if self.sockets_mounted:
            unmount(self.sockets)
        remove_tree(self.sockets)  # the kernel may have nested folders there past any depth (r20ad W1)


SOCKETS_MB = 16


def _sockets_parent() -> str | None:
    for folder in ("/var/tmp", "/dev/shm"):
        if os.path.isdir(folder) and os.access(folder, os.W_OK):
            return folder
    return None


class ForkedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel is forked by the worker's kernel zygote (see the module's text)."""

    kernels: Kernels  # set by Kernels.manager_class()
    _deadline: asyncio.TimerHandle | None = None
    _limit = ""  # the limit the deadline enforces
    _folder: str | None = None
    _counts: tuple[int, int] = (0, 0)
    _cwd: Path | None = None
    _finished = False

    @default("client_factory")
    def _bounded_client(self):
        return BoundedKernelClient  # no message from the kernel is larger than kernel_client.MESSAGE_MB

    @default("session")
    def _measuring_session(self):
        # as jupyter_client's default, but each message is measured before it is parsed and refused if malformed
        return MeasuredSession(self._message_refused, parent=self)

    @default("context")
    def _bounded_context(self):
        self._created_context = True
        return manager_context()  # its control socket is never read: it holds one small message at most

    async def _async_pre_start_kernel(self, **kw):
        folder = Path(kw.get("cwd") or os.getcwd()).resolve()
        handle = self.kernels.handle
        self._cwd, sockets = handle.kernel_folders(folder)
        name = f"k{next(handle.numbers)}"
        self.transport, self.ip = "ipc", str(sockets / name)
        self.connection_file = str(sockets / f"{name}.json")
        self._folder = str(folder)
        self._counts = handle.counts()
        self.kernels.running[self._folder] = self
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        os.chmod(self.connection_file, 0o644)  # the kernel reads it as the sandbox's user
        return [sys.executable, "-I", "-S", str(RELAY)], kw

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        ours, theirs = socket.socketpair()
        try:
            limits = self.kernels.limits
            output_kb = (limits.cell_output_kb, limits.notebook_output_kb)
            self.kernels.handle.fork_kernel(ours, self.connection_file, self._cwd, kw.get("env"), output_kb)
        finally:
            ours.close()
        try:
            await super()._async_launch_kernel([*kernel_cmd, str(theirs.fileno())], pass_fds=(theirs.fileno(),), **kw)
        finally:
            theirs.close()  # the relay holds it now; if the relay did not start, the keeper ends the kernel
        seconds, self._limit = self.kernels.notebook_seconds()
        self._deadline = asyncio.get_running_loop().call_later(seconds, self._out_of_time)

    def _out_of_time(self) -> None:
        self.kernels.limit_hits[self._folder] = self._limit
        self._kill_relay()

    def _message_refused(self, reason: str) -> None:
        self.kernels.limit_hits.setdefault(self._folder, reason)
        self._kill_relay()

    def _kill_relay(self) -> None:
        """The keeper sees the relay's socket close and kills the kernel with everything it started."""
        process = getattr(self.provisioner, "process", None)  # None once jupyter_client collected it:
        pid = process.pid if process is not None and process.poll() is None else None  # its id may be reused
        if pid:
            kill_quietly(pid, group=True)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        self.finish()

    def finish(self) -> None:
        """Once the notebook is done: record a limit it hit, clear the zygote's sandbox for the next one."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._folder is None or self._finished:
            return
        self._finished = True
        self.kernels.running.pop(self._folder, None)
        self._kill_relay()
        hit = self.kernels.handle.limit_hit(self._counts)  # before the sweep, which may replace a broken zygote
        self.kernels.handle.after_kernel()
        if hit:
            self.kernels.limit_hits.setdefault(self._folder, hit)
