"""nbgrader's release (`nbgrader release_assignment`, `nbgrader release_feedback`, formgrader's Release buttons) made
to trust only the instructor's own folders in the exchange.

The exchange's root is writable by every student (1777), so a student can put a folder of their own, or a link to any
folder, at `<exchange>/<course_id>` before the instructor's first release. nbgrader's release follows it: run as root it
made `inbound/` (2733, writable by everyone) and `outbound/` inside a root-only folder the student picked (issue 20,
R20b2 W1). The course's `nbgrader_config.py` sets `c.ExchangeFactory.release_assignment` and
`c.ExchangeFactory.release_feedback` to the classes here: each folder release makes or writes in (`<course_id>`,
`outbound`, `inbound`, `feedback`) is reached from the exchange's root one name at a time without following a link, made
there if it is missing, and must be a folder owned by the releasing user or root, the rule `lrcourse collect` applies
(`inbound_folder.check_exchange_folder`), and, but for `inbound`, not writable by others (where a student could swap the
next folder after its check, as `lrcourse doctor` fails it) nor, as root, by a group but root's, nor, as any user,
through a POSIX ACL or a default ACL (`folder_writers.shared_write`, Unrelease's and collect's rule too); root is
refused a `groupshared` course, whose folders nbgrader makes group-writable (`groupshared_refusal`); an `outbound`
or `feedback` folder holding any entry owned by neither the releasing user nor root (put there while others could
write in it, r20h W1: `released_entries`, the doctor's look too) is refused too; otherwise the release fails with the
reason, before anything is made or copied below it. The exchange's root is reached only through
folders and links of the releasing user's or root's (`path_walk.walk_path`: none another account may put a link in),
checked before nbgrader's own `ensure_root` (which chmods it through a link) and in a `groupshared` course too (where
nbgrader skips `ensure_root`); a root carrying a default POSIX ACL, which the course's folder release makes in it would
inherit, is refused too (`root_acl`, as Unrelease and `lrcourse doctor` do).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import shlex
import shutil
import stat
from pathlib import Path

from nbgrader.exchange.default.release_assignment import ExchangeReleaseAssignment
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback

from lrcourse.grading.exchange.folder_writers import shared_write_problem
from lrcourse.grading.exchange.inbound import OPEN_FLAGS
from lrcourse.grading.exchange.inbound_folder import Exchange, ExchangeUnusable, check_exchange_folder, open_checked
from lrcourse.grading.exchange.kept_folders import aside
from lrcourse.grading.exchange.other_account import posix_acl
from lrcourse.grading.exchange.released_entries import RELEASED, check_released_entries
from lrcourse.grading.exchange.root import check_exchange_root, replaceable, root_path_problem
from lrcourse.grading.exchange.roots_course import refusal

NEEDED = ("timestamp.txt", "submission_secret.txt")  # read by nbgrader's release_feedback beside each page
MADE_ON_THE_WAY = 0o755  # a folder made above the one asked for (release_feedback's course folder): nbgrader's 0755


def groupshared_refusal(groupshared: bool) -> str:
    """Why root may not release, release feedback or unrelease in a `groupshared` course, with the mend, as one line;
    "" if it may. There nbgrader makes the exchange's course and outbound folders 2775 and feedback 2771: anyone in
    their group may put a link in them that root's copy, move or rmtree follows after any check (a TA had root's
    release_feedback write a feedback page over a root-only file, R20d2 W1)."""
    if not groupshared or os.geteuid() != 0:
        return ""
    return (
        "run as root in a groupshared course, whose exchange folders nbgrader makes writable by their group (course "
        "and outbound 2775, feedback 2771): anyone in that group may put a link there that root would follow; in a "
        "groupshared course, release as the grader account that owns the course, never as root"
    )


def root_acl(root: str | os.PathLike) -> tuple[str, str]:
    """Why the exchange's root (its path checked: `root.root_path_problem`) may not be trusted for its POSIX ACL, and
    the mend; ("", "") if it may: a default ACL, which what is made in it next inherits (the course's folder release
    makes, and from that its outbound and feedback: writable by the users it names while nbgrader copies, R20f2 W1).
    Not its access ACL: the root is everyone's to write in (1777) anyway."""
    try:
        acl = posix_acl(os.path.realpath(root))  # its links are root's or this user's (`root_path_problem`)
    except FileNotFoundError:  # not made yet: release makes it, and checks it then
        return "", ""
    except OSError as error:
        return f"the exchange's root {root}: its POSIX ACL cannot be read ({error.strerror})", "look at it as root"
    if not acl.startswith("a default"):
        return "", ""
    return (
        f"the exchange's root {root} carries {acl}: what is made in it next (a course's folder, then its outbound and "
        "feedback folders) would be writable by the users it names while nbgrader copies",
        f"`setfacl -k {root}`",
    )


