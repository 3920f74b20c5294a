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
import time
from dataclasses import dataclass
from pathlib import Path

from lrcourse.grading.doctor.aside_record import listed, write_record
from lrcourse.grading.exchange.inbound import OPEN_FLAGS
from lrcourse.grading.exchange.kept_folders import INBOUND_MODES
from lrcourse.grading.exchange.path_walk import account, walk_path
from lrcourse.shell_words import shell_word

FOLDER = OPEN_FLAGS | os.O_DIRECTORY


class PutBackRefused(Exception):
    """The folder is not moved: why, as the command prints it."""


def held(path: Path, collector: int | None = None) -> int:
    """`path` (absolute, no `.` or `..`) opened from / one folder at a time, none through a link: its descriptor. With
    `collector`, each folder above the last is checked as it is opened (`steady`)."""
    if not path.is_absolute() or any(part in (".", "..") for part in path.parts) or str(path) != os.path.normpath(path):
        raise PutBackRefused(
            f"{shell_word(path)}: give the absolute path, without . or .., as the doctor's find prints it"
        )
    fd = os.open("/", FOLDER)
    for depth, part in enumerate(path.parts[1:], start=2):
        try:
            inner = os.open(part, FOLDER, dir_fd=fd)
        except OSError as error:
            raise PutBackRefused(
                f"{shell_word(path)}: cannot open {shell_word(part)} on the way without following a link: {error}"
            ) from None
        finally:
            os.close(fd)
        fd = inner
        # a guard held by descriptor: `trusted_way` has refused any such folder by name, so only a change since
        # (a race) reaches it (r20ae N2)
        if collector is not None and depth < len(path.parts):  # by position (r20aa W1: by name, a root named
            steady(fd, Path(*path.parts[:depth]), path, collector)  # like the course went unchecked)
    return fd


def steady(fd: int, folder: Path, course_path: Path, collector: int) -> None:
    """The folder open at `fd` (`folder`, as reached), above the course's folder `course_path`: root's or the
    collector's, and no one else may rename what is in it (not group- or other-writable, or sticky). r20z W1: the check
    stopped at the course's folder; its parent, hers (the course's folder a link of hers) or an exchange root of mode
    0777, let her move the course's folder, the class's inbound in it, away right after the put-back said done. The
    folder is named (r20aa N4: "a folder above" left the instructor to find which)."""
    seen = os.fstat(fd)
    above = f"{shell_word(folder)}, a folder above {shell_word(course_path)}"
    if seen.st_uid not in (0, collector):
        raise PutBackRefused(
            f"{above}, is {account(seen.st_uid)}'s: its owner can move the course's folder, inbound and all: run "
            "lrcourse doctor as the collector and follow its line for the exchange first"
        )
    if seen.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not seen.st_mode & stat.S_ISVTX:
        raise PutBackRefused(
            f"others may write in {above} (mode {stat.S_IMODE(seen.st_mode):04o}, no sticky bit): they can move the "
            "course's folder, inbound and all: run lrcourse doctor as the collector and follow its line for the "
            "exchange first"
        )


def trusted_way(course: Path, collector: int) -> None:
    """The course's folder as configured (`course`), reached only through folders and links that no account but root
    and the collector can change: path_walk's rule, which collect, release and the doctor apply, following each link's
    target and `..` as the kernel does. r20ab W1: above a 0777 folder she left a link of hers at the exchange's root;
    r20ac W1: a link of hers inside the target of root's link, or a 0777 folder above root's link: the checks ran on
    where it led, "moved back" landed outside the exchange, and she then led the way to a folder of hers. r20ac M3: a
    link of the collector's, which the doctor accepts, was refused."""
    try:
        reason, _, seen = walk_path(course, (0, collector))
    except OSError as error:
        raise PutBackRefused(f"{shell_word(course)}: {error}") from None
    if reason:
        said = reason if reason.isprintable() else shell_word(reason)
        why = (  # r20ae N1: a chain or loop of root's links moves nothing: it is too long to follow
            "give c.Exchange.root a path without a loop of links or so many of them"
            if seen is None
            else "its owner, or anyone where others may write, can move the course's folder, inbound and all, right "
            "after this: run lrcourse doctor as the collector and follow its line for the exchange first"
        )
        raise PutBackRefused(f"on the way to {shell_word(course)}, {said}: {why}")


