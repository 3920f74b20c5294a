"""Who may enter the nbgrader exchange's folders, for `lrcourse doctor` (doctor/exchange.py's lines): the folders
above the exchange's root, the root, the course's folder and its outbound folder, each of which every student must
enter (the root also write in: nbgrader's fetch, list and submit check it, `Exchange.ensure_root`), checked by their
modes (`closed_folders`); who but this user may enter a root this user cannot (`entered_only_by`); who may write in
the course's folders through their group (`group_writers`); who this machine lists in a group (`listed_members`). The
doctor cannot know who the students are: each line says only what this machine lists.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
from pathlib import Path

from lrcourse.grading.exchange.group_listing import group_listing

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
    """(path, stat, kind) of the folders above the exchange's root (`above_root`: the ones its links lead through
    too) and of the root (followed, as `root_itself_problem`), then of its course and outbound folders: kind "above",
    "root", "course", "outbound"."""
    for path in above_root(exchange):
        with contextlib.suppress(OSError):
            seen = os.stat(path)
            if stat.S_ISDIR(seen.st_mode):
                yield path, seen, "above"
    with contextlib.suppress(OSError):
        yield exchange.root, os.stat(exchange.root), "root"
    for path, seen in course_folders(exchange.root / exchange.course_id, "outbound"):
        yield path, seen, "course" if path == exchange.root / exchange.course_id else "outbound"


def closed_folders(exchange, course: Path | None = None) -> tuple[str, str | None] | None:
    """The first of the folders above the exchange's root, the root, the course's folder in it and its outbound folder
    that other users cannot enter (no o+x; the root: enter and write in, no o+wx; outbound: list, no o+rx), and the
    mend; None if none. nbgrader's fetch, list and submit first check that the student may write in the root
    (`Exchange.ensure_root`: "Unwritable directory", R20c W1: a root 1750, 1775 or 0755 got "can fetch and submit" or
    ok), a folder above it closed leaves them none (R20c M1); fetch finds no chapter ("Assignment not found") and
    submit cannot reach inbound/ in a course folder closed, while release says it released (R20g2 W2). One with a
    POSIX ACL, which decides who enters (its group bits are its mask), is a note (R20i2 M2). One kept to its group is
    warned of, naming who is listed in it, `chgrp` first (`o+rx` opens the course to every user, R20h2 M1), with the
    user who collects in that group too where it is not the folder's owner (R20c M2): the doctor cannot know if every
    student is in it (R20b M1, M2); kept to groups that differ too, said for what each is needed (R20c N3). One
    whose mode lets others in while its POSIX ACL shuts named users or groups out is noted, naming them (r20d N2). A
    folder above the root that holds the course folder `course` (the grader's home, kept 0700) is never to be opened:
    its mend is an exchange elsewhere (`elsewhere`, r20d M3)."""
    from lrcourse.grading.exchange.root import acl_name, acl_named, group_name

    notes, kept, groups, shut_groups = [], [], {}, []
    for path, seen, kind in exchange_folders(exchange):
        need = NEED[kind]
        mode = stat.S_IMODE(seen.st_mode)
        said = f"{path} (mode {mode:04o})"
        if seen.st_mode & need == need:
            shut, gids = acl_shut_out(path, need)
            if shut:
                said = (
                    f"{said} lets others in by its mode, but its POSIX ACL keeps {shut} out: they cannot "
                    + ("fetch nor submit" if kind != "outbound" else "fetch")
                    + f" (`getfacl {path}`)"
                )
                if not gids:  # a user or two it names: noted
                    notes.append(said)
                    continue
                # a whole group kept out, as the class's may be: warned of, naming who is in it (r20f N1)
                members = "; ".join(f"group {group_name(gid)}: {kept_out(path, seen, gid, need)}" for gid in gids)
                entries = ",".join(f"g:{acl_name(group_name(gid), gid)}" for gid in gids)
                mend = f"`setfacl -x {entries} {path}` (as its owner) if a student of the course is in it"
                shut_groups.append((f"{said} ({members})", mend))
            continue
        if acl_named(str(path)):
            notes.append(
                f"{said} carries a POSIX ACL, which decides who may enter it: check with `getfacl {path}` that the "
                "course's students may" + (" enter and write in it" if kind == "root" else "")
            )
            continue
        group = group_name(seen.st_gid)
        verb, cannot, mend = closed_to_others(exchange, path, seen, kind)
        home = kind == "above" and course is not None and holds(path, course)  # the grader's, say (r20d M3)
        mend = elsewhere(path, course) if home else mend
        you, others_enter = collector_too(seen), seen.st_mode & stat.S_IXOTH  # R20b N2: 0751 others enter (and fetch)
        if seen.st_mode & (need << 3) != need << 3:
            by = ""
            if kind == "root" and seen.st_mode & stat.S_IXGRP and not seen.st_mode & stat.S_IWGRP:
                # R20c W1: 1750 in the students' group was said to let them fetch and submit
                by = f", nor by its group {group}" if others_enter else f" (its group {group} may enter, not write)"
            return f"{said} cannot be {verb} by other users{by}: {cannot}", mend
        verb = "entered"
        if kind == "outbound" and others_enter:
            verb = "listed"
        elif kind == "root":
            verb = "written in" if others_enter else "entered and written in"
        # root:root 0750, or a grader's 0750 left in group root by the README's `install -d` (R20a M1): no student
        if not set(listed_members(seen.st_gid)) - {owner_name(seen.st_uid), owner_name(os.geteuid()), "root"}:
            problem = (
                f"{said} can be {verb} by its group {group} only, in which no one but its owner, you or root is "
                f"listed here (a directory service may put others in it): {cannot}"
            )
            you = ", with you (the user who collects) in it too" if you else ""
            if home:
                return problem, mend
            return problem, f"`chgrp` it to a group of the course's students{you} (as root), or {mend}"
        groups[path] = group, kind
        can = "see its chapters in nbgrader list" if verb == "listed" else "fetch" if kind == "outbound" else ""
        if not home:
            mend = f"`chgrp` {path} to a group every student of the course{you or ' is in'} (as root), or {mend}"
        kept.append(
            (
                f"{said} can be {verb} by its group {group} only: only members of that group "
                f"({group_members(seen.st_gid)}) can {can or 'fetch and submit'}",
                mend,
            )
        )
    if len({group for group, _ in groups.values()}) > 1:
        return mixed_groups(groups)
    if kept:  # who the students are the doctor cannot know: whether all are in the group is the user's to check
        problem = "; ".join(said for said, _ in kept) + ": check that every student of the course is in it"
        kept += shut_groups
        return "; ".join([problem, *(said for said, _ in shut_groups), *notes]), "; ".join(mend for _, mend in kept)
    if shut_groups:
        return "; ".join([*(said for said, _ in shut_groups), *notes]), "; ".join(mend for _, mend in shut_groups)
    return ("; ".join(notes), None) if notes else None


# what every student must be allowed in each folder on the way to the inbound and outbound folders
NEED = {
    "above": stat.S_IXOTH,
    "root": stat.S_IWOTH | stat.S_IXOTH,  # nbgrader's ensure_root: write and enter, or "Unwritable directory"
    "course": stat.S_IXOTH,
    "outbound": stat.S_IROTH | stat.S_IXOTH,  # nbgrader list (the Assignments tab) lists it (R20a N2)
}
UNWRITABLE = (
    "students cannot fetch nor submit: nbgrader's fetch, list and submit first check that the student may write in "
    'the exchange\'s root {root}, and stop with "Unwritable directory"'
)


def closed_to_others(exchange, path: Path, seen: os.stat_result, kind: str) -> tuple[str, str, str]:
    """What others cannot do in `path` (a folder of `kind`, as `exchange_folders` yields), what that stops, the mend."""
    if kind == "above":
        return "entered", UNWRITABLE.format(root=exchange.root), f"`chmod o+x {path}` (as its owner)"
    if kind == "root":
        verb = "written in" if seen.st_mode & stat.S_IXOTH else "entered nor written in"
        return verb, UNWRITABLE.format(root=path), f"`chmod 1777 {path}` (as root; the README's instructor set-up)"
    mend = f"`chmod o+rx {path}` (as its owner; 0755, the README's instructor set-up)"
    if kind == "outbound" and seen.st_mode & (stat.S_IXOTH | stat.S_IXGRP):  # entered by some, listed by none
        return "listed", "nbgrader list (the Assignments tab) shows students no chapter to fetch", mend
    return "entered", "students cannot fetch" + (" nor submit" if kind == "course" else ""), mend


def collector_too(seen: os.stat_result) -> str:
    """Where the folder is not this user's: that this user, who collects, must be in the group too, as a line says it
    after "every student of the course" (R20c M2: the root `chgrp`ed to the students' group left collect outside)."""
    if os.geteuid() in (0, seen.st_uid):
        return ""
    return " and you (the user who collects: lrcourse collect must enter it too) are in"


def mixed_groups(groups: dict) -> tuple[str, str]:
    """Folders kept to groups that differ (path: (group, kind)): only students in all may fetch, only those in all
    but outbound's may submit (R20c N3: "can fetch" was said of a root and a course folder, both needed to submit)."""
    problem = "; ".join(f"{path} can be entered by group {group} only" for path, (group, _) in groups.items())
    every = {group for group, _ in groups.values()}
    submit = {group for group, kind in groups.values() if kind != "outbound"}
    can = f"only students in {'both' if len(every) == 2 else 'all'} can fetch"
    if submit == every:
        can += " and submit"
    elif len(submit) > 1:
        can += f", only those in {' and '.join(sorted(submit))} can submit"
    you = os.geteuid() != 0 and any(path.stat().st_uid != os.geteuid() for path in groups)
    are = " and you (the user who collects) are in" if you else " is in"
    return f"{problem}: {can}", f"`chgrp` them to one group every student of the course{are} (as root)"


def root_side(exchange, problem: str) -> bool:
    """Whether `problem` is said of the exchange's root or a folder above it (labelled as the root's line)."""
    return any(problem.startswith(f"{path} ") for path in (exchange.root, *above_root(exchange)))


def above_root(exchange) -> list[Path]:
    """The folders the kernel looks a name up in on its way to the exchange's root, from / down: those above it as
    written, and those its links lead through (`above.lookups`; r20d M1: a folder closed to students behind a root's
    link `/srv/nbgrader -> /data/...` got a plain ok). As written alone where a link cannot be read."""
    from lrcourse.grading.doctor.above import lookups

    try:
        looked = [folder for folder, _ in lookups(Path(exchange.root))]
    except OSError:
        looked = list(reversed(Path(os.path.abspath(exchange.root)).parents))
    return list(dict.fromkeys(looked))


def holds(folder: Path, course: Path) -> bool:
    """Whether `folder` (a real path) holds the course folder `course` (followed)."""
    try:
        return Path(os.path.realpath(course)).is_relative_to(folder)
    except OSError:
        return False


def elsewhere(folder: Path, course: Path) -> str:
    """The mend for a folder students cannot enter above the exchange's root that holds the course folder: the
    exchange elsewhere, not the folder opened (r20d M3: `chmod o+x` on the grader's home, which the README keeps 0700,
    let every student into a course folder `git clone` left 0755)."""
    return (
        f"keep {folder} closed (it holds the course folder {course}: the solutions and hidden tests) and set "
        "c.Exchange.root to a folder outside it, as the README's instructor set-up's /srv/nbgrader/exchange (made "
        "there as root: `install -d -m 1777`, then the course's folder and its inbound folder as the README says)"
    )


def acl_shut_out(path: Path, need: int) -> tuple[str, list[int]]:
    """Who `path`'s POSIX access ACL keeps from `need` (others' bits: 0o1 enter, 0o3 enter and write, 0o5 list and
    enter) although its mode grants it to others: its named users and groups whose entry, masked, lacks it, named, and
    those groups' gids; ("", []) when none (or no ACL). The kernel takes a named entry before the others' bits (r20d
    N2: `setfacl -m u:<student>:---` on a 1777 root got a plain ok), unless the mask (the mode's group bits) is ---:
    then it skips the ACL (`acl_permission_check`), and no one is shut out by it (r20h N2)."""
    from lrcourse.grading.exchange.access_acl import Acl, read_acl
    from lrcourse.grading.exchange.root import group_name

    try:
        acl = read_acl(path)
    except OSError:
        return "", []
    if not isinstance(acl, Acl):  # none, or no ACL (`access_acl.Unreadable`): no entry to name
        return "", []
    if acl.mask_entry == 0:  # the mode's group bits 0: the kernel skips the ACL, the others' bits decide (r20h N2)
        return "", []
    users = [owner_name(uid) or f"uid {uid}" for uid, perm in acl.users.items() if perm & acl.mask & need != need]
    gids = sorted(gid for gid, perm in acl.groups.items() if perm & acl.mask & need != need)
    shut = sorted(users) + sorted(f"group {group_name(gid)}" for gid in gids)
    return ", ".join(shut[:SHOWN]) + (f" and {len(shut) - SHOWN} more" if len(shut) > SHOWN else ""), gids


def kept_out(path: Path, seen: os.stat_result, gid: int, need: int) -> str:
    """The members listed in group `gid`, which `path`'s POSIX ACL keeps from `need`, as `group_members` says them,
    less those another entry lets in: the kernel grants through any of a user's groups whose entry grants it, and a
    user's own entry decides alone (r20g N3: a student also in a group it lets write was said to be kept out; r20h
    N1: one whose own entry is --- was said to be let in through another)."""
    from lrcourse.grading.exchange.access_acl import Acl, read_acl

    acl = read_acl(path)
    if not isinstance(acl, Acl):  # gone or changed since `acl_shut_out` read it
        return "its POSIX ACL changed as it was read: `getfacl` shows it now"
    granting = [other for other, perm in acl.groups.items() if perm & acl.mask & need == need]
    granting += [seen.st_gid] if acl.group & acl.mask & need == need else []
    let_in = {name for other in granting for name in listed_members(other)}
    for name in listed_members(gid):
        with contextlib.suppress(KeyError):
            uid = pwd.getpwnam(name).pw_uid
            if uid in acl.users:  # a user's own entry decides alone, whatever their groups' (r20h N1)
                if acl.users[uid] & acl.mask & need == need:
                    let_in.add(name)
                else:
                    let_in.discard(name)
    names = [name for name in listed_members(gid) if name not in let_in]
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    said = "members listed here: " + ", ".join(names[:SHOWN]) + more if names else "no member listed here kept out"
    inside = sorted(let_in & set(listed_members(gid)))
    return said + (f"; {', '.join(inside)} may, through another entry" if inside else "")


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
    listing = group_listing(gid)
    return sorted(listing.members if listing else {user.pw_name for user in pwd.getpwall() if user.pw_gid == gid})


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
