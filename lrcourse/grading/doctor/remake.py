"""`lrcourse doctor`'s mends for the course's folder in the exchange and its inbound when collect refuses or misses
them, never deleting the class's submissions (r20i W1, W2): a folder owned by the account that runs the course (the
local course folder's owner), or holding an inbound of the README's shape, is the class's working one, for which the
line says only to run as that account; one with the inbound's shape (`kept_folders`: its mode, or entries named as
submissions) is moved back or aside, never removed; only a folder no course account could have made, holding nothing
shaped as a submission, is removed and made again. A missing inbound/ is a FAIL of its own, with the folder that looks
like it (moved to outbound/ or feedback/ by someone who may write in the course's folder) moved back."""

from __future__ import annotations

import contextlib
import datetime
import os
import shlex
import stat
from pathlib import Path

from lrcourse.grading.doctor.check import Check
from lrcourse.grading.doctor.entry import owner_name
from lrcourse.grading.exchange.kept_folders import inbound_shape, kept_line

NAME = "the nbgrader exchange's course folder"


def owned_by_us(path: Path) -> bool:
    """Whether `path` is this user's or root's (or cannot be looked at): `chmod` and `setfacl` mends are theirs."""
    with contextlib.suppress(OSError):
        return os.lstat(path).st_uid in (0, os.geteuid())
    return True


def course_owner(course: Path | None) -> int | None:
    """The uid owning the local course folder (the account that runs the course), None if unknown."""
    try:
        return os.stat(course).st_uid if course is not None else None
    except OSError:
        return None


def remake(exchange, create: str, course: Path | None = None) -> str:
    """The mend for a course or inbound folder collect refuses (`create`: the command making the course's folder).
    The course's folder: "run as <owner>" when it is the course account's or holds the class's inbound; moved aside
    when it holds what is shaped as submissions; removed and made again otherwise. Its inbound alone, where collect
    takes the course's folder (r20h N5): moved aside when it has the inbound's shape, else removed, and made again."""
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
        owner, ours = owner_name(seen.st_uid) or f"uid {seen.st_uid}", seen.st_uid == course_owner(course)
        if stat.S_ISDIR(seen.st_mode) and (ours or inbound_shape(inbound)):  # the class's working folder (r20i W2)
            if ours:
                return (
                    f"run lrcourse as {owner} (it owns this course), not as another account: nothing is to be removed"
                )
            return (
                f"run lrcourse as {owner} (it holds the class's inbound), not as another account: nothing is to be "
                f"removed (were {owner} no course account, it still holds the class's submissions: look at it as root)"
            )
        if inbound_shape(path):
            return f"{kept_line(path, inbound_shape(path), moved_back=False)[1]}, then, {create}"
        return (
            f"`rm -r {folder}` (as root: a student's files may be in it; nothing named as a submission), then, {create}"
        )
    me = owner_name(os.geteuid()) or os.geteuid()
    made = f"install -d -m 3733 -o {me} {at_inbound}"
    if os.path.isdir(inbound) and not os.path.islink(inbound) and inbound_shape(inbound):
        aside = shlex.quote(f"{inbound}.moved-{datetime.datetime.now():%Y%m%dT%H%M%S}")
        return (
            f"`mv -T {at_inbound} {aside} && {made}` (as root: it keeps the submissions in it, to collect by hand; "
            f"not removed; the course's folder {folder} stays)"
        )
    return (
        f"`rm -r {at_inbound} && {made}` (as root: not inbound-shaped, nothing in it named as a submission; the "
        f"course's folder {folder} stays)"
    )


def missing_inbound(exchange) -> Check | None:
    """A FAIL when the course's folder has no inbound/ (r20i W1: it had been moved to outbound/, and no line said it
    was missing); the folder that looks like it moved back, else one made. None when it is there."""
    inbound = exchange.inbound
    if os.path.lexists(inbound):
        return None
    for name in ("outbound", "feedback"):
        path = inbound.parent / name
        if shape := inbound_shape(path):
            return Check(NAME, *kept_line(path, shape), stops="collect")
    problem = (
        f"{inbound} is missing: students cannot submit, and lrcourse collect cannot open it (nbgrader's release "
        "would make it 2733, without the sticky bit)"
    )
    try:
        as_whom = "as the user who collects" if os.lstat(inbound.parent).st_uid == os.geteuid() else "as root"
    except OSError:
        as_whom = "as root"
    me = owner_name(os.geteuid()) or os.geteuid()
    return Check(
        NAME, problem, f"`install -d -m 3733 -o {me} {shlex.quote(str(inbound))}` ({as_whom})", stops="collect"
    )