def root_acl_problem(root: str | os.PathLike) -> str:
    """`root_acl` as one line, as release, release_feedback and Unrelease refuse the root; "" if it may be trusted."""
    problem, mend = root_acl(root)
    return f"{problem} ({mend}; see the README's instructor set-up)" if problem else ""


def ensure_exchange_folder(root: Path, parts: tuple[str, ...], mode: int) -> bool:
    """The folder `root/parts...`, each name below `root` checked (`check_exchange_folder`, action "release") and
    opened without following a link, made where missing (the last with `mode`, set as nbgrader sets it, the others
    0755); ExchangeUnusable otherwise, a folder made here and then refused removed again, and an outbound/ or
    feedback/ holding another account's entries (`check_released_entries`). True if the last folder was made here."""
    if not parts or any(part in ("", ".", "..") or "/" in part for part in parts):
        raise ExchangeUnusable(f"{root.joinpath(*parts)} is not a folder below the exchange's root {root}")
    path, made, fd = root, False, -1
    try:
        fd = os.open(root, (OPEN_FLAGS & ~os.O_NOFOLLOW) | os.O_DIRECTORY)  # one it may not list: said (r20f N3)
        for index, part in enumerate(parts):
            path, last = path / part, index == len(parts) - 1
            try:
                os.mkdir(part, 0o700, dir_fd=fd)  # nobody else's until its mode is set below
                made = True
            except FileExistsError:
                made = False
            seen = os.stat(part, dir_fd=fd, follow_symlinks=False)
            try:
                check_exchange_folder(seen, path, "release")
                remade_by = {"outbound": "release", "feedback": "release_feedback"}.get(part, "") if index == 1 else ""
                if parts[: index + 1] != (parts[0], "inbound") and (
                    problem := shared_write_problem(seen, path, remade_by)
                ):
                    raise ExchangeUnusable(problem)  # inbound: 2733/3733, every student's by design
            except ExchangeUnusable:
                if made:  # not left behind at 0700, where no later release would set its mode (R20g2 W2)
                    with contextlib.suppress(OSError):
                        os.rmdir(part, dir_fd=fd)
                raise
            parent, fd = fd, -1
            fd = open_checked(parent, part, seen, path)
            if made:
                os.fchmod(fd, mode if last else MADE_ON_THE_WAY)
            elif index == 1 and part in RELEASED:  # what others put there while they could write in it (r20h W1)
                check_released_entries(fd, path)
        return made
    except OSError as error:
        raise ExchangeUnusable(f"cannot make or open {path}: {error.strerror}") from None
    finally:
        if fd >= 0:
            os.close(fd)


FULL = {
    errno.ENOSPC: "is full",
    errno.EDQUOT: "is full for you (your quota)",
    errno.EFBIG: "takes no file that big (or `ulimit -f` is lower)",
}
FULL[errno.EROFS] = "is read-only"


