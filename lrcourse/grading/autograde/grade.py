"""`lrcourse grade`: grade a whole class with nbgrader's own autograder, in parallel, losing nothing.

`grade_class` takes in the submissions (`intake`), then hands the students to N worker processes (`worker`:
each runs nbgrader's autograde, then the trusted verdicts, for one student at a time), then writes
nbgrader's CSV export and the run's outcomes (`outcomes`). Around that:

- a student whose grading fails (nbgrader's error, a crashed worker) is recorded as failed, and every
  other student is still graded; the exit status says whether anything failed;
- a re-run grades only students with no mark or a changed submission (`force` regrades all), so an
  interrupted run loses nothing already written;
- Ctrl-C finishes the students being graded, still watched (`watchdog.drain`), and starts no other (the rest are
  cancelled, and a worker hands back ungraded those its pool had already queued: `WorkerPool.halt`); a second
  Ctrl-C stops them; every grade written is kept;
- SIGTERM or SIGHUP (`Stopped`: a job scheduler, a CI time-out, a closed terminal) stops the workers at once,
  whatever they are doing (SIGKILL after `STOP_SECONDS`), and the command ends; every grade written is kept;
- a student who fails keeps no feedback of an earlier run (`withdraw_feedback`): release_feedback would send it
  (but one whose submission only awaits a collect or a regrade: `Outcome.earlier_kept`);
- a `WorkerPool` keeps its workers warm from one assignment to the next (`lrcourse check`'s chapters): a worker's
  start-up is paid once, not per assignment;
- no worker holds the run: each worker tells the main process when it starts a student, and one still on that
  student after the student's budget and the worker's grace (`Limits.student_seconds + worker_grace_seconds`:
  stuck outside the budget, in nbgrader's file handling or on a locked gradebook) is stopped (`watchdog.Watchdog`); a
  worker ended by its own memory cap (`worker_memory`) is recognised too: either way that student fails with the
  reason, and the others that worker's pool held are graded again in a new pool, no retry counted against them;
- a worker that dies otherwise (a signal, libzmq's abort when RLIMIT_DATA refuses it memory: `worker_memory`)
  breaks its whole pool, but the death is charged only to the student that worker was running (`Watchdog.death`):
  that student is retried once and then fails with how the worker died; the pool's other students, queued or
  running in workers the pool ended (SIGTERM), are graded again in a new pool, no retry counted against them.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from lrcourse.gradebook_db import gradebook
from lrcourse.grading.autograde import worker
from lrcourse.grading.autograde.watchdog import (
    WATCH_SECONDS,
    CtrlC,
    Stopped,
    Watchdog,
    drain,
    end_workers,
    ended_then_checked,
)
from lrcourse.grading.course import course_config, default_db_url, ensure_tools_on_path
from lrcourse.grading.exchange.other_account import cannot_write, give_if_there
from lrcourse.grading.exchange.root_links import refuse_linked, student_link
from lrcourse.grading.intake import take_in, unmark, valid_student_id
from lrcourse.grading.outcomes import Outcome, RunOutcomes, write_outcomes
from lrcourse.grading.sandbox.leftovers import remove_stale
from lrcourse.grading.sandbox.limits import Limits


def grade_class(
    course: Path,
    assignment: str,
    workers: int | None = None,
    force: bool = False,
    db_url: str | None = None,
    progress: bool = True,
    sandboxed: bool = True,
    pool: WorkerPool | None = None,
) -> RunOutcomes:
    """Grade every submission of `assignment` in `course`; see the module docstring. With `pool` (a `WorkerPool`
    of the same course, gradebook and sandboxing), its warm workers grade, and stay for the next assignment."""
    course = course.resolve()
    db_url = db_url or default_db_url(course)
    ensure_tools_on_path()
    Limits.from_config(course_config(course, db_url))  # a bad c.Sandbox limit stops the run here, by its name
    result = RunOutcomes(assignment)
    start = time.monotonic()
    result.outcomes, todo = take_in(course, assignment, force, db_url)
    result.outcomes, todo = refuse_linked(course, assignment, result.outcomes, todo)
    done = False
    try:
        if todo:
            create_gradebook_tables(course, assignment, db_url)
            if sandboxed:
                remove_stale()
            limits = Limits.from_config(course_config(course, db_url))
            result.outcomes += run_workers(
                course, assignment, todo, workers or os.cpu_count() or 1, db_url, progress, sandboxed, limits, pool
            )
        finish(course, db_url, result, start)
        done = True
        return result
    finally:  # however the run ends: done, Ctrl-C, SIGTERM (`Stopped`), a fault of ours (G21)
        hand_over(course, result, [o.student for o in result.outcomes] + [s for s, _ in todo], done)


def finish(course: Path, db_url: str, result: RunOutcomes, start: float) -> RunOutcomes:
    """After the students: stale feedback withdrawn, nbgrader's CSV export, the run's outcomes written (as root in
    another account's course, its callers then give what the run wrote to that owner, in a `finally`:
    `give_run_to_course_owner`). A file this account may not write (root's, left by root's grade before this) is
    named with its mend (`cannot_write`), in `result.unwritten`, never a traceback (R20p W2)."""
    result.outcomes.sort(key=lambda o: o.student)
    withdraw_feedback(course, result.assignment, result.outcomes)
    unwritten(course, result, "grades.csv", lambda: export_grades(course, db_url))
    result.awaiting_manual = awaiting_manual_grades(result.assignment, db_url)
    result.seconds = time.monotonic() - start
    unwritten(course, result, f"reports/{result.assignment}.csv", lambda: write_outcomes(course, result))
    return result


def unwritten(course: Path, result: RunOutcomes, name: str, write) -> None:
    """`write()`, and if this account may not write the file, a line for `result.unwritten` saying so."""
    try:
        write()
    except PermissionError as error:
        result.unwritten.append(f"{name} {cannot_write(error, course, then='grade again')}")


def hand_over(course: Path, result: RunOutcomes, students: list[str], done: bool) -> None:
    """A run's last step, in its `finally` (G21): `give_run_to_course_owner`, its notes in `result.not_given` for the
    summary; a run that did not finish (Ctrl-C, SIGTERM, a fault) prints no summary, so they go to stderr here,
    else what a link kept from the owner is said nowhere (R20r N2)."""
    result.not_given = give_run_to_course_owner(course, result.assignment, students)
    if not done:
        for note in result.not_given:
            print(f"not given to the course's owner: {note}", file=sys.stderr)


def give_run_to_course_owner(course: Path, assignment: str, students: list[str]) -> list[str]:
    """As root in a course another account owns: grades.csv, reports/, the gradebook and nbgrader's log, and each of
    `students`' graded and feedback folders of `assignment` (her done-mark and verdicts root wrote after closing
    them, a folder nbgrader was still writing when the run stopped) given to that owner, whose next `lrcourse
    grade` writes them all again (R20p W2). Called in a `finally` (G21): a run stopped part-way (SIGTERM, Ctrl-C, a
    fault) leaves nothing of root's. SIGTERM, SIGHUP and SIGINT wait until it is done (a stop's handler raises,
    and would leave the rest root's). Never through a link (R20q W2): what a link stopped is returned, once each,
    for the run's summary. Nothing for any other account."""
    paths = [course / name for name in ("grades.csv", "reports", ".nbgrader.log")]
    paths += [course / f"gradebook.db{tail}" for tail in ("", "-journal", "-wal", "-shm")]
    for student in dict.fromkeys(students):
        if valid_student_id(student):
            paths += [course / kind / student / assignment for kind in ("autograded", "feedback")]
    stops = {signal.SIGTERM, signal.SIGHUP, signal.SIGINT}
    held = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        notes = [give_if_there(path, course) for path in paths]
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    return list(dict.fromkeys(note for note in notes if note))


