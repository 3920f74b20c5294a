"""`lrcourse grade <chapter> --broker-file F`: grade a class through the queue (`fleet`), with workers anywhere
(`fleet_worker`), and write every result here: the gradebook (SQLite or PostgreSQL) and the course's folders.

The intake and the run's end are local grading's (`intake.take_in`, `grade.finish`): the same refusals, skips,
exports and outcomes. Each student to grade is one task, sent with the course version (`fleet.course_version`)
and the submitted folder as a parcel; its id is the same for the same submission (`fleet.task_id`), so a rerun
after an interruption collects a result already computed instead of grading again, and sends only what is
missing. A result is written once, when it arrives, as local grading writes it:

- the autograded and feedback folders replace the student's (the worker's done-mark is not taken: ours is
  written last, as `worker.Worker.grade` writes it);
- the student and submission (its timestamp from submitted/) in the gradebook, then nbgrader's SaveAutoGrades
  (`withheld_scores.WithholdAutoGrades`: test cells withheld) on each returned autograded notebook: the cells'
  comments and other grades, as nbgrader's autograde fills them;
- then the trusted scores of the test cells the worker returned (within each cell's points), and the late
  penalty from them (`late`), as `worker.Worker.decide` does. The score reported is read back from the gradebook.
  All of a student's rows are one transaction (`submission_rows`): written whole or not at all.
- a late submission's feedback is made again here, from this gradebook: the worker's page came from its scratch
  gradebook, which knows no due date, so it showed no penalty (`Writer.remake`).
"""

from __future__ import annotations

import math
import shutil
import sys
import time
import warnings
from pathlib import Path

from lrcourse.gradebook_db import gradebook
from lrcourse.grading import fleet, intake, late, parcel
from lrcourse.grading.course import course_config, default_db_url, ensure_tools_on_path
from lrcourse.grading.fleet_lease import Lapsed, taken_key
from lrcourse.grading.grade import create_gradebook_tables, finish
from lrcourse.grading.outcomes import Outcome, RunOutcomes
from lrcourse.grading.watchdog import CtrlC

POLL_SECONDS = 0.5
HINT_SECONDS = 120.0  # no task started for this long: say why that may be
OUTCOME_FIELDS = {"reason": str, "overridden": list, "feedback": bool, "unchecked": list, "seconds": float}


def grade_class_remote(
    course: Path,
    assignment: str,
    url: str,
    force: bool = False,
    db_url: str | None = None,
    progress: bool = True,
    hint_seconds: float = HINT_SECONDS,
) -> RunOutcomes:
    """Grade every submission of `assignment` through the queue at `url`; see the module's text."""
    course = course.resolve()
    db_url = db_url or default_db_url(course)
    ensure_tools_on_path()
    start = time.monotonic()
    result = RunOutcomes(assignment)
    result.outcomes, todo = intake.take_in(course, assignment, force)
    if todo:
        create_gradebook_tables(course, assignment, db_url)
        result.outcomes += collect(course, assignment, todo, url, db_url, progress, force, hint_seconds)
    return finish(course, db_url, result, start)


def collect(
    course: Path,
    assignment: str,
    todo: list,
    url: str,
    db_url: str,
    progress: bool,
    force: bool = False,
    hint_seconds: float = HINT_SECONDS,
) -> list[Outcome]:
    from tqdm import tqdm

    app = fleet.celery_app(url)
    version = fleet.course_version(course, assignment)
    outcomes, waiting = [], {}
    bar = tqdm(total=len(todo), unit="student", desc=f"grading {assignment}", disable=not progress, file=sys.stderr)
    stop = CtrlC()
    writer = Writer(course, db_url)
    try:
        with stop.installed():
            for student, current in todo:
                stop.check()
                task = fleet.task_id(version, assignment, student, current)
                try:
                    send(app, url, task, version, assignment, course / "submitted" / student / assignment, force)
                except parcel.ParcelRefused as error:
                    outcomes.append(Outcome(student, "failed", f"the submission cannot be sent: {error}"))
                    bar.update(1)
                    continue
                waiting[task] = (student, current)
            idle, lapsed = IdleHint(url, version, waiting, hint_seconds, bar), Lapsed(url, waiting, bar)
            polled = app.backend.get_many(
                set(waiting),
                interval=POLL_SECONDS,
                no_ack=True,
                on_interval=lambda: (stop.check(), idle.check(), lapsed.check()),
            )
            try:
                for task, meta in polled:
                    idle.started = True
                    student, current = waiting.pop(task)
                    began = time.monotonic()
                    outcomes.append(write(course, writer, assignment, student, current, meta))
                    forget(app, url, task)  # written (or failed): the broker need not hold it any longer
                    writer.results, writer.seconds = writer.results + 1, writer.seconds + time.monotonic() - began
                    bar.update(1)
                    stop.check()
            finally:
                writer.close()
    except KeyboardInterrupt:
        bar.close()
        print(
            f"\nInterrupted: {len(waiting)} student(s) not collected. Every grade written so far is kept; run the "
            "command again to collect the rest (results already computed are not graded again).",
            file=sys.stderr,
        )
        raise
    bar.close()
    if writer.results:
        print(writer.pace(), file=sys.stderr)
    return outcomes


