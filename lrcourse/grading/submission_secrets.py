"""Which `submission_secret.txt` a collected submission keeps (`lrcourse collect`).

nbgrader's `release_feedback` files each student's feedback under a hash of the secret in their submitted folder,
and `fetch_feedback` finds it with the secret the student's own `nbgrader submit` wrote. It stops for the rest of
the class at a missing, empty or undecodable one, so only a secret as `nbgrader submit` writes it is kept, else a
fresh one is written (`NO_SECRET`: that student's feedback cannot reach them through the exchange). A secret can
be read in a classmate's inbound folder, and `fetch_feedback` tries every secret a student ever submitted with: two
students holding one would each fetch the other's feedback, so a secret any other student has or had (in
`submitted/` or in any accepted inbound folder, a superseded one too) is replaced by a fresh one (`SHARED_SECRET`).
Secrets are read as plain files only, a secret's length at most: `submitted/` may hold what an instructor copied in,
an inbound folder what a student wrote. (nbgrader's `feedback/` holds no secret.)

`lrcourse grade` checks `submitted/` again (`secret_keeper`): a submission copied in by hand, after collect, may
hold a classmate's secret, and two students would then share one feedback file name in the exchange (nbgrader's
`notebook_hash(secret, notebook)`), one overwriting the other's. As collect does, the student who held it there
first keeps it; each other holder's graded copy gets a fresh one (`SHARED_SECRET`).
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import sys
from pathlib import Path

from lrcourse.grading.inbound import OPEN_FLAGS, Submission

SECRET = "submission_secret.txt"
SHARED_SECRET = (
    f"its {SECRET} is also held by the student {{!r}} (now or in an earlier submission): a fresh one written, so "
    "neither fetches the other's feedback; this student cannot fetch feedback through the exchange (send it another way)"
)
NO_SECRET = (
    f"no usable {SECRET}: a fresh one written so release_feedback goes on for the class; this student cannot "
    "fetch feedback through the exchange (send it another way)"
)


def usable_secret(files: dict[str, bytes]) -> bool:
    """The student's submission_secret.txt is one `nbgrader submit` writes: 128 hexadecimal digits."""
    return re.fullmatch(rb"[0-9a-f]{128}\n?", files.get(SECRET, b"")) is not None


def held_secrets(submitted: Path, assignment: str) -> dict[bytes, set[str]]:
    """secret -> the students whose collected submission of `assignment` holds it."""
    held: dict[bytes, set[str]] = {}
    for path in submitted.glob(f"*/{assignment}/{SECRET}"):
        claim(held, read_secret(path), path.parent.parent.name)
    return held


def secret_keeper(submitted: Path, assignment: str, secret: bytes) -> str | None:
    """Of the students whose submission of `assignment` in `submitted` holds `secret`, the one who keeps it: the
    first to hold it there, as collect lets the first keep it (by the secret file's change time, which no one but
    the system sets, unlike timestamp.txt or a modification time, then by id). None if no one holds it."""
    holders = held_secrets(submitted, assignment).get(secret.strip(), set())

    def first(student: str) -> tuple[int, str]:
        return put_there(submitted / student / assignment / SECRET), student

    return min(holders, key=first, default=None)


def put_there(path: Path) -> int:
    """When the file at `path` was put there (its change time, in ns; the latest possible if it is gone)."""
    try:
        return os.lstat(path).st_ctime_ns
    except OSError:
        return sys.maxsize


def claim(held: dict[bytes, set[str]], secret: bytes | None, student: str) -> None:
    """`held` learns that `student` has or had `secret` (nothing for none)."""
    if secret:
        held.setdefault(secret.strip(), set()).add(student)


def inbound_secret(inbound_fd: int, submission: Submission) -> bytes | None:
    """The secret in a checked inbound folder, read as `read_secret` reads one (None if it has none)."""
    if SECRET not in submission.entries:
        return None
    try:
        folder = os.open(submission.name, OPEN_FLAGS | os.O_DIRECTORY, dir_fd=inbound_fd)
    except OSError:
        return None
    try:
        return read_secret(Path(SECRET), dir_fd=folder)
    finally:
        os.close(folder)


def read_secret(path: Path, dir_fd: int | None = None) -> bytes | None:
    """A plain file's first bytes, as many as a secret has (submitted/ may hold what an instructor copied in: a link
    to /dev/zero or a FIFO is not read, nothing is followed); None for anything else."""
    try:
        fd = os.open(path, OPEN_FLAGS, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, 130).strip()
    except OSError:
        return None
    finally:
        os.close(fd)


def secret_to_keep(files: dict[str, bytes], student: str, secrets_held: dict[bytes, set[str]]) -> tuple[bytes, str]:
    """The secret to write for `student` (theirs, or a fresh one), and a classmate who has or had theirs (`student`
    if none); `secrets_held` learns it."""
    secret = files[SECRET] if usable_secret(files) else secrets.token_hex(64).encode()
    others = sorted(secrets_held.get(secret.strip(), set()) - {student})
    if others:
        secret = secrets.token_hex(64).encode()
    claim(secrets_held, secret, student)
    return secret, others[0] if others else student
