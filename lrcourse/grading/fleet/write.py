"""The enqueuing command's writing of the results workers return (`fleet_grade`): one `Writer` a run, and `write` for
each result, as local grading writes it (see `fleet_grade`'s text for what is written, in which order)."""

from __future__ import annotations

import os
import shutil
import stat
import warnings
from pathlib import Path

from lrcourse.gradebook_db import gradebook
from lrcourse.grading import intake
from lrcourse.grading.autograde import late
from lrcourse.grading.autograde.graded_files import carry_nbgrader_files, close_student_folders
from lrcourse.grading.course import course_config
from lrcourse.grading.exchange.submission_secrets import NO_SECRET
from lrcourse.grading.fleet import broker as fleet, parcel, result as fleet_result
from lrcourse.grading.fleet.result import Stored
from lrcourse.grading.outcomes import Outcome


class Writer:
    """What the enqueuing command keeps while it writes a run's results: the course's configuration, one gradebook
    held open, each assignment's exercise read once, and nbgrader's API to make a feedback page from this gradebook
    (made on the first late submission: on time, the worker's page is already this gradebook's). A gradebook opened
    per use cost 0.06-0.08 s each, three times a student, and load_exercise 0.15 s; a commit a cell, 0.24-0.48 s a
    result (measured on a busy 2-core machine; now one transaction a student, about 0.1 s: scripts/bench_writer.py):
    the run's one writer is serial, and at thousands of results that bounds the whole fleet."""

    def __init__(self, course: Path, db_url: str):
        self.course, self.db_url = course, db_url
        self.config = course_config(course, db_url)
        self.api = None
        self.book = None
        self.course_directory = None
        self.exercises = {}
        self.results, self.seconds = 0, 0.0  # written so far, and the time spent writing them

    def pace(self) -> str:
        """How fast this run's one writer went: at thousands of results, it bounds the whole fleet."""
        each = self.seconds / max(self.results, 1)
        return (
            f"lrcourse: {self.results} result(s) written in {self.seconds:.1f} s, {each:.2f} s each (this command "
            f"writes one at a time: at most {60 / max(each, 1e-3):.0f} results a minute, whatever the number "
            "of workers)"
        )

    def gradebook(self):
        """The run's gradebook, opened on first use. Every write ends with a commit or a rollback (`done`), so that
        SQLite holds no lock while nbgrader's feedback (`remake`) opens it on its own."""
        if self.book is None:
            self.book = gradebook(self.db_url)
        return self.book

    def timestamp(self, submitted: Path):
        """The submission's time from its timestamp.txt, as nbgrader's autograde reads it (None if it has none)."""
        if self.course_directory is None:
            from nbgrader.coursedir import CourseDirectory

            self.course_directory = CourseDirectory(config=self.config)
        return self.course_directory.get_existing_timestamp(str(submitted))

    def exercise(self, assignment: str):
        from lrcourse.grading.exercise import load_exercise

        if assignment not in self.exercises:
            self.exercises[assignment] = load_exercise(self.course, assignment, self.gradebook())
        return self.exercises[assignment]

    def done(self, written: bool) -> None:
        if self.book is not None:
            (self.book.db.commit if written else self.book.db.rollback)()

    def close(self) -> None:
        if self.book is not None:
            self.book.close()
            self.book = None

    def remake(self, assignment: str, student: str) -> str:
        """The student's feedback generated again here; the error, if that failed."""
        if self.api is None:
            from nbgrader.apps import NbGraderAPI

            from lrcourse.grading.autograde.worker import feedback_settings

            feedback_settings(self.config)
            self.api = NbGraderAPI(config=self.config)
        from lrcourse.grading.autograde.worker import first_error

        # nbgrader's API catches everything, KeyboardInterrupt too (a bare except in utils.capture_log): the run's
        # CtrlC only notes a first Ctrl-C here, and the loop stops at its next check (blocking SIGINT in this thread
        # would not do: another thread, tqdm's monitor say, takes the signal and the handler runs here all the same)
        generated = self.api.generate_feedback(assignment, student, force=True)
        return "" if generated.get("success") else first_error(generated)


