"""Who owns the course's folders in the nbgrader exchange, and what is at and in its outbound and feedback, for
`lrcourse doctor` (`exchange.course_folder`): the user who collects, not root, must own the course's folder while
its outbound or feedback folder is missing, and those two once made, for nbgrader's release and release_feedback, run
as it, make the chapter's folders there (r20h M1: a course folder of root's whose outbound and feedback are the
grader's is only a note). One of root's gets `chown` (only root could have put anything in it). An entry at outbound/
or feedback/ release refuses (`refused`: release's own rule, `inbound_folder.check_exchange_folder`, so the two
cannot disagree: a link, a FIFO, a folder of another account's; as root, anyone's but root's: r20h W2, W4) is named
with its owner and removed (r20g W1), never adopted by `chown`; so is an entry inside them neither this user's nor
root's (`released_entries.strangers`, a bounded look, and the line release refuses it with: r20h W1, what students
put there while others could write in it)."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from lrcourse.grading.doctor.check import Check
from lrcourse.grading.doctor.entry import owner_name
from lrcourse.grading.exchange.kept_folders import aside, aside_mend, inbound_shape, kept_line, shown
from lrcourse.grading.exchange.released_entries import RELEASED, kind, owner_of, stranger_line, strangers
from lrcourse.shell_words import shell_word


def theirs(exchange, owner: int = 0) -> list[Path]:
    """The course's folder in the exchange, its inbound, outbound and feedback folders, as far as they are folders,
    owned by `owner` (root's, which collect and release take) and which this user may not list and write in as the
    kernel judges it, group and POSIX ACL included, and not this user's; none as root."""
    folder, found = exchange.root / exchange.course_id, []
    for path in (folder, exchange.inbound, folder / "outbound", folder / "feedback"):
        with contextlib.suppress(OSError):
            seen = os.lstat(path)
            if os.geteuid() != 0 and stat.S_ISDIR(seen.st_mode) and seen.st_uid != os.geteuid():
                if seen.st_uid == owner and not os.access(path, os.R_OK | os.W_OK | os.X_OK, effective_ids=True):
                    found.append(path)  # r20g W2: one the kernel lets this user write in (its group) is not said
    return found


def refused(exchange) -> list[tuple[Path, os.stat_result]]:
    """outbound/ and feedback/, where they exist, that nbgrader's release and release_feedback refuse, judged by their
    own rule (`check_exchange_folder`, action "release"): not a folder, or owned by anyone but this user or root (as
    root, anyone but root)."""
    from lrcourse.grading.exchange.inbound_folder import ExchangeUnusable, check_exchange_folder

    found = []
    for name in RELEASED:
        path = exchange.root / exchange.course_id / name
        try:
            seen = os.lstat(path)
            check_exchange_folder(seen, path, "release")
        except OSError:
            continue
        except ExchangeUnusable:
            found.append((path, seen))
    return found


def chown_mend(exchange, found: list[Path] | None = None) -> str:
    """`chown` to this user of each of the exchange's course folders of root's (`found`, else `theirs`), as the
    README's set-up: only root could have put anything in them."""
    me = owner_name(os.geteuid()) or os.geteuid()
    found = theirs(exchange) if found is None else found
    paths = " ".join(str(path) for path in found)
    notes = []  # r20g N1: the set-up makes neither outbound nor feedback
    if {exchange.root / exchange.course_id, exchange.inbound} & set(found):
        notes.append("the README's instructor set-up makes the course folder (0755) and inbound (3733) yours")
    if {path.name for path in found} & {"outbound", "feedback"}:
        notes.append("your release makes outbound and feedback, yours")
    return f"`chown {me} {paths}` (as root; {'; '.join(notes)})"


def refused_lines(exchange) -> tuple[list[str], list[str]]:
    """The problems and mends of `refused`'s entries, each named with its owner and kind; removed, not chowned."""
    problems, mends = [], []
    allowed = "root (the user who releases)" if os.geteuid() == 0 else "you (the user who collects) or root"
    for path, seen in refused(exchange):
        owner, command = owner_of(seen), RELEASED[path.name]
        what = "is owned by" if stat.S_ISDIR(seen.st_mode) else f"is {kind(seen)}, not a folder, owned by"
        risk = f"{owner} could have put their own folders, files and links in it, which students would fetch"
        if stat.S_ISLNK(seen.st_mode):
            risk = f"it leads where {owner} chose, and students would list and fetch what is there"
        elif not stat.S_ISDIR(seen.st_mode):
            risk = "nothing can be released in it"
        problems.append(f"{shown(path)} {what} {owner}, not by {allowed}: {risk}; nbgrader's {command} refuses it")
        if shape := inbound_shape(path, seen):  # the class's inbound, moved here: moved back, never removed (r20i W1)
            kept, mend = kept_line(path, shape)
            problems[-1] = f"{kept}; {problems[-1]}"
            mends.append(mend)
            continue
        if stat.S_ISLNK(seen.st_mode) or stat.S_ISFIFO(seen.st_mode):  # `rm` removes the link itself: nothing lost
            mends.append(f"`rm {shell_word(path)}` (as root: not `chown`; nbgrader's {command} makes a folder there)")
            continue
        mends.append(  # moved aside, never removed (r20j W1: the class's inbound may have been moved into it)
            f"{aside_mend([path], exchange.root)[:-1]}; not `chown`, which would keep what {owner} put in it for students to fetch; "
            f"nbgrader's {command} makes it again)"
        )
    return problems, mends


def course_chapters(course: Path | None) -> list[str] | None:
    """The course's chapters, the folders of its source/ (bounded, sorted), for "release again" (r20k M2); None if
    unknown."""
    try:
        with os.scandir(Path(course) / "source") as entries:
            names = [entry.name for _, entry in zip(range(1000), entries, strict=False) if entry.is_dir()]
    except (OSError, TypeError):
        return None
    return sorted(name for name in names if not name.startswith("."))


def stranger_lines(exchange, course: Path | None = None) -> tuple[list[str], list[str]]:
    """The problems and mends of what outbound/ and feedback/ (release's, else `refused` said them) hold of others':
    release's own look and line (`released_entries`), so the two cannot disagree; `course`: the local course folder,
    whose source/ names the chapters to release again."""
    problems, mends, chapters = [], [], course_chapters(course)
    taken = {path for path, _ in refused(exchange)}
    for name in RELEASED:
        path = exchange.root / exchange.course_id / name
        if path not in taken and (said := stranger_line(path, strangers(path), chapters))[0]:
            problems.append(said[0])
            mends.append(said[1])
    return problems, mends


def not_yours(exchange, course: Path | None = None) -> Check | None:
    """A FAIL for what nbgrader's release or release_feedback, run as this user, refuses or cannot do in the course's
    folder in the exchange: an outbound or feedback entry it refuses (`refused_lines`), others' entries in them
    (`stranger_lines`), one of root's this user cannot make the chapter's folders in, or the course's folder of root's
    while outbound or feedback is missing (r20f W1: release stopped, "cannot make or open .../outbound"); None
    otherwise (a course folder of root's holding both is `root_course_note`'s)."""
    problems, mends = refused_lines(exchange)
    problems_in, mends_in = stranger_lines(exchange, course)
    problems, mends = problems + problems_in, mends + mends_in
    folder = exchange.root / exchange.course_id
    roots = theirs(exchange)  # once: the problem and its mend name the same folders
    missing = [name for name in RELEASED if not os.path.lexists(folder / name)]
    chosen = [path for path in roots if path.name in RELEASED and path.parent == folder]
    if folder in roots and missing:
        commands = " and ".join(RELEASED[name] for name in missing)
        problems.append(
            f"{folder} is root's, not yours (the user who collects): nbgrader's {commands}, run as you, cannot make "
            f"{' and '.join(f'{name}/' for name in missing)} in it (Permission denied)"
        )
        chosen.insert(0, folder)
    for path in chosen[1:] if chosen and chosen[0] == folder else chosen:
        what = "the chapter's folders" if path.name == "outbound" else "the feedback pages"  # r20i N6: files there
        problems.append(
            f"{path} is root's, not yours (the user who collects): nbgrader's {RELEASED[path.name]}, run as you, "
            f"cannot write {what} in it (Permission denied)"
        )
    if chosen:  # root's inbound too, as `unlistable` gives it
        mends.append(chown_mend(exchange, chosen + [path for path in roots if path == exchange.inbound]))
    if not problems:
        return None
    return Check("the nbgrader exchange's course folder", "; ".join(problems), "; ".join(mends), stops="release")


def root_course_note(exchange) -> str | None:
    """A note when the course's folder is root's but its outbound and feedback are there (`not_yours` says the rest):
    release and release_feedback work in them, but could not make either again (r20h M1: this was a FAIL)."""
    folder = exchange.root / exchange.course_id
    if folder not in theirs(exchange):
        return None
    me = owner_name(os.geteuid()) or os.geteuid()
    return (
        f"{folder} is root's: nbgrader's release and release_feedback work in its outbound/ and feedback/, yours, but "
        f"could not make either again if removed (`chown {me} {folder}`, as root, lets them)"
    )


def root_chapters_note(exchange) -> str | None:
    """A note naming the chapter folders of root's in this user's outbound/ (r20i N4: a course once run as root, its
    outbound then chowned, not -R): this user's release --force and Unrelease cannot remove them; None if none (or
    as root). A bounded look (`released_entries.MOST_LOOKED`), each entry lstat'ed, names escaped."""
    from lrcourse.grading.exchange.inbound import OPEN_FLAGS
    from lrcourse.grading.exchange.released_entries import MOST_LOOKED

    outbound = exchange.root / exchange.course_id / "outbound"
    if os.geteuid() == 0:
        return None
    found = []
    with contextlib.suppress(OSError):
        fd = os.open(outbound, OPEN_FLAGS | os.O_DIRECTORY)
        try:
            if os.fstat(fd).st_uid != os.geteuid():
                return None
            with os.scandir(fd) as entries:
                for looked, entry in enumerate(entries):
                    if looked >= MOST_LOOKED or len(found) > 3:
                        break
                    seen = entry.stat(follow_symlinks=False)
                    if seen.st_uid == 0 and stat.S_ISDIR(seen.st_mode):
                        found.append(entry.name)
        finally:
            os.close(fd)
    if not found:
        return None
    named = ", ".join(shown(name) for name in found[:3]) + (", ..." if len(found) > 3 else "")
    return (
        f"{outbound} holds chapter folders of root's ({named}): your release --force and Unrelease of them stop "
        f"there; only root can move one (`{aside([outbound / found[0]], exchange.root)}`, as root: moved aside, not removed; then "
        "release it again)"
    )