def copy_failure(error: OSError, places: dict, more: int = 0) -> str:
    """The one line for a release's copy stopped by `error`, worded from what failed: the --force removal of the old
    copy (`places["removing"]`: rmtree names entries relative to the folder it empties, never guessed to be the
    course's), a full or read-only file system (the write's destination, though Python names the source first), a
    write in the exchange (`places["root"]`), a read of the course's own files (`places["course"]`), or else the
    path and error as they are. Every path is repr()'d (a student names files in a folder she planted: no control
    character reaches the log) and every command's path shell-quoted. `more`: how many other files failed too."""
    end = f"{f' ({more} other files failed too)' if more else ''}. The release stopped there."
    said = places.get("said", "lrcourse release")  # release_feedback's own (r20i N6)
    if not error.errno and places["removing"]:  # rmtree's "Cannot call rmtree on a symbolic link"
        return f"{said}: cannot remove the old copy {places['removing']!r} (--force): {str(error)!r}{end}"
    if not error.errno:  # copytree's text, matching no form of Python's: said whole, escaped, blaming no side
        source, destination = (os.fsdecode(name or "") for name in (error.filename, error.filename2))
        return f"{said}: copying {source!r} to {destination!r} failed: {str(error.strerror or error)!r}{end}"
    reason = f"{error.strerror} ({errno.errorcode[error.errno]})" if error.errno in errno.errorcode else error.strerror
    path = error.filename2 if error.errno in FULL and error.filename2 else error.filename
    name = os.fsdecode(path) if path is not None else ""
    name = (
        os.path.normpath(name) if os.path.isabs(name) else name
    )  # nbgrader's release/./<chapter>; never made absolute
    if places["removing"]:
        old = places["removing"]
        if os.geteuid() != 0 and roots(old):  # r20i N4: a chapter root released; only root removes it
            return (
                f"{said}: cannot remove the old copy {old!r} (--force): {reason}, at {name!r} in it: it is root's (a "
                f"release run as root), which only root can move: `{aside([Path(old)], Path(places['root']))}` as root (moved aside, not "
                f"removed: look inside before deleting it), then release it again{end}"
            )
        return (
            f"{said}: cannot remove the old copy {old!r} (--force): {reason}, at {name!r} in it (a folder "
            f"there you may not write in, or another account's: `ls -laR {shlex.quote(old)}` shows them; `lrcourse "
            f"doctor` names what in outbound/ is neither yours nor root's){end}"
        )
    within = next((key for key in ("root", "course") if os.path.isabs(name) and is_below(name, places[key])), "")
    if error.errno in FULL and within == "root":  # the exchange first: it may be in the course's folder
        root = places["root"]
        return (
            f"{said}: cannot write {name!r}, in the exchange: {reason}: its file system {FULL[error.errno]} "
            f"(`df -h {shlex.quote(root)}`; the README's set-up gives each student a quota there){end}"
        )
    if within == "root":
        return (
            f"{said}: cannot write {name!r}, in the exchange: {reason} (a folder there not yours: `lrcourse "
            f"doctor` names it, with the mend){end}"
        )
    if within == "course":
        return (
            f"{said}: cannot read {name!r}, in the course's own files (not the exchange): {reason}. Make it "
            f"readable to you (`ls -ld {shlex.quote(name)}` shows its owner and mode; the README's set-up makes the "
            f"course yours: `chown -R <you> <course>` as root){end}"
        )
    other = f" (copying to {os.fsdecode(error.filename2)!r})" if error.filename2 and path != error.filename2 else ""
    return f"{said}: the copy failed{f' at {name!r}' if name else ''}{other}: {reason}{end}"


def roots(path: str) -> bool:
    """Whether the folder `path` is root's (not followed if a link)."""
    try:
        return os.lstat(path).st_uid == 0
    except OSError:
        return False


def is_below(path: str, folder: str) -> bool:
    """Whether the absolute `path` is `folder` or below it, by their names."""
    path, folder = os.path.normpath(path), os.path.normpath(folder)
    return os.path.commonpath([path, folder]) == folder


