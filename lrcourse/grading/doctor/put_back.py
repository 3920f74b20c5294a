"""`lrcourse doctor --put-back PATH`, as root: the class's inbound, found by the doctor's `find` where someone who
could write in the course's folder moved it (a student's home, a folder of hers three levels down), moved back as the
course's missing inbound without following a link on its way (r20p W1: the line's `mv -T -- <it> <inbound>` resolved
the path through her folders, and a link she swapped in after the instructor's `ls` moved the grader's source/ into
the exchange, which every student could then read). Trust: nothing on PATH is trusted; the exchange's root and the
course's folder are the instructor's. Each folder from / down to PATH's parent is opened without following a link and
held (`held`); the folder is looked at on its descriptor (a folder, the collector's, the inbound's mode, on the course
folder's file system) and renamed relative to the held folders (renameat), so that a name she swaps afterwards changes
nothing of what moves; what arrived is looked at again (the same inode), else moved aside into a new folder of root's."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from lrcourse.grading.exchange.inbound import OPEN_FLAGS
from lrcourse.grading.exchange.kept_folders import INBOUND_MODES, MOST_LOOKED, shell_word, submission_named
from lrcourse.grading.exchange.path_walk import account

FOLDER = OPEN_FLAGS | os.O_DIRECTORY


class PutBackRefused(Exception):
    """The folder is not moved: why, as the command prints it."""


def held(path: Path) -> int:
    """`path` (absolute, no `.` or `..`) opened from / one folder at a time, none through a link: its descriptor."""
    if not path.is_absolute() or any(part in (".", "..") for part in path.parts) or str(path) != os.path.normpath(path):
        raise PutBackRefused(f"{path}: give the absolute path, without . or .., as the doctor's find prints it")
    fd = os.open("/", FOLDER)
    for part in path.parts[1:]:
        try:
            inner = os.open(part, FOLDER, dir_fd=fd)
        except OSError as error:
            raise PutBackRefused(f"{path}: cannot open {part!r} on the way without following a link: {error}") from None
        finally:
            os.close(fd)
        fd = inner
    return fd


def put_back_found(found: Path, inbound: Path, collector: int) -> str:
    """Move the folder `found` (the collector's, the inbound's mode) back as the course's `inbound`, what another
    account put there moved aside first (`clear`); what is printed. Refused (PutBackRefused, nothing moved) unless run
    as root, the course folder's group and others may not write in it (the lock-out: a student in its group could
    make `inbound` meanwhile), and the folder is, on its descriptor, what it must be."""
    if os.geteuid() != 0:
        raise PutBackRefused("run it as root: the folder may be in a student's home, which only root may enter")
    course_path = Path(os.path.realpath(inbound.parent))  # the instructor's folders: links above it are the set-up's
    course, parent = held(course_path), None
    try:
        folder = os.fstat(course)
        if folder.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise PutBackRefused(f"others may write in {course_path}: run `chmod go-w -- {course_path}` as root first")
        parent = held(found.parent)
        try:
            fd = os.open(found.name, FOLDER, dir_fd=parent)
        except OSError as error:
            raise PutBackRefused(f"{found}: not a folder opened without following a link: {error}") from None
        seen = os.fstat(fd)
        os.close(fd)
        if seen.st_uid != collector or stat.S_IMODE(seen.st_mode) not in INBOUND_MODES:
            raise PutBackRefused(
                f"{found} is {account(seen.st_uid)}'s, mode {stat.S_IMODE(seen.st_mode):04o}: not the class's inbound "
                f"(the collector's, {account(collector)}'s, with the inbound's mode 3733)"
            )
        if seen.st_dev != folder.st_dev:
            raise PutBackRefused(f"{found} is on another file system than {course_path}: a rename cannot move it")
        owner, kept = clear(course, course_path, collector)
        try:
            os.rename(found.name, "inbound", src_dir_fd=parent, dst_dir_fd=course)
            arrived(course, course_path, seen, parent, found.name)
        except (OSError, PutBackRefused) as error:  # r20r W2: hers, moved aside first, was left there unnamed
            raise PutBackRefused(f"{error}{restored(course, kept)}") from None
        return f"moved back as {course_path / 'inbound'}{kept_aside(course_path, owner, kept)}: run lrcourse doctor, then lrcourse collect <chapter>"
    finally:
        for fd in (course, parent):
            if fd is not None:
                os.close(fd)


def kept_aside(course_path: Path, owner: int | None, kept: Path | None) -> str:
    """What `clear` moved aside into `kept`, said after the move: counted with the class's inbound out of it (r20s N1:
    nested in hers, it was counted as one of her entries), before what to run next (r20s N2)."""
    if kept is None:
        return ""
    return f"; {course_path / 'inbound'} ({account(owner)}'s) was moved aside into {kept}{held_there(kept)}"


def clear(course: int, course_path: Path, collector: int) -> tuple[int | None, Path | None]:
    """The name `inbound` in the held course folder made free: an entry there not the collector's (a student's folder
    or link put in place of the class's) moved aside into a new folder of root's and closed to her (`close`): its
    owner and that folder; the collector's refused (it may hold submissions made since: collect them first)."""
    try:
        there = os.stat("inbound", dir_fd=course, follow_symlinks=False)
    except FileNotFoundError:
        return None, None
    if there.st_uid == collector:
        raise PutBackRefused(
            f"{course_path / 'inbound'} is the collector's: collect what it holds (lrcourse collect <chapter>), then "
            "move it aside as root and run this again"
        )
    folder = aside(course, course_path)
    close(folder)
    return there.st_uid, folder


