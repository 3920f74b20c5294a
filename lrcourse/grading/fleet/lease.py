"""A grading task's lease in the broker (`fleet_worker` holds it, `fleet_grade` reads it): who took a task, when,
and whether that worker still answers; and a worker's marks of the tasks it holds (`Held`), warm or not.

Redis gives a lost machine's task (the machine down, its network cut, paused: not one killed process, whose task comes
back at once) to another worker only once the broker's visibility timeout has passed (`lrcourse worker
--visibility-seconds`, 3600 s by default: it must outlast any task, else a slow student is handed out twice).
Without a word the enqueuing command would wait that hour. So while a worker process grades a task, and until its
result is stored, it keeps a key alive in Redis (renewed every RENEW_SECONDS, expiring LEASE_SECONDS after the last
renewal), beside a record of who took the task, when, and under which visibility timeout; and the worker's main
process marks every task it holds (`Held`), a task still waiting for a process that warms included, each mark naming
the worker and whether a grading process has the task. A task with a record but no live key, for longer than a
lease, was taken by a worker process that stopped answering: the enqueuing command says so (`Lapsed`), naming the
student and the worker. If the worker's mark still says a grading process has it, that process is stopped or frozen
and the worker lives (`hung_message`). If only the process died, its worker put the task back at once; if the whole
worker stopped answering, its marks lapse too and the enqueuing command sends the task again (`fleet_watch.Lost`),
about two minutes after the worker's last renewal; a task marked held with no lease for longer than a warm-up
(`fleet_watch.HELD_BOUND_SECONDS`) is named and sent again the same way. The copy the broker gives back after
the visibility timeout, or that a paused worker resumes, is dropped by the worker once the result is written
(`fleet.done_key`, `fleet_worker`), never graded into the gradebook twice.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import UTC, datetime

from lrcourse.grading.fleet import broker as fleet
from lrcourse.grading.fleet.full import FIX, has_room, written

LEASE_SECONDS = 90.0
RENEW_SECONDS = 20.0
CHECK_SECONDS = 30.0  # how often the enqueuing command looks
HELD_SECONDS = 60.0  # a worker's mark that it holds a task (`Held`) lapses this long after its last renewal
HELD_RENEW_SECONDS = 10.0  # the worker's main process renews its marks this often
MARK_SECONDS = 5.0  # the longest a mark waits for the broker (a redis socket's timeouts): the worker's loop waits
# a pool process's start (`fleet_worker.Station.warm`) before Celery gives up on it (its default: 4 s): the longest a
# live worker holds a task for a process to warm, so the enqueuer's bound on a task held with no lease
# (`fleet_watch.HELD_BOUND_SECONDS`) is read from it
WARM_SECONDS = 900


def held_key(task: str) -> str:
    return f"lrcourse:held:{task}"


def lease_key(task: str) -> str:
    return f"lrcourse:lease:{task}"


def taken_key(task: str) -> str:
    return f"lrcourse:taken:{task}"


class Lease:
    """Held by a worker process while it grades `task` (a context manager): the record of who took it, and a key a
    thread renews until the grading ends. A broker out of reach lets the key lapse, as a lost machine's would."""

    def __init__(self, url: str, task: str, worker: str, visibility: float, seconds: float = LEASE_SECONDS):
        self.url, self.task, self.worker, self.visibility, self.seconds = url, task, worker, visibility, seconds
        self.needs = 0  # bytes its result waits for (`waits`): the lease's value, read by the enqueuer (`Lapsed`)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.renew, name="lrcourse-lease", daemon=True)

    def __enter__(self) -> Lease:
        import redis

        self.client = client = redis.Redis.from_url(self.url)
        record = {"worker": self.worker, "pid": os.getpid(), "taken": time.time(), "visibility": self.visibility}
        # a full Redis refuses them: wait for room, saying so on the worker's log (each write safe to repeat)
        what = f"the lease of {self.task} (its task kept by this worker)"
        written(client, what, lambda: client.set(taken_key(self.task), json.dumps(record), ex=fleet.RESULT_SECONDS))
        written(client, what, lambda: client.set(lease_key(self.task), 1, px=int(self.seconds * 1000)))
        self.thread.start()
        return self

    def renew(self) -> None:
        import redis

        while not self.stop.wait(min(RENEW_SECONDS, self.seconds / 3)):
            try:
                self.client.set(lease_key(self.task), self.needs or 1, px=int(self.seconds * 1000))
            except redis.RedisError:
                pass  # tried again at the next renewal; meanwhile the lease may lapse

    def waits(self, size: int) -> None:
        """Its result (`size` bytes) waits for room in the broker: the lease, held until the result is stored, says
        so at once and at each renewal, so that the enqueuer names a full broker (`Lapsed`)."""
        import redis

        self.needs = size
        try:
            self.client.set(lease_key(self.task), size, px=int(self.seconds * 1000))
        except redis.RedisError:
            pass  # the renewal says it

    def __exit__(self, *exc) -> None:
        import redis

        self.stop.set()
        self.thread.join()
        try:
            self.client.delete(lease_key(self.task))  # the record stays: the enqueuer forgets it with the result
        except redis.RedisError:
            pass
        self.client.close()


