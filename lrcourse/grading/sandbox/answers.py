"""The grader's end of the processes that run students' answers (the other end: `answer_zygote`).

An `AnswerZygoteHandle` is the grader's handle on the answer zygote, a process that has imported torch once and
forks a fresh child per student notebook; an `AnswerProcess` is the grader's handle on one such child: a socket, and a deadline on every request.
The child can answer with anything, or not at all: a line too long is malformed, a silence past the
deadline is a `zygote.Silence`, and a zygote that does not fork is a `zygote.ZygoteFault` (no verdict: try again).
"""

from __future__ import annotations

import socket
import subprocess

from lrcourse import wire
from lrcourse.grading.sandbox.zygote import ISOLATE, LINE_FAULTS, Handle, ZygoteFault, read_line, spawn


class AnswerZygoteHandle(Handle):
    """The grader's handle on the answer zygote: a process that has imported torch once and forks a fresh child
    per student notebook.

    With `limits` it runs in a sandbox of its own (`lrcourse.grading.sandbox.bwrap`) where, unless
    `allow_schedulers` (an answer cell marked `uses_schedulers`, see `lrcourse.cells`), even the file of
    torch.optim.lr_scheduler is the stub.
    """

    module = "lrcourse.grading.sandbox.answer_zygote"
    name = "the process that runs students' answers"

    def __init__(self, allow_schedulers: bool = False, limits=None, env: dict[str, str] | None = None):
        """`env`: the zygote's whole environment (None: the grader's, inherited; a sandbox sets its own)."""
        super().__init__(limits)
        self.allow_schedulers = allow_schedulers
        self.env = env
        self.modules: list[str] = []  # what the zygote imports before it forks: the chapter's context's (trusted)

    def launch(self) -> tuple[subprocess.Popen, socket.socket]:
        return spawn(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env)

    def why_not_started(self) -> str:
        self.process.kill()
        _, err = self.process.communicate()
        return (err or b"").decode(errors="replace")

    def options(self) -> list[str]:
        tmp = ["--tmp-mb", str(self.limits.tmp_mb)] if self.limits is not None else []  # each child's own /tmp
        modules = ["--preload", ",".join(self.modules)] if self.modules else []
        return (["--allow-schedulers"] if self.allow_schedulers else []) + tmp + modules

    def sandboxed(self, command: list[str]) -> list[str]:
        from lrcourse.grading.sandbox.bwrap import Sandbox, stub_for_lr_scheduler  # the grader's side only

        hide = {} if self.allow_schedulers else stub_for_lr_scheduler()
        self.sandbox = Sandbox(self.limits, hide=hide)
        return self.sandbox.command([*command, ISOLATE])

    def fork(self) -> AnswerProcess:
        ours, theirs = socket.socketpair()
        try:
            self.ready()
            socket.send_fds(self.control, [b"fork"], [theirs.fileno()])
            pid = int(self.reply())
        except (*LINE_FAULTS, ValueError, RuntimeError) as error:
            self.stop()  # a zygote that does not answer is replaced on the next fork
            ours.close()
            raise ZygoteFault(f"could not start a process for the answer: {error}") from error
        finally:
            theirs.close()
        return AnswerProcess(self, ours, pid)

    def kill(self, pid: int) -> None:
        if self.alive():
            try:
                self.control.sendall(f"kill {pid}\n".encode())
                self.reply()
            except LINE_FAULTS:  # as fork: a zygote that does not answer is replaced
                self.stop()


class AnswerProcess:
    """One forked child running one student's answers; every request has a deadline."""

    def __init__(self, handle: AnswerZygoteHandle, sock: socket.socket, pid: int):
        self.handle, self.sock, self.pid = handle, sock, pid
        self.dead = False

    def request(self, message: dict, seconds: float) -> dict:
        if self.dead:
            raise EOFError("the process running your answer has stopped")
        try:
            self.sock.settimeout(seconds)
            self.sock.sendall(wire.dumps(message))
            return wire.loads(read_line(self.sock))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if not self.dead:
            self.dead = True
            self.sock.close()
            self.handle.kill(self.pid)