def write(course: Path, writer: Writer, assignment: str, student: str, current: str, result) -> Outcome:
    """One task's result (`Stored`, or the stored meta as a dict, checked here) into the course (see the module's
    text); the student's outcome."""
    for kind in ("autograded", "feedback"):  # a run killed while putting her earlier result in place: put back first
        put_back_earlier(course / kind / student / assignment)
    if not isinstance(result, Stored):
        try:
            result = fleet_result.read(result)
        except fleet_result.Refused as error:
            return Outcome(student, "failed", f"the worker's result is refused: {error}")
    if result.document is None:
        return Outcome(student, "failed", result.reason)
    document = result.document
    outcome = fleet_result.outcome_of(student, document["outcome"])
    if outcome.status != "graded":
        return outcome
    if replaced(course, student, assignment, current):
        return changed(student)
    staged = {kind: course / kind / student / f".{assignment}.writing" for kind in ("autograded", "feedback")}
    try:  # the new files staged beside the earlier result, which stays until they are in place (G16)
        # why she is graded again, read before her earlier folder (its done-mark) and penalty are replaced
        again = intake.penalty_changed_note(course, writer.db_url, writer.config, assignment, student, current)
        closed_note = stage_files(staged, document)
        secret_note = keep_secret_here(course, student, assignment, staged)
        if replaced(course, student, assignment, current):  # a collect while the secret was carried
            discard_staged(staged)
            return changed(student)
        put_in_place(staged)
        late_seconds, outcome.score, outcome.max_score, late_note = _write_grades(
            course, writer, assignment, student, document["scores"]
        )
        notes = (again, late_note, outcome.reason, secret_note, closed_note)  # the score's reasons first, as locally
        outcome.reason = "; ".join(part for part in notes if part)
    except Exception as error:  # a result that cannot be written fails that student only
        discard_staged(staged)
        writer.done(written=False)
        if refused_by_database(error):  # not this result's fault: every following student would fail the same way
            raise fleet.GradebookRefused(student, error) from error
        return Outcome(student, "failed", f"the result could not be written: {type(error).__name__}: {error}")
    if late_seconds > 0 and outcome.feedback:
        error = remake_feedback(course, writer, assignment, student)
        if error:
            return Outcome(student, "failed", "feedback: " + error, seconds=outcome.seconds)
    if outcome.feedback and not outcome.unchecked:
        intake.mark_done(course, student, assignment, current, outcome.score, outcome.max_score, late_seconds)
    return outcome


CHANGED = (
    "CHANGED: the submission was replaced while it was being graded (a collect meanwhile): this result is not "
    "written, and the earlier one (grades, autograded and feedback folders) stays until a run grades the new "
    "submission: grade again"
)


def changed(student: str) -> Outcome:
    """The outcome of a result not written: the folder graded is no longer hers; her earlier result stays."""
    return Outcome(student, "failed", CHANGED, earlier_kept=True)


def replaced(course: Path, student: str, assignment: str, current: str) -> bool:
    """Whether the student's folder in `submitted/` is no longer the one enqueued (its `intake.fingerprint` is not
    `current`): `keep_secret_here` reads its secret now, so a collect during the run would make the result carry
    the new folder's secret with the old folder's grades (F20)."""
    try:
        return intake.fingerprint(course / "submitted" / student / assignment) != current
    except OSError:  # gone, or changing as it is read
        return True


def refused_by_database(error: BaseException) -> bool:
    """Whether `error` is the gradebook's database refusing (SQLAlchemy's OperationalError or InterfaceError: read-only,
    locked, disk full or I/O error, a connection lost or refused), not a result it cannot take (IntegrityError,
    DataError, nbgrader's own refusals: that student fails, the run goes on)."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(error, OperationalError | InterfaceError)


def remake_feedback(course: Path, writer: Writer, assignment: str, student: str) -> str:
    """The student's feedback made again here (`Writer.remake`), with nbgrader's own two files carried into the
    folder it replaced (release_feedback reads them there: `graded_files`); the error, if that failed."""
    error = writer.remake(assignment, student)
    if not error:
        carry_nbgrader_files(*(course / kind / student / assignment for kind in ("autograded", "feedback")))
    return error


def keep_secret_here(course: Path, student: str, assignment: str, staged: dict[str, Path]) -> str:
    """The submission secret rule applied here, where the ledger and the whole class are (`submission_secrets`), as
    local grading applies it: the worker's scratch course holds one student and no ledger, so the secret it carried
    into the returned folders was kept whoever else holds it (F19). The secret of the student's folder in
    `submitted/` is carried into her autograded folder (`staged`: kind to its folder) only if it is hers, else a fresh
    one, and from there into her feedback folder (release_feedback files her feedback under it). The ledger's note for
    her reasons (a classmate's secret, or no one's), else "": NO_SECRET is the worker's, from the same bytes, already
    in its outcome's reason."""
    graded, feedback = staged["autograded"], staged["feedback"]
    note = carry_nbgrader_files(course / "submitted" / student / assignment, graded, submitted=True)
    carry_nbgrader_files(graded, feedback)
    return "" if note == NO_SECRET else note


