"""Which of the exchange's folders may hold the class's submissions, so that no printed mend removes it (r20i W1, W2):
one with the inbound's shape, its mode (2733/3733, or groupshared's 2773/3773) or entries named as nbgrader names a
submission (collect's parser, `inbound.claimed`). Anyone who may write in the course's folder (its group, a TA) can
rename inbound/ to outbound/ (a rename in one parent needs no write permission on the folder moved); an `rm -r` mend
for "an outbound others could write in" then deleted every submission, and so did one for a folder inbound/ had
been moved into, one level down (r20j W1). Every mend taking a folder or entry others could have written in out of
the exchange moves it aside (`aside`: into a fresh folder of root's in the exchange's root, `mktemp -d`, renamed
there, never copied nor removed: r20k W2); one of this user's
or root's with the inbound's shape is moved back to inbound/ when that is missing (a student's never: r20j W3). Names
are quoted in lines and mends alike (`shown`, `shell_word`: r20j W4, r20k N1). The doctor, release, release_feedback and Unrelease share it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lrcourse.grading.exchange.group_listing import group_listing
from lrcourse.grading.exchange.inbound import OPEN_FLAGS, Refused, claimed, user_name
from lrcourse.grading.intake import valid_student_id
from lrcourse.shell_words import shell_word

INBOUND_MODES = frozenset({0o2733, 0o3733, 0o2773, 0o3773})  # nbgrader's inbound, sticky or not, groupshared or not
MOST_LOOKED = 10_000  # entries looked at: a student may have put a million there


def submission_named(name: str) -> bool:
    """Whether `name` is shaped `<student>+<assignment>+<timestamp>[+random]`, as collect reads it."""
    parts = name.split("+")
    if len(parts) not in (3, 4) or not valid_student_id(parts[1]):
        return False
    try:
        claimed(name, parts[1])
    except Refused:
        return False
    return True


def submissions_in(path: Path, not_of: int | None = None, device: int | None = None) -> tuple[int, bool]:
    """How many entries of the folder `path` (opened without following a link; none if it cannot be listed, or, with
    `device`, if it is on another file system) are named as submissions (with `not_of`: only folders owned by another
    uid than it, each lstat'ed), and whether the look stopped at MOST_LOOKED."""
    try:
        fd = os.open(path, OPEN_FLAGS | os.O_DIRECTORY)
    except OSError:
        return 0, False
    count = 0
    try:
        if device is not None and os.fstat(fd).st_dev != device:
            return 0, False
        with os.scandir(fd) as entries:
            for looked, entry in enumerate(entries):
                if looked >= MOST_LOOKED:
                    return count, True
                count += submission_named(entry.name) and (not_of is None or _folder_not_of(entry, not_of))
    except OSError:
        pass
    finally:
        os.close(fd)
    return count, False


def _folder_not_of(entry: os.DirEntry, uid: int) -> bool:
    try:
        seen = entry.stat(follow_symlinks=False)
    except OSError:
        return False
    return stat.S_ISDIR(seen.st_mode) and seen.st_uid != uid


def inbound_shape(path: Path, seen: os.stat_result | None = None) -> str:
    """What makes the folder `path` (`seen`: its lstat) look like the class's inbound, as the lines say it; "" if
    nothing does (or it is no folder)."""
    try:
        seen = seen or os.lstat(path)
    except OSError:
        return ""
    if not stat.S_ISDIR(seen.st_mode):
        return ""
    said = []
    if (mode := stat.S_IMODE(seen.st_mode)) in INBOUND_MODES:
        said.append(f"mode {mode:04o}, an inbound's")
    count, more = submissions_in(path)
    if count:
        many = f"{count}{' or more' if more else ''} entr{'y' if count == 1 and not more else 'ies'}"
        said.append(f"{many} named as submissions, <student>+<assignment>+<time>")
    return "; ".join(said)


def shown(path: Path | str) -> str:
    """`path`, or a name a student chose, as a line's problem text prints it: quoted as the mends quote it
    (`shell_word`: bare where the shell needs no quoting, '...' around spaces and shell characters, $'...' around what
    cannot be printed), the one helper wherever a line names a path (r20k N1: a printable name holding "-- fix:
    nothing to do" was printed raw, before the real fix; r20j W4: a newline forged an `ok` line)."""
    return shell_word(path)


def aside(paths: list[Path], root: Path) -> str:
    """The command moving `paths` (entries of one folder) aside, as root, into a fresh folder of root's that no student
    can have made first (`mktemp -d`, 0700, named with a dot: nbgrader's `*` listings skip it) in the exchange's `root`
    (sticky: no student renames it), printing where: never a removal (r20j W1: an `rm -r` of a folder others could
    write in deleted the class's inbound a student had moved into it). A rename on the exchange's own file system:
    `mv` to another copies, then removes the source, deleting what arrives meanwhile (r20k W2: 10 of 349 submissions
    lost); this mv (coreutils 9.1) has no --no-copy, so each path is moved only when `stat` says it is on the aside's
    file system, and only when no name on its way from `root` is a link by then (`guarded`, r20k W3); else it fails,
    its folder removed if empty."""
    moves = " && ".join(
        f'{guarded(path, root)} && mv -T -- {shell_word(path)} "$d"/{shell_word(path.name)}' for path in paths
    )
    refused, part = shell_word(REFUSED), shell_word(PART)  # r20m N1: "nothing moved" after the first had moved
    stop = f'if rmdir "$d" 2>/dev/null; then echo {refused} >&2; else echo {part} "$d" >&2; fi; false'
    return f'{made_aside(root)} && {{ {moves} && echo "moved to $d" || {{ {stop}; }}; }}'


REFUSED = (  # what `aside` prints when it moves nothing (r20l N1: it printed nothing, and the doctor said the same)
    "lrcourse: nothing moved: a name on the way is a link by now, or the path is on another mount than the exchange's "
    "root (mv would copy it, losing what arrives meanwhile): run lrcourse doctor again; where it is a mount point of "
    "its own (findmnt -T <path>), unmount it or move what it holds by hand, as root"
)


PART = (  # what `aside` prints when it stopped after moving some of its paths (r20m N1)
    "lrcourse: stopped part way (a name on the way is a link by now, or on another mount): what moved is in"
)


def made_aside(root: Path) -> str:
    """The shell making `aside`'s folder, `$d`, in the exchange's `root`."""
    return f"d=$(mktemp -d {shell_word(str(root).rstrip('/') + '/')}.lrcourse-aside.XXXXXX)"


def no_link(path: Path, root: Path) -> str:
    """The shell test that no name from `root` (excluded) down to `path` is a link at run time: a student who could
    rename in a folder on the way had swapped one in after the doctor looked (r20k W3(b): the aside of outbound/<ch>
    followed her link at outbound/ and moved a classmate's fetched work out of her home)."""
    names = [path, *(parent for parent in path.parents if root in parent.parents)]
    return " && ".join(f"[ ! -L {shell_word(name)} ]" for name in reversed(names))


def guarded(path: Path, root: Path) -> str:
    """`no_link`, and that `path` is on `$d`'s file system and mount (`aside`: a rename, never a copy; r20l W4: a
    bind mount of the same disk passed the `stat -c %d` test, `mv` copied, and 44 of 600 submissions were lost;
    `findmnt -T` names the mount, its ID, which `stat -c %m` does not below a bind mount's top)."""
    word, mount = shell_word(path), "findmnt -n -o ID -T"
    same = f'm=$({mount} {word}) && [ -n "$m" ] && [ "$m" = "$({mount} "$d")" ]'
    return f'{no_link(path, root)} && [ "$(stat -c %d -- {word})" = "$(stat -c %d -- "$d")" ] && {same}'


ASIDE_NOTE = (
    "as root: moved, not removed, into a new folder only root may open, on the exchange's file system, which it "
    "prints; it moves nothing (of several paths: stops, saying where those moved are), and fails, saying why, where "
    "the path is a link by then or on another file system or mount (`mv` would copy, not rename, losing what arrives "
    "meanwhile): run lrcourse doctor again; look inside before deleting anything (the class's inbound may have been "
    "moved into it: to collect the submissions it holds, `lrcourse doctor --put-back <the folder holding them>` as "
    "root, in the course folder of the account that collects, moves it back as the course's inbound/, following no "
    "link on its way, then `lrcourse collect <chapter>` as the user who collects)"
)


def aside_mend(paths: list[Path], root: Path) -> str:
    """`aside`, as a line's mend says it."""
    return f"`{aside(paths, root)}` ({ASIDE_NOTE})"


def put_back(found: Path, inbound: Path, aside_in: str = "") -> str:
    """The command moving the folder `found` (the class's inbound, renamed or moved up to two levels down) back to
    `inbound`. Once the line's lock-out has run (`remake.lock_out`: the course's folder closed), each folder on the
    way is closed top-down, each only after its parent (`closed`: no `chmod` through a name she may still swap,
    r20l W1: it followed her link and made the exchange's root 1755), and `found` moved only if it is, at run time,
    what the doctor saw (`as_seen`: its owner and mode; r20l W2, W1: a folder of hers swapped in before the lock-out
    became the class's inbound). `aside_in`: the shell word of the folder the same command has just moved the folder
    at `inbound` into (`aside`'s "$d"), where `found` is inside it: named there (r20o W2: the put-back named it where
    it was, and failed after the aside had moved it)."""
    course = inbound.parent

    def word(path: Path) -> str:
        if aside_in and inbound in (path, *path.parents):
            return f"{aside_in}/{shell_word(path.relative_to(course))}"
        return shell_word(path)

    steps = [no_link(course, course.parent)]
    steps += [closed(folder, word(folder)) for folder in reversed(found.parents) if course in folder.parents]
    at = word(found)
    steps.append(f"{as_seen(found, at)} && [ -d {at} ] && mv -T -- {at} {shell_word(inbound)}")
    return " && ".join(steps)


def as_seen(path: Path, word: str = "") -> str:
    """The shell test that `path` (named `word` at run time, if given) is no link and has, at run time, the owner and
    mode the doctor sees now (or that mode less the group's write, which the lock-out may take: `remake.lock_out`)."""
    word, seen = word or shell_word(path), os.lstat(path)
    mode = stat.S_IMODE(seen.st_mode)
    said = " || ".join(f'[ "$s" = {seen.st_uid}:{each:o} ]' for each in dict.fromkeys((mode, mode & ~0o020)))
    return f"[ ! -L {word} ] && s=$(stat -c %u:%a -- {word}) && {{ {said}; }}"


def closed(folder: Path, word: str = "") -> str:
    """The shell closing `folder` (named `word` at run time, if given), on the way to the class's inbound (its parent
    closed first, so that its name is fixed): this user's or root's, its owner checked and `chmod go-w`; another's (a
    student's own outbound/), made root's first (`chown -h`, which follows no link), then `chmod go-w`."""
    word, seen = word or shell_word(folder), os.lstat(folder)
    if ours(folder, seen):
        return f'[ ! -L {word} ] && [ "$(stat -c %u -- {word})" = {seen.st_uid} ] && chmod go-w -- {word}'
    return f"[ ! -L {word} ] && chown -h root -- {word} && chmod go-w -- {word}"


def ours(path: Path, seen: os.stat_result | None = None) -> bool:
    """Whether `path` is owned by the user who collects (this one) or root: only such a folder may become inbound/."""
    try:
        return (seen or os.lstat(path)).st_uid in (0, os.geteuid())
    except OSError:
        return False


def staff_of(folder: Path) -> dict[int, str]:
    """The accounts, besides this user and root, that work in the course whose folder in the exchange is `folder`,
    each with why: its owner (the README's hub recipe gives it to the grader account), or, when it is root's, the
    members of its group where that group may write in it (the staff: a TA's set-up). None (empty) when `folder` is
    this user's (not root's): this user runs the course. A folder with the
    inbound's mode owned by one of them may be the class's inbound (r20k M1: a TA's doctor took the grader's for "a
    folder neither yours nor root's" and moved it aside): no line moves it (`kept_line`, `remake`)."""
    me, found = os.geteuid(), {}
    try:
        seen = os.lstat(folder)
    except OSError:
        return found
    if seen.st_uid == me != 0 or not stat.S_ISDIR(seen.st_mode):
        return found
    if seen.st_uid != 0:  # the grader account's, as the README's hub recipe makes it
        found[seen.st_uid] = "owns the course's folder in the exchange"
    elif seen.st_mode & stat.S_IWGRP:  # root's, its group the staff who may write in it (keep students out of it)
        found = group_of(folder, seen)
    return {uid: why for uid, why in found.items() if uid not in (0, me)}


def group_of(folder: Path, seen: os.stat_result) -> dict[int, str]:
    """The accounts this machine lists in the group of `folder` (`seen`: its lstat), each with why, as a line says it
    (it may write in `folder` or, its group's write taken by the lock-out, could before)."""
    could, listing = "may write in" if seen.st_mode & stat.S_IWGRP else "is the group of", group_listing(seen.st_gid)
    if listing is None:
        return {}
    why = f"is in group {listing.name}, which {could} {shown(folder)}"
    return {uid: why for uid in listing.members.values() if uid is not None}


def moved_hint(course: Path, uid: int | None, owner: str = "", theirs: bool = False, besides: bool = False) -> str:
    """Where the class's inbound, renamed or moved by someone who could write in the course's folder `course`, may be:
    the `find` listing the folders with the inbound's mode owned (`theirs`) or not owned by `uid` (`owner`; None: all)
    on the exchange's file system, from its mount point: a rename (as `mv` does within one) never leaves it, so a
    student's home or /tmp on it are searched too (r20n M2: the hint searched the exchange only)."""
    top = Path(os.path.realpath(course))
    while not os.path.ismount(top) and top != top.parent:
        top = top.parent
    which = "" if uid is None else f" -uid {uid}" if theirs else f" ! -uid {uid}"
    whose = "" if uid is None else f" {owner}'s" if theirs else f" not {owner}'s"
    if besides:  # this course's own inbound left out: one moved elsewhere is looked for
        inbound = Path(os.path.realpath(course)) / "inbound"  # r20ah W1: by its exact path (`*` spans /); r20aj W1: no
        which += f" ! -path {shell_word(glob_escaped(str(inbound)))}"  # other course's, which may now hold the class's
    said = (
        f"`find {shell_word(top)} -xdev -type d -perm -2733{which}` as root lists the folders with the inbound's "
        f"mode{whose} on the exchange's file system, a student's home included (a rename never leaves it)"
    )
    if besides:
        said += ", other than this course's own inbound"
    if theirs:  # r20aj M2: the find for a missing inbound listed other courses' live inbounds as candidates
        said += (  # r20al 2: another exchange root's courses too; r20an 4: "is that course's" ruled out the class's
            " (another course's live inbound is listed too: a folder named inbound in a folder of the collector's or "
            "root's outside this course's folder and not in an inbound, in this exchange or another root; it may be "
            "that course's: decide with whoever collects there; --put-back refuses it until you rename it, and says "
            "how)"
        )
    # r20ag W3, r20ah M2: a student's FUSE mount (bindfs, fuse-overlayfs...) hides what is below it from any find
    return (
        f'{said}; a "Permission denied" is a place it could not look: `findmnt -rn -o TARGET,FSTYPE,OPTIONS | grep '
        "fuse` names users' mounts (user_id=), which root unmounts before looking again"
    )


def glob_escaped(text: str) -> str:
    """`text` as a find `-path` pattern matching it alone."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def staff_inbound(path: Path, staff: dict[int, str], seen: os.stat_result | None = None) -> tuple[str, str] | None:
    """The owner and why, when the folder `path`, with the inbound's mode, is owned by an account of `staff`
    (`staff_of`): it may be the class's inbound; None if it is not such a folder."""
    try:
        seen = seen or os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(seen.st_mode) or stat.S_IMODE(seen.st_mode) not in INBOUND_MODES or seen.st_uid not in staff:
        return None
    return user_name(seen.st_uid), staff[seen.st_uid]


def defer_line(path: Path, owner: str, why: str, course: Path, uid: int) -> tuple[str, str]:
    """The problem and mend for a folder `staff_inbound` names (`owner`, uid `uid`, `why`) in the course's folder
    `course`: nothing moved, nothing made beside it; its owner's doctor, which can list it, says what to do (r20m W1:
    root's doctor, once named too, made a root inbound beside it). Where the owner may only be a member of the
    course folder's group, the lock-out is the "if not" branch's alone (r20m M2: put first, it made the TA's next
    line the aside of the grader's inbound), and the `find` hint lists the folders not hers (r20m W2: it named the
    running user's uid, the TA's, and listed nothing)."""

    grouped = why.startswith("is in group")  # a student put in the group by mistake is in it too (r20l W5)
    problem = (
        f"{shown(path)} ({owner}'s, with the inbound's mode) looks like the class's inbound: {owner} "
        f"{'may work' if grouped else 'works'} in this course (it {why}), and only {owner} or root can list it to see "
        "the submissions"
    )
    mend = f"{DEFER}{owner}, who can list it: nothing is to be moved or made as you"
    if grouped:
        mend = (
            f"if {owner} is one of the course's staff: {DEFER}{owner} (nothing is to be moved or made as you); if not "
            f"(a student: {owner} {why}), that folder is hers, not the class's inbound: `chmod g-w -- "
            f"{shell_word(course)}` as root, take {owner} out of that group, then run lrcourse doctor as the account "
            "that collects this course, which makes the inbound anew (the class's may have been moved elsewhere: "
            f"{moved_hint(course, uid, owner)})"
        )
    return problem, mend


DEFER = "run lrcourse doctor and collect as "  # the start of `defer_line`'s mend


def kept_line(path: Path, shape: str, moved_back: bool = True) -> tuple[str, str]:
    """The problem and mend for the folder `path` with the inbound's `shape` (`inbound_shape`): never a removal.
    `moved_back`: an outbound/ or feedback/, moved back to its sibling inbound/ where that is missing, if it is this
    user's or root's (r20j W3: a student's own 3733 folder became the class's inbound); one of another account's that
    works in the course (`staff_of`) is left where it is, for its owner's doctor (r20k M1); else moved aside."""
    inbound = path.parent / "inbound"
    if not ours(path) and (staff := staff_inbound(path, staff_of(path.parent))):
        return defer_line(path, *staff, path.parent, os.lstat(path).st_uid)
    problem = f"{shown(path)} has the shape of the class's inbound ({shape}): it may hold the class's submissions"
    if moved_back and not os.path.lexists(inbound) and ours(path):
        problem += (
            f", and {shown(inbound)} is missing: someone who may write in {shown(path.parent)} may have moved it here"
        )
        return problem, (
            f"`{put_back(path, inbound)}` (as root, once `ls -la {shell_word(path)}` shows the class's submissions: "
            "it puts them back where students submit and lrcourse collect reads; not removed; it refuses a link)"
        )
    return problem, aside_mend([path], path.parent.parent)
