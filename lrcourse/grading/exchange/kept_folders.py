"""Which of the exchange's folders may hold the class's submissions, so that no printed mend removes it (r20i W1, W2):
one with the inbound's shape, its mode (2733/3733, or groupshared's 2773/3773) or entries named as nbgrader names a
submission (collect's parser, `inbound.claimed`). Anyone who may write in the course's folder (its group, a TA) can
rename inbound/ to outbound/ (a rename in one parent needs no write permission on the folder moved); an `rm -r` mend
for "an outbound others could write in" then deleted every submission. Such a folder is moved back to inbound/ when
that is missing, else aside to a dated name, never removed: `mv` keeps everything, and what a student planted in it
stays where no nbgrader command lists it. The doctor, release, release_feedback and Unrelease share this look."""

from __future__ import annotations

import datetime
import os
import shlex
import stat
from pathlib import Path

from lrcourse.grading.exchange.inbound import OPEN_FLAGS, Refused, claimed
from lrcourse.grading.intake import valid_student_id

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


def submissions_in(path: Path) -> tuple[int, bool]:
    """How many entries of the folder `path` (opened without following a link; none if it cannot be listed) are
    named as submissions, and whether the look stopped at MOST_LOOKED."""
    try:
        fd = os.open(path, OPEN_FLAGS | os.O_DIRECTORY)
    except OSError:
        return 0, False
    count = 0
    try:
        with os.scandir(fd) as entries:
            for looked, entry in enumerate(entries):
                if looked >= MOST_LOOKED:
                    return count, True
                count += submission_named(entry.name)
    except OSError:
        pass
    finally:
        os.close(fd)
    return count, False


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


def kept_line(path: Path, shape: str, moved_back: bool = True, aside_in: Path | None = None) -> tuple[str, str]:
    """The problem and mend for the folder `path` with the inbound's `shape` (`inbound_shape`): never a removal.
    `moved_back`: an outbound/ or feedback/, moved back to its sibling inbound/ where that is missing; else aside, in
    `aside_in` (else beside it: a chapter folder's is the course's folder, where no nbgrader command lists it)."""
    inbound = path.parent / "inbound"
    quoted, at_inbound = shlex.quote(str(path)), shlex.quote(str(inbound))
    problem = f"{path} has the shape of the class's inbound ({shape}): it may hold the class's submissions"
    if moved_back and not os.path.lexists(inbound):
        problem += f", and {inbound} is missing: someone who may write in {path.parent} may have moved it here"
        return problem, (
            f"`mv -T {quoted} {at_inbound}` (as root, once `ls -la {quoted}` shows the class's submissions: it puts "
            "them back where students submit and lrcourse collect reads; not removed)"
        )
    aside = shlex.quote(f"{(aside_in or path.parent) / path.name}.moved-{datetime.datetime.now():%Y%m%dT%H%M%S}")
    return problem, (
        f"`mv -T {quoted} {aside}` (as root: it keeps all in it, out of nbgrader's way; look at it before removing "
        "anything, and collect what submissions it holds; not removed)"
    )