def withdraw_feedback(course: Path, assignment: str, outcomes: list[Outcome]) -> list[str]:
    """Remove the feedback folder of each student who failed this run (stopped by the watchdog, refused,
    nbgrader's failure) or was graded without feedback (a dead kernel): it is an older submission's, which
    release_feedback would send as if it were this one's. Not for an outcome that keeps her earlier result
    (`Outcome.earlier_kept`): her submission awaits a collect or a regrade, and the grades it matches are kept too.
    A failed student's done-mark goes too (`intake.unmark`): a fleet result that fails writes no autograded folder
    afresh, and the earlier mark made the next run without `force` skip her, her feedback withdrawn for good (R20o
    M3). Only for ids of the strict pattern (the path is theirs); the students whose feedback went."""
    withdrawn = []
    for outcome in outcomes:
        if not valid_student_id(outcome.student) or student_link(course, outcome.student, assignment):
            continue  # never through a link root's grade did not make (issue 20)
        folder = course / "feedback" / outcome.student / assignment
        failed = outcome.status == "failed" and not outcome.earlier_kept
        if failed:
            unmark(course, outcome.student, assignment)
        stale = failed or (outcome.status == "graded" and not outcome.feedback)
        if stale and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            withdrawn.append(outcome.student)
    return withdrawn


