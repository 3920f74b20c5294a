"""nbgrader's list with `--remove` (`nbgrader list --remove`, formgrader's Unrelease button) made to remove only from
the instructor's own folders in the exchange.

nbgrader's `ExchangeList.remove_files` runs `rmtree` on what `glob(<root>/<course_id>/outbound/<assignment>)` finds
(or, with `--inbound`, the submissions in `inbound/`): a student's link at `<root>/<course_id>`, made before the
course's folder, led root's Unrelease to delete `outbound/<chapter>` in whatever folder it named (R20c2 M2). The
course's `nbgrader_config.py` sets `c.ExchangeFactory.list` to `TrustedList`: before the glob, a removal checks the
exchange's root as the release checks it (`root.root_path_problem`, `root.check_exchange_root`) and reaches
`<course_id>` and `outbound` (or `inbound`) one name at a time without following a link, each a folder of the
removing user's or root's (`inbound_folder.check_exchange_folder`) that, but for `inbound`, others may not write in
(nor, as root, a group but root's, nor anyone through a POSIX ACL: `nbgrader_release.shared_write_problem`, as
release; a TA in the course folder's group had root's Unrelease delete through her link, R20e2 W1); otherwise it
fails with the reason, before anything is removed. Root is refused a `groupshared` course (`nbgrader_release.groupshared_refusal`: a TA in
outbound's group could swap a chapter's folder for a link before the rmtree). A listing alone removes nothing and is
nbgrader's (students list the instructor's inbound folder, which the owner rule would refuse them).
"""

from __future__ import annotations

import os
from pathlib import Path

from nbgrader.exchange.default.list import ExchangeList

from lrcourse.grading.exchange.inbound import OPEN_FLAGS
from lrcourse.grading.exchange.inbound_folder import Exchange, ExchangeUnusable, check_exchange_folder, open_checked
from lrcourse.grading.exchange.nbgrader_release import groupshared_refusal, shared_write_problem
from lrcourse.grading.exchange.root import check_exchange_root, root_path_problem


def check_exchange_folders(root: Path, parts: tuple[str, ...]) -> None:
    """`root/parts...` reached one name at a time without following a link, each folder there checked
    (`check_exchange_folder`, action "release") and, but for `inbound`, none others (or, as root, a group or an ACL)
    may write in (`nbgrader_release.shared_write_problem`, release's rule); a missing one ends the walk (nothing
    below it to remove)."""
    if any(part in ("", ".", "..") or "/" in part for part in parts):
        raise ExchangeUnusable(f"{root.joinpath(*parts)} is not a folder below the exchange's root {root}")
    path, fd = root, -1
    try:
        fd = os.open(root, (OPEN_FLAGS & ~os.O_NOFOLLOW) | os.O_DIRECTORY)
        for index, part in enumerate(parts):
            path = path / part
            try:
                seen = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return
            check_exchange_folder(seen, path, "release")
            inbound = parts[: index + 1] == (parts[0], "inbound")  # 2733/3733: every student's by design
            if not inbound and (problem := shared_write_problem(seen, path)):  # a TA's link (R20e2 W1, W2)
                raise ExchangeUnusable(problem)
            parent, fd = fd, -1
            fd = open_checked(parent, part, seen, path)
    except OSError as error:
        raise ExchangeUnusable(f"cannot open {path}: {error.strerror}") from None
    finally:
        if fd >= 0:
            os.close(fd)


class TrustedList(ExchangeList):
    """nbgrader's list; with `remove`, only from the instructor's own course folder (`check_exchange_folders`)."""

    def init_dest(self):
        if self.remove:
            self.check_before_removing()
        super().init_dest()

    def check_before_removing(self):
        if why := groupshared_refusal(self.coursedir.groupshared):  # a TA's link in outbound/ (R20d2 W1)
            self.fail(f"lrcourse unrelease: {why}. Nothing was removed.")
        course_id = self.coursedir.course_id
        if not course_id:  # nbgrader would glob every course's folders: `*`
            self.fail(
                "lrcourse unrelease: no course id (c.CourseDirectory.course_id or --course). Nothing was removed."
            )
        if problem := root_path_problem(self.root):
            self.fail(f"lrcourse unrelease: {problem}. Nothing was removed.")
        try:
            check_exchange_root(Exchange(Path(self.root), course_id))
            check_exchange_folders(Path(self.root), (course_id, "inbound" if self.inbound else "outbound"))
        except ExchangeUnusable as error:
            self.fail(f"lrcourse unrelease: {error}. Nothing was removed.")
