"""`lrcourse grade <chapter> --broker-file F`: grade a class through the queue (`fleet`), with workers anywhere
(`fleet_worker`), and write every result here: the gradebook (SQLite or PostgreSQL) and the course's folders.

The intake and the run's end are local grading's (`intake.take_in`, `grade.finish`): the same refusals, skips,
exports and outcomes. Each student to grade is one task, sent with the course version (`fleet.course_version`)
and the submitted folder as a parcel; its id is the same for the same submission (`fleet.task_id`), so a rerun
after an interruption collects a result already computed instead of grading again, and sends only what is
missing. At most `window` tasks are out at once (sent and not yet collected: queued, being graded, or a result
waiting in the broker), fleet.WINDOW by default: the broker holds a window's parcels and results, not a class's, and the
window is topped up as results are collected. A result is written once, when it arrives, as local grading writes it:

- nothing, if the student's folder in submitted/ is no longer the one enqueued (a collect during the run: its
  fingerprint differs, `fleet_write.replaced`): her outcome says CHANGED, her earlier result (grades, folders,
  feedback) stays as it was, and the next run grades the new one;
- the autograded and feedback folders replace the student's, each staged beside it and renamed into place once the
  folder is known to be unchanged (the worker's done-mark is not taken: ours is
  written last, as `worker.Worker.grade` writes it), with the submission secret decided here by the course's ledger
  and class (`fleet_write.keep_secret_here`: the worker's scratch course knows neither);
- the student and submission (its timestamp from submitted/) in the gradebook, then nbgrader's SaveAutoGrades
  (`withheld_scores.WithholdAutoGrades`: test cells withheld) on each returned autograded notebook: the cells'
  comments and other grades, as nbgrader's autograde fills them;
- then the trusted scores of the test cells the worker returned (within each cell's points), and the late
  penalty from them (`late`), as `worker.Worker.decide` does. The score reported is read back from the gradebook.
  All of a student's rows are one transaction (`submission_rows`): written whole or not at all.
- a late submission's feedback is made again here, from this gradebook: the worker's page came from its scratch
  gradebook, which knows no due date, so it showed no penalty (`Writer.remake`).

The writing itself is `fleet_write`'s.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from lrcourse.grading import intake
from lrcourse.grading.autograde.grade import create_gradebook_tables, finish, hand_over
from lrcourse.grading.autograde.watchdog import CtrlC
from lrcourse.grading.course import default_db_url, ensure_tools_on_path
from lrcourse.grading.exchange.root_links import refuse_linked
from lrcourse.grading.fleet import broker as fleet, parcel
from lrcourse.grading.fleet.lapsed import Lapsed
from lrcourse.grading.fleet.lease import hard_time_limit
from lrcourse.grading.fleet.outage import BROKER_WAIT_SECONDS, Outage, unreachable
from lrcourse.grading.fleet.ready import checked, forget, ready_tasks, stored
from lrcourse.grading.fleet.refusal import replica
from lrcourse.grading.fleet.result import Stored
from lrcourse.grading.fleet.stranded import Copies
from lrcourse.grading.fleet.watch import HELD_BOUND_SECONDS, Lost, Unserved
from lrcourse.grading.fleet.write import Writer, write
from lrcourse.grading.outcomes import Outcome, RunOutcomes

POLL_SECONDS = 0.5
HINT_SECONDS = 120.0  # no task started for this long: say why that may be
BATCH = 16  # results read per poll at most (`fleet_ready.ready_tasks`), and tasks sent between two polls (`collect`)
# the key deleted only if it still holds ARGV[1] (`Run.superseded`): one step in Redis, no write between read and delete
DELETE_IF_SAME = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
ENVELOPE = 16 << 10  # a task's message beside its parcel, at most (measured: headers, properties 1.8 kB)


def grade_class_remote(
    course: Path,
    assignment: str,
    url: str,
    force: bool = False,
    db_url: str | None = None,
    progress: bool = True,
    hint_seconds: float = HINT_SECONDS,
    window: int = fleet.WINDOW,
    broker_wait: float = BROKER_WAIT_SECONDS,
) -> RunOutcomes:
    """Grade every submission of `assignment` through the queue at `url`; see the module's text. `lrcourse grade`
    holds the course's lock around it (`fleet_lock`): one run per course and chapter."""
    course = course.resolve()
    db_url = db_url or default_db_url(course)
    ensure_tools_on_path()
    start = time.monotonic()
    result = RunOutcomes(assignment)
    result.outcomes, todo = intake.take_in(course, assignment, force, db_url)
    result.outcomes, todo = refuse_linked(course, assignment, result.outcomes, todo)
    done = False
    try:
        if todo:
            create_gradebook_tables(course, assignment, db_url)
            try:
                run = Run(course, assignment, todo, url, db_url, progress, force, hint_seconds, window, broker_wait)
                result.outcomes += run.collect()
            except fleet.broker_errors() as error:
                raise fleet.BrokerUnreachable(url, error) from None
        finish(course, db_url, result, start)
        done = True
        return result
    finally:  # however the run ends (G21): as root in another account's course, what it wrote is that owner's
        hand_over(course, result, [o.student for o in result.outcomes] + [s for s, _ in todo], done)


