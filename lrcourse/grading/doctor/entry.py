"""Who may enter the nbgrader exchange's folders, for `lrcourse doctor` (doctor/exchange.py's lines): the folders
above the exchange's root, the root, the course's folder and its outbound folder, each of which every student must
enter (the root also write in: nbgrader's fetch, list and submit check it, `Exchange.ensure_root`), checked by their
modes (`closed_folders`); who but this user may enter a root this user cannot (`entered_only_by`); who may write in
the course's folders through their group (`group_writers`); who this machine lists in a group (`listed_members`). The
doctor cannot know who the students are: each line says only what this machine lists.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import stat
from pathlib import Path

SHOWN = 5  # names listed in a line before "and N more"


def course_folders(folder: Path, *inside: str):
    """(path, lstat) of the course's folder in the exchange and of its folders `inside`, each that is a folder (a
    missing one, a link or a file is not: the checks that refuse those are elsewhere)."""
    for path in (folder, *(folder / name for name in inside)):
        try:
            seen = path.lstat()
        except OSError:
            continue
        if stat.S_ISDIR(seen.st_mode):
            yield path, seen


def exchange_folders(exchange):
    """(path, stat) of the exchange's root (followed, as `root_itself_problem`), then of its course and outbound."""
    with contextlib.suppress(OSError):
        yield exchange.root, os.stat(exchange.root)
    yield from course_folders(exchange.root / exchange.course_id, "outbound")


def closed_folders(exchange) -> tuple[str, str | None] | None:
    """The first of the exchange's root, the course's folder in it and its outbound folder that other users cannot
    enter (no o+x; outbound: list, no o+r), and the mend; None if none. nbgrader's fetch then finds no chapter
    ("Assignment not found") and submit cannot reach inbound/, while release says it released (R20g2 W2: a course
    folder left 0700). One with a POSIX ACL, which decides who enters (its group bits are its mask), is a note (R20i2
    M2). One kept to its group is warned of, naming who is listed in it, `chgrp` first (`o+rx` opens the course to
    every user, R20h2 M1): the doctor cannot know if every student is in it (R20b M1, M2: a course folder 0750 and a
    root 1770 kept to a group of staff got ok, and no student could fetch or submit); kept to groups that differ too."""
    from lrcourse.grading.exchange.root import acl_named, group_name

    folder = exchange.root / exchange.course_id
    notes, kept, groups = [], [], {}
    for path, seen in exchange_folders(exchange):
        # outbound must be listed too: nbgrader list (the Assignments tab) shows no chapter otherwise (R20a N2)
        outbound, root = path == folder / "outbound", path == exchange.root
        need = stat.S_IROTH | stat.S_IXOTH if outbound else stat.S_IXOTH
        if seen.st_mode & need == need:
            continue
        mode, group = stat.S_IMODE(seen.st_mode), group_name(seen.st_gid)
        entered = outbound and seen.st_mode & (stat.S_IXOTH | stat.S_IXGRP)  # by some, but listed by none
        verb, cannot = (
            ("listed", "nbgrader list (the Assignments tab) shows students no chapter to fetch")
            if entered
            else ("entered", "students cannot fetch" + ("" if outbound else " nor submit"))
        )
        mend = (
            f"`chmod 1777 {path}` (as root; the README's instructor set-up)"
            if root
            else f"`chmod o+rx {path}` (as its owner; 0755, the README's instructor set-up)"
        )
        if acl_named(str(path)):
            notes.append(
                f"{path} (mode {mode:04o}) carries a POSIX ACL, which decides who may enter it: check with "
                f"`getfacl {path}` that the course's students may"
            )
            continue
        if seen.st_mode & (need << 3) != need << 3:
            return f"{path} (mode {mode:04o}) cannot be {verb} by other users: {cannot}", mend
        # root:root 0750, or a grader's 0750 left in group root by the README's `install -d` (R20a M1): no student
        if not set(listed_members(seen.st_gid)) - {owner_name(seen.st_uid), owner_name(os.geteuid()), "root"}:
            problem = (
                f"{path} (mode {mode:04o}) can be entered by its group {group} only, in which no one but its owner, "
                f"you or root is listed here: {cannot}, unless a directory service puts them in it"
            )
            return problem, f"`chgrp` it to a group of the course's students (as root), or {mend}"
        groups[path] = group
        verb = "listed" if seen.st_mode & stat.S_IXOTH else "entered"  # R20b N2: 0751 others enter (and fetch)
        can = "see its chapters in nbgrader list" if verb == "listed" else "fetch" if outbound else "fetch and submit"
        kept.append(
            (
                f"{path} (mode {mode:04o}) can be {verb} by its group {group} only: only members of that group "
                f"({group_members(seen.st_gid)}) can {can}",
                f"`chgrp` {path} to a group every student of the course is in (as root), or {mend}",
            )
        )
    if len(set(groups.values())) > 1:
        problem = "; ".join(f"{path} can be entered by group {group} only" for path, group in groups.items())
        return f"{problem}: only students in {'both' if len(groups) == 2 else 'all'} can fetch", (
            "`chgrp` them to one group every student of the course is in (as root)"
        )
    if kept:  # who the students are the doctor cannot know: whether all are in the group is the user's to check
        problem = "; ".join(said for said, _ in kept) + ": check that every student of the course is in it"
        return "; ".join([problem, *notes]), "; ".join(mend for _, mend in kept)
    return ("; ".join(notes), None) if notes else None


