"""`lrcourse worker`: a grading worker of the queue (`fleet`), on any machine with the course's environment and a
checkout of the course. It needs no shared file system and no gradebook credentials.

Each of its processes (Celery's prefork pool, `concurrency` of them) keeps a scratch course of its own (a temporary
folder: the checkout's nbgrader_config.py, the assignments' source and a release generated there, its own SQLite
gradebook) and a `worker.Worker` in it, opened and warmed as the process starts, before its first task
(`Station.warm`): its zygotes stay warm from task to task. A task is one student: the course version it was
enqueued at (refused, with the reason, if it is not this checkout's), the assignment, the student's id and submitted
folder as a parcel (`parcel`: unpacked by intake's rules, then checked by `intake.refused` as local grading does).
The student is graded exactly as `lrcourse grade` grades locally (`worker.grade_student`) and the result returned
as JSON: the outcome, the autograded and feedback folders (as parcels) and the trusted score of each test cell; one
past `parcel.MAX_RESULT_MB` (a bound of the broker's memory) is not sent, and that student fails with the reason. The
enqueuing command writes the real gradebook and folders.

It listens only to the queues of its checkout's versions (`fleet.queue_name`), one per assignment; a task of
another version that reaches it anyway is refused with the reason (the packages that differ named, when the
environments do: `fleet.environment`).

Its versions are computed once, as it starts, and its code imported then: a checkout or an environment changed under
a running worker (a git pull, a pip install) would grade with old code that lazily imports new files. So the grading
process computes the task's version again from the disk before grading and after (`Station.moved`): if it moved, the
task goes back to the queue unacknowledged and not counted as an attempt (another worker, or this one restarted,
grades it at the version it claims), and the worker stops (SIGTERM to its main process: Celery's warm shutdown lets
its other processes finish their students) and exits with RESTART_STATUS, for its supervisor to start it again on
the new checkout, which serves the new version's queues. An idle worker's main process looks too (`fleet_watch`).
While a process grades a task, and until its result is stored, it holds the task's lease (`fleet_lease`), and the
worker's main process marks every task it holds (`fleet_lease.Held`: one waiting for a process still warming too), so
that the enqueuing command can tell a worker that stopped answering (a lost machine) from one still grading. A process
that dies on a student gives the task back to the queue (`fleet`); the task counts its deliveries in Redis and fails
that student after MAX_ATTEMPTS, so a submission that kills its workers never blocks the queue. A task whose result is
already stored (enqueued twice: an interrupted run resent it) or that the enqueuing command wrote (`fleet.done_key`: a
copy kombu restored after the visibility timeout) is dropped, not graded again; a result is not written beside one
stored or written (a paused worker's copy, resumed): no orphan is left in the broker.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import signal
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from lrcourse.gradebook_db import gradebook
from lrcourse.grading import intake
from lrcourse.grading.autograde import worker
from lrcourse.grading.exchange.submission_secrets import record_as_own
from lrcourse.grading.fleet import broker as fleet, full as fleet_full, parcel, start as fleet_start
from lrcourse.grading.fleet.deliveries import count_attempt, graded_already, result_wanted
from lrcourse.grading.fleet.lease import WARM_SECONDS, Held, Lease, hard_time_limit
from lrcourse.grading.fleet.watch import CHECK_SECONDS, CheckoutWatch, moved_or_unreadable
from lrcourse.grading.outcomes import Outcome

RESTART_STATUS = 75  # EX_TEMPFAIL: the worker stopped because its checkout or environment changed (see above)
SCRATCH = "lrcourse-worker-"  # a scratch course's folder: this, the pool process's id, a dash


class Station:
    """One worker process's scratch course and grader, made as the process starts (after Celery's fork)."""

    def __init__(self, checkout: Path, sandboxed: bool = True):
        self.checkout = checkout.resolve()
        self.sandboxed = sandboxed
        self.code = fleet.code_version()
        self.environment = fleet.environment()
        self.scratch: Path | None = None
        self.versions: dict[str, str] = {}  # assignment -> its version in this checkout, once released here
        self.leases: dict[str, Lease] = {}  # task id -> its lease (`make_app`): dropped on SIGTERM (`open`)

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.scratch / 'gradebook.db'}"

    def open(self) -> None:
        if self.scratch is not None:
            return
        self.scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH}{os.getpid()}-"))  # the pid: see remove_leftovers
        config = (self.checkout / "nbgrader_config.py").read_text()
        (self.scratch / "nbgrader_config.py").write_text(config + '\nc.CourseDirectory.release_directory = "release"\n')
        worker.start(str(self.scratch), self.db_url, self.sandboxed)
        atexit.register(self.close)
        stopped = signal.getsignal(signal.SIGTERM)  # worker.start's: closes the grader and ends at once (os._exit)

        def stop(signum, frame):
            for lease in list(self.leases.values()):  # first, quick: a hard time limit's SIGKILL follows in 0.1 s
                lease.drop()  # left, a lease outlived its process: a live copy of its task could not take it
            self.close()
            stopped(signum, frame)

        signal.signal(signal.SIGTERM, stop)

    def close(self) -> None:
        """The grader closed (its zygotes and sandboxes) and the scratch course removed: on this process's exit."""
        worker.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def warm(self) -> None:
        """Everything but a student, as this process starts (before Celery gives it a task): the scratch course,
        each served assignment's release and the zygotes its students need. Paid once per process, when the worker
        starts, not by the first students of a deadline (it took a busy 2-core machine 30 s and more). A failure is
        only said here: the first task opens the station again and fails its student with the reason."""
        start = time.monotonic()
        try:
            self.open()
            for assignment in self.serving():
                self.release(assignment)
                worker.warm(assignment)
        except Exception as error:
            print(f"lrcourse worker: process {os.getpid()} not warmed: {type(error).__name__}: {error}", flush=True)
            return
        print(f"lrcourse worker: process {os.getpid()} warm in {time.monotonic() - start:.1f} s", flush=True)

    def version(self, assignment: str) -> str | None:
        """This checkout's version of `assignment` (None if it has no such assignment)."""
        if assignment not in self.versions:
            if not intake.valid_student_id(assignment) or not (self.checkout / "source" / assignment).is_dir():
                return None
            self.versions[assignment] = fleet.course_version(self.checkout, assignment, self.code)
        return self.versions[assignment]

    def moved(self, assignment, code: str | None = None, settings: bytes | None = None) -> str:
        """Why this checkout, read from the disk now, is no longer the version this worker started at (its code, its
        environment, or `assignment`'s source and grading settings: `fleet.course_version`), or "" if it is. `code`,
        `settings`: read once by a caller asking for several assignments (`CheckoutWatch.moved_now`), else here."""
        code = fleet.code_version() if code is None else code
        if code != self.code:
            return f"its code or environment changed since it started (code version {self.code}, now {code})"
        mine = self.version(assignment) if isinstance(assignment, str) else None
        if mine is None:
            return ""
        now = fleet.course_version(self.checkout, assignment, code, settings)
        if now != mine:
            return f"{assignment}'s source or grading settings changed since it started (version {mine}, now {now})"
        return ""

    def serving(self) -> dict[str, str]:
        """{assignment: its version} for every assignment of this checkout: the queues this worker listens to."""
        names = sorted(path.name for path in (self.checkout / "source").glob("*") if path.is_dir())  # no source/: []
        versions = {name: self.version(name) for name in names}
        return {name: version for name, version in versions.items() if version}

    def release(self, assignment: str) -> None:
        """The assignment's source and release in the scratch course, its cells in the scratch gradebook."""
        target = self.scratch / "source" / assignment
        if target.is_dir():
            return
        shutil.copytree(self.checkout / "source" / assignment, target)
        try:
            worker.release(assignment)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)  # released again by the next task, which reports a failure
            raise

    def grade(self, task: dict) -> dict:
        """One task: the result document (see the module's text)."""
        assignment, student = task.get("assignment"), task.get("student")
        if not isinstance(assignment, str) or not isinstance(student, str) or not intake.valid_student_id(student):
            return _failed(str(student)[:64], "the task names no valid assignment and student")
        mine = self.version(assignment)
        if mine is None:
            return _failed(student, f"this worker's checkout has no assignment {assignment[:64]!r}", refused=True)
        if task.get("version") != mine:
            return _failed(student, fleet.mismatch(task, assignment, mine, self.environment), refused=True)
        self.open()
        self.release(assignment)
        try:
            return self.grade_here(assignment, student, task.get("files"))
        finally:
            for kind in ("submitted", "autograded", "feedback"):
                shutil.rmtree(self.scratch / kind / student, ignore_errors=True)

    def grade_here(self, assignment: str, student: str, files) -> dict:
        folder = self.scratch / "submitted" / student / assignment
        for kind in ("submitted", "autograded", "feedback"):
            shutil.rmtree(self.scratch / kind / student, ignore_errors=True)
        clock = Phases()
        try:
            parcel.unpack(files, folder)
            reason = intake.refused(self.scratch, student, assignment)
            record_as_own(self.scratch, assignment, student)  # the enqueuer applies the course's ledger
        except Exception as error:
            reason = f"the submission could not be unpacked: {type(error).__name__}: {intake.first_line(error)}"
        clock.lap("unpacked")
        if reason:
            return _failed(student, reason)
        outcome = worker.grade_student(assignment, student, intake.fingerprint(folder))
        clock.lap("graded")
        folders = {kind: self.scratch / kind / student / assignment for kind in ("autograded", "feedback")}
        if too_large := parcel.result_too_large(folders.values()):  # the broker's memory is sized by the cap
            return _failed(student, too_large)
        result = {
            "outcome": asdict(outcome),
            **{kind: parcel.pack(path, checked=False) if path.is_dir() else {} for kind, path in folders.items()},
            "scores": self.trusted_scores(assignment, student) if outcome.status == "graded" else {},
        }
        clock.lap("result made")
        print(f"lrcourse worker: {student}: {clock}", flush=True)  # where a task's time goes (bench_fleet reads it)
        return result

    def trusted_scores(self, assignment: str, student: str) -> dict[str, float | None]:
        """{test cell: its score} from the scratch gradebook, where the trusted verdicts wrote them."""
        from lrcourse.grading.exercise import load_exercise

        with gradebook(self.db_url) as book:
            exercise = load_exercise(self.scratch, assignment, book)
            return {
                test.name: book.find_grade(test.name, exercise.notebook, assignment, student).auto_score
                for test in exercise.tests
            }


