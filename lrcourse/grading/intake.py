"""Which submissions `lrcourse grade` takes in, trusting nothing in `submitted/` (files get there by
`nbgrader collect`, by hand, or by any tool the instructor uses, so every run checks again):

- a student id is a folder name, and nbgrader reads it as a file glob: only ids of STUDENT_ID (no glob
  character, no space, no separator, none of a spreadsheet's formula characters first) are graded, so one id
  names exactly one folder; any other folder is reported as failed with the reason and never reaches nbgrader;
- a submission is plain folders and plain files: a symbolic link (which the grader would follow into its own
  files), a hard link (which shares a file of someone else's), a FIFO (which hangs the reader), a socket or a
  device anywhere in it fails that student, naming the path; so does a `timestamp.txt` that is not a plain
  file (nbgrader opens it itself), and more than MAX_ENTRIES entries or MAX_SUBMISSION_MB. They are not left
  out and graded around: nbgrader's ignore list is a glob over the unescaped folder path, so a name such as
  `sub[a]/leak` would escape it and nbgrader would copy the link's target. (`lrcourse collect` never copies
  such entries, so what it puts in `submitted/` passes; this check is for whatever else put files there.)
- a submission holds no code that the instructor's tools would run (`_runnable`): grading copies only the notebook
  into autograded/ and feedback/ (`graded_files`), but it stays in submitted/, and nbgrader, jupyter or python
  started in such a folder runs `nbgrader_config.py`
  or a `jupyter_*config*` file from there and imports modules from it first (nbgrader's baseapp puts the folder
  first on sys.path). A Python module or compiled extension (`*.py`, `*.pyc`, `*.so`, ...), a jupyter/nbgrader/
  ipython config file or folder, or an IPython `profile_*` folder anywhere in it fails that student, naming it
  (an LMS upload or zip_collect may carry them; the course's chapters are notebooks only).
- every notebook is read within `notebook_limits` and must be valid JSON and nbformat 4;
- a student whose folder a killed collect left as `.<assignment>.replaced` only is named, not graded, the remedy in
  her reason (`awaiting_collect`);
- a student already graded whose submission has not changed is skipped (the mark is written only once the
  verdicts and feedback both succeeded, so an interrupted run loses nothing already written); where a changed due
  date or extension gives another late penalty (`penalty_stale`), her row says so: `--force` grades again.

A refused student is recorded as failed with the reason; every other student is still graded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path

from lrcourse.gradebook_db import gradebook
from lrcourse.grading.course import course_config, default_db_url
from lrcourse.grading.late_rule import late_plugin, penalty_due
from lrcourse.grading.outcomes import Outcome, capped
from lrcourse.notebook_limits import NotebookRefused, PastLimit, parse_notebook, read_notebook

MARK = ".lrcourse-graded.json"
# The characters of an id: none that a file glob, a path, a shell, a CSV or a page's script string reads as more
# than a letter (no quote, bracket, slash, backslash, space, comma, `*`, `?`, `<`). formgrader's addresses hold
# ids of these only (content_policy.ID).
ID_CHARACTERS = "A-Za-z0-9_.@-"
# A student id: none of a spreadsheet's formula characters or an option's dash first, nor a hidden file's dot.
STUDENT_ID = re.compile(rf"[A-Za-z0-9_][{ID_CHARACTERS}]{{0,63}}")
STUDENT_ID_RULE = "1 to 64 of A-Z a-z 0-9 _ . @ -, not starting with . @ or -"
MAX_ENTRIES = 1000  # files and folders in one submission
MAX_SUBMISSION_MB = 100  # all its files together
# nbgrader's own small files, written by its submit and carried by collect and grading, which it reads whole: a
# timestamp parsed with dateutil (1 MB of it took 26 s and overflowed) and the secret; nbgrader writes 30 bytes (a
# time as "%Y-%m-%d %H:%M:%S.%f %Z") and 128 (token_hex(64))
NBGRADER_FILES = ("timestamp.txt", "submission_secret.txt")
MAX_NBGRADER_FILE_BYTES = 256
CODE_SUFFIXES = (".py", ".pyc", ".pyo", ".pyw", ".pyd", ".so")  # what Python imports from a folder on its path
REASON_LIMIT = 300  # characters of an error's text in a reason (a failed student's reason is short)
PENALTY_CHANGED = "due date or extension changed since last graded: late penalty recomputed"
STALE_PENALTY = (  # with the submission unchanged, the instructor decides: a regrade re-runs autograde
    "the due date or her extension changed since she was graded: her late penalty (grades.csv, feedback) is the old "
    "one until `--force` grades the whole chapter again (every student's: autograde then marks their hand-graded "
    "answers for review again)"
)
TOOL_CONFIG = re.compile(r"(jupyter|nbgrader|ipython).*config.*", re.IGNORECASE)  # files and *.d folders they load


def submissions(course: Path, assignment: str) -> list[str]:
    """Every folder name in submitted/ with an entry for `assignment` (a link or a file too: refused later)."""
    folder = course / "submitted"
    if not folder.is_dir():
        return []
    return sorted(name for name in os.listdir(folder) if os.path.lexists(folder / name / assignment))


def awaiting_collect(course: Path, assignment: str) -> list[str]:
    """The students whose only folder of `assignment` in submitted/ is `.<assignment>.replaced`: a collect killed
    between its two renames (`exchange/crash_leftovers`), which the next collect puts back. Not graded: that copy is
    the one the collect was replacing, perhaps not her newest."""
    folder = course / "submitted"
    if not folder.is_dir():
        return []
    stale = f".{assignment}.replaced"
    return sorted(
        name
        for name in os.listdir(folder)
        if os.path.lexists(folder / name / stale) and not os.path.lexists(folder / name / assignment)
    )


def awaiting_collect_reason(assignment: str, student: str) -> str:
    """Her failed row's reason, naming her copy by her id (`<id>` for a folder name that is not a valid id: the row
    itself names her, escaped)."""
    shown = student if valid_student_id(student) else "<id>"
    return (
        f"not graded: a collect was killed while replacing this submission, leaving only its old copy "
        f"submitted/{shown}/.{assignment}.replaced: run `lrcourse collect {assignment}` again (it puts the copy back "
        "and collects the newest submission), then grade again; the earlier grades and feedback are kept until then"
    )


def valid_student_id(student: str) -> bool:
    return STUDENT_ID.fullmatch(student) is not None


def refused(course: Path, student: str, assignment: str) -> str | None:
    """Why `student`'s submission of `assignment` is not graded, or None when it can be."""
    if not valid_student_id(student):
        return f"the student id (the folder's name) is not {STUDENT_ID_RULE}: rename the folder"
    folder = course / "submitted" / student / assignment
    return unsafe_files(folder) or unreadable_timestamp(folder) or malformed(folder)


