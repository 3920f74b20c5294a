"""What of a student's submission `lrcourse grade` carries into her graded and feedback folders: the chapter's
notebook and nbgrader's own two files, nothing else (issue 20, F10).

nbgrader's autograde copies every file of `submitted/<id>/<chapter>/` that `CourseDirectory.ignore` does not name
into `autograded/<id>/<chapter>/`, where the student's kernel runs (it sees them in its `/notebook`) and whose
files formgrader serves to the instructor; generate_feedback copies that folder's into `feedback/<id>/<chapter>/`.
A student's `evil.html` there runs its script if the instructor opens it from disk, and a large file costs every
copy. The grading worker's configuration makes that ignore list name every file (`["*", ".*"]`: nbgrader matches
the submission's folder itself, so nothing below it is copied; the notebooks are converted, not copied), and the
worker copies nbgrader's `timestamp.txt` and `submission_secret.txt` itself, after the kernel ran (its
release_feedback reads both from the feedback folder). The course's own source side is unchanged: the release
refuses a stray file in `source/<chapter>/` (`source_files`), which now no grading copies either.

Nothing is refused for this: a student who saved a CSV beside her notebook is graded, with one note naming
what was left out (`left_out_note`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from pathlib import Path

from lrcourse.grading import outcomes
from lrcourse.grading.exchange.other_account import course_owner, give_to_course_owner, giving, open_below
from lrcourse.grading.exchange.submission_secrets import (
    NO_SECRET,
    SECRET,
    grade_secret_note,
    read_secret,
    usable_secret,
)
from lrcourse.grading.intake import NBGRADER_FILES
from lrcourse.grading.outcomes import capped

EVERY_FILE = ["*", ".*"]  # nbgrader's ignore globs: every name, hidden ones too (glob's `*` skips a leading dot)
NAMED = 5  # left-out files named in a note; the rest are counted
NOTE_LIMIT = 300  # characters of that note


def carry_only_notebooks(config) -> None:
    """Make nbgrader's autograde and generate_feedback, configured by `config`, copy no file beside a notebook."""
    config.CourseDirectory.ignore = list(EVERY_FILE)


def carry_nbgrader_files(source: Path, destination: Path, submitted: bool = False) -> str:
    """Copy nbgrader's own files from `source` into `destination` (if that folder exists): only plain files with
    one name (intake refused any other kind), never through a link. The secret is carried only as `nbgrader submit`
    writes it: a hand-copied submission has none, or any short file, and release_feedback raised FileNotFoundError
    or UnicodeDecodeError on it and stopped for every student after (F15); a fresh one is written instead, as
    `lrcourse collect` does. When `source` is the student's folder in `submitted/` (`submitted`), a secret that is
    not hers by `submission_secrets`' rule (the ledger records a classmate or no one as its owner, or no collect
    recorded it: two feedback files would share one name in the exchange, F16, F17, F20) is not carried either: a
    fresh one, as collect writes. The secret is written 0600 and `destination` closed (`close_to_owner`). Returns
    the note for the student's reasons when a fresh one was written (`NO_SECRET`, `SHARED_SECRET`, `CONTESTED`,
    `UNRECORDED`), else ""."""
    if not destination.is_dir() or destination.is_symlink():
        return ""
    for name in NBGRADER_FILES:
        if name == SECRET:
            continue
        try:
            info = os.lstat(source / name)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
            target = destination / name
            if os.path.lexists(target):
                target.unlink()
            shutil.copyfile(source / name, target, follow_symlinks=False)
    secret = read_secret(source / SECRET)  # a plain file's first bytes only, never through a link
    note = "" if secret is not None and usable_secret({SECRET: secret}) else NO_SECRET
    if not note and submitted:
        note = grade_secret_note(source.parent.parent.parent, source.name, secret, source.parent.name)
    write_new(destination / SECRET, secrets.token_hex(64).encode() if note else secret)
    close_to_owner(destination)
    return note


