"""`lrcourse doctor`'s mends for the course's folder in the exchange and its inbound when collect refuses or misses
them, never deleting the class's submissions (r20i W1, W2, r20j W1): a folder owned by the account that runs the
course (the local course folder's owner), or whose inbound holds others' submissions, is the class's working one,
for which the line says only to run as that account; any other is moved aside (`kept_folders.aside`: a link or FIFO removed) and made again (r20j M1). A missing
inbound/ is a FAIL of its own, with any other line (r20j W2): a folder of this user's or root's with the inbound's
mode, where someone who may write in the course's folder moved it (up to two levels below its entries: r20k N2), is
moved back; a student's never (r20j W3). A line that moves names in a folder a group with students may write in
closes it first, in the same command (`lock_out`, `locked`), and each move refuses a link on its way at run time
(r20k W3: a student swapped one in after the look). The rule for a doctor not run by the course's account (r20k
M1: a TA's, in her own copy of the course, or root's): a folder with the inbound's mode owned by another account
that works in the course (`kept_folders.staff_of`: the owner of the course's folder in the exchange, or, that
folder root's and its group allowed to write in it, that group's members) may be the class's inbound, which this
user may not list: it is named, with "run lrcourse doctor and collect as <owner>", and no mend moves it or makes an
inbound beside it (`defer_line`); nor one of another account's in a course folder of root's, `inbound` or, that
missing, one beside it (r20m M2, r20n W1, W2: `ask_collector`, which asks whether its owner collects the course)."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import stat
from pathlib import Path

from lrcourse.grading.doctor.check import Check
from lrcourse.grading.doctor.entry import course_folders, listed_members, owner_name
from lrcourse.grading.exchange.kept_folders import (
    ASIDE_NOTE,
    DEFER,
    INBOUND_MODES,
    aside,
    aside_mend,
    defer_line,
    group_of,
    inbound_shape,
    kept_line,
    moved_hint,
    ours,
    put_back,
    shell_word,
    shown,
    staff_inbound,
    staff_of,
    submissions_in,
)

NAME = "the nbgrader exchange's course folder"


def owned_by_us(path: Path) -> bool:
    """Whether `path` is this user's or root's (or cannot be looked at): `chmod` and `setfacl` mends are theirs."""
    with contextlib.suppress(OSError):
        return os.lstat(path).st_uid in (0, os.geteuid())
    return True


def owned_by(path: Path) -> int | None:
    """The uid owning `path` (not followed), None if it cannot be looked at."""
    try:
        return os.lstat(path).st_uid
    except OSError:
        return None


def folder_owner(path: Path) -> int | None:
    """The uid owning the folder `path` (no link), None if it is none."""
    try:
        seen = os.lstat(path)
    except OSError:
        return None
    return seen.st_uid if stat.S_ISDIR(seen.st_mode) else None


def course_owner(course: Path | None) -> int | None:
    """The uid owning the local course folder (the account that runs the course), None if unknown."""
    try:
        return os.stat(course).st_uid if course is not None else None
    except OSError:
        return None


def others_submitted(inbound: Path, folder: os.stat_result) -> bool:
    """Whether `inbound`, a folder itself (not a link) on the course folder's file system, holds a submission-shaped
    folder owned by someone other than the course folder's owner: students have submitted there, so it is the class's
    working folder (a TA's doctor in her own copy of the course, whose local folder she owns: moving it aside would
    stop the class), not one a student made before the README's step, which holds nothing of anyone else's (r20j M1).
    `kept_folders.submissions_in` looks, bounded, each entry lstat'ed; past the bound, through a link or on another
    file system, not known: False (r20k W1: a link to /home, or 10,001 entries of her own, had a student's folder
    called the course's)."""
    found, _ = submissions_in(inbound, not_of=folder.st_uid, device=folder.st_dev)
    return found > 0


def remake(exchange, create: str, course: Path | None = None) -> str:
    """The mend for a course or inbound folder collect refuses (`create`: the command making the course's folder).
    The course's folder: "run as <owner>" when its owner owns the local course folder (the course's account); else
    moved aside (`kept_folders.aside`: a link or FIFO removed) and made again (r20j W1, M1). Its inbound alone, where
    collect takes the course's folder (r20h N5): moved aside likewise, and made again."""
    from lrcourse.grading.exchange.inbound_folder import ExchangeUnusable, check_exchange_folder

    path, inbound = exchange.root / exchange.course_id, exchange.inbound
    folder, at_inbound = shlex.quote(str(path)), shlex.quote(str(inbound))
    try:
        seen = os.lstat(path)
    except OSError:
        return create
    try:
        check_exchange_folder(seen, path)
    except ExchangeUnusable:
        owner = owner_name(seen.st_uid) or f"uid {seen.st_uid}"
        if stat.S_ISDIR(seen.st_mode) and (seen.st_uid == course_owner(course) or others_submitted(inbound, seen)):
            # the class's working folder (r20i W2): its owner runs the course, or classmates' submissions are in it
            return f"run lrcourse as {owner} (it owns this course), not as another account: nothing is to be moved"
        if stat.S_ISLNK(seen.st_mode) or stat.S_ISFIFO(seen.st_mode):  # `rm` removes the link itself: nothing lost
            return f"`rm {folder}` (as root), then, {create}"
        # r20j M1: a student's own folder with a 3733 inbound of hers got "run as <her>"; the owner of this course
        # owns its local folder. Moved aside, never removed (r20j W1): the class's inbound may be in it
        if stat.S_ISDIR(seen.st_mode) and inbound_shape(inbound):  # the condition first (r20l M1, r20m M3)
            return (
                f"if {owner} is the account that runs this course (this is a TA's or root's doctor in another copy of "
                f"it): run lrcourse as {owner} instead, nothing is to be moved; if not (a student's, made before the "
                f"instructor's set-up): {aside_mend([path], exchange.root)}, then, {create}"
            )
        return f"{aside_mend([path], exchange.root)}, then, {create}"
    try:
        inner = os.lstat(inbound)
    except OSError:
        return f"`{make_inbound(inbound)}` (as root)"
    if staff := staff_inbound(inbound, staff_of(path), inner):  # the class's, run by another account (r20k M1)
        return defer_line(inbound, *staff, path, inner.st_uid)[1]
    if (
        stat.S_ISDIR(inner.st_mode)
        and stat.S_IMODE(inner.st_mode) in INBOUND_MODES
        and not ours(inbound, inner)
        and seen.st_uid == 0
    ):  # r20m M2: after the lock-out no member counts as staff, and a TA's line moved the grader's inbound aside
        return ask_collector(exchange, inbound, inner.st_uid)
    if stat.S_ISLNK(inner.st_mode) or stat.S_ISFIFO(inner.st_mode):
        renew, where = renewal(exchange)
        return (
            f"`rm {at_inbound} && {renew}` (as root: `rm` removes the link itself; the course's folder {folder} "
            f"stays; {where})"
        )
    renew, where = renewal(exchange, inner.st_uid, aside_first=True)
    return f"`{aside([inbound], exchange.root)} && {renew}` ({ASIDE_NOTE}; the course's folder {folder} stays; {where})"


def renewal(exchange, not_uid: int | None = None, aside_first: bool = False) -> tuple[str, str]:
    """The command giving the course an inbound once its name is free (the folder there moved aside, `aside_first`,
    or the link removed, in the same command), and what the line says of it: a folder of this user's or root's with the
    inbound's mode in the course's folder, up to two levels down (`inbound_like`), is the class's, renamed by someone
    who could write there, and is moved back (r20m M1: a link or a folder of hers put in its place, the mend made a new
    inbound and the doctor said ok; r20n W2), from the aside if it was inside the folder moved there (r20o W2); else
    the inbound is made anew, the line saying first how to look for the class's elsewhere, and to move it back instead
    (r20o M1: the `find` after the command listed it once a new inbound stood in its place) (`moved_hint`: folders not
    `not_uid`'s, the folder put in its place; else the collector's)."""
    inbound = exchange.inbound
    course = inbound.parent
    if mine := [path for path in inbound_like(course) if ours(path) and path != inbound]:
        return put_back(mine[0], inbound, '"$d"' if aside_first else ""), (
            f"{shown(mine[0])}, yours with the inbound's mode, is moved back as the class's inbound: run it once `ls "
            f"-la {shell_word(mine[0])}` shows the class's submissions"
        )
    if not_uid is not None:
        hint = moved_hint(course, not_uid, owner_name(not_uid) or f"uid {not_uid}")
    else:
        collector = os.geteuid() or owned_by(course) or None  # root's doctor: the course folder's owner collects
        hint = moved_hint(course, collector, owner_name(collector or 0) or f"uid {collector}", theirs=True)
    return make_inbound(inbound), (
        f"the class's inbound may have been renamed or moved elsewhere: before running the command, {hint}; one "
        "holding the class's submissions (`ls -la` it), unless it is another course's live inbound (above), is the "
        "class's inbound (if more than one does, what they hold cannot decide it: any student may write such names in "
        "an inbound; decide with whoever collects the others, from students only this class has): instead of the "
        "command, `lrcourse doctor --put-back <it>` as root, in the course folder of the account that collects, moves "
        "what stands in its place aside and it back, "
        "following no link on its way (never `mv` it through a student's folders: she can swap a link in on the way)"
    )


def ask_collector(exchange, found: Path, uid: int, what: str = "") -> str:
    """The mend for `found`, a folder with the inbound's mode of another account's (`uid`) no `staff_of` names, in a
    course folder of root's (after the lock-out, r20m M2; r20n W1, W2: root's and a TA's doctor made an inbound beside
    the grader's renamed one and moved its outbound aside), or, the inbound missing and out of sight, the outbound of
    another account's (`what`: the "if not" case; r20o W1): it asks whether its owner collects the course, whose
    doctor then moves what is to be moved; if not (a student's, made while she could write there), the account that
    collects moves it aside if it is `inbound` itself (one beside it stays) and gives the course an inbound
    (`renewal`: its own renamed one moved back, or one made anew, saying where else the class's may be, r20n M1), and
    the line says that she is still in the course folder's group, if she is."""
    inbound = exchange.inbound
    course = inbound.parent
    owner, lock = owner_name(uid) or f"uid {uid}", lock_out(course)
    renew, where = renewal(exchange, uid, aside_first=found == inbound)
    steps = [lock] * bool(lock) + [aside([inbound], exchange.root)] * (found == inbound) + [renew]
    what = what or f"a student's, made while she could write in {shown(course)}"
    note = f"{ASIDE_NOTE}; " if found == inbound else "as root; "
    with contextlib.suppress(OSError):
        if member := group_of(course, os.lstat(course)).get(uid):
            where += f"; {owner} {member}: take {owner} out of that group"
    return (
        f"if {owner} is the account that collects this course: {DEFER}{owner} (nothing is to be moved or made as "
        f"you); if not ({what}), and you collect it: `{' && '.join(steps)}` ({note}the course's folder {shown(course)} "
        f"stays; {where}); if neither, run lrcourse doctor as the account that collects"
    )


def others_inbound(candidates: list[Path]) -> tuple[str, list[str]]:
    """What a missing inbound's line says of folders with the inbound's mode of other accounts' in the course's folder
    (`inbound_like`, the likeliest first): one named per owner, so that a student's decoys hide no one's (r20o M3,
    r20p M1: her own outbound put her decoy first, and the grader's renamed inbound was named by no line); whether
    this user can look inside; and the owners' names, in that order."""
    firsts: dict[int, list[Path]] = {}
    for path in candidates:
        firsts.setdefault(os.lstat(path).st_uid, []).append(path)
    owners = [owner_name(uid) or f"uid {uid}" for uid in firsts]
    said = []
    for owner, paths in zip(owners, firsts.values(), strict=True):
        more = f" and {len(paths) - 1} more of {owner}'s" if len(paths) > 1 else ""
        said.append(f"{shown(paths[0])} ({owner}'s{more})")
    look = (
        "`ls -la` on each shows whose submissions it holds"
        if os.geteuid() == 0
        else f"only {' or '.join(owners)} or root can list {'them' if len(said) > 1 else 'it'} to see the submissions"
    )
    return (
        f"{', '.join(said)} {'have' if len(said) > 1 else 'has'} the inbound's mode: the class's inbound, renamed or "
        f"moved there, may be one of them; {look}"
    ), owners


MOST_SOUGHT = 10_000  # entries looked at, three levels down, for the class's inbound moved elsewhere


def inbound_like(folder: Path, staff: dict[int, str] | None = None, anyone: bool = False) -> list[Path]:
    """Folders in `folder` and up to two levels down (outbound/x/y: r20k N2) with the inbound's mode, owned by this
    user or root (a student cannot make one so), an account of `staff` (`staff_of`, r20k M1) or, with `anyone` (a
    course folder of root's, after its lock-out: r20n W1), any: the class's inbound, renamed or moved by someone who
    may write in `folder` (r20j W3). Bounded, each entry lstat'ed, no link followed."""
    found, budget, todo, staff = [], MOST_SOUGHT, [(folder, 2)], staff or {}
    while todo and budget > 0:
        where, depth = todo.pop(0)
        with contextlib.suppress(OSError), os.scandir(where) as entries:
            for entry in entries:
                budget -= 1
                if budget < 0:
                    break
                with contextlib.suppress(OSError):
                    seen = entry.stat(follow_symlinks=False)
                    if not stat.S_ISDIR(seen.st_mode):
                        continue
                    if stat.S_IMODE(seen.st_mode) in INBOUND_MODES and (
                        anyone or ours(Path(entry.path), seen) or seen.st_uid in staff
                    ):
                        found.append(Path(entry.path))
                    elif depth:
                        todo.append((Path(entry.path), depth - 1))
    return found


def missing_inbound(exchange) -> Check | None:
    """A FAIL when the course's folder has no inbound/ (r20i W1: it had been moved to outbound/, and no line said it
    was missing): a folder of this user's or root's with the inbound's mode there (`inbound_like`) is moved back;
    one of another account's with the inbound's shape (outbound/, feedback/) moved aside (r20j W3: following the move
    back made a student's own folder the class's inbound); else one made. One of an account that works in the course
    (`kept_folders.staff_of`: a TA's doctor finding the grader's) is named, for its owner's doctor, and nothing is
    moved or made (r20k M1). None when it is there."""
    inbound = exchange.inbound
    if os.path.lexists(inbound):
        return None
    problem = (
        f"{shown(inbound)} is missing: students cannot submit, and lrcourse collect cannot open it (nbgrader's release "
        "would make it 2733, without the sticky bit)"
    )
    staff, course = staff_of(inbound.parent), inbound.parent
    rooted, releaser = not course.is_symlink() and owned_by(course) == 0, folder_owner(course / "outbound")
    candidates = inbound_like(course, staff, anyone=rooted)
    found = [path for path in candidates if ours(path)]
    if candidates and not found:  # another account's: left for its doctor (r20k M1), or asked about (r20n W1, W2)
        # the releaser's first, then the staff's: a student's decoys were named before the grader's (r20o M3)
        candidates.sort(key=lambda path: (os.lstat(path).st_uid != releaser, os.lstat(path).st_uid not in staff))
        uid = os.lstat(candidates[0]).st_uid
        if named := staff_inbound(candidates[0], staff):
            said, mend = defer_line(candidates[0], *named, course, uid)
        else:
            (said, owners), mend = others_inbound(candidates), ask_collector(exchange, candidates[0], uid)
            if len(owners) > 1:  # each named owner asked about (r20p M1)
                mend += f"; if it is {' or '.join(owners[1:])}: {DEFER}that account instead"
        return Check(NAME, f"{problem}; {said}", mend, stops="collect")
    me = os.geteuid()
    if not found and releaser not in (None, 0, me) and (me == 0 or owned_by(course) != me):
        # r20o W1: the class's inbound moved out of this doctor's sight (the exchange's root), root's and a TA's
        # doctor made one beside the releaser's outbound and moved that aside: asked, as for a folder found
        owner = owner_name(releaser) or f"uid {releaser}"
        said = (  # r20p M2: a student who could write there may have made it: said conditionally
            f"{shown(course / 'outbound')} is {owner}'s: if {owner} releases this course, {owner} may be the account "
            "that collects it, whose inbound may have been moved where this doctor does not look"
        )
        what = f"{owner}'s outbound made by a student while she could write in {shown(course)}"
        return Check(
            NAME, f"{problem}; {said}", ask_collector(exchange, course / "outbound", releaser, what), stops="collect"
        )
    if found:
        problem += (
            f"; {', '.join(shown(path) for path in found[:3])} {'has' if len(found) == 1 else 'have'} its mode and "
            f"owner: the class's inbound, renamed or moved by someone who may write in {shown(inbound.parent)}"
        )
    for name in ("outbound", "feedback"):
        path = inbound.parent / name
        if path not in found and (shape := inbound_shape(path)):
            mend, uid = kept_line(path, shape)[1], os.lstat(path).st_uid
            problem += f"; {shown(path)} is {owner_name(uid) or f'uid {uid}'}'s, not the class's inbound: moved aside, not back"
            if not found:
                problem += (
                    "; the class's inbound may have been renamed, or moved deeper than the doctor looks: "
                    + moved_hint(course, os.geteuid(), owner_name(os.geteuid()) or "yours", theirs=True)
                )
                return Check(NAME, problem, f"{mend}, then make inbound/ again: {made(exchange)}", stops="collect")
    if found:
        return Check(
            NAME,
            problem,
            f"`{put_back(found[0], inbound)}` (as root, once `ls -la {shell_word(found[0])}` shows the class's "
            "submissions: not removed; it refuses a link)",
            stops="collect",
        )
    return Check(NAME, f"{problem}; {renewal(exchange)[1]}", made(exchange), stops="collect")


def made(exchange) -> str:
    """The command making the course's inbound/ again, the user who collects its owner."""
    inbound = exchange.inbound
    try:
        as_whom = "as the user who collects" if os.lstat(inbound.parent).st_uid == os.geteuid() else "as root"
    except OSError:
        as_whom = "as root"
    return f"`{make_inbound(inbound)}` ({as_whom})"


def make_inbound(inbound: Path) -> str:
    """The shell making `inbound`, 3733, the user who collects its owner: `mkdir` fails on any name there and
    follows no link, `chown -h` neither (r20l W3: `install -d` chowned and chmodded the target of a link a student
    put there, the grader's home, or as root any folder, made 3733); after the lock-out (`locked`)."""
    word, me = shell_word(inbound), owner_name(os.geteuid()) or os.geteuid()
    return f"mkdir -m 3733 -- {word} && chown -h {me} -- {word}"


def lock_out(folder: Path) -> str:
    """`chmod g-w` of the course's folder in the exchange, its outbound and feedback, those a group with others than
    this user and root listed in it may write in (`entry.group_writers`' rule; as root, any group but root's:
    `shared_folders`' rule); "" if none. It goes first in a line that also moves names in them (`locked`)."""
    me, found = owner_name(os.geteuid()), []
    if not os.path.isdir(folder) or os.path.islink(folder):  # none through a link (or no folder) there
        return ""
    for path, seen in course_folders(folder, "outbound", "feedback"):
        listed = set(listed_members(seen.st_gid))
        others = seen.st_gid != 0 if os.geteuid() == 0 else not listed or bool(listed - {me, "root"})
        if seen.st_mode & stat.S_IWGRP and others and ours(path, seen):  # a student's own: moved aside whole
            # outbound/ or feedback/: not through a link put there meanwhile
            found.append(
                f"{'' if path == folder else f'[ ! -L {shell_word(path)} ] && '}chmod g-w -- {shell_word(path)}"
            )
    return " && ".join(found)


MOVES = r"\bmv -[tT] |\bmkdir -m |`rm |\bmktemp -d "  # a mend moving (an aside: mktemp), making or removing names


def locked(said: Check, lock: str) -> Check:
    """`said`, the `lock_out` first in its first command where its mend moves, makes or removes names (r20k W3: a
    student in the course folder's group swapped a link in between the doctor's look and root's run; the group's
    `chmod g-w` came second; r20l W3: the inbound made again, which moves nothing, got none); never before a
    deferral to another account (`defer_line`, which has it where it says the owner may be a student: r20m M2)."""
    if not lock or DEFER in said.fix or not re.search(MOVES, said.fix):  # a deferral: its own (r20m M2)
        return said
    fix = f"`{lock} && {said.fix[1:]}" if said.fix.startswith("`") else f"`{lock}` (as root), then {said.fix}"
    return Check(said.name, said.problem, fix, said.warning, said.stops)


def with_missing(said: Check, missing: Check | None, lock: str = "") -> Check:
    """`said`, with the FAIL for a missing inbound/ first where there is one (r20j W2: a course folder its group
    may write in, where inbound/ can be moved away, got only the group's warn, and students could not submit), and
    the group's lock-out first of all (`locked`, r20k W3), but a deferral to its owner's doctor, the group's warn
    kept (r20l W5: it was dropped, and the owner was a student in that group), has it in its "if not" branch only
    (r20m M2)."""
    if missing is None:
        return locked(said, lock)
    if DEFER in missing.fix:  # its owner's doctor moves what is to be moved (r20k M1); the lock-out its own (r20m M2)
        fix = missing.fix if re.search(MOVES, said.fix) else f"{missing.fix}; and {said.fix}"
        return locked(Check(missing.name, f"{missing.problem}; {said.problem}", fix, stops="collect"), lock)
    fix = f"{missing.fix}; and {said.fix}"
    if missing.fix.split("` (")[0] in said.fix:  # the same command: said once
        fix = said.fix + missing.fix[missing.fix.find(", then make inbound/") :] * (", then make" in missing.fix)
    return locked(Check(missing.name, f"{missing.problem}; {said.problem}", fix, stops="collect"), lock)