def unreadable_timestamp(folder: Path) -> str | None:
    """Why nbgrader cannot read the submission's timestamp.txt (unsafe_files checked it is a small plain file), or
    None. Read as nbgrader's autograde reads it (its own parse_utc, imported here only: it costs seconds): a
    short string of digits raised OverflowError there, which failed the student with nbgrader's vague error (F15)."""
    path = folder / "timestamp.txt"
    if not os.path.lexists(path):
        return None
    try:
        text = path.read_bytes().decode().strip()
        if text:
            from nbgrader.utils import parse_utc

            parse_utc(text)
    except Exception as error:  # ValueError, OverflowError, UnicodeDecodeError: whatever nbgrader would raise
        return (
            f"timestamp.txt is not a time ({type(error).__name__}): nbgrader writes one as "
            "'2026-01-31 23:59:00.000000 UTC' (copied in by hand: write the time you received it)"
        )
    return None


def unsafe_files(folder: Path) -> str | None:
    """Why the submission in `folder` cannot be graded for its files, or None.
    Walked with lstat: no link is followed and no file is opened."""
    try:
        for path in (folder.parent, folder):
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                return f"{path.name} is not a plain folder (a link or a file): submit a folder of plain files"
        timestamp = folder / "timestamp.txt"  # nbgrader opens it itself: a FIFO would hang, a link would lead out
        if os.path.lexists(timestamp) and not stat.S_ISREG(os.lstat(timestamp).st_mode):
            return "timestamp.txt is not a plain file: submit plain files only"
        return _oversized_nbgrader_file(folder) or _walk(folder)
    except OSError as error:
        return f"the submission cannot be read: {error.strerror or error}"