class Run:
    """One run's sending and collecting. Its state (the students not yet sent, the tasks waited for, the outcomes, the
    tasks written and not yet forgotten in the broker) outlives a broker's outage (`fleet_outage`), which may
    interrupt a round at any of its calls to the broker: each round leaves that state whole at every one of them."""

    def __init__(
        self,
        course: Path,
        assignment: str,
        todo: list,
        url: str,
        db_url: str,
        progress: bool,
        force: bool = False,
        hint_seconds: float = HINT_SECONDS,
        window: int = fleet.WINDOW,
        broker_wait: float = BROKER_WAIT_SECONDS,
    ):
        from tqdm import tqdm

        self.course, self.assignment, self.url, self.db_url, self.force = course, assignment, url, db_url, force
        self.window, self.broker_wait = window, broker_wait
        self.app = fleet.celery_app(url, backend=sending_backend())
        self.version = fleet.course_version(course, assignment)
        self.course_id = fleet.course_id(course)
        # read once a run: each task carries it, so a refusal can say what differs
        self.environment = fleet.environment()
        self.outcomes: list[Outcome] = []
        self.waiting: dict = {}
        self.unsent = list(reversed(todo))  # taken from the end: in the intake's order
        self.written: list[str] = []  # written, not yet forgotten in the broker (`forget`)
        self.polled = 0.0
        self.client = None  # the broker's client, while `collect` runs
        desc = f"grading {assignment}"
        self.bar = bar = tqdm(total=len(todo), unit="student", desc=desc, disable=not progress, file=sys.stderr)
        self.idle = IdleHint(url, self.version, self.waiting, hint_seconds, bar)
        self.lapsed = Lapsed(url, self.waiting, bar, limits=(hard_time_limit(course), HELD_BOUND_SECONDS))
        self.unserved = Unserved(course, assignment, self.version, self.waiting, bar)  # a course moved, no worker
        queue = fleet.queue_name(self.version)
        self.lost = Lost(self.waiting, self.resend, bar, queue=queue, size=self.size)  # lost or stranded tasks
        self.copies = Copies(queue)  # whether a stored failure's task has another copy alive (`superseded`)

    def collect(self) -> list[Outcome]:
        """Send the students' tasks and write their results as they come, interleaved: BATCH tasks sent (never more
        than `window` out at once), then, once a poll, at most BATCH ready results read and written (`ready_tasks`,
        `stored`), so the first feedback does not wait for the whole class to be sent, and neither the command's
        memory nor the broker's grows with the class. Students not yet sent when the command is stopped are sent by
        the rerun. A broker that cannot be reached mid-run is waited for, `broker_wait` s at most (`fleet_outage`)."""
        import redis

        stop = CtrlC()
        writer = Writer(self.course, self.db_url)
        try:
            with stop.installed(), redis.Redis.from_url(self.url) as self.client:
                self.client.ping()  # a broker out of reach at the start is said at once (exit 3), not waited for
                if (read_only := replica(self.client)) is not None:  # said with its primary (`fleet_refusal`)
                    raise read_only
                outage = Outage(self.url, self.bar, stop.check, self.broker_wait)
                try:
                    while self.unsent or self.waiting:
                        try:
                            self.round(writer, stop)
                            outage.over()
                        except Exception as error:
                            if not unreachable(error):
                                raise
                            outage.wait(error, self.client.ping)
                            self.unserved.broker_back()
                            self.lost.broker_back()
                            self.copies.broker_back()
                finally:
                    writer.close()
        except fleet.GradebookRefused as refused:  # its student's result kept in the broker: not in `written`
            self.bar.close()
            refused.written, refused.left = writer.results, len(self.waiting) + len(self.unsent) + 1
            raise
        except KeyboardInterrupt:
            self.bar.close()
            print(
                f"\nInterrupted: {len(self.waiting) + len(self.unsent)} student(s) not collected. Every grade written "
                "so far is kept; run the command again to collect the rest (results already computed are not graded "
                "again).",
                file=sys.stderr,
            )
            raise
        self.bar.close()
        if writer.results:
            print(writer.pace(), file=sys.stderr)
        return self.outcomes

    def round(self, writer: Writer, stop: CtrlC) -> None:
        """BATCH tasks sent (as the window allows), then, once a poll, the ready results written and the watches
        checked. A student leaves `unsent` once sent, and `waiting` once its result is read."""
        stop.check()
        for _ in range(max(0, min(BATCH, len(self.unsent), self.window - len(self.waiting)))):
            student, current = self.unsent[-1]
            task = fleet.task_id(self.version, self.assignment, student, current, self.course_id)
            try:
                self.send(task, student, self.force)
            except parcel.ParcelRefused as error:
                self.unsent.pop()
                self.outcomes.append(Outcome(student, "failed", f"the submission cannot be sent: {error}"))
                self.bar.update(1)
                continue
            self.unsent.pop()  # only once sent: a send the broker failed is made again after the outage
            self.waiting[task] = (student, current)
        room = self.unsent and len(self.waiting) < self.window
        if room and time.monotonic() - self.polled < POLL_SECONDS:
            return  # sending: the results are looked for once a poll, not after every batch
        self.polled = time.monotonic()
        forget(self.client, self.written)  # those an outage interrupted
        self.copies.look_at_room(self.client)  # a failure stored once a full Redis has room: `Copies.blind`
        ready = ready_tasks(self.client, self.waiting, BATCH, self.copies.watched())
        if ready:
            self.idle.started = True
        wrote = False
        for task in ready:
            wrote = self.write(writer, task) or wrote
            stop.check()
        self.idle.check()
        self.lapsed.check()
        self.unserved.check(self.client)
        self.lost.check(self.client)
        if not wrote and not room:  # nothing ready, or only failures waited on (`superseded`): no busy loop
            time.sleep(POLL_SECONDS)

    def write(self, writer: Writer, task: str) -> bool:
        """The task's result read, written, and forgotten in the broker: True, unless it is waited on (`superseded`) or
        gone since `ready_tasks` saw it (Redis restarted empty in between, redis-py reconnecting without an error): the
        task then stays waiting, with neither its `sent` mark nor a result, and `fleet_watch.Lost` sends it again."""
        raw = self.client.get(fleet.result_key(task))  # read before the task leaves `waiting`: the broker may fail
        if raw is None:
            return False
        result = checked(raw)
        self.lapsed.saw(task)  # dated on this clock before any wait on it (`superseded`)
        if self.superseded(task, raw, result):
            return False
        result = self.lapsed.explained(task, result)  # a result lost waiting for room: not the student's fault
        student, current = self.waiting.pop(task)
        began = time.monotonic()
        self.outcomes.append(write(self.course, writer, self.assignment, student, current, result))
        writer.results, writer.seconds = writer.results + 1, writer.seconds + time.monotonic() - began
        self.bar.update(1)
        self.written.append(task)
        forget(self.client, self.written)  # written (or failed): the broker need not hold it any longer
        return True

    def superseded(self, task: str, raw, result: Stored) -> bool:
        """Whether the task's stored failure is not to be written (yet): while another copy of the task is observably
        alive (`fleet_stranded.Copies.alive`: in the queue, or its lease or a worker's mark of it renewed after the
        failure was stored), or until that is known (at most `fleet_stranded.ALIVE_SECONDS` after its first look), the
        run waits on. A worker paused past its hard
        time limit, resumed after its task was sent again (`fleet_watch.Lost`), stores TimeLimitExceeded for its copy
        (Celery's main process does, as it resumes) while the good copy waits in the queue or is graded: written, it
        failed the student, and the good copy's result was then not stored beside it. A failure of an alive copy's
        task is dropped, only if still the same bytes (a Lua compare-and-delete): that copy's success may have replaced
        it meanwhile (`fleet_deliveries.result_wanted`); the copy's own result is then waited for, and a copy lost
        with its worker is sent again by `fleet_watch.Lost`. With no copy alive the failure is written, however many
        copies were sent, by this run or an interrupted one. A success (or a refused result) that replaced a failure
        looked at is written, that failure's looks forgotten: still watched, it went last in every batch (R25n N1)."""
        if result.status in ("SUCCESS", "REFUSED"):
            self.copies.forget(task)
            return False
        alive = self.copies.alive(self.client, task, raw)
        if alive is None:
            return True  # asked again at the next poll
        self.copies.forget(task)
        if alive:
            self.client.eval(DELETE_IF_SAME, 1, fleet.result_key(task), raw)
            self.lapsed.forget(task)  # that copy's read dates no later failure (R25r N1); the live one's wait stays
            return True
        return self.client.get(fleet.result_key(task)) != raw  # replaced meanwhile (a copy's success): read again

    def send(self, task: str, student: str, force: bool, resent: bool = False) -> None:
        folder = self.course / "submitted" / student / self.assignment
        send(self.app, self.client, task, self.version, self.assignment, folder, force, self.environment, resent)

    def resend(self, task: str) -> None:
        """A task the broker lost or no worker holds, sent again (`fleet_watch.Lost`)."""
        student, _ = self.waiting[task]
        self.lapsed.forget(task, waits=True)  # an earlier copy's read or wait explains no failure of this one
        try:  # its count of deliveries kept: a resend gives a poison submission no extra life
            self.send(task, student, False, resent=True)
        except parcel.ParcelRefused as error:  # changed since it was sent, and now refused: not waited for
            self.waiting.pop(task)
            self.outcomes.append(Outcome(student, "failed", f"the submission cannot be sent again: {error}"))
            self.bar.update(1)

    def size(self, task: str) -> int:
        """A task's message sent again: its parcel, base64 again in kombu's body."""
        folder = self.course / "submitted" / self.waiting[task][0] / self.assignment
        return parcel.packed_size(folder) * 4 // 3 + ENVELOPE


