"""The exchange's inbound folder, as `lrcourse collect` may trust it before looking at any submission in it.

The exchange's root is writable by every student, so the course's folder in it and its inbound folder are
trusted only when reached without a symbolic link and owned by the collecting user or root (`open_inbound`).
Change times are the submission times, so an inbound folder on tmpfs or ramfs, where writes through a shared
memory mapping never move them, or on an overlay whose upper layer is one or cannot be established (`mounts`), is
refused unless the instructor accepts it (`Exchange.memory_fs_ok`, `lrcourse collect --allow-tmpfs`), and then a
note says the times are not trusted (`check_filesystem`). The listing is streamed and only names shaped for the
assignment are kept, a bounded number per owner, so one student's flood is reported by its owner and costs no one
else their collect (`listing`). Where every submission is owned by one user who is none of the students named
(hubs whose pods all run as one uid), no owner check can hold, and the exchange is refused
(`check_owners_tell_apart`).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from lrcourse.grading.exchange import counted
from lrcourse.grading.exchange.inbound import OPEN_FLAGS, user_name
from lrcourse.grading.exchange.mounts import mount_table, untrusted_times


class ExchangeUnusable(Exception):
    """The exchange cannot be read, or cannot tell one student from another."""


@dataclass
class Exchange:
    root: Path
    course_id: str
    memory_fs_ok: bool = False  # the instructor accepts tmpfs, or an overlay not known (times not trusted)
    groupshared: bool = False  # c.CourseDirectory.groupshared: nbgrader's release then leaves the root's mode alone

    @property
    def inbound(self) -> Path:
        return self.root / self.course_id / "inbound"


def exchange_of(course: Path) -> Exchange:
    """The exchange as nbgrader's own commands would find it: the system-wide and user nbgrader_config.py
    files (a hub's /etc/jupyter), then the course folder's."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    for folder in [*reversed(jupyter_config_path()), str(course)]:
        if (Path(folder) / "nbgrader_config.py").is_file():
            config.merge(PyFileConfigLoader("nbgrader_config.py", path=folder).load_config())
    root = config.get("Exchange", {}).get("root", "/usr/local/share/nbgrader/exchange")
    course_id = config.get("CourseDirectory", {}).get("course_id", "")
    if not course_id:
        raise ExchangeUnusable("no course id (c.CourseDirectory.course_id) in nbgrader_config.py")
    groupshared = bool(config.get("CourseDirectory", {}).get("groupshared", False))
    return Exchange(Path(root), course_id, groupshared=groupshared)


def open_inbound(exchange: Exchange) -> int:
    """The inbound folder, opened below the exchange's root without following a link, each folder on the way
    owned by this user or root: the root is writable by every student, who could otherwise put a folder of
    their own (or a link to one) in the course's place."""
    return open_exchange_folder(exchange, (exchange.course_id, "inbound"), "the inbound folder")


def open_checked(parent: int, part: str, seen: os.stat_result, path: Path) -> int:
    """The folder `part` below the open folder `parent` (closed here, whatever happens), opened without following a
    link, which must be the one `seen` (its lstat, checked) describes: ExchangeUnusable if it was replaced between."""
    try:
        fd = os.open(part, OPEN_FLAGS | os.O_DIRECTORY, dir_fd=parent)
    finally:
        os.close(parent)
    opened = os.fstat(fd)
    if (opened.st_dev, opened.st_ino) != (seen.st_dev, seen.st_ino):
        os.close(fd)
        raise ExchangeUnusable(f"{path} was replaced while it was being opened")
    return fd


def open_exchange_folder(exchange: Exchange, parts: tuple[str, ...], what: str) -> int:
    """The folder `parts` below the exchange's root, opened as `open_inbound` opens the inbound folder
    (`lrcourse doctor` checks the course's folder alone so, before nbgrader's first release has made the rest)."""
    path, fd = exchange.root, -1
    try:
        fd = os.open(path, (OPEN_FLAGS & ~os.O_NOFOLLOW) | os.O_DIRECTORY)  # the root: the admin's own path
        for part in parts:
            path = path / part
            seen = os.stat(part, dir_fd=fd, follow_symlinks=False)
            check_exchange_folder(seen, path)
            parent, fd = fd, -1
            fd = open_checked(parent, part, seen, path)
        return fd
    except BaseException as error:
        if fd >= 0:
            os.close(fd)
        if isinstance(error, OSError):
            folder = exchange.root.joinpath(*parts)
            raise ExchangeUnusable(f"cannot open {what} {folder}: {error.strerror} ({path})") from None
        raise


ACTING = {"collect": "collecting", "release": "releasing"}  # the words of `check_exchange_folder`'s refusals


def check_exchange_folder(seen: os.stat_result, path: Path, action: str = "collect") -> None:
    """ExchangeUnusable unless `seen` (an lstat of `path`, a folder in the exchange) is a folder, not a link, owned by
    this user or root; `action` ("collect" or "release", nbgrader_release) names what trusts it in the refusal."""
    if stat.S_ISLNK(seen.st_mode) or not stat.S_ISDIR(seen.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(seen.st_mode) else "not a folder"
        which = "course and inbound folders" if action == "collect" else "course folder and the folders in it"
        raise ExchangeUnusable(
            f"{path} is {kind}: the exchange's {which} must be folders of the instructor's "
            "(a student may have put their own in its place; see the README's hub set-up: chmod 1777)"
        )
    if seen.st_uid not in (os.geteuid(), 0):
        allowed = " or ".join(sorted({user_name(os.geteuid()), user_name(0)}))
        owner = user_name(seen.st_uid)
        raise ExchangeUnusable(  # the grader account's own exchange, root collecting, is not a student's (F24 M1(a))
            f"{path} is owned by {owner}, not by {allowed} (the {ACTING[action]} user or root). If {owner} is the "
            f"account that runs the course (the README's set-up gives it the exchange's course folder), {action} as "
            f"{owner}, not as another account: {action} trusts only its own account's and root's exchange folders. "
            "Otherwise a student may have put their own folder in its place (see the README's hub set-up: chmod 1777)"
        )


def check_filesystem(inbound: int, exchange: Exchange) -> tuple[list, str | None]:
    """The mount table, and a note if change times cannot be trusted on the inbound folder's file system
    (`mounts`: tmpfs, ramfs, an overlay on one or whose upper layer is unknown); ExchangeUnusable there unless
    the instructor accepted it."""
    mounts = mount_table()
    untrusted = untrusted_times(inbound, mounts)
    if untrusted is None:
        return mounts, None
    what, surely = untrusted
    why = (
        f"{exchange.inbound} is on {what}, where a write through a shared memory mapping "
        f"{'never moves' if surely else 'may never move (tmpfs, ramfs)'} a file's change time: a student could "
        "change their submission after the deadline and keep the time of before"
    )
    if not exchange.memory_fs_ok:
        raise ExchangeUnusable(
            f"{why}; move the exchange to a disk file system (see the README), or collect anyway with "
            "--allow-tmpfs (the times collected are then not trusted)"
        )
    return mounts, f"times not trusted: {why}"


def listing(inbound: int, assignment: str, only: str | None, most: int) -> tuple[dict, list[dict]]:
    """The stat of each name in the inbound folder shaped `<id>+<assignment>+<time>[+random]` (of `only` if given),
    the listing streamed, at most `most` kept per owner; and a refusal row per owner past that (a flood), and one
    counting the names that hold `+<assignment>` in another shape."""
    kept: dict[str, os.stat_result] = {}
    per_owner: dict[int, int] = {}
    misshaped = 0  # names holding `+<assignment>` in another shape (r20v N1: passed over without a word)
    with os.scandir(inbound) as entries:
        for entry in entries:
            parts = entry.name.split("+")
            if len(parts) not in (3, 4) or parts[1] != assignment or (only is not None and parts[0] != only):
                misshaped += assignment in parts[1:] and (only is None or parts[0] == only)
                continue
            try:
                seen = entry.stat(follow_symlinks=False)
            except OSError:  # removed meanwhile
                continue
            per_owner[seen.st_uid] = per_owner.get(seen.st_uid, 0) + 1
            if per_owner[seen.st_uid] <= most:
                kept[entry.name] = seen
    floods = []
    for uid, count in sorted(per_owner.items()):
        if count > most:
            more, owner = count - most, user_name(uid)
            reason = (
                f"{owner} owns {count} entries named for {assignment} in the inbound folder: the {more} past the "
                f"first {most} were not checked (a flood?)"
            )
            floods.append({"submission": f"{owner}: {more} entries", "reason": reason, "more": more})
    if misshaped:
        reason = (
            f"named for {assignment}, but not <id>+{assignment}+<timestamp>[+random] as nbgrader's submit names a "
            "submission (a + in the time, or none): not read"
        )
        floods.append({"submission": counted.entries(misshaped), "reason": reason, "more": misshaped})
    return kept, floods


def check_owners_tell_apart(names: dict, path: Path) -> None:
    """Refuse an exchange whose submissions all belong to one OS user and name two students or more besides
    that user (every pod running as one uid; a folder named after the shared user, jovyan+..., does not hide
    it). Once a second student has submitted, a student forging classmates' folders is not that: the forgeries
    are refused one by one. Before then, one student forging two classmates makes this refusal, which costs
    nobody else a submission."""
    owners = {seen.st_uid for seen in names.values()}
    students = {name.split("+", 1)[0] for name in names}
    shared = user_name(owners.pop()) if len(owners) == 1 else None
    if shared is not None and len(students - {shared}) > 1:
        raise ExchangeUnusable(
            f"every submission in {path} is owned by one OS user ({shared}) though they name "
            f"{len(students)} students: this exchange cannot tell students apart, so no submission in it can "
            f"be trusted. If {shared} is one of your students and no classmate has submitted yet, these may "
            f"instead be {shared}'s forgeries in classmates' names: look at the folders (every one owned by "
            f"{shared}), remove the forgeries as root ({shared}'s folders, which you may not be able to empty), "
            "or collect again once other students have submitted. If every student's server runs as this one user, "
            "give each student their own uid, or collect another way (see the README)"
        )
