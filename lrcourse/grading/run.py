"""Grade a whole class with nbgrader's own autograder, in parallel, losing nothing.

`grade_class` runs `NbGraderAPI.autograde` (exactly what `nbgrader autograde` runs) for one student at a
time in each of N worker processes, then decides every autograded test cell again outside the student's
kernel and writes those scores into the gradebook (`verdicts`: the kernel's own results are only the
student's messages). A worker starts once and grades many students, so nbgrader's import and set-up, and
the process that imports torch for the students' answers, are paid once per worker. Around that:

- every submission is read first: a notebook that is not valid JSON or not nbformat 4 is recorded as
  failed with the reason and never reaches nbgrader;
- a student whose grading fails (nbgrader's error, a crashed worker) is recorded as failed, and every
  other student is still graded; the exit status says whether anything failed;
- a student whose notebook run fails in the kernel (a crash, a time-out) still gets the trusted verdicts,
  with the kernel's failure as the reason;
- a student is marked done only after the verdicts and feedback both succeeded; a re-run grades only
  students with no mark or a changed submission (`force` regrades all), so an interrupted run loses
  nothing already written;
- the gradebook is nbgrader's: SQLite (with a busy timeout, so concurrent workers wait instead of
  failing with "database is locked") or PostgreSQL via `db_url`.
"""
from __future__ import annotations

import atexit
import contextlib
import csv
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

MARK = ".lrcourse-graded.json"
MAX_NOTEBOOK_MB = 50  # a submitted notebook larger than this is not read at all
SQLITE_BUSY_SECONDS = 120


@dataclass
class Outcome:
    student: str
    status: str  # "graded", "failed" or "skipped" (already graded, unchanged)
    reason: str = ""
    score: float | None = None
    max_score: float | None = None
    seconds: float = 0.0
    overridden: list[str] = field(default_factory=list)  # test cells where the kernel's result was wrong


@dataclass
class Report:
    assignment: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    awaiting_manual: int = 0  # written answers nbgrader leaves to the formgrader, not yet graded by hand

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]


# --------------------------------------------------------------------------------------------
# The course: folders, configuration, gradebook
# --------------------------------------------------------------------------------------------
def default_db_url(course: Path) -> str:
    return f"sqlite:///{course / 'gradebook.db'}"


def with_busy_timeout(db_url: str) -> str:
    """SQLite URLs get a busy timeout: a worker waits for another's write instead of failing."""
    if db_url.startswith("sqlite:") and "timeout=" not in db_url:
        return f"{db_url}{'&' if '?' in db_url else '?'}timeout={SQLITE_BUSY_SECONDS}"
    return db_url


def course_config(course: Path, db_url: str):
    """nbgrader's configuration: the course's nbgrader_config.py, with root and gradebook set."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    if (course / "nbgrader_config.py").exists():
        config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config())
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.db_url = with_busy_timeout(db_url)
    return config


def ensure_tools_on_path() -> None:
    """nbgrader runs `alembic` from PATH when it creates a gradebook: put this environment's bin first."""
    bin_dir = str(Path(sys.executable).parent)
    if not os.environ.get("PATH", "").startswith(bin_dir):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def submissions(course: Path, assignment: str) -> list[str]:
    folder = course / "submitted"
    return sorted(p.name for p in folder.iterdir() if (p / assignment).is_dir()) if folder.is_dir() else []