class Phases:
    """Seconds spent in each phase of a task, for the worker's log."""

    def __init__(self):
        self.last = time.monotonic()
        self.laps: list[tuple[str, float]] = []

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps.append((name, now - self.last))
        self.last = now

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.laps)


def remove_leftovers() -> None:
    """What grading processes that died left (kill -9, a memory cap): their scratch courses, their sandboxes'
    folders and cgroups (`leftovers.remove_stale`, as local grading does after a worker dies). Run as each pool
    process starts, a dead one's replacement included."""
    from lrcourse.grading.sandbox.leftovers import remove_dead, remove_stale

    # in /tmp a name proves nothing: only this user's folders (r20af 1: a name of 2**31 raised, hers was removed)
    remove_dead(glob.glob(os.path.join(tempfile.gettempdir(), f"{SCRATCH}*")), rf"^{SCRATCH}(\d+)-")
    remove_stale()


def _failed(student: str, reason: str, refused: bool = False) -> dict:
    return {"outcome": asdict(Outcome(student, "failed", reason)), "refused": refused}


def make_app(url: str, checkout: Path, sandboxed: bool = True, visibility_seconds: float = fleet.VISIBILITY_SECONDS):
    """The Celery app of a worker: the queue's, with the one grading task registered (nothing else can run)."""
    from celery.exceptions import Ignore, Reject
    from celery.signals import task_postrun, worker_process_init, worker_process_shutdown

    leases = (station := Station(checkout, sandboxed)).leases  # each held until its result is stored (`release`)

    def waits(key: str, size: int) -> None:
        if (lease := leases.get(key.removeprefix(fleet.RESULT_PREFIX))) is not None:
            lease.waits(size)

    def release(task_id=None, **_) -> None:  # task_postrun: after the result's write (one waiting for room keeps it)
        if (lease := leases.pop(task_id, None)) is not None:
            lease.__exit__(None, None, None)

    backend = fleet_full.waiting_backend(result_wanted, waits)  # a full Redis: results wait (`fleet_full`)
    app = fleet.celery_app(url, visibility_seconds, backend)
    # Celery's hard limit, the last resort when the sandbox's clocks and the watchdog's miss a held process: it kills
    # the pool process and fails the task (TimeLimitExceeded: acknowledged, not handed out again), and a new process
    # takes the next student
    app.conf.task_time_limit = hard_time_limit(checkout)
    # in each pool process: at its start, what dead ones left, then warm (Celery waits for it: warm_seconds); at its
    # end (os._exit: no atexit), its own
    app.conf.worker_proc_alive_timeout = WARM_SECONDS  # `fleet_lease.WARM_SECONDS`
    worker_process_init.connect(lambda **_: (remove_leftovers(), station.warm()), weak=False)
    worker_process_shutdown.connect(lambda **_: station.close(), weak=False)
    task_postrun.connect(release, weak=False)

    @app.task(name=fleet.TASK, bind=True, shared=False)  # this app only: not every app made after it in the process
    def grade_student(self, task):
        if graded_already(url, self.request.id):
            raise Ignore()  # graded already: a copy resent by an interrupted run
        if not isinstance(task, dict):
            return _failed("", "the task is not a JSON object")
        # graded by the code of the version it claims, or not here
        if moved := moved_or_unreadable(station, task.get("assignment")):
            _stop_for_restart(moved)
            raise Reject(moved, requeue=True)
        attempts = count_attempt(url, self.request.id)  # a full broker: waits for room, saying so
        if attempts > fleet.MAX_ATTEMPTS:
            why = f"the grading worker died {attempts - 1} times while grading this student: not tried again"
            return _failed(str(task.get("student"))[:64], why)
        lease = Lease(url, self.request.id, str(self.request.hostname), visibility_seconds).__enter__()
        leases[self.request.id] = lease  # dropped by SIGTERM too (`Station.open`)
        try:  # the lease says it still answers, until its result is stored (`release`), or the task gives up here
            result = station.grade(task)
            # changed while grading: this result may mix two versions
            if moved := moved_or_unreadable(station, task.get("assignment")):
                count_attempt(url, self.request.id, -1)
                _stop_for_restart(moved)
                raise Reject(moved, requeue=True)
        except BaseException:
            leases.pop(self.request.id, None)
            lease.__exit__(None, None, None)
            raise
        return result

    only_grading_task(app)
    return app, station