class IdleHint:
    """Says once, on the terminal, when no task has started `seconds` after sending: no worker may serve this
    course version on this broker (a worker listens only to its checkout's versions: `fleet.queue_name`)."""

    def __init__(self, url: str, version: str, waiting: dict, seconds: float, bar):
        self.url, self.version, self.waiting, self.seconds, self.bar = url, version, waiting, seconds, bar
        self.since = time.monotonic()
        self.started = False  # a result arrived, or a worker took a task

    def check(self) -> None:
        if self.started or not self.waiting or time.monotonic() - self.since < self.seconds:
            return
        import redis

        with redis.Redis.from_url(self.url) as client:
            self.started = bool(client.exists(*(fleet.attempts_key(task) for task in self.waiting)))
        if not self.started:
            self.started = True  # said once
            self.bar.write(
                f"lrcourse: no task has started in {self.seconds:.0f} s: is a worker serving course version "
                f"{self.version} on this broker? `lrcourse worker` lists the versions it serves at its start; a "
                "worker of another checkout never takes these tasks (or the workers are busy with other work). "
                "Waiting on: Ctrl-C stops, and a rerun collects what was graded.",
                file=sys.stderr,
            )


def send(app, url: str, task: str, version: str, assignment: str, folder: Path, force: bool) -> None:
    """Enqueue the task, unless its result is stored and graded (an interrupted run's) or an earlier run sent it and
    it is not done yet (queued or being graded: sending it again would grade it twice). A stored failure is
    forgotten and the task sent again, with its delivery count reset; `force` sends it whatever is stored."""
    import redis

    stored = app.AsyncResult(task)
    with redis.Redis.from_url(url) as client:
        if not force and stored.state == "SUCCESS" and _status(stored.result) == "graded":
            return
        if not force and stored.state == "PENDING" and client.exists(fleet.sent_key(task)):
            return
        stored.forget()
        client.delete(fleet.attempts_key(task))
        files = parcel.pack(folder)
        payload = {"version": version, "assignment": assignment, "student": folder.parent.name, "files": files}
        app.send_task(fleet.TASK, args=[payload], task_id=task, queue=fleet.queue_name(version))
        client.set(fleet.sent_key(task), 1, ex=fleet.RESULT_SECONDS)


def forget(app, url: str, task: str) -> None:
    """The task's result and its records dropped from the broker (a result holds a student's folders: a class's
    results would otherwise stay in the broker's memory until they expire)."""
    import redis

    app.AsyncResult(task).forget()
    with redis.Redis.from_url(url) as client:
        client.delete(fleet.sent_key(task), fleet.attempts_key(task), taken_key(task))


def _status(document) -> str:
    outcome = document.get("outcome") if isinstance(document, dict) else None
    return outcome.get("status", "") if isinstance(outcome, dict) else ""


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
            f"writes one at a time: at most {60 / max(each, 1e-3):.0f} results a minute, whatever the number of workers)"
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

            from lrcourse.grading.worker import feedback_settings

            feedback_settings(self.config)
            self.api = NbGraderAPI(config=self.config)
        from lrcourse.grading.worker import first_error

        # nbgrader's API catches everything, KeyboardInterrupt too (a bare except in utils.capture_log): the run's
        # CtrlC only notes a first Ctrl-C here, and the loop stops at its next check (blocking SIGINT in this thread
        # would not do: another thread, tqdm's monitor say, takes the signal and the handler runs here all the same)
        generated = self.api.generate_feedback(assignment, student, force=True)
        return "" if generated.get("success") else first_error(generated)


