"""One `lrcourse grade CHAPTER` per course and chapter, local or through a broker (`lrcourse grade` holds `held` for
its whole run, from the release to the last export): two at once (an instructor who starts it twice, a local run
beside a fleet run, or two machines sharing the course folder) would each grade every student and each write every
result into the gradebook and the folders.

The lock is the kernel's (flock on a file in the course folder, where the run writes), not a key in the broker: it
dies with its process, so a run killed with SIGKILL, or a machine's crash, leaves nothing that blocks the next run,
and no lease has to be renewed or guessed. The file holds who took it (pid, host, since when), written after the
lock is taken and read only to name the holder in the refusal, escaped for the terminal (`outcomes.shown`): its
content never decides anything. The file is never removed: a run that unlinked it on leaving could let the next two
runs lock two different files. The account that grades must be able to create the file, or open an existing one for
writing (the course folder writable by it, or the file made once and owned by it); if it cannot, the run is refused
before starting, saying so (`Held`).

On a network file system the lock keeps two machines apart only where the client sends flock to the server (flock(2),
nfs(5)). Linux's NFS client (since 2.6.12) emulates flock as a byte-range lock on the whole file, held on the server:
with NFSv4, or NFSv3 with the NLM lock protocol (lockd and rpc.statd running on both sides), a second machine's run is
refused. A machine that vanishes keeps its lock until the server reclaims it (NFSv4: when its lease lapses, about
90 s; NFSv3: when rpc.statd learns that the client rebooted, so a client that never comes back holds it until the
server's administrator releases it). Mounted with `local_lock=flock` or `local_lock=all` (Linux 2.6.37 and later), or
NFSv3 with `nolock`, flock is kept on the client only: each machine locks its own view of the file and two machines'
runs are not kept apart (one machine's two runs still are). For any other network file system see flock(2); where
flock stays local, run `lrcourse grade` for one chapter from one machine at a time. Not tried here on NFS.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lrcourse.grading.exchange.other_account import give_if_there
from lrcourse.grading.outcomes import shown

HOLDER_BYTES = 4096  # the most of the file read back to name the holder (it holds one short JSON line)


class Held(Exception):
    """Another process holds the lock: the text names it (pid, host, since when) and the lock file."""


def lock_path(course: Path, assignment: str) -> Path:
    return course / f".lrcourse-grading-{assignment}.lock"


@contextmanager
def held(course: Path, assignment: str) -> Iterator[Path]:
    """Hold the lock of (`course`, `assignment`) inside the block (yields the lock file), or raise `Held` at once,
    touching nothing, if another process holds it."""
    path = lock_path(course, assignment)
    try:  # not through a link: the course folder's own file, or none
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise Held(unopened(path, error)) from None
    give_if_there(path, course)  # root's run in another account's course: that owner's next run opens it (R20p W2)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Held(refusal(path, holder(descriptor), assignment)) from None
        record(descriptor)
        yield path
    finally:
        os.close(descriptor)  # the lock goes with its last descriptor (and with the process, however it ends)


def record(descriptor: int) -> None:
    """Who holds the lock, written over what a former holder left."""
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since}) + "\n"
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, text.encode(), 0)


def holder(descriptor: int) -> str:
    """The holder as the lock file names it, or why it cannot be told (it took the lock an instant ago and has not
    written yet, or the file holds something else). Whatever the file holds, the answer is a text: an error here (a
    pid of Infinity raised OverflowError, deep nesting RecursionError) would end the refused run with a traceback,
    exit 1, instead of the refusal, exit 2."""
    try:
        found = json.loads(os.pread(descriptor, HOLDER_BYTES, 0))
        host, since = shown(str(found["host"]), 100), shown(str(found["since"]), 40)  # no control character shown raw
        return f"process {int(found['pid'])} on host {host} since {since}"
    except Exception:  # any unreadable holder is unknown, never a traceback
        return "a process the lock file does not name (not written yet, or unreadable)"


def refusal(path: Path, who: str, assignment: str) -> str:
    return (
        f"another `lrcourse grade {assignment}` (local, or through a broker) is running on this course: {who} holds "
        f"{path}. Two at once would each grade and write every student. Nothing was sent or written; wait for it to "
        "end (or stop it: Ctrl-C keeps its grades), then run again. A run that was killed holds nothing: its lock went "
        "with its process."
    )


def unopened(path: Path, error: OSError) -> str:
    """Why the lock file cannot be opened, and what to do: the grading account must be able to create and write it."""
    return (
        f"the lock file {path} cannot be opened for writing ({type(error).__name__}: {error.strerror}). The account "
        "that runs `lrcourse grade` must be able to create it in the course folder, or to write it if it exists "
        "(made by another account, or marked immutable): make the course folder writable by this account, or give "
        "it the file (chown, mode 644; chattr -i if marked immutable). A link there is refused too. Nothing was sent "
        "or written."
    )
