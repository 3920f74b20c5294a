"""`lrcourse doctor`'s checks of the nbgrader exchange `lrcourse collect` reads, when there is one: its root must keep
the course's folder in place (`exchange_root`), the course's folder must exist and be the instructor's, checked as
collect checks it, and its inbound folder 3733 (students write in it, only its owner lists it, the sticky bit keeps each
submission folder in place; nbgrader's groupshared lets a group list it: named, warned of); the course's folder,
outbound and feedback must be folders no one else may write in (as root, no group but root's; as any user, no POSIX ACL
letting others write, no default ACL: `folder_writers.shared_write`), or release, release_feedback and Unrelease refuse
them (`shared_folders`; the course's folder collect too, but for a default ACL: `root.course_write_problem`, under
the course folder's label), and the root must carry no default POSIX ACL (`root_acl_check`, their rule too); and the
kernel must refuse a student's hard link to a classmate's file (`protected_hardlinks`). Each is one `Check` line. A
root this user cannot enter is said so (`unreachable`), not taken for a course folder not made yet; one it may enter
but not list (`root_unlistable`), or a course or inbound folder it cannot list (`unlistable`), is named, never said
to be removed; an outbound or feedback folder of root's, when this user is not root, is a FAIL with `chown`, and the
course folder of root's while either is missing (`not_yours`: its release cannot make anything there; a note else),
whatever release refuses at outbound or feedback, and what those two hold of others', named with its owner, is
moved aside, never removed (`kept_folders.aside`, r20j W1: `rm` only for a link or FIFO); a missing inbound is a FAIL
with any other line (`remake`, r20i W1, r20j W2), one like the class's inbound of another staff account left for its
doctor (r20k M1); a POSIX ACL entry shutting this user out is named, with
`setfacl -x`, `setfacl -m g::` or the mask's `chmod g+x` (`root.acl_shuts_out`); one whose mode nbgrader's release, run by another user than its owner, cannot set is a FAIL too
(`release_chmod`); who else may enter one kept to its group is said as far as this machine lists them: the doctor
cannot know who the students are.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from lrcourse.grading.doctor.check import Check, one_line
from lrcourse.grading.doctor.course_owner import (
    RELEASED,
    chown_mend,
    not_yours,
    root_chapters_note,
    root_course_note,
    theirs,
)
from lrcourse.grading.doctor.entry import (
    closed_folders,
    course_folders,
    entered_only_by,
    group_members,
    group_writers,
    owner_name,
    root_side,
)
from lrcourse.grading.doctor.remake import NAME, lock_out, locked, missing_inbound, owned_by_us, remake, with_missing

# the exchange's inbound folder as nbgrader's release makes it (everyone writes and enters, only its owner lists it),
# plus the sticky bit (only a submission folder's owner, the inbound folder's owner and root may rename or remove it):
# the README's set-up. nbgrader's groupshared makes it group-listable (2773): whoever is in its group then reads every
# submission, so doctor names the group and warns (`inbound_mode_problem`)
INBOUND_MODE = 0o3733
HARDLINKS_SYSCTL = Path("/proc/sys/fs/protected_hardlinks")


def exchange_root(course: Path) -> Check:
    """The nbgrader exchange `lrcourse collect` reads, when there is one: a root in which no student can put
    their own folder in place of the course's (`exchange_root`; collect refuses such an exchange)."""
    from lrcourse.grading.exchange.inbound_folder import ExchangeUnusable, exchange_of
    from lrcourse.grading.exchange.root import course_write_problem, root_itself_problem, root_path_problem

    try:
        exchange = exchange_of(course)
    except ExchangeUnusable as error:
        return Check("the nbgrader exchange", f"not checked: {error}", warning=True)
    except Exception as error:  # a config file that fails: the sandbox limits' check below names it
        return Check("the nbgrader exchange", one_line(f"not checked: {type(error).__name__}: {error}"), warning=True)
    if problem := root_path_problem(exchange.root):  # before any mend that would write through a student's link
        problem, fix = problem.split(" Fix: ", 1)  # collect checks the root's path as release does (R20e2 N1)
        problem = problem.rstrip(".") + "; lrcourse collect and nbgrader's release refuse it"
        return Check("the nbgrader exchange's root", problem, fix, stops="collect")
    if not exchange.root.is_dir():
        return Check(f"the nbgrader exchange: none at {exchange.root} (lrcourse collect needs one; not checked)")
    if problem := root_itself_problem(exchange):
        problem, fix = problem.split(" Fix: ", 1)
        problem = problem.rstrip(".") + "; lrcourse collect refuses it"
        return Check("the nbgrader exchange's root", problem, fix, stops="collect")
    problem = course_write_problem(exchange, inherited=False)  # collect's rule; the course folder's (R20a N1)
    if problem and owned_by_us(exchange.root / exchange.course_id):  # another's: its owner first (r20i N5)
        problem, fix = problem.split(" Fix: ", 1)
        problem = problem.rstrip(".") + "; lrcourse collect refuses it"
        return Check("the nbgrader exchange's course folder", problem, fix, stops="collect")
    folder = course_folder(exchange, course)
    if folder.failed and folder.stops == "collect":  # stops more than the root's ACL, which stops release
        return folder
    return root_acl_check(exchange) or release_chmod(exchange) or folder