class CheckedFolders:
    """`ensure_directory` of nbgrader's Exchange, for a path below the exchange's root: `ensure_exchange_folder`;
    `ensure_root`: the root's path checked (`check_root_path`), nbgrader's, then the root checked as collect checks it
    (`root.check_exchange_root`: a root others may write in without the sticky bit lets a student rename the course's
    folder, checked or not, and put a link in its place), the sticky bit first added where this user owns a root
    nbgrader made or left 0777. `start`: as root, only in a course root's through and through (`roots_course.refusal`,
    as collect): a TA's link in a group-writable release/ had root's release publish a root-only folder to every student
    (R20c2 W1)."""

    lrcourse_prefix = "lrcourse release"  # the lines' prefix; release_feedback's its own (r20i N6)

    def start(self):
        if why := groupshared_refusal(self.coursedir.groupshared):  # before anything is made (R20d2 W1)
            self.fail(f"{self.lrcourse_prefix}: {why}. Nothing was released.")
        if why := refusal(self.coursedir.root, "release", Path(self.root)):
            self.fail(why)
        if self.coursedir.groupshared:  # nbgrader's start calls ensure_root only when not groupshared (R20c2 W2)
            self.check_root_path()
            self.check_root()
        return super().start()

    def ensure_root(self):
        self.check_root_path()  # before nbgrader's, whose exists() and chmod follow a student's link (R20c2 W3)
        super().ensure_root()
        self.check_root()

    def check_root_path(self):
        """The exchange's root reached only through folders and links of this user's or root's, and itself, if
        made, a folder of theirs (`root.root_path_problem`): else a student's link there, or one she makes at a root
        not made yet, would have nbgrader's release chmod and write into whatever folder it names."""
        if problem := root_path_problem(self.root):
            self.fail(f"{self.lrcourse_prefix}: {problem}. Nothing was released.")

    def check_root(self):
        """The root checked as collect checks it (`check_exchange_root`), made sticky first if this user's, and
        without a default POSIX ACL (`root_acl`)."""
        if problem := root_acl_problem(self.root):  # before anything is made in it (the course's folder)
            self.fail(f"{self.lrcourse_prefix}: {problem}. Nothing was released.")
        try:
            seen = os.stat(self.root)  # reached as `check_root_path` checked it
            if replaceable(seen) and seen.st_uid == os.geteuid():
                os.chmod(self.root, stat.S_IMODE(seen.st_mode) | stat.S_ISVTX)
                self.log.warning("Made the exchange's root %s sticky (mode 1777, the README's set-up)", self.root)
            if self.coursedir.course_id:  # else nbgrader's init_dest stops: "No course id specified"
                check_exchange_root(Exchange(Path(self.root), self.coursedir.course_id))
        except (OSError, ExchangeUnusable) as error:
            self.fail(f"{self.lrcourse_prefix}: {error}. Nothing was released.")

    def copy_files(self):
        """nbgrader's copy, what failed said in one line from the error itself (`copy_failure`: r20f N3, a course
        folder or outbound/ of root's gave a traceback; r20g W3 and N5, an unreadable release folder or file; r20h W3,
        a --force removal or a full file system blamed on the course's files): the chapter's partial copy removed."""
        dest = getattr(self, "dest_path", "")
        removing = isinstance(self, ExchangeReleaseAssignment) and self.force and os.path.isdir(dest)
        self.copy_stage = "remove" if removing else "copy"  # nbgrader's --force rmtree comes first
        try:
            super().copy_files()
        except shutil.Error as error:  # copytree's errors, (source, destination, str(why)) each
            self.remove_partial()
            self.fail(copy_failure(self.copy_error(*error.args[0][0]), self.places(), len(error.args[0]) - 1))
        except OSError as error:
            self.remove_partial()
            self.fail(copy_failure(error, self.places()))

    def do_copy(self, src, dest, log=None):
        self.copy_stage = "copy"
        return super().do_copy(src, dest, log)

    def places(self) -> dict:
        """What `copy_failure` tells paths by: the exchange's root, the course, the old copy --force was removing."""
        course = getattr(self.coursedir, "root", "") or os.getcwd()
        removing = getattr(self, "dest_path", "") if getattr(self, "copy_stage", "") == "remove" else ""
        return {
            "root": os.path.abspath(self.root),
            "course": os.path.abspath(course),
            "removing": removing,
            "said": self.lrcourse_prefix,
        }

    @staticmethod
    def copy_error(source: str, destination: str, why: str) -> OSError:
        """copytree's (source, destination, str(error)) as the OSError it was, its file names told apart by
        comparing the whole text with each form Python writes (never by splitting it: a name may hold "] " or ": '");
        an errno of 0 and the text whole where none matches."""
        try:
            number = int(why.split("]", 1)[0].removeprefix("[Errno "))
        except ValueError:
            return OSError(0, why, source, None, destination)
        said = f"[Errno {number}] {os.strerror(number)}: "
        for first, second in ((source, None), (destination, None), (source, destination)):
            if why == said + repr(first) + ("" if second is None else f" -> {second!r}"):
                return OSError(number, os.strerror(number), first, None, second)
        if number in FULL:  # a write's, unnamed (copyfileobj's): the destination's file system
            return OSError(number, os.strerror(number), destination, None, destination)
        return OSError(0, why, source, None, destination)

    def remove_partial(self):
        """The chapter's folder in outbound/ a release stopped while copying into (r20g N5: left empty, students saw
        the chapter and the next release said "Destination already exists"): nbgrader's copy made it (one there
        before stops it first, or --force removed it), in outbound/, which release checked to be this user's."""
        dest = getattr(self, "dest_path", "")
        if isinstance(self, ExchangeReleaseAssignment) and os.path.isdir(dest) and not os.path.islink(dest):
            shutil.rmtree(dest, ignore_errors=True)

    def ensure_directory(self, path, mode):
        root = Path(self.root)
        try:
            parts = Path(path).relative_to(root).parts
        except ValueError:
            self.fail(f"{self.lrcourse_prefix}: {path} is not below the exchange's root {root}")
        try:
            if ensure_exchange_folder(root, parts, mode):
                self.log.info("Made %s", path)
        except ExchangeUnusable as error:
            self.fail(f"{self.lrcourse_prefix}: {error}. Nothing was released.")


