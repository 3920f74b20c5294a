"""The secret ledger's folder and each assignment's collect lock, in the course's folder, checked before use: the
ledger (`submission_secrets`) decides who fetches whose feedback, so a folder or lock a student planted (in a course
folder others can write: owners of her choosing, or a lock she holds so every collect waits) is refused, not used
(`LedgerUnsafe`: F20). Trusted are the running user, root and the course folder's owner (root's grade and the grader
account's collect share one ledger: F21). Collects of an assignment take turns on the lock (`one_collect_at_a_time`).
"""

from __future__ import annotations

import errno
import fcntl
import functools
import os
import pwd
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lrcourse.grading.exchange.inbound_folder import ExchangeUnusable

NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO)  # a lock that cannot be made: the disk's doing
LEDGER = ".secret_owners"  # in the course's folder: the owner of each secret collect accepted, per assignment


class LedgerUnsafe(ExchangeUnusable):
    """The ledger's folder or an assignment's lock is a link, or another user's, or writable by others: a student
    in a course folder writable to all could have planted it (owners of her choosing) or hold the lock (every
    collect waits for ever). Collect and grade stop with the reason."""


def unsafe_why(info: os.stat_result, kind: Callable[[int], bool], course: Path) -> str | None:
    """Why a file `lstat` or `fstat` described is not the ledger's own (None if it is): not of the `kind` expected
    (a symbolic link is never), owned by someone but the running user, root or the course folder's owner (a student
    can plant only what she owns; root's grade and the grader account's collect share one ledger: F21), or writable
    by group or others."""
    if not kind(info.st_mode):
        return "a symbolic link or another kind of file"
    trusted = {os.geteuid(), 0, os.stat(course).st_uid}
    if info.st_uid not in trusted:
        return f"owned by uid {info.st_uid}: not by you, root or the course folder's owner (uids {sorted(trusted)})"
    if info.st_mode & 0o022:
        return f"writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


def refusal(path: Path, why: str) -> LedgerUnsafe:
    course = path.parent if path.name == LEDGER else path.parent.parent
    mend = (
        f"`chmod go-w {course} && chmod -R go-w {course / LEDGER}`"
        if why.startswith("writable")
        else "remove it if it is not the course's (restore the ledger from a backup), or chown it to the course's owner"
    )
    return LedgerUnsafe(
        f"the secret ledger's {path} is {why}: nothing collected or graded. A student who can write to the course "
        f"folder could have planted it, or another account or a co-instructor's umask made it so: check it, {mend}, "
        "and run again"
    )


def ledger_folder(course: Path, create: bool = False) -> Path | None:
    """The course's ledger folder, checked (`unsafe_why`; LedgerUnsafe), made 0700 if `create` (root's given to the
    course folder's owner: `to_course_owner`); None if there is none and not `create`."""
    folder = course / LEDGER
    if create:
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return None
    why = unsafe_why(info, stat.S_ISDIR, course)
    if why:
        raise refusal(folder, why)
    if create and info.st_uid == 0:
        to_course_owner(folder, course)
    return folder


def to_course_owner(made: int | Path, course: Path) -> None:
    """Give what root made in the ledger's folder (the folder, a lock, a ledger: an open file, or the folder by its
    path, never followed) to the course folder's owner: the grader account's collect and grade could not open
    root's (0700, 0600), and root's grade reads theirs (F23)."""
    owner = os.stat(course)
    if os.geteuid() != 0 or owner.st_uid == 0:
        return
    if isinstance(made, int):
        if os.fstat(made).st_uid == 0:
            os.fchown(made, owner.st_uid, owner.st_gid)
    else:
        os.chown(made, owner.st_uid, owner.st_gid, follow_symlinks=False)


def out_of_reach(course: Path) -> str | None:
    """The mend, when the running user cannot enter the ledger's folder (another account made it, 0700: root's
    collect before F23 left it root's), else None."""
    folder = course / LEDGER
    if not folder.is_dir() or os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        return None
    uid = os.stat(course).st_uid
    try:
        owner = pwd.getpwuid(uid).pw_name
    except KeyError:
        owner = str(uid)
    return (
        f"the ledger's folder {folder} is not this account's to open (made by another: root's collect?): as root, "
        f"`chown -R {owner} {folder}` (the course folder's owner)"
    )


def one_collect_at_a_time(collect: Callable) -> Callable:
    """`collect(course, assignment, ...)` run holding the assignment's ledger lock (flock on
    `.secret_owners/<assignment>.lock`), waiting for another holder to end: a collect reads the ledger, adds to it and
    writes it whole, so two at once (a terminal's and formgrader's Collect) would each write its own and the last
    would forget the other's owners (F19). The kernel's lock goes with its process, however it ends; the file is
    never removed. The folder and the lock must be trusted (`ledger_folder`, `unsafe_why`: F20, F21), and
    a collect that has to wait says so rather than hang silently, and says when it goes on: on stderr, or through
    `say` (formgrader's Collect: nbgrader's log, which its dialog shows, G16)."""

    @functools.wraps(collect)
    def locked(course: Path, assignment: str, *args, say: Callable[[str], None] | None = None, **options):
        path = ledger_folder(course, create=True) / f"{assignment}.lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
        except OSError as error:  # ELOOP: a symbolic link
            if mend := out_of_reach(course):
                raise LedgerUnsafe(f"{mend}; nothing collected") from None
            if error.errno in NO_ROOM:  # not a student's doing (F24 N1): say what is
                raise ExchangeUnusable(
                    f"the collect lock {path} cannot be created ({error.strerror}): nothing collected. Make room on "
                    "its file system (or mend the reason) and collect again"
                ) from None
            raise refusal(path, f"not a file collect can open ({error.strerror})") from None
        try:
            why = unsafe_why(os.fstat(fd), stat.S_ISREG, course)
            if why:
                raise refusal(path, why)
            to_course_owner(fd, course)
            take_turn(fd, assignment, say or said_on_stderr)
            return collect(course, assignment, *args, **options)
        finally:
            os.close(fd)

    return locked


def take_turn(fd: int, assignment: str, say: Callable[[str], None]) -> None:
    """flock `fd` for this process; when another collect holds it, `say` that this one waits, then how long it did."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        start = time.monotonic()
        say(f"lrcourse collect: waiting for another collect of {assignment} to end (a terminal's or formgrader's) ...")
        fcntl.flock(fd, fcntl.LOCK_EX)
        say(f"lrcourse collect: the other collect of {assignment} ended after {time.monotonic() - start:.0f} s; "
            "this one collects now")  # fmt: skip


def said_on_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