def close_student_folders(course: Path, student: str) -> str:
    """Her `autograded/<id>` and `feedback/<id>` made (where missing) 0700 and, as root in a course another account
    owns, that owner's, before anything of hers is written below them: nbgrader writes her graded notebook and the
    fleet's `stage_files` her secret 0644 into 0755 folders, and a classmate in the course folder's group listed and
    read them before `close_to_owner` closed `<chapter>` (R20p W1). As root there, each folder from the course down
    is opened, made and changed by descriptor, never through a link (`open_below`, R20q W2): a link or a file on the
    way is left as it is, and her reasons name it. A chown refused (root squashed on a network share) does not fail
    her grading: the note returned for her reasons names the owner and the mend, since the owner's formgrader and
    release_feedback cannot read root's 0700 folders; else ""."""
    folders = [course / kind / student for kind in ("autograded", "feedback")]
    if not giving(course):  # this account's own course: its folders, links included, are its own to keep
        for folder in folders:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not folder.is_symlink() and folder.is_dir():
                folder.chmod(0o700)
        return ""
    for folder in folders:
        with open_below(course, folder.relative_to(course).parts, make=0o700, give=False) as (where, _):
            if where is not None:
                os.fchmod(where.fd, 0o700)  # closed first: a refused chown below leaves it closed all the same
    try:
        notes = [give_to_course_owner(folder, course) for folder in folders]
    except OSError as error:
        owner = course_owner(course)
        return (
            f"her graded and feedback folders could not be given to the course's owner {owner} ({error}): "
            f"{owner}'s formgrader and release_feedback cannot read them; as root, "
            f"`chown -R {owner} {folders[0]} {folders[1]}`"
        )
    return "; ".join(note for note in notes if note)


def close_to_owner(folder: Path) -> None:
    """A student's graded or feedback folder (`<course>/<kind>/<id>/<chapter>`, or the fleet's staged one beside it)
    made 0700, and as root, in a course another account owns, given to that owner (as root's collect gives
    `submitted/`): her secret and notebook are in it, and a classmate in the course folder's group read both after
    every grading (R20o M2). Its readers all run as the course's owner or root: formgrader, nbgrader's
    release_feedback, the fleet's enqueuer; the sandboxed kernel works on a copy. Never through a link (R20q W2):
    as root there, opened from the course down by descriptor, and a link on the way leaves it as it is (her
    `<kind>/<id>` folders' link is in her reasons: `close_student_folders`). A chown refused here (root squashed on
    a network share) was refused first for her `<kind>/<id>` folders, and that is in her reasons; her grading never
    fails for it."""
    course = folder.parents[2] if len(folder.parents) > 2 else None
    if course is None or not giving(course):
        folder.chmod(0o700)
        return
    try:
        with open_below(course, folder.relative_to(course).parts, give=False) as (where, _):
            if where is not None:
                os.fchmod(where.fd, 0o700)
        give_to_course_owner(folder, course)
    except OSError:
        pass  # noted once, by close_student_folders


def write_new(path: Path, data: bytes) -> None:
    """Replace whatever is at `path` (a link the kernel left is removed, never followed) by a file holding `data`."""
    if os.path.lexists(path):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def left_out(folder: Path, notebook: str) -> list[str]:
    """The files and links of the submission in `folder` that grading does not carry: all but the chapter's
    `notebook` and nbgrader's own files, relative to `folder` (a folder's content is listed, not the folder). Only
    a note: a folder that cannot be listed (gone meanwhile) lists nothing, and never fails the student."""
    kept = {notebook, *NBGRADER_FILES}
    found, pending = [], [folder]
    while pending:
        try:
            with os.scandir(pending.pop()) as listing:
                entries = list(listing)  # at most intake.MAX_ENTRIES in all: intake counted them
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
            elif (name := Path(entry.path).relative_to(folder).as_posix()) not in kept:
                found.append(name)
    return sorted(found)


def left_out_note(names: list[str]) -> str:
    """One short note for the student's reasons: which of her files were not graded, and that nothing failed."""
    if not names:
        return ""
    # each name as one quoted line (a newline or an escape in a file name would reach reports/<chapter>.csv raw: F14)
    shown = ", ".join(outcomes.shown(name, NOTE_LIMIT) for name in names[:NAMED])
    shown += f" and {len(names) - NAMED} more" if len(names) > NAMED else ""
    return capped(f"left out (only the chapter's notebook is graded, nothing else is copied): {shown}", NOTE_LIMIT)