def root_acl_check(exchange) -> Check | None:
    """A FAIL when the exchange's root carries a default POSIX ACL, which release, release_feedback and Unrelease
    refuse (`nbgrader_release.root_acl`: what is made in it next inherits it); None without one."""
    from lrcourse.grading.exchange.nbgrader_release import root_acl

    problem, fix = root_acl(exchange.root)
    if not problem:
        return None
    problem += "; nbgrader's release, release_feedback and Unrelease refuse it"
    return Check("the nbgrader exchange's root", problem, fix, stops="release")


def release_chmod(exchange) -> Check | None:
    """A FAIL when nbgrader's release, run by this user, would stop at the exchange's root: when its mode is not
    x777 it chmods it to 0777 (keeping the sticky bit), which only its owner or root may (r20d W1: a root 1733, 1707,
    or kept to its group, 1770, stopped the release with "Could not change permissions"); None otherwise, and in a
    groupshared course, where nbgrader's release leaves the root alone."""
    try:
        seen = os.stat(exchange.root)
    except OSError:
        return None
    if os.geteuid() in (0, seen.st_uid) or exchange.groupshared or seen.st_mode & 0o777 == 0o777:
        return None
    problem = (
        f"{exchange.root} ({described(seen)}) is not yours, and nbgrader's release makes the root's mode 0777 (the "
        'sticky bit kept) whenever it is not: as you, not its owner, it cannot, and stops with "Could not change '
        f"permissions of {exchange.root}, permission denied\"; nbgrader's release refuses it"
    )
    return Check("the nbgrader exchange's root", problem, f"`chmod 1777 {exchange.root}` {AS_ROOT}", stops="release")


AS_ROOT = "(as root; the README's instructor set-up)"


def described(seen: os.stat_result) -> str:
    """A folder's mode, owner and group, as the lines say them."""
    from lrcourse.grading.exchange.root import group_name

    owner = owner_name(seen.st_uid) or f"uid {seen.st_uid}"
    return f"mode {stat.S_IMODE(seen.st_mode):04o}, owner {owner}, group {group_name(seen.st_gid)}"


def root_unlistable(exchange) -> Check | None:
    """A FAIL when this user may enter the exchange's root but not list it (r20d W1: 1733, root's, was blamed on the
    course's folder, with the mend to remove it): lrcourse collect and Unrelease open the root to read it, and
    nbgrader's release, not its owner's, stops at it (`release_chmod`). None otherwise (one this user cannot enter is
    `unreachable`'s to say)."""
    from lrcourse.grading.exchange.root import acl_named, acl_shuts_out

    root = exchange.root
    try:
        os.close(os.open(root, os.O_RDONLY | os.O_DIRECTORY))
        return None
    except OSError as error:
        if error.errno not in (errno.EACCES, errno.EPERM) or not os.access(root, os.X_OK):
            return None
    try:
        seen = os.stat(root)
    except OSError:
        return None
    short = seen.st_mode & 0o777 != 0o777  # nbgrader's release chmods it to 0777 first (`release_chmod`)
    mends = [f"`chmod 1777 {root}` {AS_ROOT}"] if short else []
    if shut := acl_shuts_out(root, seen, need=4):  # named, with its own mend (r20g N2)
        mends.append(f"{shut[1].replace('{}', str(root))} (as root: {shut[0]}; `getfacl {root}` shows it)")
    elif acl_named(root):  # a named entry shuts this user out
        mends.append(f"remove the entry of its POSIX ACL that shuts you out (`getfacl {root}`; `setfacl -x`, as root)")
    release = "so does nbgrader's release"  # the course's: it opens the root as collect does
    if short:
        release = f'nbgrader\'s release, unless its owner runs it, stops with "Could not change permissions of {root}"'
    problem = (
        f"you (the user who collects) may enter the exchange's root {root} ({described(seen)}) but not list it: "
        f"lrcourse collect and Unrelease open it to reach the course's folder (Permission denied), and {release}; "
        "the course's folder is not at fault; lrcourse collect refuses it"
    )
    mend = "; ".join(mends) or f"`chmod 1777 {root}` {AS_ROOT}"
    return Check("the nbgrader exchange's root", problem, mend, stops="collect")