class Held:
    """A worker's main process's marks of the tasks it holds (`held_key`): set as each message is received, renewed
    every HELD_RENEW_SECONDS for every task it still holds (Celery's `reserved_requests`: received and not finished,
    whether a grading process has it or it waits for one), lapsing HELD_SECONDS after the last renewal. Celery's main
    process takes up to --concurrency tasks off the queue as it starts, before its processes are warm (45-95 s, up to
    WARM_SECONDS), and one for a process that died while its replacement warms: such a task has no lease yet and is in
    no queue, and without the mark the enqueuer took it for stranded and sent it again (`fleet_watch.Lost`). A worker
    lost whole (its machine down, paused) stops renewing: its marks lapse, and the enqueuer then sends its tasks again;
    a worker whose processes never warm renews them for ever, so the enqueuer counts a mark without a lease for
    `fleet_watch.HELD_BOUND_SECONDS` at most. `step`: the worker bootstep, on the main process's event loop (not a
    thread: see `fleet_watch.CheckoutWatch`)."""

    def __init__(self, url: str, every: float = HELD_RENEW_SECONDS, seconds: float = HELD_SECONDS):
        self.url, self.every, self.seconds = url, every, seconds

    def step(self):
        from celery import bootsteps
        from celery.signals import task_received
        from celery.worker import state

        held = self

        class Hold(bootsteps.StartStopStep):
            name = "lrcourse.held_marks"
            requires = {"celery.worker.components:Timer"}
            entry = None

            def start(self, worker) -> None:
                task_received.connect(self.received, weak=False)
                self.entry = worker.timer.call_repeatedly(held.every, self.renew)

            def received(self, request=None, **_) -> None:
                if request is not None:
                    held.mark({request.id: held_value(str(request.hostname), grading=False)})

            def renew(self) -> None:
                active = {request.id for request in list(state.active_requests)}  # a grading process has them
                reserved = list(state.reserved_requests)  # received and not finished: the active ones too
                held.mark({r.id: held_value(str(r.hostname), grading=r.id in active) for r in reserved})

            def stop(self, worker) -> None:
                task_received.disconnect(self.received)
                if self.entry is not None:
                    self.entry.cancel()
                    self.entry = None

        return Hold

    def mark(self, tasks: dict[str, str]) -> None:
        """Each task marked as held for `seconds`, the mark's value `tasks[task]` (`held_value`); a broker out of reach
        or full lets the marks lapse (a look made while Redis is full counts for nothing: `fleet_watch.Lost`)."""
        import redis

        if not tasks:
            return
        try:
            timeouts = {"socket_timeout": MARK_SECONDS, "socket_connect_timeout": MARK_SECONDS}
            with redis.Redis.from_url(self.url, **timeouts) as client, client.pipeline(transaction=False) as pipe:
                for task, value in tasks.items():
                    pipe.set(held_key(task), value, px=int(self.seconds * 1000))
                pipe.execute()
        except redis.RedisError:
            pass


def held_value(worker: str, grading: bool) -> str:
    """A mark's value (`Held`): the worker that holds the task, and whether one of its grading processes has it (else
    it waits for a process, one warming), so that the enqueuer can name the worker and tell a grading process that does
    not answer (`Lapsed`) from a task waiting for a warm-up (`fleet_watch.Lost`)."""
    return json.dumps({"worker": worker, "grading": grading})


def read_held(raw: bytes | None) -> dict | None:
    """A mark (`held_value`) as the enqueuer reads it, checked (the broker's content is not trusted): the worker's
    printable name and whether a grading process has the task; None if there is no mark."""
    if raw is None:
        return None
    try:
        found = json.loads(raw)
    except ValueError:
        found = {}
    found = found if isinstance(found, dict) else {}
    return {"worker": printable(found.get("worker")), "grading": found.get("grading") is True}


