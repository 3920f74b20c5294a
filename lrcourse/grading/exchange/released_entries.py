"""What the exchange's outbound/ or feedback/ folder holds of other accounts' (r20h W1): while others could write in
it (0777, an ACL letting the class write), a student put her own "chapter" folder, a link or a FIFO there; `chmod
o-w` or `setfacl -b` kept them, and classmates listed and fetched them as released. One look, shared by nbgrader's
release, release_feedback and Unrelease (`check_released_entries`: they refuse such a folder before copying or
removing anything) and `lrcourse doctor` (`strangers`, `stranger_line`), so the two cannot disagree.

The look is of the folder's top-level entries, each lstat'ed (a FIFO is never opened), and bounded (`MOST_LOOKED`: a
student may have put a million there), and, in outbound/, one level into each chapter folder of this user's or
root's (`released_chapters`, r20i M1): nbgrader's release makes them 0755, its files 0644, but a chapter folder
made writable by others afterwards (`chmod -R a+w`, an ACL) let a student put her notebook where classmates fetch
the grader's. A `groupshared` course's chapter folders (2775) are its group's to write in by design: keep students
out of it."""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from lrcourse.grading.exchange import kept_folders
from lrcourse.grading.exchange.inbound import OPEN_FLAGS, user_name
from lrcourse.grading.exchange.inbound_folder import ExchangeUnusable
from lrcourse.grading.exchange.kept_folders import inbound_shape, kept_line, shown
from lrcourse.grading.exchange.released_chapters import chapters_line, unsafe_chapters
from lrcourse.shell_words import shell_word

RELEASED = {"outbound": "release", "feedback": "release_feedback"}  # the folder, and nbgrader's command making it
REFUSED_BY = {"outbound": "nbgrader's release and Unrelease refuse", "feedback": "nbgrader's release_feedback refuses"}
RISK = {  # feedback/ is 0711: students fetch a page by its name, never list it
    "outbound": "students list and fetch them as if you had released them",
    "feedback": "students fetch from there whatever is named as their feedback page, as if you had released it",
}
MOST_LOOKED = 100_000  # entries looked at in outbound/ or feedback/: a student may have put a million there
MOST_NAMED = 3


def kind(seen: os.stat_result) -> str:
    """What an entry is, as the lines say it."""
    for test, said in ((stat.S_ISDIR, "a folder"), (stat.S_ISLNK, "a symbolic link"), (stat.S_ISREG, "a file")):
        if test(seen.st_mode):
            return said
    return "a FIFO" if stat.S_ISFIFO(seen.st_mode) else "a socket" if stat.S_ISSOCK(seen.st_mode) else "a device"


def owner_of(seen: os.stat_result) -> str:
    return user_name(seen.st_uid)


def strangers_in(fd: int, path: Path | None = None) -> tuple[int, list[str], bool, tuple]:
    """The entries of the open folder `fd` owned by neither this user nor root: how many, the first few named (their
    names escaped: a student chose them), whether the look stopped at MOST_LOOKED entries, and, for outbound/ (`path`),
    its chapter folders others could change (`released_chapters.unsafe_chapters`, r20i M1). OSError if it cannot be
    listed."""
    count, named, looked, ours = 0, [], 0, []
    with os.scandir(fd) as entries:  # scandir lists a copy of fd, and rewinds it
        for entry in entries:
            looked += 1
            if looked > MOST_LOOKED:
                return count, named, True, ()
            try:
                seen = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # removed meanwhile
                continue
            if seen.st_uid not in (os.geteuid(), 0):
                count += 1
                if len(named) < MOST_NAMED:
                    named.append(f"{shown(entry.name)} ({kind(seen)} of {owner_of(seen)}'s)")
            elif stat.S_ISDIR(seen.st_mode):
                ours.append(entry.name)
    looked_in = unsafe_chapters(fd, path, ours) if path is not None and path.name == "outbound" else ()
    return count, named, False, looked_in


def strangers(path: Path) -> tuple[int, list[str], bool, tuple]:
    """`strangers_in` the folder `path`, opened without following a link; none if it cannot be opened or listed
    (the doctor's other lines say why)."""
    try:
        fd = os.open(path, OPEN_FLAGS | os.O_DIRECTORY)
    except OSError:
        return 0, [], False, ()
    try:
        return strangers_in(fd, path)
    except OSError:
        return 0, [], False, ()
    finally:
        os.close(fd)


def stranger_line(
    path: Path, found: tuple[int, list[str], bool, tuple], chapters: list[str] | None = None
) -> tuple[str, str]:
    """The problem and mend for `found` (`strangers`) in outbound/ or feedback/ `path`, its chapter folders others
    could change too (`released_chapters`; `chapters`: the course's, to release again); ("", "") if none."""
    count, named, more, looked_in = found
    inside = chapters_line(path, *looked_in, chapters=chapters) if looked_in else ("", "")
    top = top_line(path, count, named, more)
    said = [line for line in (top, inside) if line[0]]
    return "; ".join(line[0] for line in said), "; and ".join(line[1] for line in said)


def top_line(path: Path, count: int, named: list[str], more: bool) -> tuple[str, str]:
    """`stranger_line`'s for outbound/'s or feedback/'s own entries."""
    if not count and not more:
        return "", ""
    me = user_name(os.geteuid())
    users = " ".join(f"! -user {shlex.quote(user.removeprefix('uid '))}" for user in dict.fromkeys((me, "root")))
    whose = "not root's" if os.geteuid() == 0 else "neither yours nor root's"
    said = ", ".join(named) + (", ..." if count > len(named) or more else "")
    many = f"{count}{' or more' if more else ''} entr{'y' if count == 1 and not more else 'ies'}"
    if not count:  # a million of this user's own: not all looked at
        many, said = f"more than {MOST_LOOKED:,} entries, not all looked at, any of them", "none named"
    problem = (
        f"{shown(path)} holds {many} {whose} ({said}), put there while others could write in it: "
        f"{RISK.get(path.name, RISK['outbound'])}; {REFUSED_BY.get(path.name, REFUSED_BY['outbound'])} it until they "
        "are removed"
    )
    if shape := inbound_shape(path):  # the class's inbound, moved here: never removed (r20i W1)
        kept, mend = kept_line(path, shape)
        return f"{kept}; {problem}", mend
    quoted = shell_word(path)
    mend = (  # moved aside, never removed (r20j W1: the class's inbound may have been moved into one of them)
        f"`{kept_folders.made_aside(path.parent.parent)} && {kept_folders.guarded(path, path.parent.parent)} && find {quoted} -mindepth 1 "
        f'-maxdepth 1 {users} -exec mv -t "$d" -- {{}} + && echo "moved to $d"` ({kept_folders.ASIDE_NOTE}; your own '
        "entries stay)"
    )
    return problem, mend


def check_released_entries(fd: int, path: Path) -> None:
    """ExchangeUnusable, with `stranger_line`'s problem and mend, unless the open outbound/ or feedback/ folder `fd`
    (at `path`) holds only this user's and root's entries (at most MOST_LOOKED); OSError if it cannot be listed."""
    problem, mend = stranger_line(path, strangers_in(fd, path))
    if problem:
        raise ExchangeUnusable(f"{problem} (fix: {mend})")