def create_gradebook_tables(course: Path, assignment: str, db_url: str) -> None:
    """Create the gradebook's tables once, before the workers race to do it."""
    with gradebook(db_url) as book:
        book.find_assignment(assignment)  # raises if the assignment was never released


class WorkerPool:
    """Grading workers that stay warm from one assignment to the next (`lrcourse check` grades chapter after
    chapter): a worker's start (nbgrader, its kernel zygote, the answers' zygotes) is most of a small chapter's time.
    The process pool is made on first use and again only after it broke or was stopped; `close` ends its workers
    (`contextlib.closing`). Without one, `run_workers` makes its own and ends it when its assignment is done."""

    def __init__(self, course: Path, db_url: str, sandboxed: bool = True):
        self.context = multiprocessing.get_context("spawn")
        # a SimpleQueue's put is in the pipe before the worker goes on: one dying at once is known to be on its student
        self.starts = self.context.SimpleQueue()
        # 1 from the first Ctrl-C: a worker hands back ungraded any student it takes then (`worker.grade_student`).
        # Cancelling cannot reach the students the pool's call queue already holds (up to one more than its workers,
        # besides those being graded). No lock: set from a signal handler, and a worker killed holding a lock would
        # hold that handler forever.
        self.halted = self.context.RawValue("b", 0)
        self.initargs = (str(course), db_url, sandboxed, self.starts, self.halted)
        self.pool: ProcessPoolExecutor | None = None

    def get(self, size: int) -> ProcessPoolExecutor:
        """The warm pool, or a new one of `size` workers."""
        if self.pool is None:
            self.pool = ProcessPoolExecutor(
                size, mp_context=self.context, initializer=worker.start, initargs=self.initargs
            )
        return self.pool

    def halt(self) -> None:
        """No worker starts another student (the first Ctrl-C; called in its signal handler: takes no lock)."""
        self.halted.value = 1

    def resume(self) -> None:
        """The workers start students again (a new batch)."""
        self.halted.value = 0

    def close(self, wait: bool = True) -> None:
        """End the workers (each closes its sandboxes); the next `get` starts new ones."""
        if self.pool is not None:
            self.pool.shutdown(wait=wait, cancel_futures=True)
            self.pool = None


def run_workers(
    course, assignment, todo, workers, db_url, progress, sandboxed, limits: Limits, warm: WorkerPool | None = None
) -> list[Outcome]:
    from tqdm import tqdm

    outcomes: list[Outcome] = []
    pending = list(todo)
    attempts: dict[str, int] = {}
    bar = tqdm(total=len(todo), unit="student", desc=f"grading {assignment}", disable=not progress, file=sys.stderr)
    pools = warm or WorkerPool(course, db_url, sandboxed)
    watch = Watchdog(pools.starts, limits.student_seconds + limits.worker_grace_seconds, limits.worker_memory_mb)
    try:
        while pending:
            pool = pools.get(min(workers, len(pending)))
            pools.resume()
            try:
                pending, broke = _grade_in(pool, assignment, pending, outcomes, attempts, bar, watch, pools.halt)
            except Stopped:
                print("\nStopped: ending the grading workers now.", file=sys.stderr)
                end_workers(multiprocessing.active_children())
                if sandboxed:  # the workers are gone, stopped or killed: what they could not clear goes too
                    remove_stale()  # their sandboxes' folders, socket folders, cgroups (a stopped worker
                    # closing its sandboxes mid-notebook can leave a folder still mounted by its kernel)
                pools.close(wait=False)
                raise
            if broke or warm is None:
                pools.close()
                # the pool's workers are gone: their memory cgroups go, and what a stopped or killed one left
                remove_stale()
    except KeyboardInterrupt:
        bar.close()
        print("Every grade written so far is kept; run the command again to grade the rest.", file=sys.stderr)
        raise
    finally:
        if warm is None:
            pools.close()
    bar.close()
    return outcomes