def only_grading_task(app) -> None:
    """The grading task the only one registered: Celery's built-in tasks (celery.accumulate, chain, chord, group,
    map, starmap, chunks, backend_cleanup, ...) are registered on every app as it is finalized, and a worker runs any
    registered task a message names. Unregistered, a message naming one is refused by the worker ("Received
    unregistered task") and dropped, never run. Done as the app is finalized (when the worker starts), not now:
    finalizing binds each task to the configuration of that moment (its time limit), which a caller may still set."""

    def unregister(sender, **_) -> None:
        for name in list(sender.tasks):
            if name != fleet.TASK:
                sender.tasks.unregister(name)

    app.on_after_finalize.connect(unregister, weak=False)


def _stop_for_restart(why: str) -> None:
    """Said in the log, and the worker's main process told to stop (this is one of its pool's processes): Celery's warm
    shutdown lets the other processes finish their students, and `run` exits with RESTART_STATUS."""
    print(
        f"lrcourse worker: process {os.getpid()}: this checkout moved: {why}; the task goes back to the queue and "
        "the worker stops: start it again to serve the checkout's new version",
        flush=True,
    )
    os.kill(os.getppid(), signal.SIGTERM)


def run(url: str, checkout: Path, concurrency: int, sandboxed: bool, visibility_seconds: float, name: str) -> int:
    """`lrcourse worker`: serve the queue until stopped (Ctrl-C or SIGTERM: Celery's warm shutdown finishes the
    students being graded; their tasks are acknowledged only then); Celery's exit status."""
    app, station = make_app(url, checkout, sandboxed, visibility_seconds)
    return run_station(app, station, concurrency, visibility_seconds, name)