def entered_only_by(path: Path, seen: os.stat_result) -> str:
    """Who but this user may enter `path`, which others may not (no o+x), as far as this machine lists them."""
    from lrcourse.grading.exchange.root import acl_named, group_name

    owner = owner_name(seen.st_uid) or f"uid {seen.st_uid}"
    if acl_named(str(path)):
        return f"its POSIX ACL decides who else may (`getfacl {path}`)"
    if not seen.st_mode & stat.S_IXGRP:
        return "only root may: students cannot fetch nor submit" if owner == "root" else f"only {owner} and root may"
    group, listed = group_name(seen.st_gid), set(listed_members(seen.st_gid))
    owners = "root" if owner == "root" else f"its owner {owner}, root"
    said = f"only {owners} and members of group {group} ({group_members(seen.st_gid)}) may"
    if listed - {owner, "root"}:
        return said
    return f"{said}: students cannot fetch nor submit, unless a directory service puts them in that group"


def group_writers(folder: Path) -> tuple[str, str | None] | None:
    """As a user but root (root refuses a group but root's: `shared_folders`), the first of the course's folder in the
    exchange, its outbound and feedback folders that their group may write in (nbgrader's groupshared), naming the
    group's members, and the mend; None if none. Anyone in that group may put a link there that the grader's release
    or release_feedback follows (R20g2 M2: a student in it had release_feedback write over the source notebook).
    A group in which only the grader is listed is a note, mend None (R20h2 N2: the honest groupshared set-up)."""
    from lrcourse.grading.exchange.root import group_name

    if os.geteuid() == 0:
        return None
    me, note = owner_name(os.geteuid()), None
    for path, seen in course_folders(folder, "outbound", "feedback"):
        if not seen.st_mode & stat.S_IWGRP:
            continue
        group, mode = group_name(seen.st_gid), stat.S_IMODE(seen.st_mode)
        listed = set(listed_members(seen.st_gid))
        if listed and not listed - {me, "root"}:  # root writes anywhere: no one else is in it (R20a N4: group root)
            who = {1: "only you are", 2: "only root is", 3: "only you and root are"}
            note = note or (
                f"{path} (mode {mode:04o}) is writable by its group {group}: "
                f"{who[(me in listed) + 2 * ('root' in listed)]} listed in it (members a directory service provides "
                "are not listed)"
            )
            continue
        problem = (
            f"{path} (mode {mode:04o}) is writable by its group {group} "
            f"({group_members(seen.st_gid)}): everyone in that group can have the grader's release write through "
            "a link: keep students out of it"
        )
        return problem, f"take every student out of group `{group}`, or `chmod g-w {path}` (as its owner)"
    return (note, None) if note else None


def listed_members(gid: int) -> list[str]:
    """The users this machine lists in the group `gid`, as its member list and as their primary group, sorted (users
    a directory service does not enumerate are not seen: the README says to check)."""
    try:
        members = set(grp.getgrgid(gid).gr_mem)
    except KeyError:
        members = set()
    return sorted(members | {user.pw_name for user in pwd.getpwall() if user.pw_gid == gid})


def owner_name(uid: int) -> str | None:
    """The user name of `uid`, None if this machine lists none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def group_members(gid: int) -> str:
    """`listed_members(gid)` as a line says them."""
    names = listed_members(gid)
    if not names:
        return "no members listed here"
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return "members listed here: " + ", ".join(names[:SHOWN]) + more