def close(folder: Path) -> None:
    """The folder moved aside into `folder` made root's, 0700, at once (r20s M1: a process of hers inside renamed and
    added entries after the listing); a link or any other entry is left as it is, never followed."""
    try:
        fd = os.open(folder / "inbound", FOLDER)
    except OSError:
        return
    try:
        os.fchown(fd, 0, 0)
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)


def held_there(folder: Path) -> str:
    """What the entry moved aside into `folder` holds, said (r20q M1, r20r M1: classmates who submitted into a
    student's folder while it stood in the inbound's place were named by no line): its entries, those named as
    submissions, bounded; moved, a submission's time would be the move's (collect reads a folder's change time), so
    they are the instructor's to look at and decide, never gathered (r20r W1: gathered, an on-time one was late)."""
    if os.path.islink(folder / "inbound"):  # r20t W2: what was submitted through it is where it points
        target = shell_word(os.readlink(folder / "inbound"))
        return (
            f" (a link to {target}: what classmates submitted through it is there, in a folder of hers: look inside, "
            f"`ls -la --time=ctime {target}` as root, and decide each by hand)"
        )
    try:
        fd = os.open(folder / "inbound", FOLDER)
    except OSError:
        return " (no folder: nothing in it)"
    try:
        with os.scandir(fd) as entries:
            names = [entry.name for _, entry in zip(range(MOST_LOOKED + 1), entries, strict=False)]
    finally:
        os.close(fd)
    if not names:
        return " (empty)"
    named = sum(map(submission_named, names[:MOST_LOOKED]))
    count = (  # r20s W1: a count of the first names looked at was printed as the whole
        f"more than {MOST_LOOKED:,} entries, {named:,} of the first {MOST_LOOKED:,} named as submissions (more may be "
        "past them)"
        if len(names) > MOST_LOOKED
        else f"{len(names):,} entr{'y' if len(names) == 1 else 'ies'}, {named:,} named as "
        f"{'a submission' if named == 1 else 'submissions'}"
    )
    return (
        f" (made root's, 0700, it holds {count}: what classmates submitted into it while it stood in the inbound's "
        "place, and whatever she put there; lrcourse collect does not read it there, and a move would give a "
        f"submission the move's time: look inside, `ls -la --time=ctime {folder / 'inbound'}` as root, and decide "
        "each by hand)"
    )


def restored(course: int, folder: Path | None) -> str:
    """After a failed move, the entry `clear` moved aside into `folder` put back at `inbound` if that is free (the
    state before the command); what is said of it."""
    if folder is None:
        return ""
    if os.path.islink(folder / "inbound"):  # r20t W1: her link was put back, said closed, and still used
        return f"; the link that stood at inbound stays in {folder}: the course has no inbound now: run lrcourse doctor"
    fd = os.open(folder, FOLDER)
    try:
        os.rename("inbound", "inbound", src_dir_fd=fd, dst_dir_fd=course)
    except OSError as error:
        return f"; what stood at inbound was moved aside into {folder} and not put back ({error}): look inside"
    finally:
        os.close(fd)
    os.rmdir(folder)
    return "; what stood at inbound before is back there, made root's (0700): run lrcourse doctor"


def aside(course: int, course_path: Path) -> Path:
    """`inbound` of the held course folder moved into a new folder of root's, 0700, in the exchange's root (sticky: no
    one else renames it): where."""
    folder = Path(tempfile.mkdtemp(prefix=".lrcourse-aside.", dir=course_path.parent))
    fd = os.open(folder, FOLDER)
    try:
        os.rename("inbound", "inbound", src_dir_fd=course, dst_dir_fd=fd)
    finally:
        os.close(fd)
    return folder


def arrived(course: int, course_path: Path, seen: os.stat_result, parent: int, name: str) -> None:
    """What the rename brought is the folder looked at (`seen`); or, replaced between the look and the move, that other
    entry put back where it came from, `name` in the held `parent` (r20s W2: moved aside, a classmate's submission she
    swapped in lost its name and time), else moved aside into a new folder of root's (refused either way)."""
    now = os.stat("inbound", dir_fd=course, follow_symlinks=False)
    if (now.st_dev, now.st_ino) == (seen.st_dev, seen.st_ino):
        return
    try:
        os.rename("inbound", name, src_dir_fd=course, dst_dir_fd=parent)
    except OSError:
        raise PutBackRefused(
            f"the folder was replaced between the look and the move: what moved is in {aside(course, course_path)}"
        ) from None
    raise PutBackRefused("the folder was replaced between the look and the move: what came was put back where it was")