class TrustedReleaseAssignment(CheckedFolders, ExchangeReleaseAssignment):
    """nbgrader's release_assignment, its course, outbound and inbound folders made or checked as `CheckedFolders`."""


class TrustedReleaseFeedback(CheckedFolders, ExchangeReleaseFeedback):
    """nbgrader's release_feedback, its course and feedback folders made or checked as `CheckedFolders`; a student
    whose feedback folder lacks `timestamp.txt` or `submission_secret.txt` is skipped with a warning (nbgrader's
    copy_files stopped there for the rest of the class: R20c2 N3, a hand copy in submitted/ without a timestamp)."""

    lrcourse_prefix = "lrcourse release_feedback"

    def copy_files(self):
        excluded = self.coursedir.student_id_exclude
        skipped = []
        for page in sorted(glob.glob(os.path.join(self.src_path, "*.html"))):
            folder = Path(page).parent
            missing = [name for name in NEEDED if not (folder / name).is_file()]
            if missing and folder.parent.name not in skipped:
                skipped.append(folder.parent.name)
                self.log.warning(
                    "Skipping student '%s': no %s in %s, so nbgrader's release of it would stop for the class (write "
                    "the time the submission was received into its timestamp.txt, grade again, release again)",
                    folder.parent.name,
                    " or ".join(missing),
                    folder,
                )
        self.coursedir.student_id_exclude = ",".join(filter(None, [excluded, *skipped]))
        try:
            super().copy_files()
        finally:
            self.coursedir.student_id_exclude = excluded