def _grade_in(pool, assignment, pending, outcomes, attempts, bar, watch: Watchdog, halt) -> tuple[list, bool]:
    """Grade `pending` in `pool`, adding to `outcomes`; return the students to retry in a new pool, and whether the
    pool broke (its workers are then gone). The first Ctrl-C calls `halt` at once: no worker starts a student
    after it (`WorkerPool.halt`)."""
    watch.finished -= {s for s, _ in pending}
    futures, unsent = {}, []
    for student, current in pending:
        try:
            futures[pool.submit(worker.grade_student, assignment, student, current)] = (student, current)
        except BrokenProcessPool:  # a student sent before broke the pool already: the rest wait for a new one
            unsent.append((student, current))
    watch.enlist(multiprocessing.active_children())  # the submits started the pool's workers
    broken = []  # (student, current, how it ended) for each student whose future the pool's breaking ended
    running = set(futures)
    with CtrlC(halt).installed() as interrupted:
        while running:
            if interrupted.asked:  # a Ctrl-C anywhere in this loop: the students being graded finish, still watched
                drain(pool, futures, running, watch)
                raise KeyboardInterrupt
            done, running = wait(running, timeout=WATCH_SECONDS, return_when=FIRST_COMPLETED)
            ended, _ = ended_then_checked(watch, futures, done)
            for future in done:
                student, current = futures[future]
                try:
                    outcomes.append(future.result())
                except BrokenProcessPool:
                    end = ended[future]
                    broken.append((student, current, end.stopped, end.stopped or watch.death(end.pid)))
                    continue
                except Exception as error:  # a bug outside nbgrader's own handling
                    outcomes.append(Outcome(student, "failed", f"{type(error).__name__}: {error}"))
                bar.update(1)
        interrupted.check()  # after the last student ended: the run stops here all the same (no retry pool)
    failed, retry = retry_or_fail(broken, attempts)
    outcomes += failed
    bar.update(len(failed))
    return retry + unsent, bool(broken or unsent)


def retry_or_fail(broken: list, attempts: dict[str, int]) -> tuple[list[Outcome], list]:
    """The students of a broken pool, as (student, current, why it was stopped, why its worker ended: the stop or
    `Watchdog.death`): those failed, and those to retry in a new pool. A stopped student fails; a death is charged
    to the student whose worker died, who fails the second time; every other student is retried, not charged.
    A pool that broke with no student to blame (its workers could not start, say) charges all it held, so a
    run whose workers keep dying still ends."""
    blamed = any(why for _, _, _, why in broken)
    failed, retry = [], []
    for student, current, stopped, why in broken:
        if stopped:
            failed.append(Outcome(student, "failed", stopped))
            continue
        if why or not blamed:
            attempts[student] = attempts.get(student, 0) + 1
        if attempts.get(student, 0) < 2:
            retry.append((student, current))
        elif why:
            failed.append(
                Outcome(student, "failed", f"the grading worker died twice while grading this student ({why})")
            )
        else:
            failed.append(Outcome(student, "failed", "the grading worker died twice, not known while grading whom"))
    return failed, retry


# --------------------------------------------------------------------------------------------
# After the run: nbgrader's CSV export, what waits for a human grader
# --------------------------------------------------------------------------------------------
def export_grades(course: Path, db_url: str) -> Path:
    """nbgrader's CSV export of the whole gradebook (its columns and rows, written quoted and safe for
    spreadsheets: `grades_csv.GradesCsvExportPlugin`), to grades.csv in the course folder."""
    from lrcourse.grading.autograde.grades_csv import GradesCsvExportPlugin

    target = course / "grades.csv"
    with gradebook(db_url) as book:
        GradesCsvExportPlugin(to=str(target)).export(book)
    return target


def awaiting_manual_grades(assignment: str, db_url: str) -> int:
    """How many manually graded answers of `assignment` still wait for a grader in the formgrader."""
    from nbgrader.api import MissingEntry

    with gradebook(db_url) as book:
        try:
            graded = book.assignment_submissions(assignment)
        except MissingEntry:
            return 0
        grades = (grade for submission in graded for notebook in submission.notebooks for grade in notebook.grades)
        return sum(grade.cell_type == "markdown" and grade.needs_manual_grade for grade in grades)