def unlistable(exchange) -> Check | None:
    """A FAIL naming the course's or inbound folder in the exchange, root's or this user's, that this user cannot
    list (collect opens both to read them), with the mend; None if there is none: a folder the doctor could not look
    into is never said to be removed (r20d W1)."""
    for path in (exchange.root / exchange.course_id, exchange.inbound):
        try:
            seen = os.lstat(path)
            if not stat.S_ISDIR(seen.st_mode) or seen.st_uid not in (0, os.geteuid()):
                return None
            os.close(os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW))
        except OSError as error:
            if error.errno not in (errno.EACCES, errno.EPERM):
                return None
            mend = f"`chmod u+rx {path}` (as its owner)" if seen.st_uid == os.geteuid() else chown_mend(exchange)
            release = ", and nbgrader's release, which opens it too, stops" if path == exchange.inbound else ""
            problem = (  # r20g N6: a root-owned inbound stops release too ("cannot make or open")
                f"you cannot list {path} ({described(seen)}): lrcourse collect opens it to read it, and refuses "
                f"it{release}"
            )
            return Check("the nbgrader exchange's course folder", problem, mend, stops="collect")
    return None


def course_folder(exchange, course: Path | None = None) -> Check:
    """The course's folder in the exchange, checked as `lrcourse collect` checks it (`open_exchange_folder`: a
    folder, reached without a link, owned by this user or root), and its inbound folder's mode once nbgrader's
    release has made it. Missing, any student may create it first (the root is writable by all) and own the
    course's folders: nbgrader's release then fails ("You don't own the directory") and collect refuses them. A root
    this user may not list is said first (`root_unlistable`). `course`: the course folder, which a folder above the
    root that holds it must keep closed (`closed_folders`)."""
    from lrcourse.grading.exchange.inbound_folder import ExchangeUnusable, open_exchange_folder

    if closed := root_unlistable(exchange):
        return closed
    folder, name = exchange.root / exchange.course_id, NAME
    create = (  # the inbound folder made now too, sticky (3733): nbgrader's release would make it 2733
        f"as the user who collects, `mkdir -m 0755 {folder} && install -d -m 3733 {exchange.inbound}` (see the "
        "README's instructor set-up)"
    )
    try:
        os.lstat(folder)  # os.path.lexists says False on EACCES too: a root this user cannot enter (R20a W1)
    except FileNotFoundError:
        problem = f"{folder} does not exist yet: the first student to create it would own the course's folders"
        return Check(
            name, f"{problem}; lrcourse collect would refuse them", f"create it now, {create}", stops="collect"
        )
    except OSError as error:
        return unreachable(exchange, error)
    try:
        os.close(open_exchange_folder(exchange, (exchange.course_id,), "the course's folder"))
        seen = inbound_stat(exchange) if os.path.lexists(exchange.inbound) else None  # made by the first release
    except ExchangeUnusable as error:
        if closed := unlistable(exchange):  # not one to remove: one this user cannot list
            return closed
        mend = remake(exchange, create, course)
        said = Check(name, one_line(f"{error}; lrcourse collect refuses it"), mend, stops="collect")
        return locked(said, lock_out(folder))  # the lock-out first where it moves or makes names (r20l W3)
    missing = missing_inbound(exchange) if seen is None else None  # r20i W1; with any other line (r20j W2)
    lock = lock_out(folder)  # first in a line moving names in them (r20k W3)
    if shared := shared_folders(folder):
        return with_missing(Check(name, *shared, stops="release"), missing, lock)
    if others := not_yours(exchange, course):
        return with_missing(others, missing, lock)
    notes = [note for note in (root_course_note(exchange), root_chapters_note(exchange)) if note]  # r20i N4
    for found in (closed_folders(exchange, course), group_writers(folder)):
        if found and found[1] is None:  # a note: it works, for whom is said
            notes.append(found[0])
        elif found:
            at_root = root_side(exchange, found[0])  # the root's or above it, labelled so (R20c N3)
            said = Check("the nbgrader exchange's root" if at_root else name, *found, warning=True)
            return with_missing(said, missing, lock)
    if missing:
        return locked(missing, lock)
    problem = inbound_mode_problem(exchange, seen) if seen is not None else None
    if problem:
        return Check(name, "; ".join([problem[0], *notes]), problem[1], warning=True)
    sticky = 0
    with contextlib.suppress(OSError):  # R20b N1: a root no one else may write in keeps it so, not by a sticky bit
        sticky = os.stat(exchange.root).st_mode & stat.S_ISVTX
    how = "sticky bit" if sticky else "only its owner may write in it"
    whose = "yours" if os.geteuid() == 0 or folder not in theirs(exchange) else "root's, as collect takes it"  # r20i N1
    return Check(
        f"the nbgrader exchange's root {exchange.root} keeps the course's folder in place ({how}), "
        f"and {folder} is {whose}" + "".join(f" (note: {note})" for note in notes)
    )


