"""nbgrader's list with `--remove` (`nbgrader list --remove`, formgrader's Unrelease button) made to remove only from
the instructor's own folders in the exchange.

nbgrader's `ExchangeList.remove_files` runs `rmtree` on what `glob(<root>/<course_id>/outbound/<assignment>)` finds (or,
with `--inbound`, the submissions in `inbound/`): a student's link at `<root>/<course_id>`, made before the course's
folder, led root's Unrelease to delete `outbound/<chapter>` in whatever folder it named (R20c2 M2). The course's
`nbgrader_config.py` sets `c.ExchangeFactory.list` to `TrustedList`: before the glob, a removal checks the exchange's
root as the release checks it (`root.root_path_problem`, `root.check_exchange_root`) and reaches `<course_id>` and
`outbound` (or `inbound`) one name at a time without following a link, each a folder of the removing user's or root's
(`inbound_folder.check_exchange_folder`) that, but for `inbound`, others may not write in (nor, as root, a group but
root's, nor, as any user, anyone through a POSIX ACL or a default ACL: `folder_writers.shared_write_problem`, as
release; a TA in the course folder's group had root's Unrelease delete through her link, R20e2 W1), under a root without
a default POSIX ACL (`nbgrader_release.root_acl_problem`, release's rule), and an `outbound` holding any entry of
neither the removing user's nor root's (`released_entries.check_released_entries`, release's rule: a student's planted
chapter, r20h W1); otherwise it fails with the reason, before
anything is removed. Root is refused a `groupshared` course (`nbgrader_release.groupshared_refusal`: a TA in outbound's
group could swap a chapter's folder for a link before the rmtree). A listing of outbound/ alone removes nothing and is nbgrader's;
a listing of inbound/ is refused (`LISTING_REFUSED`: it reads students' files whole, unchecked). With `--remove
--inbound`, an entry not named as nbgrader names a submission (collect's rule, the chapter part checked too when none
is named: nbgrader prints the name raw and globs it), not a folder (a student's link, file or FIFO) or not owned by the
student its name claims (`check_submission_owner`) is skipped with a warning, not looked in nor removed; each submission folder
is removed on its own (`remove_folder`: never following a link nor opening anything but a folder, nor going into one
of another owner or file system), one that cannot be removed reported and the others removed (R20e2 N2: a link
stopped root's removal for the class, a FIFO hung it); the removal then fails (exit status 1) if any was kept.
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from nbgrader.exchange.default.list import ExchangeList

from lrcourse.grading.exchange.folder_writers import shared_write_problem
from lrcourse.grading.exchange.inbound import OPEN_FLAGS, Refused, check_owner, claimed, owner_name
from lrcourse.grading.exchange.inbound_folder import Exchange, ExchangeUnusable, check_exchange_folder, open_checked
from lrcourse.grading.exchange.kept_folders import aside
from lrcourse.grading.exchange.nbgrader_release import groupshared_refusal, root_acl_problem, roots
from lrcourse.grading.exchange.released_entries import check_released_entries
from lrcourse.grading.exchange.root import check_exchange_root, root_path_problem
from lrcourse.grading.intake import valid_student_id
from lrcourse.shell_words import quoted


def check_exchange_folders(root: Path, parts: tuple[str, ...]) -> bool:
    """`root/parts...` reached one name at a time without following a link, each folder there checked
    (`check_exchange_folder`, action "release") and, but for `inbound`, none others may write in (nor, as root, a
    group but root's, nor, as any user, anyone through a POSIX ACL or a default ACL:
    `folder_writers.shared_write_problem`, release's rule), an `outbound` holding none but this user's and root's
    entries (`check_released_entries`, release's rule: r20h W1). True if every one is there; False at a missing one
    (nothing below it to remove: the caller must then remove nothing, nor look by path, where a student's link may
    be renamed in after this check, R20g2 W1)."""
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
                return False
            check_exchange_folder(seen, path, "release")
            inbound = parts[: index + 1] == (parts[0], "inbound")  # 2733/3733: every student's by design
            remade_by = "release" if parts[: index + 1] == (parts[0], "outbound") else ""  # r20h W1: removed, not chmod
            if not inbound and (problem := shared_write_problem(seen, path, remade_by)):  # a TA's link (R20e2 W1, W2)
                raise ExchangeUnusable(problem)
            parent, fd = fd, -1
            fd = open_checked(parent, part, seen, path)
            if parts[: index + 1] == (parts[0], "outbound"):  # a student's planted chapter: release's rule (r20h W1)
                check_released_entries(fd, path)
        return True
    except OSError as error:
        raise ExchangeUnusable(f"cannot open {path}: {error.strerror}") from None
    finally:
        if fd >= 0:
            os.close(fd)


# nbgrader's own listing of inbound/ reads each submission's submission_secret.txt and notebooks by path, following
# links and whole: a student's empty, unreadable or sparse 8 GiB secret, or a FIFO as a notebook, stopped, exhausted or
# hung it (R20a N6, r20b W1, W2, W4). The collect record says what each student submitted, checked.
LISTING_REFUSED = (
    "lrcourse: `nbgrader list --inbound` is not used with this course: it reads the students' files unchecked (a "
    "student's file can stop or hang it). What each student submitted, and why any was refused, is in the collect "
    "record, reports/collect-<chapter>.json, which `lrcourse collect <chapter>` writes; "
    "`nbgrader list --remove --inbound` still removes submissions"
)
MOST_DEPTH = 32  # folders nested in a submission that its removal goes into (nbgrader's submissions are flat)


def remove_folder(
    parent: int, name: str, seen: os.stat_result, depth: int = 0, top: os.stat_result | None = None
) -> None:
    """Remove the folder `name` in the open folder `parent`, the one `seen` (its lstat) describes, and all in it: each
    folder opened as a folder only, without following a link (O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK: a FIFO or a link
    put in a folder's place is neither opened nor followed) and checked to be the one listed, everything else unlinked.
    A folder in it on another file system or owned by another user than the submission folder (`top`) is neither
    gone into nor emptied: a folder she may rename, another's in a folder everyone may write in, moved into her
    submission had root's removal delete what she could not (R20h2 N1). OSError with the reason otherwise (what was
    removed before it stays removed)."""
    if depth > MOST_DEPTH:
        raise OSError(f"{quoted(name)}: folders nested deeper than {MOST_DEPTH}")
    top = top or seen
    fd = os.open(name, OPEN_FLAGS | os.O_DIRECTORY, dir_fd=parent)
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (seen.st_dev, seen.st_ino):
            raise OSError(f"{quoted(name)} was replaced while it was being removed")
        if opened.st_dev != top.st_dev or opened.st_uid != top.st_uid:  # named as collect names them (R20a N5)
            owners, where = {}, "" if opened.st_dev == top.st_dev else ", on another file system"
            raise OSError(
                f"{quoted(name)}: a folder of {owner_name(opened.st_uid, owners)}{where} in a submission folder of "
                f"{owner_name(top.st_uid, owners)}, not gone into (as root, look at it and remove it yourself)"
            )
        with os.scandir(fd) as entries:
            listed = [(entry.name, entry.stat(follow_symlinks=False)) for entry in entries]
        for entry, entry_seen in listed:
            if stat.S_ISDIR(entry_seen.st_mode):
                remove_folder(fd, entry, entry_seen, depth + 1, top)
            else:
                os.unlink(entry, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent)


def reason(error: OSError) -> str:
    """An OSError as one line: its text and the name it is about, if any (escaped: a student's entry may name it)."""
    return f"{error.strerror} ({error.filename!r})" if error.strerror and error.filename else str(error)


class TrustedList(ExchangeList):
    """nbgrader's list; with `remove`, only from the instructor's own course folder (`check_exchange_folders`)."""

    skipped = 0  # inbound entries left out by `submission_folder`

    def ensure_root(self):
        """Unrelease: the root's path checked first (`root_path_problem`), as release and collect check it: a folder on
        it this user cannot enter is named with its mend, not nbgrader's "Unwritable directory" (r20f N2)."""
        if self.remove and (problem := root_path_problem(self.root)):
            self.fail(f"lrcourse unrelease: {problem}. Nothing was removed.")
        super().ensure_root()

    def init_dest(self):
        if self.inbound and not self.remove:  # nbgrader's listing reads students' files by path, unchecked
            self.fail(LISTING_REFUSED)
        if self.remove and not self.check_before_removing():
            where = Path(self.root, self.coursedir.course_id, "inbound" if self.inbound else "outbound")
            self.log.info("%s does not exist (or a folder on its way): nothing to remove", where)
            self.assignments = []  # nbgrader's glob and rmtree go by path: a link renamed in now (R20g2 W1)
            return
        super().init_dest()
        if self.inbound:  # nbgrader's parse would look in it and its rmtree stop at it
            listed = len(self.assignments)
            self.assignments = [path for path in self.assignments if self.submission_folder(path)]
            self.skipped = listed - len(self.assignments)

    def submission_folder(self, path: str) -> bool:
        """Whether the inbound entry `path` is named as nbgrader names a submission (`inbound.claimed`, collect's
        rule: nbgrader's own lines, the listing and "No notebooks found in", print the name raw, and a newline or a
        terminal escape in it forged a line, R20j2 N1) and is a folder (its lstat); if not, a warning with the
        reason."""
        name = os.path.basename(path)
        parts = name.split("+")
        assignment = self.coursedir.assignment_id or (parts[1] if len(parts) > 1 else "")  # the glob's may be *
        try:
            if not valid_student_id(assignment):  # a CR or `*` there forged a line or globbed a sibling (r20b W3, W4)
                raise Refused(
                    f"the folder's assignment part {quoted(assignment)} holds characters nbgrader never writes"
                )
            claimed(name, assignment)
        except Refused as why:
            self.log.warning("Skipping %r: %s, not %s", path, why, "removed")
            return False
        try:
            seen = os.lstat(path)
        except OSError as error:  # removed meanwhile
            self.log.warning("Skipping %r: %s", path, reason(error))
            return False
        if stat.S_ISDIR(seen.st_mode):
            return self.owned_as_named(path, seen)
        kinds = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISREG, "a file"), (stat.S_ISFIFO, "a FIFO"))
        kind = next((said for test, said in kinds if test(seen.st_mode)), "a special file")
        self.log.warning(
            "Skipping %r: %s, not a submission folder (a student's?), so not %s; as root, `rm` it%s",
            path,
            kind,
            "removed",
            " (which removes the link, not what it names)" if stat.S_ISLNK(seen.st_mode) else "",
        )
        return False

    def owned_as_named(self, path: str, seen: os.stat_result) -> bool:
        """Whether the submission folder `path` (its lstat `seen`) is its claimed student's (`check_submission_owner`);
        if not, a warning with the reason, before nbgrader's "Removing submitted assignments" lines would list it
        under that student (r20c N2). `remove_files` checks again, by the open inbound folder, before removing."""
        try:
            device = os.lstat(os.path.dirname(path)).st_dev
            check_submission_owner(os.path.basename(path), seen, device, {})
        except OSError as error:
            self.log.warning("Not removed: %r: %s", path, reason(error))
            return False
        return True

    def remove_files(self):
        """nbgrader's, but with `--inbound` each submission folder removed by `remove_folder`, one that cannot be
        removed (another account's, changed meanwhile) reported with the reason and the others removed."""
        if not self.inbound:
            try:
                return super().remove_files()
            except OSError as error:  # nbgrader's rmtree, chapter by chapter (r20h N7: a traceback)
                self.fail(self.not_removed(error))
        assignments = self.parse_assignments()
        self.log.info("Removing submitted assignments:")
        for assignment in assignments:
            for info in assignment["submissions"]:
                line = self.format_inbound_assignment(info)  # a student's folder name: escaped if not printable
                self.log.info(line if line.isprintable() else repr(line))  # (R20i2 N1: a CR forged a line)
        if not self.assignments:  # none, or no inbound folder (nothing to remove)
            self.fail_if_kept(self.skipped, 0)
            return assignments
        inbound = Path(self.root, self.coursedir.course_id, "inbound")  # checked (`check_before_removing`)
        try:
            fd = os.open(inbound, OPEN_FLAGS | os.O_DIRECTORY)
        except OSError as error:
            self.fail(f"lrcourse unrelease: cannot open {inbound}: {reason(error)}. Nothing was removed.")
        kept = self.skipped
        try:
            device, owners = os.fstat(fd).st_dev, {}
            for path in self.assignments:
                name = os.path.basename(path)
                try:
                    seen = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    check_submission_owner(name, seen, device, owners)
                    remove_folder(fd, name, seen)
                except OSError as error:
                    self.log.warning("Not removed (or not wholly): %r: %s", path, reason(error))
                    kept += 1
        finally:
            os.close(fd)
        self.fail_if_kept(kept, len(self.assignments) + self.skipped - kept)
        return assignments

    def not_removed(self, error: OSError) -> str:
        """The one line for nbgrader's removal of released chapters stopped by `error`: the chapter's folder it stopped
        in, the first still there (rmtree goes in order), and why (its name is rmtree's, relative to a folder in it)."""
        left = [path for path in self.assignments if os.path.lexists(path)]
        where = f"{quoted(left[0])}" if left else "a chapter's folder"
        look = f" (`ls -laR {shlex.quote(left[0])}` shows them)" if left else ""
        if left and os.geteuid() != 0 and roots(left[0]):  # r20i N4: a chapter root released
            look = f": it is root's (a release run as root), which only root can move: `{aside([Path(left[0])], Path(self.root))}`"
            return (
                f"lrcourse unrelease: cannot remove {where}: {reason(error)}{look} as root; "
                f"{len(self.assignments) - len(left)} of {len(self.assignments)} removed"
            )
        return (
            f"lrcourse unrelease: cannot remove {where}: {reason(error)}: a folder in it you may not write in, or "
            f"another account's{look}; {len(self.assignments) - len(left)} of {len(self.assignments)} removed"
        )

    def fail_if_kept(self, kept: int, removed: int) -> None:
        """Fail (exit status 1) if `kept` inbound entries were skipped or not removed: a script's `&&` must not take
        the inbound folder for emptied."""
        if kept:
            self.fail(f"lrcourse unrelease: {kept} inbound entries not removed (the reasons above); {removed} removed")

    def check_before_removing(self) -> bool:
        """Fail with the reason unless the removal may go on; True if the course's folder and outbound (or inbound)
        are there, False if one is missing (nothing to remove)."""
        if why := groupshared_refusal(self.coursedir.groupshared):  # a TA's link in outbound/ (R20d2 W1)
            self.fail(f"lrcourse unrelease: {why}. Nothing was removed.")
        chapter = self.coursedir.assignment_id
        if self.inbound and chapter and not valid_student_id(chapter):  # nbgrader globs it (r20c N1: '01_*')
            self.fail(
                f"lrcourse unrelease: {chapter!r} is not one chapter's name (a pattern is not taken here): name one "
                "chapter, or none for every chapter. Nothing was removed."
            )
        student = self.coursedir.student_id  # nbgrader's default, `*`, is every student's (r20d N1: 'r20d?l' globbed)
        if self.inbound and student not in ("", "*") and not valid_student_id(student):
            self.fail(
                f"lrcourse unrelease: {student!r} is not one student's id (a pattern is not taken here): name one "
                "student, or none for every student. Nothing was removed."
            )
        course_id = self.coursedir.course_id
        if not course_id:  # nbgrader would glob every course's folders: `*`
            self.fail(
                "lrcourse unrelease: no course id (c.CourseDirectory.course_id or --course). Nothing was removed."
            )
        try:
            check_exchange_root(Exchange(Path(self.root), course_id))  # its path too (`root_path_problem`), as release
            there = check_exchange_folders(Path(self.root), (course_id, "inbound" if self.inbound else "outbound"))
        except ExchangeUnusable as error:
            self.fail(f"lrcourse unrelease: {error}. Nothing was removed.")
        if problem := root_acl_problem(self.root):  # release's rule for the root's default ACL
            self.fail(f"lrcourse unrelease: {problem}. Nothing was removed.")
        return there


def check_submission_owner(name: str, seen: os.stat_result, device: int, owners: dict) -> None:
    """OSError unless the submission folder `name` (its lstat `seen`) is owned by the student its name claims and on
    the inbound folder's file system (`device`), collect's rule (`inbound.check_owner`): another's folder, say root's,
    moved into inbound/ under a student's name had root's removal empty it (R20i2 M1). Nor a folder of root or of the
    user removing, whatever its name claims: root's 0777 folder renamed `root+<chapter>+...` was emptied too (R20j2
    M1)."""
    if seen.st_uid in (0, os.geteuid()):
        raise OSError(
            f"the submission folder is owned by {owner_name(seen.st_uid, owners)}, not by a student: not gone into"
        )
    try:
        check_owner(seen, name.split("+", 1)[0], device, owners)
    except Refused as why:
        raise OSError(f"{why}: not gone into") from None
