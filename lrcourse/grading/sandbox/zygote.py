"""What the two zygotes share: the answers' zygote (`answer_zygote`) and the kernel zygote
(`kernel_zygote`) each import the course's stack once, then fork a child per student notebook on request.

The grader talks to a zygote over a control socket, one line per request, with at most one socket passed
along (`socket.send_fds`): "fork <argument>" forks a child that is handed that socket and never returns;
any other word is the zygote's own command. This module holds that loop (the zygote's side), the grader's
side (`Handle`, the one shape of `kernels.KernelZygoteHandle` and `answers.AnswerZygoteHandle`: start it, read its
replies within a deadline and a bound, stop it), and what both preload.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

from lrcourse import wire
from lrcourse.grading.sandbox.namespaces import kill_quietly

START_SECONDS = 120.0  # a zygote importing torch on a busy machine
REQUEST_SECONDS = 30.0  # a started zygote's reply to one request (fork, kill, sweep)
# Both zygotes' command-line options: the control socket's descriptor, and (in a sandbox of its own) each child
# in namespaces of its own, with everything a child left swept when it is done.
CONTROL, ISOLATE = "--control", "--isolate"

# The course's helpers, imported once by both zygotes (a chapter imports some of them).
COURSE_MODULES = (
    "lrcourse.checking",
    "lrcourse.plots",
    "lrcourse.problems",
    "lrcourse.schedules",
    "lrcourse.training",
    "lrcourse.widgets",
)


def spawn(command: Callable[[int], list[str]], **popen) -> tuple[subprocess.Popen, socket.socket]:
    """The grader's side: start a zygote whose command line is `command(fd)`, fd being the number of the
    zygote's end of a new control socket (inherited, and closed here once the zygote has it). Returns the
    process and the grader's end, which waits START_SECONDS for the zygote's first line ("ready")."""
    ours, theirs = socket.socketpair()
    try:
        process = subprocess.Popen(
            command(theirs.fileno()), pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, **popen
        )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    ours.settimeout(START_SECONDS)
    return process, ours


class Silence(Exception):
    """No whole line came before the deadline (a zygote, or a student's process past its request's deadline)."""


class ZygoteFault(RuntimeError):
    """The grader's side failed: a zygote did not start or did not fork. No verdict for that student: try
    again (the worker retries once with a fresh zygote)."""


LINE_FAULTS = (OSError, EOFError, Silence, wire.Malformed)  # what reading a line may raise


def read_line(sock: socket.socket, limit: int = wire.MAX_MESSAGE) -> bytes:
    """One line from the socket (without its newline), within `limit` bytes and the socket's timeout for the
    whole line: a process sending a byte just inside each wait must not hold the grader longer."""
    timeout = sock.gettimeout()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        return _read_until(sock, limit, deadline)
    finally:
        sock.settimeout(timeout)


def _read_until(sock: socket.socket, limit: int, deadline: float | None) -> bytes:
    chunks, size = [], 0
    while True:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Silence()
            sock.settimeout(left)
        try:
            chunk = sock.recv(65536, socket.MSG_PEEK)
        except TimeoutError:
            raise Silence() from None
        if not chunk:
            raise EOFError("the process closed the connection")
        end = chunk.find(b"\n")
        take = sock.recv(end + 1 if end >= 0 else len(chunk))
        chunks.append(take)
        size += len(take)
        if end >= 0:
            return b"".join(chunks)[:-1]
        if size > limit:
            raise wire.Malformed("answer too large")


class Handle:
    """The grader's handle on one zygote: its process, the control socket, and (with `limits`) the sandbox
    it runs in. A subclass (the contract, public because it is implemented in other files) says what it runs
    (`module`, `python_flags`, `options`), in which sandbox (`sandboxed`), where its output
    goes (`launch`, calling `spawn(self.command, ...)`), what it reports when it does not start
    (`why_not_started`, `name`) and whether stopping it ends its process group (`own_group`). A zygote that
    does not start raises `ZygoteFault`."""

    module = ""  # what the zygote runs: `python -m module`
    python_flags: tuple[str, ...] = ("-I",)
    name = "the zygote"  # as the error that it did not start names it
    own_group = False  # started in a session of its own: stopping it ends everything it started

    def __init__(self, limits) -> None:
        self.limits = limits
        self.sandbox = None  # a bwrap.Sandbox, made by `sandboxed` under `limits`
        self.process: subprocess.Popen | None = None
        self.control: socket.socket | None = None

    def launch(self) -> tuple[subprocess.Popen, socket.socket]:
        """Start the zygote's process: `spawn(self.command, ...)` with where its output goes."""
        raise NotImplementedError

    def command(self, control_fd: int) -> list[str]:
        """The zygote's command line; under `limits`, inside a sandbox made by `sandboxed`."""
        command = [sys.executable, *self.python_flags, "-m", self.module, CONTROL, str(control_fd)]
        command += self.options()
        return command if self.limits is None else self.sandboxed(command)

    def options(self) -> list[str]:
        """The zygote's own options, after the control socket's."""
        return []

    def sandboxed(self, command: list[str]) -> list[str]:
        """`command` inside a sandbox made here (kept in `self.sandbox`)."""
        raise NotImplementedError

    def why_not_started(self) -> str:
        """What the zygote said before it failed (read before `stop`)."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the zygote and wait up to START_SECONDS for its "ready"; without it, stop it and raise
        `ZygoteFault` with what it said."""
        self.process, self.control = self.launch()
        try:
            ready = read_line(self.control)
        except LINE_FAULTS:
            ready = b""
        if ready.strip() != b"ready":
            self.control.close()  # the zygote sees its end closed, and ends
            self.control = None
            why = self.why_not_started().strip()[-2000:] or "no message"
            self.stop()
            raise ZygoteFault(f"{self.name} did not start: {why}")
        self.control.settimeout(REQUEST_SECONDS)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> None:
        """Started, or started again if it died (the worker calls it before a student's time budget starts)."""
        if not self.alive():
            self.stop()  # what is left of a zygote that died: its sandbox, cgroups, scratch folder
            self.start()

    def reply(self) -> bytes:
        """The zygote's one-line reply to a request, within REQUEST_SECONDS; raises one of LINE_FAULTS."""
        return read_line(self.control)

    def stop(self) -> None:
        """End the zygote quietly (it may be gone already) and close its sandbox."""
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.process is not None:
            if self.own_group:
                kill_quietly(self.process.pid, group=True)
            else:
                self.process.kill()  # nothing if it has been reaped already: its pid may be another's now
            self.process.wait()
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None