def _oversized_nbgrader_file(folder: Path) -> str | None:
    """Why one of nbgrader's small files (`NBGRADER_FILES`) is too large to give nbgrader, which reads it whole."""
    for name in NBGRADER_FILES:
        path = folder / name
        size = os.lstat(path).st_size if os.path.lexists(path) else 0
        if size > MAX_NBGRADER_FILE_BYTES:
            return f"{name} is larger than {MAX_NBGRADER_FILE_BYTES} bytes ({size} bytes; nbgrader writes 30 or 128)"
    return None


def _walk(folder: Path) -> str | None:
    entries, size, pending = 0, 0, [folder]
    while pending:
        with os.scandir(pending.pop()) as listing:
            for entry in listing:
                entries += 1
                if entries > MAX_ENTRIES:
                    return f"the submission holds more than {MAX_ENTRIES} files and folders"
                info = entry.stat(follow_symlinks=False)
                why = _runnable(os.path.relpath(entry.path, folder), stat.S_ISDIR(info.st_mode))
                if why:
                    return why + ": remove it: the course's chapters are notebooks"
                if stat.S_ISDIR(info.st_mode):
                    pending.append(Path(entry.path))
                    continue
                why = _not_plain(os.path.relpath(entry.path, folder), info)
                if why:
                    return why + ": submit plain files only"
                size += info.st_size
                if size > MAX_SUBMISSION_MB << 20:
                    return f"the submission is larger than {MAX_SUBMISSION_MB} MiB"
    return None


def _runnable(where: str, is_folder: bool) -> str | None:
    """Why the entry at `where` is code an instructor's tool would run from the folder, or None."""
    name = os.path.basename(where)
    if TOOL_CONFIG.fullmatch(name):
        return f"{where} is a jupyter, nbgrader or IPython configuration, run by those tools started in the folder"
    if is_folder and name.startswith("profile_"):
        return f"{where} is an IPython profile folder, whose startup files IPython runs"
    if not is_folder and name.lower().endswith(CODE_SUFFIXES):
        return f"{where} is Python code, which python imports from the folder"
    return None


def _not_plain(where: str, info: os.stat_result) -> str | None:
    if not stat.S_ISREG(info.st_mode):
        return f"{where} is {_kind(info.st_mode)}"
    if info.st_nlink > 1:  # the same file as another name, maybe another user's
        return f"{where} is a hard link (one of {info.st_nlink} names of one file)"
    return None


def _kind(mode: int) -> str:
    kinds = {
        stat.S_ISLNK: "a symbolic link",
        stat.S_ISFIFO: "a FIFO (named pipe)",
        stat.S_ISSOCK: "a socket",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
    }
    return next((kind for test, kind in kinds.items() if test(mode)), "a special file")


