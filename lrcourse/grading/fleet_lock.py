"""One enqueuing command per course and chapter (`lrcourse grade CHAPTER --broker-file F` holds `held` for its whole
run): two at once (an instructor who starts it twice, or two machines sharing the course folder) would each send
every student and each write every result into the gradebook and the folders.

The lock is the kernel's (flock on a file in the course folder, where the run writes), not a key in the broker: it
dies with its process, so a run killed with SIGKILL, or a machine's crash, leaves nothing that blocks the next run,
and no lease has to be renewed or guessed. The file holds who took it (pid, host, since when), written after the
lock is taken and read only to name the holder in the refusal: its content never decides anything. The file is never
removed: a run that unlinked it on leaving could let the next two runs lock two different files.

On a network file system, Linux's NFS client turns flock into the server's byte-range locks (NFSv4, or NFSv3 with
lockd), so two machines see each other's lock; a machine that vanishes keeps its lock until the server's lease on it
lapses (NFSv4: about 90 s). Not tried here on NFS.
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
        raise Held(f"the lock file {path} cannot be opened ({type(error).__name__}: {error.strerror})") from None
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
    written yet)."""
    try:
        found = json.loads(os.pread(descriptor, HOLDER_BYTES, 0))
        return f"process {int(found['pid'])} on host {str(found['host'])[:100]} since {str(found['since'])[:40]}"
    except (OSError, ValueError, TypeError, KeyError):
        return "a process that has not written its name yet"


def refusal(path: Path, who: str, assignment: str) -> str:
    return (
        f"another `lrcourse grade {assignment}` through a broker is running on this course: {who} holds {path}. "
        "Two at once would each send and write every student. Nothing was sent or written; wait for it to end "
        "(or stop it: Ctrl-C keeps its grades), then run again. A run that was killed holds nothing: its lock went "
        "with its process."
    )
