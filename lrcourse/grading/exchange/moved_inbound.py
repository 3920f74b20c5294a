"""A class's inbound moved by someone who could write in the course's folder: what stands at `inbound` instead,
which the mode's `chmod 3733` would make the class's inbound while the real one stays hidden (`not_an_inbound`).
Trust: what the folders hold is whoever could write in them's; only who could write decides anything, and where that
may have been a student the instructor looks (the doctor's find, `kept_folders.moved_hint`) before anything changes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from lrcourse.grading.exchange.inbound import user_name
from lrcourse.grading.exchange.kept_folders import MOST_LOOKED, moved_hint, shown, submission_named


def not_an_inbound(path: Path, owner: int, chmod: str) -> tuple[str, str] | None:
    """For a folder at inbound/ without the inbound's mode (`owner`'s): what to say and do instead of `chmod`, the
    mode's fix, or None where that fix stands. It may be the course's outbound (its chapters' folders) or feedback (its
    `<checksum>.html` pages) moved there by someone who could write in the course's folder: `chmod 3733` made it the
    class's inbound while the real one stayed hidden (r20y M1). Where its group or others may write in it, what it
    holds decides nothing (a name planted or renamed: r20aa M1, r20ab M1, r20ag W1; a group not listed: r20ag W2). So:
    - no one else may write in it and it holds only entries of its owner's or root's, none named as a submission: a
      release or feedback (a student can make no such entry there; r20ac M2, r20ae M1): never the chmod;
    - otherwise the instructor looks: the find for a folder of the collector's with the inbound's mode elsewhere
      (which no student can make), this course's own inbound alone left out (r20aj W1: other courses' inbounds left
      out by their mode now hid the class's, moved into one), what each kind of folder holds, and the chmod only
      where the find lists no folder holding this course's submissions (r20ah M1, r20aj M1)."""
    try:
        seen = os.lstat(path)
        with os.scandir(path) as listing:
            looked = [(entry.name, entry.stat(follow_symlinks=False)) for _, entry in zip(range(MOST_LOOKED), listing)]
    except OSError:
        return None
    closed = not seen.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if closed and looked and all(entry.st_uid in (owner, 0) and not submission_named(name) for name, entry in looked):
        return (
            f"it holds {shown(looked[0][0])}, {account_of(looked[0][1].st_uid, owner)}, and no submission: it may be "
            "the course's outbound (a chapter's folder) or feedback (pages named <checksum>.html), moved there by "
            "someone who could write in the course's folder",
            "never `chmod 3733` it: move it back where it belongs, as root, then run lrcourse doctor again (its find "
            "looks for the class's inbound)",
        )
    first = f"holds {shown(looked[0][0])}, {account_of(looked[0][1].st_uid, owner)}" if looked else "is empty"
    held = first + (", and more" if len(looked) > 1 else "")
    whose = ", and others may write in it: what it holds may have been planted or renamed" if not closed else ""
    # the one running the doctor (r20aj W2), else the folder's or the course folder's owner; never any uid's (r20ag W3)
    collector = os.geteuid() or owner or os.lstat(path.parent).st_uid
    hint = moved_hint(path.parent, collector, user_name(collector), theirs=True, besides=True)
    return (
        f"it {held}{whose}: it may be the class's inbound, or the course's outbound or feedback moved there by someone "
        "who could write in the course's folder, the class's inbound hidden elsewhere",
        f"look first: {hint}. A folder it lists is {user_name(collector)}'s with the inbound's mode, which no student "
        "can make: one holding this course's submissions (<student>+<chapter>+<time>, with a timestamp.txt), unless "
        "it is another course's live inbound (above) or a copy you made, is the class's inbound (if more than one is, "
        "what they hold cannot decide it: any student may write such names in an inbound; decide with whoever "
        "collects the others, from students only this class has): move this one out of the way as root (a release "
        "back to outbound, feedback's <checksum>.html pages to feedback, anything else aside, its entries looked at by "
        "hand), "
        "then `lrcourse doctor --put-back <it>` as root. If it lists none such, and this one holds the class's "
        f"submissions: {chmod}; if it lists none and this one is a release or feedback: move it back, and run "
        "lrcourse doctor again",
    )


def account_of(uid: int, owner: int) -> str:
    """Whose an entry is, as the inbound lines say it."""
    return "its owner's" if uid == owner else "root's" if uid == 0 else f"{user_name(uid)}'s"