def serve(
    control: socket.socket, become_child: Callable[[int, str], None], commands: dict[str, Callable[[str], bytes | None]]
) -> None:
    """Answer the grader's requests until it closes the control socket.

    "fork ARGUMENT" with a socket: fork; the child closes the control socket and runs
    `become_child(fd, ARGUMENT)` (which never returns); the reply is the child's pid. Any other "WORD REST"
    runs `commands[WORD](REST)`, whose bytes are the reply; an unknown word, or a command that returns
    None, is answered "?". Children are reaped by the kernel (SIGCHLD ignored).
    """
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    # What the zygote has loaded (torch, matplotlib, ...) is left out of its children's garbage collections (frozen):
    # a child's full collection would walk those objects, and so copy every page they sit on (copy-on-write). That
    # was half of a forked kernel's CPU time on an empty notebook (0.5 -> 0.25 s) and a quarter of chapter 3's run.
    # Only those objects are frozen: what a child makes is collected as before; a cycle among the preloaded objects
    # that a child drops stays until the child ends (a notebook's or an answer's run).
    gc.collect()
    gc.freeze()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1 << 16, 1)
        except OSError:
            return
        if not message:
            return
        word, _, rest = message.decode().strip().partition(" ")
        if word == "fork" and fds:
            pid = os.fork()
            if pid == 0:
                control.close()
                become_child(fds[0], rest)
            os.close(fds[0])
            control.sendall(f"{pid}\n".encode())
            continue
        for fd in fds:
            os.close(fd)
        command = commands.get(word)
        reply = command(rest) if command is not None else None
        control.sendall(reply if reply is not None else b"?\n")