def fingerprint(folder: Path) -> str:
    """A hash of every file a student submitted for the assignment."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def malformed(folder: Path) -> str | None:
    """Why the submitted notebooks cannot be graded, or None when they can be read."""
    import nbformat

    links = [p.name for p in folder.rglob("*") if p.is_symlink()]
    if links:  # copied as the grader, a link would read any file of the grader's into the sandbox
        return f"the submission holds symbolic links ({', '.join(links[:3])}): submit plain files"
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        return "no notebook (.ipynb) in the submission"
    for path in notebooks:
        if path.stat().st_size > MAX_NOTEBOOK_MB << 20:
            return f"{path.name} is larger than {MAX_NOTEBOOK_MB} MB"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return f"{path.name} is not valid JSON: {error}"
        if not isinstance(raw, dict) or raw.get("nbformat") != 4:
            version = raw.get("nbformat") if isinstance(raw, dict) else None
            return f"{path.name} is not an nbformat 4 notebook (nbformat={version!r})"
        try:
            nbformat.validate(nbformat.reads(json.dumps(raw), as_version=4))
        except Exception as error:  # nbformat's ValidationError, or a structure it cannot read
            return f"{path.name} is not a valid notebook: {str(error).splitlines()[0]}"
    return None


def is_done(course: Path, student: str, assignment: str, current: str) -> bool:
    mark = course / "autograded" / student / assignment / MARK
    try:
        return json.loads(mark.read_text())["fingerprint"] == current
    except (OSError, ValueError, KeyError):
        return False


# --------------------------------------------------------------------------------------------
# Workers: start once, grade many students
# --------------------------------------------------------------------------------------------
_API = None
_COURSE: Path | None = None
_DB_URL = ""
_JUDGE = None  # the worker's trusted verdicts: its zygotes live as long as the worker
_HIDDEN_IN_KERNEL = False  # c.Lrcourse.feedback_shows_hidden_tests: nbgrader's way, hidden tests in the kernel


def _keep_hidden_tests_out_of_the_kernel(config) -> None:
    """nbgrader restores each test cell, hidden tests included, into the notebook it runs, so a submission
    could copy them into its own output (an IPython hook, the `In` history) and so into its feedback. Under
    `lrcourse grade` the trusted verdicts run them, outside; the kernel runs only what the student saw."""
    from nbgrader import preprocessors as steps

    # nbgrader's own sanitizing steps (nbgrader.converters.Autograde), with ClearHiddenTests after OverwriteCells
    config.Autograde.sanitize_preprocessors = [steps.ClearOutput, steps.DeduplicateIds, steps.OverwriteKernelspec,
                                               steps.OverwriteCells, steps.ClearHiddenTests, steps.CheckCellMetadata]
    config.ClearHiddenTests.enforce_metadata = False


def _start_worker(course: str, db_url: str, sandboxed: bool = True) -> None:
    global _API, _COURSE, _DB_URL, _JUDGE, _HIDDEN_IN_KERNEL
    # A terminal's Ctrl-C reaches its whole process group. In a session of its own, neither this worker nor
    # the kernels it starts receives it: an interrupted kernel would fail a test cell and write a wrong grade.
    # The main process alone decides what an interrupt stops.
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Stopped by the grading command (or by its death, PDEATHSIG): exit through atexit, which closes this
    # worker's zygotes and removes their sandboxes' folders and cgroups.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy notices from nbgrader's own session use
    warnings.filterwarnings("ignore", message=".*not in session.*")
    ensure_tools_on_path()
    from nbgrader.apps import NbGraderAPI

    from lrcourse.grading.verdicts import Judge

    _die_with_parent()
    _COURSE = Path(course)
    _DB_URL = with_busy_timeout(db_url)
    os.chdir(course)
    config = course_config(_COURSE, db_url)
    from lrcourse.grading.sanitize import show_safely
    show_safely(config)  # the feedback is sanitized whatever the course's configuration says
    _HIDDEN_IN_KERNEL = bool(config.get("Lrcourse", {}).get("feedback_shows_hidden_tests", False))
    if not _HIDDEN_IN_KERNEL:
        _keep_hidden_tests_out_of_the_kernel(config)
    _API = NbGraderAPI(config=config)
    from nbgrader.preprocessors import execute

    from lrcourse.grading import kernels
    from lrcourse.grading.sandbox import Limits

    kernels.LIMITS = Limits.from_config(config)  # without the sandbox, its wall clock still holds
    limits = kernels.LIMITS if sandboxed else None
    kernels.ZYGOTE = kernels.KernelZygote(limits)
    atexit.register(kernels.ZYGOTE.close)
    # nbgrader's execute step names its kernel manager class in a default argument: every notebook this
    # worker runs gets a kernel forked from the worker's kernel zygote (in its sandbox, unless --no-sandbox).
    execute.AsyncKernelManager = kernels.ForkedKernelManager
    _JUDGE = Judge(limits)
    atexit.register(_JUDGE.close)


def _exit_on_signal(signum, frame) -> None:
    """Close the zygotes (their sandboxes' processes, folders and cgroups) and end at once: raising SystemExit
    instead would run multiprocessing's exit, which can wait forever for a grading command already gone."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends it at once
    from lrcourse.grading import kernels

    for close in (getattr(kernels.ZYGOTE, "close", None), getattr(_JUDGE, "close", None)):
        try:
            if close is not None:
                close()
        except Exception:
            pass
    os._exit(128 + signum)


def _die_with_parent() -> None:
    """If the grading command is killed outright, its workers get SIGTERM from the kernel and end (their
    sandboxes die with them), instead of grading on as orphans."""
    from lrcourse.grading.namespaces import die_with_parent

    die_with_parent(signal.SIGTERM)
    if os.getppid() == 1:  # the parent died before the call
        os._exit(1)


def _grade_student(assignment: str, student: str, current: str) -> Outcome:
    """Autograde, decide every test cell again outside the student's kernel (trusted verdicts), write those
    scores to the gradebook, generate feedback; mark the student done only if all of it worked."""
    from lrcourse.grading import verdicts as trusted

    start = time.monotonic()
    exercise = _exercise(assignment)
    # Read before the student's kernel runs: nothing it writes can change what is judged.
    submitted = next((_COURSE / "submitted" / student / assignment).glob(exercise.notebook + ".ipynb"), None)
    answers = trusted.submitted_answers(submitted, set(exercise.answers)) if submitted else []
    result = _API.autograde(assignment, student, force=True, create=True)
    in_kernel_failure = "" if result.get("success") else _first_error(result)
    limit = _limit_hit(student, assignment)
    if limit:
        in_kernel_failure = f"stopped by the sandbox's {limit}" + (f" ({in_kernel_failure})" if in_kernel_failure else "")
    try:
        decided = _decide(exercise, assignment, student, answers)
    except Exception as error:  # no gradebook entry to correct (nbgrader failed early), or a fault of ours
        _zero_autograded(exercise, assignment, student)  # never leave the kernel's scores standing
        reason = in_kernel_failure or f"trusted verdicts: {type(error).__name__}: {error}"
        return Outcome(student, "failed", reason, seconds=time.monotonic() - start)
    notes = [f"notebook run: {in_kernel_failure}"] if in_kernel_failure else []
    if any((_COURSE / "autograded" / student / assignment).glob("*.ipynb")):
        feedback = _API.generate_feedback(assignment, student, force=True)
        if not feedback.get("success"):
            return Outcome(student, "failed", "feedback: " + _first_error(feedback), seconds=time.monotonic() - start)
    else:  # nbgrader keeps no graded notebook of a failed run: the scores stand, without feedback
        notes.append("no feedback")
    score, max_score = _score(assignment, student)
    mark = _COURSE / "autograded" / student / assignment / MARK
    mark.parent.mkdir(parents=True, exist_ok=True)
    mark.write_text(json.dumps({"fingerprint": current, "score": score, "max_score": max_score}))
    return Outcome(student, "graded", "; ".join(notes), score=score, max_score=max_score,
                   seconds=time.monotonic() - start, overridden=decided.overridden)


_EXERCISES: dict = {}
def _limit_hit(student: str, assignment: str) -> str | None:
    from lrcourse.grading import kernels

    return kernels.limit_hit(_COURSE / "autograded" / student / assignment)


def _exercise(assignment: str):
    """The assignment's setup, answer cells and test cells (from source/ and the gradebook), once per worker."""
    from nbgrader.api import Gradebook

    from lrcourse.grading import verdicts as trusted

    if assignment not in _EXERCISES:
        with Gradebook(_DB_URL) as gradebook:
            _EXERCISES[assignment] = trusted.load_exercise(_COURSE, assignment, gradebook)
    return _EXERCISES[assignment]


def _decide(exercise, assignment: str, student: str, answers: list[str]):
    """The trusted verdicts of one student's test cells, written into the gradebook and the graded notebook."""
    from nbgrader.api import Gradebook

    from lrcourse.grading import verdicts as trusted

    try:
        decided = _JUDGE.decide(exercise, answers)
    except trusted.GraderFault:  # e.g. the zygote was stopped from outside: once more with a fresh one
        decided = _JUDGE.decide(exercise, answers)
    with Gradebook(_DB_URL) as gradebook:
        for name, verdict in decided.cells.items():
            grade = gradebook.find_grade(name, exercise.notebook, assignment, student)
            verdict.in_kernel_score = grade.auto_score
            if _HIDDEN_IN_KERNEL:  # the kernel ran what the trusted verdict ran
                verdict.visible_score = verdict.trusted_score
            grade.auto_score = verdict.trusted_score
        gradebook.db.commit()
    folder = _COURSE / "autograded" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    trusted.write(folder, decided)
    trusted.annotate(folder / (exercise.notebook + ".ipynb"), decided)
    return decided


def _zero_autograded(exercise, assignment: str, student: str) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    try:
        with Gradebook(_DB_URL) as gradebook:
            for test in exercise.tests:
                gradebook.find_grade(test.name, exercise.notebook, assignment, student).auto_score = 0.0
            gradebook.db.commit()
    except MissingEntry:
        pass


def _score(assignment: str, student: str) -> tuple[float, float]:
    submission = _API.get_submission(assignment, student)
    return submission["score"], submission["max_score"]


def _first_error(result: dict) -> str:
    text = (result.get("error") or "") + "\n" + (result.get("log") or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("[ERROR]") and "Please see the error log" not in line:
            return line.removeprefix("[ERROR]").strip()[:300]
    return (lines[-1] if lines else "nbgrader reported a failure without a message")[:300]


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------
def grade_class(course: Path, assignment: str, workers: int | None = None, force: bool = False,
                db_url: str | None = None, progress: bool = True, sandboxed: bool = True) -> Report:
    """Grade every submission of `assignment` in `course`; see the module docstring."""
    course = course.resolve()
    db_url = db_url or default_db_url(course)
    ensure_tools_on_path()
    report = Report(assignment)
    start = time.monotonic()
    todo = []
    for student in submissions(course, assignment):
        folder = course / "submitted" / student / assignment
        reason = malformed(folder)
        if reason:
            report.outcomes.append(Outcome(student, "failed", reason))
            continue
        current = fingerprint(folder)
        if not force and is_done(course, student, assignment, current):
            report.outcomes.append(Outcome(student, "skipped", "already graded, submission unchanged"))
        else:
            todo.append((student, current))
    if todo:
        _prepare_gradebook(course, assignment, db_url)
        if sandboxed:
            from lrcourse.grading.sandbox import remove_stale

            remove_stale()
        report.outcomes += _run_workers(course, assignment, todo, workers or os.cpu_count() or 1, db_url, progress,
                                        sandboxed)
    report.outcomes.sort(key=lambda o: o.student)
    export_grades(course, db_url)
    report.awaiting_manual = awaiting_manual_grades(assignment, db_url)
    report.seconds = time.monotonic() - start
    write_report(course, report)
    return report


def _prepare_gradebook(course: Path, assignment: str, db_url: str) -> None:
    """Create the gradebook's tables once, before the workers race to do it."""
    from nbgrader.api import Gradebook

    with Gradebook(with_busy_timeout(db_url)) as gradebook:
        gradebook.find_assignment(assignment)  # raises if the assignment was never released


def _run_workers(course, assignment, todo, workers, db_url, progress, sandboxed=True) -> list[Outcome]:
    from tqdm import tqdm

    outcomes: list[Outcome] = []
    pending = list(todo)
    attempts: dict[str, int] = {}
    bar = tqdm(total=len(todo), unit="student", desc=f"grading {assignment}", disable=not progress, file=sys.stderr)
    context = multiprocessing.get_context("spawn")
    try:
        while pending:
            with ProcessPoolExecutor(min(workers, len(pending)), mp_context=context, initializer=_start_worker,
                                     initargs=(str(course), db_url, sandboxed)) as pool:
                futures = {pool.submit(_grade_student, assignment, s, f): (s, f) for s, f in pending}
                pending = []
                running = set(futures)
                while running:
                    try:
                        done, running = wait(running, return_when=FIRST_COMPLETED)
                    except KeyboardInterrupt:
                        in_flight = sum(future.running() for future in running)
                        print(f"\nInterrupted: finishing the {in_flight} student(s) being graded, "
                              "cancelling the rest.", file=sys.stderr)
                        pool.shutdown(wait=True, cancel_futures=True)
                        raise
                    for future in done:
                        student, current = futures[future]
                        try:
                            outcomes.append(future.result())
                        except BrokenProcessPool:
                            # A worker died (e.g. killed by the system): give each affected student one retry.
                            attempts[student] = attempts.get(student, 0) + 1
                            if attempts[student] < 2:
                                pending.append((student, current))
                                continue
                            outcomes.append(Outcome(student, "failed", "the grading worker died twice"))
                        except Exception as error:  # a bug outside nbgrader's own handling
                            outcomes.append(Outcome(student, "failed", f"{type(error).__name__}: {error}"))
                        bar.update(1)
    except KeyboardInterrupt:
        bar.close()
        print("Every grade written so far is kept; run the command again to grade the rest.", file=sys.stderr)
        raise
    bar.close()
    return outcomes


# --------------------------------------------------------------------------------------------
# Results: nbgrader's CSV export, a report, a summary table
# --------------------------------------------------------------------------------------------
def export_grades(course: Path, db_url: str) -> Path:
    """nbgrader's own CSV export of the whole gradebook, to grades.csv in the course folder."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    target = course / "grades.csv"
    with Gradebook(with_busy_timeout(db_url)) as gradebook:
        CsvExportPlugin(to=str(target)).export(gradebook)
    return target


def awaiting_manual_grades(assignment: str, db_url: str) -> int:
    """How many manually graded answers of `assignment` still wait for a grader in the formgrader."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(with_busy_timeout(db_url)) as gradebook:
        try:
            submissions = gradebook.assignment_submissions(assignment)
        except MissingEntry:
            return 0
        return sum(1 for submission in submissions for notebook in submission.notebooks for grade in notebook.grades
                   if grade.cell_type == "markdown" and grade.needs_manual_grade)


def write_report(course: Path, report: Report) -> Path:
    path = course / "reports" / f"{report.assignment}.csv"
    path.parent.mkdir(exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "status", "score", "max_score", "reason", "overridden"])
        for o in report.outcomes:
            writer.writerow([o.student, o.status, o.score, o.max_score, o.reason, " ".join(o.overridden)])
    return path


def _overridden(outcome: Outcome) -> str:
    return f"in-kernel result overridden: {', '.join(outcome.overridden)}" if outcome.overridden else ""


def summary(report: Report) -> str:
    counts = {status: sum(o.status == status for o in report.outcomes) for status in ("graded", "skipped", "failed")}
    lines = [f"{report.assignment}: {counts['graded']} graded, {counts['skipped']} unchanged (skipped), "
             f"{counts['failed']} failed, in {report.seconds:.1f} s"]
    width = max([len(o.student) for o in report.outcomes] + [7])
    lines.append(f"  {'student':<{width}}  {'status':<8} {'score':>11}  reason")
    for o in report.outcomes:
        score = f"{o.score:g} / {o.max_score:g}" if o.score is not None else ""
        reason = "; ".join(filter(None, [o.reason, _overridden(o)]))
        lines.append(f"  {o.student:<{width}}  {o.status:<8} {score:>11}  {reason}")
    if report.awaiting_manual:
        lines.append(f"{report.awaiting_manual} written answer(s) await manual grading in nbgrader's formgrader "
                     "(`make instructor`); until then the scores above count only the autograded items")
    return "\n".join(lines)