def fingerprint(folder: Path) -> str:
    """A hash of every file a student submitted for the assignment."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if _not_plain("", os.lstat(p)) is None):  # nothing refused is read
        digest.update(os.fsencode(path.relative_to(folder)))  # any bytes a file name holds
        digest.update(path.read_bytes())
    return digest.hexdigest()


def malformed(folder: Path) -> str | None:
    """Why the submitted notebooks cannot be graded, or None when they can be read."""
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        return "no notebook (.ipynb) in the submission"
    for path in notebooks:
        if not path.is_file():  # a folder named like a notebook (links were refused before)
            return f"{path.name} is not a file"
        try:
            raw = read_notebook(path)
        except NotebookRefused as error:
            return str(error)
        why = not_nbformat_4(path.name, raw)
        if why:
            return why
    return None


def notebook_problem(name: str, data: bytes) -> tuple[str, bool] | None:
    """Why the bytes `data` of the notebook file `name` cannot be graded, as `malformed` reads a submitted file
    (`lrcourse collect` asks before it takes a submission), and whether it is only past a size limit
    (`notebook_limits.PastLimit`); or None."""
    try:
        raw = parse_notebook(name, data)
    except NotebookRefused as error:
        return str(error), isinstance(error, PastLimit)
    problem = not_nbformat_4(name, raw)
    return (problem, False) if problem else None


def not_nbformat_4(name: str, raw) -> str | None:
    """Why the JSON `raw` of the notebook file `name` is not a valid nbformat 4 notebook this grader reads, or None."""
    import nbformat

    if not isinstance(raw, dict) or raw.get("nbformat") != 4:
        version = raw.get("nbformat") if isinstance(raw, dict) else None
        return f"{name} is not an nbformat 4 notebook (nbformat={version!r})"
    minor = raw.get("nbformat_minor")
    if isinstance(minor, int) and minor > nbformat.v4.nbformat_minor:
        # nbformat relaxes its schema for a newer minor version (any cell type, any key), which the templates
        # then write into the instructor's pages: only what this grader knows is read
        return f"{name} claims nbformat 4.{minor!r}; this grader reads 4.0 to 4.{nbformat.v4.nbformat_minor}"
    from nbformat.validator import get_validator

    try:  # r20ao 1: on an error nbformat searches it again with jsonschema, ~1 ms an output (84 s for one notebook)
        fast = get_validator(4, minor if isinstance(minor, int) else None, name="fastjsonschema")
        if refusal := next(iter(fast.iter_errors(raw)), None):  # its compiled check's message: where, and what rule
            said = refusal.message[:REASON_LIMIT]  # a rule's words, no instance (a key she named, at most)
            return f"{name} is not a valid notebook: {said if said.isprintable() else ascii(said)}"
        nbformat.validate(nbformat.reads(json.dumps(raw), as_version=4))  # its other checks (cell ids...)
    except Exception as error:  # nbformat's ValidationError, or a structure it cannot read
        return f"{name} is not a valid notebook: {first_line(error)}"
    return None


def first_line(error: BaseException) -> str:
    """What an error says, in at most REASON_LIMIT characters. A schema error names where and which rule
    failed, never the instance: its message repeats the student's cell whole (900 kB in one reason stopped
    the class report's CSV reader). Any other error: its message's first line, its type's name if empty."""
    where = getattr(error, "absolute_path", None)
    if where is not None and getattr(error, "validator", None):  # jsonschema's ValidationError (nbformat's)
        path = "/".join(capped(str(part), 40) for part in where) or "the top level"
        return capped(f"at {path}, nbformat's schema rule {error.validator!r} fails", REASON_LIMIT)
    lines = str(error).strip().splitlines()
    return capped(lines[0] if lines else type(error).__name__, REASON_LIMIT)


def is_done(course: Path, student: str, assignment: str, current: str) -> bool:
    mark = course / "autograded" / student / assignment / MARK
    try:
        return json.loads(mark.read_text())["fingerprint"] == current
    except (OSError, ValueError, KeyError):
        return False


def mark_done(course: Path, student: str, assignment: str, current: str, score, max_score, late=None) -> None:
    """Her mark, with how late she was graded (seconds; `penalty_stale` reads it)."""
    mark = course / "autograded" / student / assignment / MARK
    mark.parent.mkdir(parents=True, exist_ok=True)
    mark.write_text(json.dumps({"fingerprint": current, "score": score, "max_score": max_score, "late": late}))


def graded_late(course: Path, student: str, assignment: str) -> float | None:
    """How late (seconds) her mark says she was graded; None when it does not say (an older mark)."""
    try:
        late = json.loads((course / "autograded" / student / assignment / MARK).read_text()).get("late")
    except (OSError, ValueError, AttributeError):
        return None
    return float(late) if isinstance(late, (int, float)) and not isinstance(late, bool) else None