def unreachable(exchange, error: OSError) -> Check:
    """The course's folder in the exchange cannot be looked at (`error`): as a rule (EACCES), the exchange's root is
    one this user cannot enter; said so, and who else may as far as this machine lists (`entered_only_by`; R20b W5:
    "students cannot fetch nor submit" was said of a root whose group held them all)."""
    root, folder = exchange.root, exchange.root / exchange.course_id
    name = "the nbgrader exchange's course folder"
    if error.errno not in (errno.EACCES, errno.EPERM):
        return Check(
            name, f"cannot look at {folder}: {error.strerror}; lrcourse collect cannot open it", stops="collect"
        )
    from lrcourse.grading.exchange.root import acl_shuts_out

    mode = others = ""
    mend = f"`chmod 1777 {root}` {AS_ROOT}"
    with contextlib.suppress(OSError):
        seen = root.stat()
        mode = f" (mode {stat.S_IMODE(seen.st_mode):04o}, owner {owner_name(seen.st_uid) or seen.st_uid})"
        others = "" if seen.st_mode & stat.S_IXOTH else f": {entered_only_by(root, seen)}"
        if shut := acl_shuts_out(root, seen):  # the ACL's entry or mask, named with its mend (r20f M1, r20g M1)
            others = f": {shut[0]}"
            mend = f"{shut[1].replace('{}', str(root))} (as root; `getfacl {root}` shows it)"
    problem = (
        f"cannot look at {folder}: {error.strerror}: you cannot enter the exchange's root {root}{mode}{others}; "
        "lrcourse collect cannot open the inbound folder"
    )
    return Check(name, problem, mend, stops="collect")


def shared_folders(folder: Path) -> tuple[str, str] | None:
    """The first of the course's folder in the exchange, its outbound and feedback folders that others may write in
    (or, as root, a group but root's; as any user, anyone through a POSIX ACL or a default ACL:
    `folder_writers.shared_write`), and the mend;
    None if none. Release, release_feedback and Unrelease refuse it (a TA's link there had root's Unrelease delete
    through it, R20e2 W1, M1); a link or a file there is theirs to refuse too, and missing ones are made by release."""
    from lrcourse.grading.exchange.folder_writers import shared_write

    for path, seen in course_folders(folder, "outbound", "feedback"):
        try:
            problem, mend = shared_write(seen, path, remade_by=RELEASED.get(path.name, "") if path != folder else "")
        except OSError:
            continue
        if problem:
            who = {"outbound": "release and Unrelease refuse", "feedback": "release_feedback refuses"}  # r20h N3
            return (
                f"{problem}; nbgrader's {who.get(path.name, 'release, release_feedback and Unrelease refuse')} it",
                mend,
            )
    return None


