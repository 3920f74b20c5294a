"""Kernels for students' notebooks, forked from a process that has imported the course's stack once.

A new kernel spends most of its start importing torch, matplotlib, ipywidgets and the course's helpers
(about 2 s of CPU on this machine, more than the rest of a chapter's notebook). While a class is graded,
each worker keeps one *kernel zygote*: `python -E -s -m lrcourse.grading.sandbox.kernel_zygote --control FD`, in a
sandbox of its own (`lrcourse.grading.sandbox.bwrap`) unless grading runs with `--no-sandbox`. It imports that
stack, then waits for the grader's requests on the control socket (the grader's end only; nothing in the
sandbox can reach it):

    fork {"connection_file": ..., "cwd": ..., "env": {...} or null, "tmp_mb": ..., "output_kb": [cell, notebook]}
                                                                       (with one socket passed along)
        -> "<pid>": a child that becomes a fresh IPython kernel for one notebook
    sweep   -> "swept": kill every process left in the sandbox but this one, empty /tmp and /dev/shm

In a sandbox the child first enters namespaces of its own (`namespaces.py`: user, PID, IPC, mount), so
the student's code sees and can signal nothing of the zygote, everything it starts dies with it, and it
shares no IPC objects and no /tmp with the next student; it runs in a copy of the notebook's folder in that
private /tmp (a size-limited tmpfs), so it writes nothing to the disk. One
process stays in between, the *keeper*: it holds the socket passed along, whose other end belongs to
`kernel_relay.py`, the process jupyter_client started and manages. A signal the relay gets is passed on
to the kernel; when the kernel ends, the relay ends with its status; when the relay ends (killed by the
grader's deadline or by jupyter_client), the keeper kills the kernel and its whole namespace.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import sys

from lrcourse.grading.sandbox import namespaces, zygote
from lrcourse.grading.sandbox.zygote import COURSE_MODULES

# What the chapters import, imported once here (the environment's `MPLBACKEND` is set before matplotlib).
PRELOAD = (
    "numpy",
    "torch",
    "torch._dynamo",
    "torch.optim.lr_scheduler",
    "matplotlib.pyplot",
    "ipywidgets",
    "IPython.display",
    "sklearn.datasets",
    "sklearn.model_selection",
    *COURSE_MODULES,
)


def preload() -> None:
    """Import the kernel and what the chapters need, without running anything (no threads before a fork)."""
    import importlib
    import warnings

    # What ipykernel sets for a kernel of its own; matplotlib reads it when it is imported.
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import ipykernel.ipkernel  # noqa: F401
        import ipykernel.kernelapp  # noqa: F401
        import ipykernel.zmqshell  # noqa: F401

        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except ImportError:  # an optional part of the stack: the kernel imports it if a notebook does
                pass


def serve(control: socket.socket, isolate: bool) -> None:
    """Answer the grader's requests until it closes the control socket."""

    def sweep(_: str) -> bytes:
        if isolate:
            namespaces.sweep_sandbox()
        return b"swept\n"

    zygote.serve(control, lambda fd, rest: _keeper(fd, json.loads(rest), isolate), {"sweep": sweep})


# --------------------------------------------------------------------------------------------
# The keeper and its kernel
# --------------------------------------------------------------------------------------------
def _keeper(fd: int, request: dict, isolate: bool) -> None:
    """Between the relay and one kernel: never returns."""
    status = 1
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        namespaces.die_with_parent(signal.SIGKILL)
        if isolate:
            namespaces.enter_own_namespaces()
        link = socket.socket(fileno=fd)
        kernel = os.fork()
        if kernel == 0:
            link.close()
            _become_kernel(request, isolate)
        status = _relay_until_done(link, kernel, isolate)
    except BaseException:
        pass
    os._exit(status)


def _no_children_to_wait_for() -> None:
    """The first process of its own PID namespace sees the sandbox's /proc, which lists the zygote's
    processes as if they were its children; ipykernel, shutting down, would signal them (in vain) and
    wait seconds for them to go. Its real children die with its namespace anyway."""
    from ipykernel import kernelbase

    kernelbase.Kernel._process_children = lambda self: []


def _relay_until_done(link: socket.socket, kernel: int, isolate: bool) -> int:
    """Pass the relay's signals on to the kernel; end the kernel when the relay is gone; report its exit."""

    def kill(signum: int) -> None:
        # the first process of its namespace: SIGKILL ends the whole namespace; else its process group
        namespaces.kill_quietly(kernel, signum, group=not isolate)

    pending = b""
    while True:
        done, status = os.waitpid(kernel, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            try:
                link.sendall(f"exit {code}\n".encode())
            except OSError:
                pass
            return 0
        readable, _, _ = select.select([link], [], [], 0.05)
        if not readable:
            continue
        try:
            data = link.recv(256)
        except OSError:
            data = b""
        if not data:  # the relay is gone: so is the kernel
            kill(signal.SIGKILL)
            os.waitpid(kernel, 0)
            return 0
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            words = line.split()
            if len(words) == 2 and words[0] == b"signal" and words[1].isdigit():
                signum = int(words[1])
                # A namespace's first process ignores signals it has no handler for: stop it for sure.
                kill(signal.SIGKILL if signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT) else signum)


def _become_kernel(request: dict, isolate: bool) -> None:
    """Run an IPython kernel for one notebook, as `python -m ipykernel_launcher -f FILE` would; never returns."""
    status = 0
    try:
        if isolate:
            _no_children_to_wait_for()
            namespaces.private_tmp(request["tmp_mb"])
            # Its own copy of the notebook's folder, in its own tmpfs: a full disk is not a student's to cause.
            shutil.copytree(request["cwd"], "/tmp/notebook", symlinks=True)
            request["cwd"] = "/tmp/notebook"
        else:
            os.setsid()  # its own process group, for the keeper to signal
        namespaces.die_with_parent(signal.SIGKILL)
        null = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(null, target)
        os.close(null)
        os.chdir(request["cwd"])
        if request.get("env"):
            os.environ.clear()
            os.environ.update(request["env"])
        for name in ("JPY_PARENT_PID", "PYDEVD_DISABLE_FILE_VALIDATION"):
            os.environ.pop(name, None)
        import random

        random.seed()  # a fresh interpreter would not share the zygote's random state
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        from ipykernel import kernelapp

        from lrcourse.grading.sandbox.kernel_output import bound
        from lrcourse.widgets import GRADED_KERNEL_VARIABLE  # preloaded: costs nothing here

        outputs = [bound(*request["output_kb"])] if request.get("output_kb") else []  # a flood stays here
        os.environ[GRADED_KERNEL_VARIABLE] = "1"  # its slider panels draw no positions ahead: no one moves them
        # lrcourse was imported here before any shell: its display of failures is loaded as an extension
        messages = "--IPKernelApp.extensions=lrcourse.kernel_messages"
        sys.argv = [kernelapp.__file__, "-f", request["connection_file"], messages, *outputs]
        kernelapp.launch_new_instance()
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 0
    except BaseException:
        status = 1
    os._exit(status)


def main(argv: list[str]) -> None:
    """`--control FD [--isolate]`: FD is the grader's end of the control socket."""
    control = socket.socket(fileno=int(argv[argv.index(zygote.CONTROL) + 1]))
    del sys.path[0]  # the folder it started in (`-m`): a kernel gets its notebook's folder from IPython
    namespaces.die_with_parent(signal.SIGKILL)
    preload()
    namespaces.not_dumpable()
    control.sendall(b"ready\n")
    serve(control, isolate=zygote.ISOLATE in argv)


if __name__ == "__main__":
    main(sys.argv[1:])
