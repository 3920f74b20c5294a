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
from lrcourse.grading.exchange.kept_folders import INBOUND_MODES, MOST_LOOKED, submission_named

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
                f"{found} is uid {seen.st_uid}'s, mode {stat.S_IMODE(seen.st_mode):04o}: not the class's inbound (the "
                f"collector's, uid {collector}, with the inbound's mode 3733)"
            )
        if seen.st_dev != folder.st_dev:
            raise PutBackRefused(f"{found} is on another file system than {course_path}: a rename cannot move it")
        moved, stray = clear(course, course_path, collector)
        os.rename(found.name, "inbound", src_dir_fd=parent, dst_dir_fd=course)
        return moved + arrived(course, course_path, seen) + (gathered(stray, course) if stray else "")
    finally:
        for fd in (course, parent):
            if fd is not None:
                os.close(fd)


def clear(course: int, course_path: Path, collector: int) -> tuple[str, Path | None]:
    """The name `inbound` in the held course folder made free: an entry there not the collector's (a student's folder
    or link put in place of the class's) moved aside into a new folder of root's (what is printed, and where it is
    now); the collector's refused (it may hold submissions made since: collect them first)."""
    try:
        there = os.stat("inbound", dir_fd=course, follow_symlinks=False)
    except FileNotFoundError:
        return "", None
    if there.st_uid == collector:
        raise PutBackRefused(
            f"{course_path / 'inbound'} is the collector's: collect what it holds (lrcourse collect <chapter>), then "
            "move it aside as root and run this again"
        )
    folder = aside(course, course_path)
    return f"{course_path / 'inbound'} (uid {there.st_uid}'s) moved aside into {folder}; ", folder / "inbound"


def gathered(stray: Path, course: int) -> str:
    """The entries named as submissions in the folder put in the inbound's place, now `stray` in root's new folder
    (so only names inside it are hers to change), moved into the restored inbound, each renamed relative to the held
    folders and none over a name there: classmates submitted into it meanwhile (r20q M1: they were left in the aside,
    named by no line); collect judges each (its owner, its name, no link). What is printed."""
    try:
        source = os.open(stray, FOLDER)  # a link there (hers put in place was one): nothing to gather
    except OSError:
        return ""
    target, moved, left = os.open("inbound", FOLDER, dir_fd=course), 0, 0
    try:
        with os.scandir(source) as entries:
            names = [entry.name for _, entry in zip(range(MOST_LOOKED), entries, strict=False)]
        for name in filter(submission_named, names):
            try:
                if taken(name, target):  # not replaced
                    left += 1
                    continue
                os.rename(name, name, src_dir_fd=source, dst_dir_fd=target)
                moved += 1
            except OSError:
                left += 1
    finally:
        os.close(source)
        os.close(target)
    said = f"; {moved} submitted into it meanwhile moved into the class's inbound (collect judges each)" * bool(moved)
    return said + f"; {left} named as submissions left in {stray}: look inside" * bool(left)


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


def arrived(course: int, course_path: Path, seen: os.stat_result) -> str:
    """What the rename brought: the folder looked at (`seen`), or, replaced between the look and the move, that
    other entry moved aside into a new folder of root's in the exchange's root (refused)."""
    now = os.stat("inbound", dir_fd=course, follow_symlinks=False)
    if (now.st_dev, now.st_ino) == (seen.st_dev, seen.st_ino):
        return f"moved back as {course_path / 'inbound'}: run lrcourse doctor, then lrcourse collect <chapter>"
    raise PutBackRefused(
        f"the folder was replaced between the look and the move: what moved is in {aside(course, course_path)}"
    )


def taken(name: str, folder: int) -> bool:
    """Whether `name` is an entry of the held `folder` (not followed)."""
    try:
        os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True