def unmark(course: Path, student: str, assignment: str) -> None:
    """The student's done-mark removed (her grading failed: the next run without `force` grades her again, R20o M3);
    only in a plain folder, never through a link."""
    folder = course / "autograded" / student / assignment
    try:
        if stat.S_ISDIR(os.lstat(folder).st_mode):
            (folder / MARK).unlink(missing_ok=True)
    except OSError:  # none there, or it cannot be: is_done then reads what is left
        return


def take_in(
    course: Path, assignment: str, force: bool, db_url: str | None = None
) -> tuple[list[Outcome], list[tuple[str, str]]]:
    """The submissions' intake (`intake`): the outcomes of those refused or unchanged, and the (student,
    fingerprint) of those to grade; `db_url`: the run's gradebook (without it, `stale_penalties`' default)."""
    outcomes, todo, unchanged = [], [], []
    for student in awaiting_collect(course, assignment):  # named, so the instructor mends it, not skipped silently
        outcomes.append(Outcome(student, "failed", awaiting_collect_reason(assignment, student), earlier_kept=True))
    for student in submissions(course, assignment):
        folder = course / "submitted" / student / assignment
        try:  # before nbgrader ever sees the id or a file; whatever a submission holds fails that student only
            reason = refused(course, student, assignment)
            current = None if reason else fingerprint(folder)
        except Exception as error:
            reason = f"the submission could not be read: {type(error).__name__}: {first_line(error)}"
        if reason:
            outcomes.append(Outcome(student, "failed", reason))
            continue
        done = not force and is_done(course, student, assignment, current)
        (unchanged if done else todo).append((student, current))
    stale = stale_penalties(course, assignment, [student for student, _ in unchanged], db_url)
    for student, _ in unchanged:  # r20ao 3: graded again, hand-graded answers were marked for review again: said
        said = "already graded, submission unchanged" + (f"; {STALE_PENALTY}" if student in stale else "")
        outcomes.append(Outcome(student, "skipped", said))
    return outcomes, todo


def stale_penalties(course: Path, assignment: str, students: list[str], db_url: str | None) -> set[str]:
    """Those of `students` (graded, submission unchanged) whose late penalty is stale (`penalty_stale`), in the run's
    gradebook `db_url` (None: the course's own gradebook.db); none when that file is missing (none is made here)."""
    db_url = db_url or default_db_url(course)
    if not students or (db_url == default_db_url(course) and not (course / "gradebook.db").is_file()):
        return set()
    plugin = late_plugin(course_config(course, db_url))
    with gradebook(db_url) as book:
        return {student for student in students if penalty_stale(book, plugin, course, assignment, student)}


def penalty_changed_note(course: Path, db_url: str, config, assignment: str, student: str, current: str) -> str:
    """`PENALTY_CHANGED` for a student graded again, unchanged (`is_done`), for a stale penalty; else ""."""
    if not is_done(course, student, assignment, current):
        return ""
    with gradebook(db_url) as book:
        return PENALTY_CHANGED if penalty_stale(book, late_plugin(config), course, assignment, student) else ""


def penalty_stale(book, plugin, course: Path, assignment: str, student: str) -> bool:
    """Whether the due date or her extension changed since she was graded (`graded_late`; an older mark does not say)
    and gives a notebook another penalty from her stored (trusted) score; a hand grade since keeps its penalty, as in
    nbgrader. Neither changes what she submitted. The gradebook and mark are the instructor's, not the student's."""
    from nbgrader.api import MissingEntry

    try:
        submission = book.find_submission(assignment, student)
    except MissingEntry:  # never graded into this gradebook: nothing to correct
        return False
    seconds_late, was = submission.total_seconds_late, graded_late(course, student, assignment)
    if was is None or abs(was - seconds_late) < 1e-6:  # r20ao 4: an older mark does not say; a hand grade is no change
        return False
    due = [penalty_due(plugin, student, notebook.score, seconds_late) or 0.0 for notebook in submission.notebooks]
    held = [notebook.late_submission_penalty or 0.0 for notebook in submission.notebooks]
    return any(abs(now - then) > 1e-9 for now, then in zip(due, held))