def inbound_mode_problem(exchange, seen: os.stat_result) -> tuple[str, str] | None:
    """What an inbound folder not of INBOUND_MODE lets a classmate do, and the fix; None when it is INBOUND_MODE.
    nbgrader's own modes (2733; 2773 with groupshared) are told part by part: a group that lists it, no sticky bit."""
    from lrcourse.grading.exchange.moved_inbound import not_an_inbound
    from lrcourse.grading.exchange.root import acl_named, group_name

    mode, inbound = stat.S_IMODE(seen.st_mode), exchange.inbound
    if mode == INBOUND_MODE:
        return None
    if mode | stat.S_ISVTX | stat.S_IRGRP != INBOUND_MODE | stat.S_IRGRP:  # not nbgrader's 2733 or 2773, sticky or not
        problem = (
            f"{inbound} has mode {mode:04o}, not 3733 (the inbound's: students write in it, none lists it, the random "
            "part of a classmate's folder name is all that hides their submission; the sticky bit keeps it in place)"
        )
        if mode & 0o003 != 0o003:  # r20h N6: said as a mode alone while every submit failed
            problem += ': no student can submit (others may not write in it: "You don\'t have write permissions")'
        chmod = f"`chmod 3733 {inbound}`"
        if seen.st_uid != os.geteuid():  # root's: 3733 would keep this user from listing it (collect's `unlistable`)
            chmod = f"`chmod 3733 {inbound} && chown {owner_name(os.geteuid()) or os.geteuid()} {inbound}` (as root)"
        if moved := not_an_inbound(inbound, seen.st_uid, chmod):  # r20y M1: the outbound moved there, chmod made
            return f"{problem}; {moved[0]}", moved[1]  # it the inbound
        return problem, chmod
    problems, fixes = [], []
    if mode & stat.S_IRGRP:  # nbgrader's groupshared; or a POSIX ACL, whose mask the group bits are (R20g2 M3)
        acl = " or the users and groups its POSIX ACL names (`getfacl` shows them)" if acl_named(str(inbound)) else ""
        who = f"its group {group_name(seen.st_gid)} ({group_members(seen.st_gid)}){acl}"
        if acl and (listers := acl_listers(inbound, seen)):  # named, with their members (r20g N4)
            who = ", ".join(listers) + " (through its POSIX ACL: `getfacl` shows it)"
        problems.append(
            f"{inbound} (mode {mode:04o}) can be listed by {who}: anyone of them lists every submission and reads its notebook and "
            "submission_secret.txt (with which they fetch that student's feedback), so no student may be among them "
            "(nbgrader's groupshared makes it so; only the user who collects needs to list it)"
        )
        keep = f"`setfacl -b {inbound}`" if acl else "keep every student out of that group"
        fixes.append(f"`chmod g-r {inbound}` (as its owner), or {keep}")
    if not mode & stat.S_ISVTX:  # nbgrader's own mode: the sticky bit missing
        problems.append(
            f"{inbound} has mode {mode:04o}, without the sticky bit: a classmate who learns a submission folder's "
            "name can rename it, taking it out of lrcourse collect or making it look late (collect notes it)"
        )
        fixes.append(f"`chmod +t {inbound}` (as its owner)")
    return "; ".join(problems), "; ".join(fixes)


def acl_listers(folder: Path, seen: os.stat_result) -> list[str]:
    """Who `folder`'s POSIX access ACL lets list it (r through the mask), as the lines say them: its group, named
    users, named groups with the members this machine lists."""
    from lrcourse.grading.exchange.access_acl import GROUP, GROUP_OBJ, USER
    from lrcourse.grading.exchange.root import acl_entries, group_name

    said = []
    for tag, id in acl_entries(folder, 4):
        if tag == USER:
            said.append(f"user {owner_name(id) or id}")
        elif tag in (GROUP, GROUP_OBJ):
            gid = seen.st_gid if tag == GROUP_OBJ else id
            its = "its group" if tag == GROUP_OBJ else "group"
            said.append(f"{its} {group_name(gid)} ({group_members(gid)})")
    return said


def inbound_stat(exchange) -> os.stat_result:
    """The inbound folder's stat, opened as `lrcourse collect` opens it (ExchangeUnusable if it refuses)."""
    from lrcourse.grading.exchange.inbound_folder import open_inbound

    opened = open_inbound(exchange)
    try:
        return os.fstat(opened)
    finally:
        os.close(opened)


def protected_hardlinks(sysctl: Path = HARDLINKS_SYSCTL) -> Check:
    """Whether the kernel refuses a hard link to a file the user neither owns nor may write (fs.protected_hardlinks):
    where it does not, a classmate who learns a submission folder's name links its notebook (readable by all, as
    the instructor who collects must read it) from a folder of her own, which moves its change time and makes
    collect refuse the submission (a file with two names). A warning, not a failure: collect still works and says
    why it refuses, and this machine's setting is not the one of the machines where students' servers run, if
    they are others (a hub's nodes): the README asks for it on each."""
    name = "hard links to other users' files refused (fs.protected_hardlinks = 1)"
    try:
        value = sysctl.read_text().strip()
    except OSError as error:
        return Check(name, f"not checked: cannot read {sysctl} ({error.strerror})", warning=True)
    if value == "1":
        return Check(name)
    return Check(
        name,
        f"{sysctl} is {value}: a student who learns a classmate's submission folder name can hard-link its notebook, "
        "which moves its change time (it looks late) and makes lrcourse collect refuse it (a file with two names)",
        "`sysctl -w fs.protected_hardlinks=1` and `fs.protected_hardlinks = 1` in /etc/sysctl.d/ (as root), on "
        "every machine where students' servers run",
        warning=True,
    )