def printable(worker) -> str:
    """A worker's name from the broker, for a terminal: its first 64 printable characters, "?" if not a string."""
    return "".join(c for c in worker[:64] if c.isprintable()) if isinstance(worker, str) else "?"


class Lapsed:
    """The enqueuing command's watch on the tasks it waits for (`check` at each poll): says once per task, on the
    terminal, when its worker has held no lease for `grace` seconds (see the module's text)."""

    def __init__(
        self,
        url: str,
        waiting: dict,
        bar,
        grace: float = LEASE_SECONDS,
        every: float = CHECK_SECONDS,
        limits: tuple[float, float] = (0.0, 0.0),
    ):
        self.url, self.waiting, self.bar, self.grace, self.every = url, waiting, bar, grace, every
        self.limits = limits  # (Celery's hard time limit, the bound on a held task), for `hung_message`
        self.last = time.monotonic()
        self.missing: dict[str, float] = {}  # task -> when its lease was first seen missing
        self.said: set[str] = set()

    def check(self) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        lapsed, full, waits = self.lapsed(now)
        for task, size in waits:
            self.said.add(task)
            self.bar.write(waits_message(self.waiting[task][0], size), file=sys.stderr)
        for task, record in lapsed:
            self.said.add(task)
            student = self.waiting[task][0]
            if full:
                text = full_message(student, record)
            elif record["grading"]:
                text = hung_message(student, record, self.grace, *self.limits)
            else:
                text = message(student, record, self.grace)
            self.bar.write(text, file=sys.stderr)  # beside the bar

    def lapsed(self, now: float) -> tuple[list[tuple[str, dict]], bool, list[tuple[str, int]]]:
        """The waiting tasks whose record stands and whose lease has been missing for `grace` seconds (each record
        with `grading`: its worker's main process still marks it as held by a grading process, `Held`), whether Redis
        is full now (a lease's renewal is a write: refused, the lease lapses with its worker alive), and the tasks
        whose lease says their result waits for room (`Lease.waits`: its size) that Redis still has no room for. A task
        its worker holds for a process still warming has no lease yet, legitimately: not said here (`fleet_watch.Lost`
        names it if it is held so for longer than a warm-up)."""
        import redis

        tasks = [task for task in self.waiting if task not in self.said]
        if not tasks:
            return [], False, []
        with redis.Redis.from_url(self.url) as client:
            records = client.mget([taken_key(task) for task in tasks])
            leases = client.mget([lease_key(task) for task in tasks])
            marks = [read_held(raw) for raw in client.mget([held_key(task) for task in tasks])]
            full = not has_room(client, 0)
            sizes = [(task, waiting_size(lease)) for task, lease in zip(tasks, leases)]
            waits = [(task, size) for task, size in sizes if size and not has_room(client, size)]
        found = []
        for task, record, lease, mark in zip(tasks, records, leases, marks):
            waiting_for_a_process = mark is not None and not mark["grading"]
            if record is None or lease is not None or waiting_for_a_process:  # not taken, answering, or not yet run
                self.missing.pop(task, None)
                continue
            if now - self.missing.setdefault(task, now) >= self.grace:  # not a task's end or a hand-over
                found.append((task, {**read_record(record), "grading": mark is not None}))
        return found, full, waits


def waiting_size(lease: bytes | None) -> int:
    """The bytes a lease says its result waits for (`Lease.waits`), or 0: grading, or not a number (the broker's
    content is not trusted)."""
    try:
        size = int(lease or 0)
    except ValueError:
        return 0
    return size if 1 < size < 1 << 40 else 0


def waits_message(student: str, size: int) -> str:
    """Said once when a worker's result waits for room: the broker is full for it, though it takes small writes."""
    return (
        f"lrcourse: {student}: graded; its result ({size / 1e6:.1f} MB) waits in its worker for room in the broker, "
        "which is full for it (Redis's maxmemory is nearly reached: it refuses writes that do not fit). The worker "
        f"keeps the task and writes its result once there is room, and this command then collects it. To make room: "
        f"{FIX}. Meanwhile this command waits. Ctrl-C keeps every grade written; a rerun collects the rest."
    )