def write(course: Path, writer: Writer, assignment: str, student: str, current: str, meta: dict) -> Outcome:
    """One task's result into the course (see the module's text); the student's outcome."""
    if meta.get("status") != "SUCCESS":
        return Outcome(student, "failed", failure_reason(meta))
    document = meta.get("result") if isinstance(meta.get("result"), dict) else {}
    outcome = _outcome(student, document.get("outcome"))
    if outcome.status != "graded":
        return outcome
    try:
        scores = checked_scores(document.get("scores"))  # before anything is written
    except ValueError as error:
        return Outcome(student, "failed", f"the worker's result is refused: {error}")
    try:
        _write_files(course, student, assignment, document)
        late_seconds, outcome.score, outcome.max_score = _write_grades(course, writer, assignment, student, scores)
    except Exception as error:  # a result that cannot be written fails that student only
        writer.done(written=False)
        return Outcome(student, "failed", f"the result could not be written: {type(error).__name__}: {error}")
    if late_seconds > 0 and outcome.feedback:
        error = writer.remake(assignment, student)
        if error:
            return Outcome(student, "failed", "feedback: " + error, seconds=outcome.seconds)
    if outcome.feedback and not outcome.unchecked:
        intake.mark_done(course, student, assignment, current, outcome.score, outcome.max_score)
    return outcome


def failure_reason(meta: dict) -> str:
    """Why a task failed on its worker, from Celery's backend, which gives the task's exception back."""
    error = meta.get("result")
    if not isinstance(error, BaseException):
        return f"the grading worker failed: {str(meta.get('status'))[:64]}"
    if type(error).__name__ == "TimeLimitExceeded":  # Celery's hard limit (`fleet_worker.make_app`)
        seconds = error.args[0] if error.args and isinstance(error.args[0], (int, float)) else math.nan
        return (
            f"the grading worker was held on this student past the queue's hard time limit ({seconds:.0f} s: the "
            "student's budget, the worker's grace and 120 s) and was stopped; not tried again"
        )
    return f"the grading worker failed: {type(error).__name__}: {str(error)[:300]}"


def checked_scores(raw) -> dict[str, float]:
    """{test cell: score} from a result, every score a finite number: a NaN or an infinity (JSON's NaN and
    Infinity constants decode to them) would pass any clamp (min(max(nan, 0), 2) is nan) into the gradebook."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("its scores are not a mapping of test cells to numbers")
    scores = {}
    for name, score in raw.items():
        if score is None:
            continue  # no verdict: no points
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise ValueError(f"the score of {str(name)[:64]!r} is not a finite number: {str(score)[:32]}")
        scores[name] = float(score)
    return scores


def _outcome(student: str, raw) -> Outcome:
    """The worker's outcome, its fields type-checked; the student's id is ours, never the document's."""
    raw = raw if isinstance(raw, dict) else {}
    status = raw.get("status") if raw.get("status") in ("graded", "failed") else "failed"
    fields = {name: raw[name] for name, kind in OUTCOME_FIELDS.items() if isinstance(raw.get(name), kind)}
    if not math.isfinite(fields.get("seconds", 0.0)):
        del fields["seconds"]
    fields["reason"] = fields.get("reason", "" if status == "graded" else "the worker returned no outcome")[:2000]
    return Outcome(student, status, **fields)


def _write_files(course: Path, student: str, assignment: str, document: dict) -> None:
    for kind in ("autograded", "feedback"):
        files = document.get(kind) or {}
        if isinstance(files, dict):
            files = {name: data for name, data in files.items() if name != intake.MARK}
        folder = course / kind / student / assignment
        shutil.rmtree(folder, ignore_errors=True)
        if files:
            parcel.unpack(files, folder)


def _write_grades(course: Path, writer: Writer, assignment: str, student: str, scores: dict) -> tuple:
    """The student's grades into the gradebook, in one transaction (`submission_rows`); how late the submission
    is (seconds), its score and the most it could be, as the gradebook has them."""
    import nbformat

    from lrcourse.grading.submission_rows import SubmissionRows, one_transaction
    from lrcourse.grading.withheld_scores import set_trusted_score

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
        return submission.total_seconds_late, submission.score, submission.max_score