def put_back_found(found: Path, inbound: Path, collector: int) -> str:
    """Move the folder `found` (the collector's, the inbound's mode) back as the course's `inbound`, what another
    account put there moved aside first (`clear`); what is printed. Refused (PutBackRefused, nothing moved) unless run
    as root, the course folder's group and others may not write in it (the lock-out: a student in its group could
    make `inbound` meanwhile), and the folder is, on its descriptor, what it must be."""
    if os.geteuid() != 0:
        raise PutBackRefused("run it as root: the folder may be in a student's home, which only root may enter")
    trusted_way(inbound.parent, collector)  # the way to it the set-up's: what leads there is no one else's
    course_path = Path(os.path.realpath(inbound.parent))
    if course_path != Path(os.path.realpath(inbound.parent.parent)) / inbound.parent.name:
        raise PutBackRefused(  # r20aa W2: a link of hers in an open root led the checks to a folder of the grader's
            f"{shell_word(inbound.parent)} is a link (to {shell_word(course_path)}), not the course's folder: run "
            "lrcourse doctor as the collector and follow its line for the exchange first"
        )
    found_real = Path(os.path.realpath(found))
    if keeper := course_keeping(found_real, course_path, collector):
        rename = shell_word(found_real.parent / f"inbound-of-{course_path.name}")
        raise PutBackRefused(  # r20ak 1, r20al 2: another course's live inbound (this exchange's or another root's),
            # moved here, left that class without one and gave this one its submissions
            f"{shell_word(found)} is named inbound in a folder of {keeper}'s, where a course keeps its inbound: it may "
            "be another course's or section's, in this exchange or another, and what it holds cannot say whose it is "
            "(any student may write a folder named for this course there), so it is never moved here. If it is the "
            f"class's (decide with whoever collects there), rename it where it is as root, `mv -T -- "
            f"{shell_word(found_real)} {rename}` (or any name not taken there), then run this with that name"
        )
    course, parent = held(course_path, collector), None
    try:
        folder = os.fstat(course)
        if folder.st_uid not in (0, collector):  # r20y W1: hers, she renames inbound again whatever its mode
            raise PutBackRefused(  # r20z W2: the doctor's line for it moves the folder aside; M1: quoted
                f"{shell_word(course_path)} is {account(folder.st_uid)}'s, not the collector's or root's: its owner can "
                "move inbound again: run lrcourse doctor as the collector and follow its line for the course's folder "
                "first"
            )
        if folder.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            where = shell_word(course_path)
            raise PutBackRefused(f"others may write in {where}: run `chmod go-w -- {where}` as root first")
        parent = held(found.parent)
        try:
            fd = os.open(found.name, FOLDER, dir_fd=parent)
        except OSError as error:
            raise PutBackRefused(
                f"{shell_word(found)}: not a folder opened without following a link: {error}"
            ) from None
        seen = os.fstat(fd)
        os.close(fd)
        if seen.st_uid != collector or stat.S_IMODE(seen.st_mode) not in INBOUND_MODES:
            raise PutBackRefused(
                f"{shell_word(found)} is {account(seen.st_uid)}'s, mode {stat.S_IMODE(seen.st_mode):04o}: not the class's inbound "
                f"(the collector's, {account(collector)}'s, with the inbound's mode 3733)"
            )
        if seen.st_dev != folder.st_dev:
            raise PutBackRefused(
                f"{shell_word(found)} is on another file system than {shell_word(course_path)}: a rename cannot move it"
            )
        kept = clear(course, course_path, collector)
        try:
            os.rename(found.name, "inbound", src_dir_fd=parent, dst_dir_fd=course)
            arrived(course, course_path, seen, parent, found.name)
        except (OSError, PutBackRefused) as error:
            # what stood at inbound stays aside (r20u W2: put back, made root's, the doctor's chown and chmod made hers
            # the class's inbound), and is said (r20r W2: it was left there unnamed); the collector's doctor prints
            # the find (r20w N1: root's only says to run it as the collector)
            raise PutBackRefused(
                f"{error}{kept.said(course_path) if kept else ''}; the course has no inbound now, and the class's was "
                f"not moved back: run lrcourse doctor as {account(collector)} (its find looks for it), then this "
                "again as root"
            ) from None
        said = kept.said(course_path) if kept else ""
        where = shell_word(course_path / "inbound")
        return f"moved back as {where}{said}: run lrcourse doctor, then lrcourse collect <chapter>"
    finally:
        for fd in (course, parent):
            if fd is not None:
                os.close(fd)