def message(student: str, record: dict, grace: float) -> str:
    # true whichever happened: a process that died on a live worker had its task put back on the queue at once
    # (another process takes it when one is free); a worker lost whole (a machine down or paused) holds it no more
    # (`Held`), so `fleet_watch.Lost` sends it again at its second look; a worker whose checkout moved gave the task
    # back to its version's queue, which only a worker of that version serves
    return (
        f"lrcourse: {student}: taken at {_clock(record['taken'])} by worker {record['worker']!r}, which has renewed no "
        f"lease for {grace:.0f} s: its grading process died, its machine was lost, cut off or paused, or the worker "
        "stopped because its checkout changed. If only the process died, its worker put the task back on the queue "
        "at once and the next free process takes it; if the whole worker stopped answering, this command sends the "
        "task again once no worker holds it at two looks in a row (it says so), and the copy the broker gives back "
        "after its visibility timeout, or the one a paused worker resumes, is then dropped, its result not written "
        "twice; in either case only a worker of this run's course version takes it. If the workers were updated to "
        "a new version, none will: stop and run `lrcourse grade` again (it sends the students not yet graded with "
        "the new version). Meanwhile this command waits. Ctrl-C keeps every grade written; a rerun collects the rest."
    )


def hard_time_limit(checkout) -> float:
    """Celery's hard time limit on a task, as `fleet_worker.make_app` sets it from `checkout`'s nbgrader_config.py:
    the student's budget, the worker's grace and 120 s (the last resort when the sandbox's clocks and the watchdog's
    miss a held process)."""
    from lrcourse.grading.course import course_config
    from lrcourse.grading.sandbox.limits import Limits

    limits = Limits.from_config(course_config(checkout, "sqlite://"))
    return limits.student_seconds + limits.worker_grace_seconds + 120


def hung_message(student: str, record: dict, grace: float, hard: float, bound: float) -> str:
    """Said when the lease lapsed while its worker's main process still marks the task as held by a grading process
    (`Held`): that process does not answer, and the worker is not lost (its task is not sent again before `bound`,
    `fleet_watch.HELD_BOUND_SECONDS`, which Celery's hard time limit `hard`, `hard_time_limit` of the enqueuer's
    course, comes before unless a larger budget raised it). Both said as computed, not typed."""
    before = "comes before that" if hard < bound else "comes only after that"
    return (
        f"lrcourse: {student}: taken at {_clock(record['taken'])} by worker {record['worker']!r}, whose grading "
        f"process has renewed no lease for {grace:.0f} s while the worker itself answers (its main process still "
        "holds the task): the process grading it is stopped (SIGSTOP, a debugger), frozen or starved (swapping, its "
        "CPU taken), not lost, so the task is not sent again, at least not before its worker has held it with no "
        f"lease for {bound:.0f} s (the bound on a held task, `fleet_watch.HELD_BOUND_SECONDS`), when it is taken for "
        f"stranded and sent again: Celery's hard time limit (below; {hard:.0f} s with this course's settings) {before}. "
        "On that worker's machine, `ps -o pid,stat,etime,args "
        "--ppid PID` (PID: the worker's main process) shows its grading processes: one in state T is stopped "
        "(`kill -CONT` resumes it); killed (`kill -9`), its worker puts the task back on the queue at once and the "
        "next free process takes it. Left as it is, Celery's hard time limit (the student's budget, the worker's "
        "grace and 120 s, from its start) kills it and fails this student, whom a rerun sends again. Meanwhile this "
        "command waits. Ctrl-C keeps every grade written; a rerun collects the rest."
    )


def full_message(student: str, record: dict) -> str:
    """`message` while Redis is full: the lease lapsed because its renewal was refused, not (only) its worker."""
    return (
        f"lrcourse: {student}: taken at {_clock(record['taken'])} by worker {record['worker']!r}, whose lease lapsed "
        "while the broker is full (Redis's maxmemory is reached: it refuses writes, a lease's renewal too): the worker "
        "may be grading it still, and writes its result once there is room; a worker that ended on it (exit 1, "
        '"Unrecoverable error" in its log) must be started again, and this command then sends its task again. To make '
        f"room: {FIX}. Meanwhile this command waits. Ctrl-C keeps every grade written; a rerun collects the rest."
    )


def read_record(raw: bytes) -> dict:
    """A record's fields, each checked (the broker's content is not trusted): a printable worker name, numbers."""
    try:
        record = json.loads(raw)
    except ValueError:
        record = {}
    record = record if isinstance(record, dict) else {}
    worker = printable(record.get("worker"))
    numbers = {key: record.get(key) for key in ("taken", "visibility")}
    for key, value in numbers.items():
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e11
        numbers[key] = float(value) if ok else 0.0
    return {"worker": worker, **numbers}


def _clock(timestamp: float) -> str:
    if not timestamp:
        return "an unknown time"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M:%S UTC")
