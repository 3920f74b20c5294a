"""`lrcourse doctor --put-back PATH`, as root: the class's inbound, found by the doctor's `find` where someone who
could write in the course's folder moved it (a student's home, a folder of hers three levels down), moved back as the
course's missing inbound without following a link on its way (r20p W1: the line's `mv -T -- <it> <inbound>` resolved
the path through her folders, and a link she swapped in after the instructor's `ls` moved the grader's source/ into
the exchange, which every student could then read). Trust: nothing on PATH is trusted; the exchange's root and the
course's folder are the instructor's. Each folder from / down to PATH's parent is opened without following a link and
held (`held`); the folder is looked at on its descriptor (a folder, the collector's, the inbound's mode, on the course
folder's file system) and renamed relative to the held folders (renameat), so that a name she swaps afterwards changes
nothing of what moves; what arrived is looked at again (the same inode), else moved aside into a new folder of root's.
What another account put at `inbound` is moved aside first, said with what it holds and recorded (`Kept`,
`aside_record`), and never put back, even when the move fails."""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lrcourse.grading.doctor.aside_record import Listing, listed, write_record
from lrcourse.grading.exchange.inbound import OPEN_FLAGS
from lrcourse.grading.exchange.kept_folders import INBOUND_MODES, shell_word
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
        kept = clear(course, course_path, collector)
        try:
            os.rename(found.name, "inbound", src_dir_fd=parent, dst_dir_fd=course)
            arrived(course, course_path, seen, parent, found.name)
        except (OSError, PutBackRefused) as error:
            # what stood at inbound stays aside (r20u W2: put back, made root's, the doctor's chown and chmod made hers
            # the class's inbound), and is said (r20r W2: it was left there unnamed)
            raise PutBackRefused(
                f"{error}{kept.said(course_path) if kept else ''}; the course has no inbound now, and the class's was "
                "not moved back: run lrcourse doctor (its find looks for it), then --put-back again"
            ) from None
        said = kept.said(course_path) if kept else ""
        return f"moved back as {course_path / 'inbound'}{said}: run lrcourse doctor, then lrcourse collect <chapter>"
    finally:
        for fd in (course, parent):
            if fd is not None:
                os.close(fd)


@dataclass
class Kept:
    """What stood at inbound, another account's, moved aside into `folder`: a folder of hers (closed to her), a link
    (`target`, from /, and what that folder held before the move, `through`), or another kind of entry (`kind`)."""

    owner: int
    folder: Path
    kind: str
    target: str | None = None
    through: Listing | None = None

    def said(self, course_path: Path) -> str:
        """Where it is, whose, and what it holds, recorded in the aside (`aside_record`); said after the move, with
        the class's inbound out of it (r20s N1: nested in hers, it was counted as one of her entries)."""
        moved = f"; {course_path / 'inbound'} ({account(self.owner)}'s) was moved aside into {self.folder}"
        decide = (
            "lrcourse collect does not read it there, and a move would give a submission the move's time: decide each "
            "by hand"
        )
        if self.kind == "link":  # r20t W2, r20u W1: named from /, as it resolved in the course's folder
            if self.through is None:
                return f"{moved} (a link to {shell_word(self.target)}, not to a folder: nothing went through it)"
            record = write_record(self.folder, f"{self.target}, where the link at inbound pointed", self.through)
            return (
                f"{moved} (a link to {shell_word(self.target)}: what classmates submitted through it went into that "
                f"folder, which held {self.through.said()}; their change times, owners and names then are in {record}; "
                f"{decide})"
            )
        if self.kind != "folder":  # r20u W3: never said closed
            return f"{moved} (a {self.kind}, not a folder: nothing could be submitted into it)"
        try:
            fd = os.open(self.folder / "inbound", FOLDER)
            try:
                listing = listed(fd)
            finally:
                os.close(fd)
        except OSError as error:
            return f"{moved} (made root's, 0700; it could not be listed ({error}): look inside as root; {decide})"
        record = write_record(self.folder, f"{course_path / 'inbound'}, the folder that stood there", listing)
        return (
            f"{moved} (made root's, 0700; it holds {listing.said()}: what classmates submitted into it while it stood "
            f"in the inbound's place, and whatever she put there; their change times, owners and names at the move "
            f"are in {record}; {decide})"
        )


KINDS = {
    stat.S_IFLNK: "link",
    stat.S_IFDIR: "folder",
    stat.S_IFIFO: "FIFO",
    stat.S_IFREG: "file",
    stat.S_IFSOCK: "socket",
}


def clear(course: int, course_path: Path, collector: int) -> Kept | None:
    """The name `inbound` in the held course folder made free: an entry there not the collector's (a student's folder
    or link put in place of the class's) moved aside into a new folder of root's and closed to her (`close`); a link's
    target listed first, as it resolves in the course's folder; the collector's refused (it may hold submissions made
    since: collect them first)."""
    try:
        there = os.stat("inbound", dir_fd=course, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if there.st_uid == collector:
        raise PutBackRefused(
            f"{course_path / 'inbound'} is the collector's: collect what it holds (lrcourse collect <chapter>), then "
            "move it aside as root and run this again"
        )
    kind = KINDS.get(stat.S_IFMT(there.st_mode), "special file")
    target, through = linked(course, course_path) if kind == "link" else (None, None)
    kept = Kept(there.st_uid, aside(course, course_path), kind, target, through)
    close(kept.folder)
    return kept


def linked(course: int, course_path: Path) -> tuple[str, Listing | None]:
    """The link at inbound: its target from / (a relative one read in the course's folder, r20u W1), and what the
    folder it reaches holds (None if it reaches no folder)."""
    target = os.path.join(course_path, os.readlink("inbound", dir_fd=course))
    try:  # followed, read only: O_DIRECTORY opens no FIFO or device
        fd = os.open("inbound", os.O_RDONLY | os.O_DIRECTORY | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=course)
    except OSError:
        return target, None
    try:
        return target, listed(fd)
    finally:
        os.close(fd)


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
