"""The grader's end of the processes that run students' answers (the other end: `student_process`).

An `AnswerZygote` is a process that has imported torch once and forks a fresh child per student notebook;
an `AnswerProcess` is the grader's handle on one such child: a socket, and a deadline on every request.
The child can answer with anything, or not at all: a line too long is malformed, a silence past the
deadline is an `AnswerTimeout`, and a zygote that does not fork is a `GraderFault` (no verdict: try again).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from lrcourse import wire
from lrcourse.grading.sandbox.namespaces import kill_quietly
from lrcourse.grading.sandbox.zygote import spawn


class AnswerTimeout(Exception):
    pass


class GraderFault(Exception):
    """The grader's side failed (its student-process zygote did not fork): no verdict, try again."""


class AnswerZygote:
    """A process that has imported torch once and forks a fresh child per student notebook.

    With `limits` it runs in a sandbox of its own (`lrcourse.grading.sandbox.bwrap`) where, unless
    `allow_schedulers` (an answer cell marked `uses_schedulers`, see `lrcourse.cells`), even the file of torch.optim.lr_scheduler is the stub.
    """

    def __init__(self, allow_schedulers: bool = False, limits=None):
        self.allow_schedulers = allow_schedulers
        self.limits = limits
        self.sandbox = None
        self.process: subprocess.Popen | None = None
        self.control: socket.socket | None = None

    def start(self) -> None:
        self.process, self.control = spawn(self._command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            ready = _read_line(self.control)
        except (OSError, EOFError, AnswerTimeout):
            ready = b""
        if ready != b"ready":
            why = self._stop_and_explain()
            raise RuntimeError(f"the process that runs students' answers did not start: {why}")

    def _command(self, control_fd: int) -> list[str]:
        """The zygote's command line; under `limits`, inside a sandbox made here."""
        command = [
            sys.executable,
            "-I",
            "-m",
            "lrcourse.grading.sandbox.student_process",
            "--zygote",
            str(control_fd),
            *(["--allow-schedulers"] if self.allow_schedulers else []),
        ]
        if self.limits is None:
            return command
        from lrcourse.grading.sandbox.bwrap import Sandbox, stub_for_lr_scheduler  # the grader's side only

        hide = {} if self.allow_schedulers else stub_for_lr_scheduler()
        self.sandbox = Sandbox(self.limits, hide=hide)
        return self.sandbox.command([*command, "--sweep"])

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> None:
        """Started, or started again if it died (the worker calls it before a student's time budget starts)."""
        if not self.alive():
            self.start()

    def fork(self) -> AnswerProcess:
        ours, theirs = socket.socketpair()
        try:
            self.ready()
            self.control.settimeout(30)
            socket.send_fds(self.control, [b"fork"], [theirs.fileno()])
            pid = int(_read_line(self.control))
        except (OSError, ValueError, EOFError, AnswerTimeout, RuntimeError) as error:
            self.stop()  # a zygote that does not answer is replaced on the next fork
            ours.close()
            raise GraderFault(f"could not start a process for the answer: {error}") from error
        finally:
            theirs.close()
        return AnswerProcess(self, ours, pid)

    def kill(self, pid: int) -> None:
        if self.alive():
            try:
                self.control.sendall(f"kill {pid}\n".encode())
                _read_line(self.control)
            except (OSError, AnswerTimeout):
                self.stop()

    def stop(self) -> None:
        if self.process is None:
            return
        self.control.close()
        kill_quietly(self.process.pid)
        self.process.kill()
        self.process.wait()
        self.process.stderr.close()
        self.process = None
        self._close_sandbox()

    def _stop_and_explain(self) -> str:
        self.control.close()
        self.process.kill()
        _, err = self.process.communicate()
        self.process = None
        self._close_sandbox()
        return (err or b"").decode(errors="replace").strip()[-2000:] or "no message"

    def _close_sandbox(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None


def _read_line(sock: socket.socket, limit: int = wire.MAX_MESSAGE) -> bytes:
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
                raise AnswerTimeout()
            sock.settimeout(left)
        try:
            chunk = sock.recv(65536, socket.MSG_PEEK)
        except TimeoutError:
            raise AnswerTimeout() from None
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


class AnswerProcess:
    """One forked child running one student's answers; every request has a deadline."""

    def __init__(self, zygote: AnswerZygote, sock: socket.socket, pid: int):
        self.zygote, self.sock, self.pid = zygote, sock, pid
        self.dead = False

    def request(self, message: dict, seconds: float) -> dict:
        if self.dead:
            raise EOFError("the process running your answer has stopped")
        try:
            self.sock.settimeout(seconds)
            self.sock.sendall(wire.dumps(message))
            return wire.loads(_read_line(self.sock))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if not self.dead:
            self.dead = True
            self.sock.close()
            self.zygote.kill(self.pid)