def sending_backend() -> type:
    """Celery's Redis result backend for the enqueuing command, which reads results by their keys (`ready_tasks`,
    `stored`) and never waits on Celery's AsyncResult: so it subscribes to nothing as a task is sent. Celery's own
    subscribed one pub/sub channel per task sent, on a connection nobody read (each result, 1.2 MB, published
    there too), and, with Redis restarted, a send retried that subscription for about 19 s, logging each try, then
    raised "The Celery application must be restarted" (measured: kombu 5.7, celery 5.7)."""
    from celery.backends.redis import RedisBackend

    class SendingBackend(RedisBackend):
        def __init__(self, app=None, url=None, **kwargs):
            # given as the app's backend class (`fleet.celery_app`), Celery passes no URL: the app's is the broker's
            super().__init__(app=app, url=url or app.conf.result_backend, **kwargs)

        def on_task_call(self, producer, task_id) -> None:
            pass

    return SendingBackend


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


def send(
    app,
    client,
    task: str,
    version: str,
    assignment: str,
    folder: Path,
    force: bool,
    environment: dict | None = None,
    resent: bool = False,
) -> None:
    """Enqueue the task, unless its result is stored, accepted and graded (an interrupted run's) or an earlier run sent
    it and it is not done yet (queued or being graded: sending it again would grade it twice). Any other stored result
    (a failure, or one that cannot be read or accepted) is forgotten and the task sent again, with its delivery count
    reset; `force` sends it whatever is stored. The same submission has the same task id: a task sent again (an
    interruption between sending and marking it sent) is dropped by a worker that finds its result stored. The task
    carries this machine's `environment` (`fleet.environment`), which a worker of another one names in its refusal.
    `resent`: sent again by this run (`fleet_watch.Lost`: lost or stranded) with its count of deliveries kept, so that
    a submission that kills its workers still fails after MAX_ATTEMPTS, however often it is sent again."""
    if not force:
        result = stored(client, task) if client.exists(fleet.result_key(task)) else None
        if result is not None and result.document is not None and result.document["outcome"]["status"] == "graded":
            return
        if result is None and client.exists(fleet.sent_key(task)):
            return
    client.delete(fleet.result_key(task), fleet.done_key(task), *([] if resent else [fleet.attempts_key(task)]))
    files = parcel.pack(folder)
    payload = {"version": version, "assignment": assignment, "student": folder.parent.name, "files": files}
    payload["environment"] = environment if environment is not None else fleet.environment()
    app.send_task(fleet.TASK, args=[payload], task_id=task, queue=fleet.queue_name(version))
    client.set(fleet.sent_key(task), 1, ex=fleet.RESULT_SECONDS)
