"""What the two zygotes share: the answers' zygote (`student_process`) and the kernel zygote
(`kernel_zygote`) each import the course's stack once, then fork a child per student notebook on request.

The grader talks to a zygote over a control socket, one line per request, with at most one socket passed
along (`socket.send_fds`): "fork <argument>" forks a child that is handed that socket and never returns;
any other word is the zygote's own command. This module holds that loop (the zygote's side), how the grader
starts a zygote (`spawn`, the grader's side), and what both preload.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Callable

START_SECONDS = 120.0  # a zygote importing torch on a busy machine

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