@dataclass
class Kept:
    """What stood at inbound, not the collector's (`seen`: its lstat there), moved aside into `folder`: a folder
    (closed: root's, 0700), a link, or another kind of entry (`kind`). Whose it is decides nothing (r20x W2: a student
    who made herself the owner of the course's `feedback` was taken for staff and kept her folder at inbound); the line
    says how to put back a folder of staff's (r20w M1, r20x W1: the releaser's outbound, moved there)."""

    seen: os.stat_result
    folder: Path
    kind: str

    def said(self, course_path: Path) -> str:
        """Where it is, whose, and what it holds, recorded in the aside (`aside_record`); said after the move, with
        the class's inbound out of it (r20s N1: nested in hers, it was counted as one of her entries)."""
        owner, mode = account(self.seen.st_uid), f"{stat.S_IMODE(self.seen.st_mode):04o}"
        shown = f"{owner}'s, mode {mode}" if self.kind == "folder" else f"{owner}'s"  # r20y N3: a link's is 0777
        moved = f"; {shell_word(course_path / 'inbound')} ({shown}) was moved aside into {shell_word(self.folder)}"
        if self.kind == "link":  # never followed (r20w W1, W2: where it led can change, and differ per process)
            return (
                f"{moved} (a link to {shell_word(os.readlink(self.folder / 'inbound'))}, there since "
                f"{when(self.seen.st_ctime_ns)} at the latest (its owner can make that time later, never earlier): what "
                "was submitted through it went wherever it then led, which its owner chose (/proc/self/cwd leads each "
                "classmate into a folder of their own), so none of it can be found or trusted from here: ask the "
                "students who submitted since the last collect that read the class's inbound to submit again)"
            )
        if self.kind != "folder":  # r20u W3: never said closed
            return f"{moved} (a {self.kind}, not a folder: nothing could be submitted into it)"
        inside = self.folder / "inbound"
        restore = f"chown -h {self.seen.st_uid}:{self.seen.st_gid} -- {shell_word(inside)} && chmod {mode} -- {shell_word(inside)}"
        try:
            fd = os.open(inside, FOLDER)
            try:
                listing = listed(fd, self.seen.st_uid)
            finally:
                os.close(fd)
            record = write_record(
                self.folder, f"{shell_word(course_path / 'inbound')}, {owner}'s folder (mode {mode})", listing
            )
        except OSError as error:
            return f"{moved} (made root's, 0700; it could not be listed ({error}): look inside as root)"
        return (
            f"{moved} (made root's, 0700; it holds {listing.said()}; each entry's owner, change and modification times "
            f"and name at the move are in {shell_word(record)}. If {owner} is a student, classmates may have submitted into it: "
            "lrcourse collect does not read it there, and a move would give a submission the move's time, so decide "
            f"each by hand. If {owner} works in this course, it may be the course's outbound or feedback, moved there: "
            f"`{restore}` gives it back, then move it where it belongs)"
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
    or link put in place of the class's, or a folder of staff's she moved there) moved aside into a new folder of
    root's, a folder closed (`close`); the collector's refused (it may hold submissions made since, or be its
    `outbound` moved there: r20x M1)."""
    try:
        there = os.stat("inbound", dir_fd=course, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if there.st_uid == collector and stat.S_IMODE(there.st_mode) in INBOUND_MODES:
        raise PutBackRefused(
            f"{shell_word(course_path / 'inbound')} is the collector's: collect what it holds (lrcourse collect <chapter>), then "
            "move it aside as root and run this again"
        )
    if there.st_uid == collector:
        raise PutBackRefused(
            f"{shell_word(course_path / 'inbound')} is the collector's, mode {stat.S_IMODE(there.st_mode):04o}, not an inbound's: it "
            "may be the course's outbound or feedback, moved there: move it back where it belongs as root (never "
            "chmod it to 3733), then run this again"
        )
    kept = Kept(there, aside(course, course_path), KINDS.get(stat.S_IFMT(there.st_mode), "special file"))
    close(kept.folder)
    return kept


def when(ns: int) -> str:
    """A time in nanoseconds since the epoch, in UTC to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ns // 1_000_000_000))


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
            f"the folder was replaced between the look and the move: what moved is in {shell_word(aside(course, course_path))}"
        ) from None
    raise PutBackRefused("the folder was replaced between the look and the move: what came was put back where it was")


def course_keeping(found: Path, course: Path, collector: int) -> str:
    """Whose folder `found` (a real path) is named `inbound` in, where that folder may be another course's: one of
    root's or the collector's (a student can make neither; another course's, or another section's in another exchange
    root), outside this course's folder `course` and not itself an inbound; '' otherwise (a student's folder, this
    course's own folders, a folder in an inbound: r20an 4, 5, no course keeps its live inbound there)."""
    if found.name != "inbound" or found.is_relative_to(course):
        return ""
    try:
        seen = os.lstat(found.parent)
    except OSError:
        return ""
    if stat.S_IMODE(seen.st_mode) in INBOUND_MODES:
        return ""
    return account(seen.st_uid) if seen.st_uid in (0, collector) else ""