def stage_files(staged: dict[str, Path], document: dict) -> str:
    """The result's autograded and feedback files unpacked into `staged` (kind to folder: `.<assignment>.writing`
    beside their place, hidden from nbgrader's globs, on the same file system to be renamed into place in one step);
    a kind the result has no files of is not made. Her `<kind>/<id>` folders are closed to the course's owner first
    (the worker carried her secret: `close_student_folders`, R20p W1); its note, if the owner was refused them."""
    some = next(iter(staged.values()))
    note = close_student_folders(some.parents[2], some.parent.name)
    for kind, folder in staged.items():
        files = document.get(kind) or {}
        if isinstance(files, dict):
            files = {name: data for name, data in files.items() if name != intake.MARK}
        shutil.rmtree(folder, ignore_errors=True)  # a killed run's
        if files:
            parcel.unpack(files, folder)
    return note


def discard_staged(staged: dict[str, Path]) -> None:
    for folder in staged.values():
        shutil.rmtree(folder, ignore_errors=True)


def put_in_place(staged: dict[str, Path]) -> None:
    """Each staged folder in its place (`<assignment>`, the earlier one removed); with nothing staged of a kind, the
    earlier folder of that kind removed (it is an older submission's)."""
    for folder in staged.values():
        target = folder.with_name(folder.name[1 : -len(".writing")])
        earlier = folder.with_name(f".{target.name}.earlier")
        put_back_earlier(target)
        shutil.rmtree(earlier, ignore_errors=True)
        if target.is_dir() and not target.is_symlink():
            # aside in one step; a crash before the next rename leaves neither in place, the earlier result as
            # `.<assignment>.earlier`: the next write of hers puts it back (`put_back_earlier`) before anything else
            target.rename(earlier)
        if folder.is_dir():
            folder.rename(target)
        shutil.rmtree(earlier, ignore_errors=True)


def put_back_earlier(target: Path) -> None:
    """`.<assignment>.earlier` renamed back to `target` when `target` is missing: a run killed between
    `put_in_place`'s two renames left her earlier result aside (plain folders only, never through a link). As
    `crash_leftovers.put_back_replaced` does for `submitted/`: removing it would lose her earlier result until a
    regrade writes one (R20n M2)."""
    earlier = target.with_name(f".{target.name}.earlier")
    try:
        if not os.path.lexists(target) and stat.S_ISDIR(os.lstat(earlier).st_mode):
            earlier.rename(target)
    except OSError:  # none there, or it cannot be: her result is written as it would be without it
        return


def _write_grades(course: Path, writer: Writer, assignment: str, student: str, scores: dict) -> tuple:
    """The student's grades into the gradebook, in one transaction (`submission_rows`); how late the submission
    is (seconds), its score after the late penalty (as grades.csv has it), the most it could be, and the late
    penalty's reason (`late.late_reason`)."""
    import nbformat

    from lrcourse.grading.autograde.withheld_scores import set_trusted_score
    from lrcourse.grading.fleet.submission_rows import SubmissionRows, one_transaction

    timestamp = writer.timestamp(course / "submitted" / student / assignment)
    warnings.filterwarnings("ignore", message=".*not in session.*")  # SQLAlchemy's notices on nbgrader's own use
    exercise = writer.exercise(assignment)  # before the transaction: read once a run
    with one_transaction(writer.gradebook()) as book:
        book.update_or_create_student(student)
        book.update_or_create_submission(assignment, student, **({"timestamp": timestamp} if timestamp else {}))
        rows = SubmissionRows(book, assignment, student)
        for path in sorted((course / "autograded" / student / assignment).glob("*.ipynb")):
            rows.save(nbformat.read(path, as_version=4), path.stem)
        for test in exercise.tests:
            grade = rows.find_grade(test.name, exercise.notebook, assignment, student)
            score = scores.get(test.name, 0.0)  # no verdict: no points
            set_trusted_score(grade, min(max(score, 0.0), float(grade.max_score)))
        book.db.commit()  # flushed, and the scores computed in SQL read again: the penalty is from the trusted ones
        late.assign_penalties(book, writer.config, assignment, student)
        submission = book.find_submission(assignment, student)
        seconds_late, score = submission.total_seconds_late, late.penalised_score(submission)
        return seconds_late, score, submission.max_score, late.late_reason(submission)
