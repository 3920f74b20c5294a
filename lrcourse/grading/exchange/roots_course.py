"""Root's grade, collect and doctor in a course folder root owns: only in a course root's through and through.

Who trusts whom: as root, a course root owns is root's own, so root trusts it only if no other account can change
any of it. A TA group's `nbgrader_config.py` (umask 002) was Python root's grade ran (R20w W1); a `reports/` a TA may
write took root's collect record through her link (R20x W1); a group-writable `release/` let her link the chapter's
release folder to a root-only one, which nbgrader's release step wrote into and chmodded (R20x W2); a `lrcourse/`
of hers at the course's top level was imported, as root, by the release step, which nbgrader starts in the course
folder (R20x W3). A list of the names each command touches missed each of these, so the whole course is walked
(`not_roots_throughout(whole=True)`) but for what is not root's to trust and that the commands read under their own
rules: a student's submitted files (a link among them fails that student) and the exchange, when it is inside the
course (the students' by design). In a course another account owns, root trusts its owner, as README documents.
"""

from __future__ import annotations

import os
from pathlib import Path

from lrcourse.grading.exchange.other_account import not_roots_throughout


def close_roots_umask() -> None:
    """As root, a umask of at least 022: what root makes in a course (reports/, submitted/, autograded/...) is never
    opened to others by a umask of 002, which would make its next grade or export refuse the course (R20v W1 b)."""
    if os.geteuid() == 0:
        os.umask(os.umask(0o022) | 0o022)


def roots_own(course: str | Path) -> bool:
    """Root runs this in a course folder root owns (followed: the rule checks the path itself)."""
    try:
        return os.geteuid() == 0 and os.stat(course).st_uid == 0
    except OSError:  # missing: the command's own message says so
        return False


def refusal(course: str | Path, verb: str, exchange: Path | None = None) -> str:
    """Why root's `verb` may not run in `course`, with the mend, as one line; "" if it may (not root, not root's
    course, or root's through and through). `exchange`: its root, if the command was given one (nbgrader's
    `--Exchange.root`), else the course's configuration says."""
    reason, mend = not_roots_own(course, exchange)
    if not reason:
        return ""
    if not mend:
        return f"lrcourse {verb}: {reason}"
    return (
        f"lrcourse {verb}: run as root in a course that is not root's through and through: {reason}; what another "
        f"account owns or may write there is its to point anywhere, and root's {verb} would read, run and write "
        f"what it says: {mend}"
    )


def not_roots_own(course: str | Path, exchange: Path | None = None) -> tuple[str, str]:
    """Why root may not trust `course`, and the mend; ("", "") if it may (not root, not root's course, or root's
    through and through). Nothing of the course is read before its `nbgrader_config.py` has passed the rule:
    finding the exchange runs that file."""
    if not roots_own(course):
        return "", ""
    if os.path.exists(course) and not os.path.isdir(course):
        return f"{course} is not a folder (give --course the course's folder)", ""
    try:
        reason, mend = not_roots_throughout(course, ("nbgrader_config.py",))
        if not reason:
            reason, mend = not_roots_throughout(course, whole=True, apart=_exchange_inside(course, exchange))
    except OSError as error:  # a part of the path gone meanwhile: nothing of it read
        return f"the course {course}: {error.strerror}: {error.filename}", ""
    return reason, mend


def _exchange_inside(course: str | Path, exchange: Path | None) -> str | None:
    """The exchange's root (`exchange`, else the configuration's) when it is a folder inside the course (as the
    tests keep one), else None."""
    from lrcourse.grading.exchange.inbound_folder import exchange_of

    try:
        root = exchange if exchange is not None else exchange_of(Path(course)).root
    except Exception:  # no course id, or a config that fails: the command says so, and nothing is set apart
        return None
    inside = os.path.relpath(os.path.realpath(root), os.path.realpath(course))
    return None if inside == "." or inside.startswith("..") else inside
