"""Who owns the course's folders in the nbgrader exchange, for `lrcourse doctor` (`exchange.course_folder`): the
user who collects, not root, must own the course's folder and its outbound and feedback folders, for nbgrader's
release and release_feedback, run as it, make the chapter's folders there. One of root's gets `chown` (only root could
have put anything in it); an outbound or feedback folder of another account's is named with its owner and removed
(r20g W1), never adopted by `chown`."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from lrcourse.grading.doctor.check import Check
from lrcourse.grading.doctor.entry import owner_name


def theirs(exchange, owner: int | None = 0) -> list[Path]:
    """The course's folder in the exchange, its inbound, outbound and feedback folders, as far as they are folders,
    owned by `owner` (root's, which collect takes, those this user may not list and write in as the kernel judges it,
    group and POSIX ACL included; None: owned by neither this user nor root, which only outbound and feedback can be
    here: collect refuses the others) and not this user's; none as root."""
    folder, found = exchange.root / exchange.course_id, []
    for path in (folder, exchange.inbound, folder / "outbound", folder / "feedback"):
        with contextlib.suppress(OSError):
            seen = os.lstat(path)
            if os.geteuid() != 0 and stat.S_ISDIR(seen.st_mode) and seen.st_uid != os.geteuid():
                if owner is None and seen.st_uid != 0:
                    found.append(path)
                elif seen.st_uid == owner and not os.access(path, os.R_OK | os.W_OK | os.X_OK, effective_ids=True):
                    found.append(path)  # r20g W2: one the kernel lets this user write in (its group) is not said
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


def not_yours(exchange) -> Check | None:
    """A FAIL when this user, not root, does not own the course's folder in the exchange (or its outbound or feedback
    folder, made): nbgrader's release and release_feedback, run as it, make the chapter's folders there (r20f W1: a
    course folder of root's got "is yours", and the release stopped, "cannot make or open .../outbound"). An outbound
    or feedback folder of another account's (a TA's, a student's) is named with its owner, and the mend is to remove
    it as root: that account could have filled it (r20g W1: called "root's", its `chown` adopted a student's link and
    planted notebook, which classmates then fetched); release makes it again."""
    problems, mends = [], []
    for path in theirs(exchange, owner=None):
        uid = os.lstat(path).st_uid
        owner = owner_name(uid) or f"uid {uid}"
        problems.append(
            f"{path} is owned by {owner}, not by you (the user who collects) or root: {owner} could have put their "
            "own folders, files and links in it, which students would fetch, and nbgrader's release refuses it"
        )
        mends.append(
            f"`rm -r {path}` (as root: not `chown`, which would keep what {owner} put in it; it holds only released "
            "copies, which nbgrader's release makes again)"
        )
    roots = theirs(exchange)  # once: the problem and its mend name the same folders
    found = [path for path in roots if path != exchange.inbound]
    if found:
        said = ", ".join(str(path) for path in found)
        problems.append(
            f"{said} {'is' if len(found) == 1 else 'are'} root's, not yours (the user who collects): nbgrader's "
            "release and release_feedback, run as you, cannot make the chapter's folders in "
            f"{'it' if len(found) == 1 else 'them'} (Permission denied)"
        )
        mends.append(chown_mend(exchange, roots))
    if not problems:
        return None
    return Check("the nbgrader exchange's course folder", "; ".join(problems), "; ".join(mends), stops="release")