def run_station(
    app, station: Station, concurrency: int, visibility_seconds: float, name: str, every: float = CHECK_SECONDS
) -> int:
    """`serve`, then RESTART_STATUS if the worker stopped because its checkout moved (see the module's text), seen by
    a task's grading process or, idle or not, by the main process's look every `every` s (`CheckoutWatch`)."""
    station.serving()  # the versions it serves, read before the watch compares the disk with them
    app.steps["worker"].add(CheckoutWatch(app.conf.broker_url, station, name, every).step())
    app.steps["worker"].add(Held(app.conf.broker_url).step())  # the tasks it holds, warm or not (`fleet_lease.Held`)
    status = serve(app, station, concurrency, visibility_seconds, name)
    if moved := [why for assignment in station.serving() if (why := station.moved(assignment))]:
        print(f"lrcourse worker: stopped: {moved[0]}: start it again to serve the new version", flush=True)
        return RESTART_STATUS
    return status


def serve(app, station: Station, concurrency: int, visibility_seconds: float, name: str) -> int:
    """The Celery worker of `make_app`'s app, on the queues of `station`'s versions, until stopped; its status."""
    serving = station.serving()
    if not serving:
        raise SystemExit(  # no source/ at all either (R25t N4: a traceback, when --course was left at a wrong ".")
            f"lrcourse worker: {station.checkout} has no assignment in source/: nothing to serve (is --course a "
            "checkout of the course?)"
        )
    # the broker answering, with room, before Celery's start writes (a full Redis ended it); refused: no banner
    fleet_start.ready(app.conf.broker_url, "this worker's start", app.conf.broker_connection_max_retries)
    fleet_full.quiet_sweeps()  # kombu's sweep refused by a full Redis: one line a minute, not a traceback each time
    print(f"lrcourse worker: course at {station.checkout}, code version {station.code}; serving", flush=True)
    print("  environment:", ", ".join(f"{name} {version}" for name, version in station.environment.items()), flush=True)
    for assignment, version in serving.items():
        print(f"  {assignment} at course version {version}", flush=True)
    if visibility_seconds <= (needed := app.conf.task_time_limit + WARM_SECONDS):  # a task may wait out a warm-up
        print(
            f"lrcourse worker: warning: --visibility-seconds {visibility_seconds:.0f} is not longer than a task's time "
            f"limit and a process's warm-up ({needed:.0f} s): a slow student may be handed to a second worker",
            flush=True,
        )
    queues = ",".join(fleet.queue_name(version) for version in serving.values())
    argv = ["worker", "--pool=prefork", f"--concurrency={concurrency}", "--loglevel=INFO", f"--hostname={name}"]
    argv.append(f"--queues={queues}")  # its own versions' queues only (`fleet.queue_name`)
    return celery_main(app, [*argv, "--without-gossip", "--without-mingle", "--without-heartbeat"])


def celery_main(app, argv: list[str]) -> int:
    """Celery's command line on `app`, as app.worker_main runs it, but its exit status returned: worker_main drops it,
    so a worker ended by Celery's "Unrecoverable error" exited 0."""
    from celery.bin.celery import celery
    from click.exceptions import Exit

    celery.params[0].default = app  # the --app option's default, as app.start sets it
    try:
        status = celery.main(args=argv, standalone_mode=False)
    except Exit as end:
        status = end.exit_code
    finally:
        celery.params[0].default = None
    return status if isinstance(status, int) else 0
