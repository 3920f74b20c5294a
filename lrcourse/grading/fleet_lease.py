"""A grading task's lease in the broker (`fleet_worker` holds it, `fleet_grade` reads it): who took a task, when,
and whether that worker still answers.

Redis gives a lost machine's task (the machine down, its network cut: not one killed process, whose task comes back
at once) to another worker only once the broker's visibility timeout has passed (`lrcourse worker
--visibility-seconds`, 3600 s by default: it must outlast any task, else a slow student is handed out twice).
Without a word the enqueuing command would wait that hour. So while a worker process grades a task it keeps a key
alive in Redis (renewed every RENEW_SECONDS, expiring LEASE_SECONDS after the last renewal), beside a record of who
took the task, when, and under which visibility timeout. A task with a record but no live key, for longer than a
lease, was taken by a worker process that stopped answering: the enqueuing command says so (`Lapsed`), naming the
student and the worker, and when the task is taken again (at once if only the process died: its worker put the task
back; after the visibility timeout if the machine was lost).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import UTC, datetime

from lrcourse.grading import fleet
from lrcourse.grading.fleet_full import FIX, has_room, written

LEASE_SECONDS = 90.0
RENEW_SECONDS = 20.0
CHECK_SECONDS = 30.0  # how often the enqueuing command looks


def lease_key(task: str) -> str:
    return f"lrcourse:lease:{task}"


def taken_key(task: str) -> str:
    return f"lrcourse:taken:{task}"


class Lease:
    """Held by a worker process while it grades `task` (a context manager): the record of who took it, and a key a
    thread renews until the grading ends. A broker out of reach lets the key lapse, as a lost machine's would."""

    def __init__(self, url: str, task: str, worker: str, visibility: float, seconds: float = LEASE_SECONDS):
        self.url, self.task, self.worker, self.visibility, self.seconds = url, task, worker, visibility, seconds
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
                self.client.set(lease_key(self.task), 1, px=int(self.seconds * 1000))
            except redis.RedisError:
                pass  # tried again at the next renewal; meanwhile the lease may lapse

    def __exit__(self, *exc) -> None:
        import redis

        self.stop.set()
        self.thread.join()
        try:
            self.client.delete(lease_key(self.task))  # the record stays: the enqueuer forgets it with the result
        except redis.RedisError:
            pass
        self.client.close()


class Lapsed:
    """The enqueuing command's watch on the tasks it waits for (`check` at each poll): says once per task, on the
    terminal, when its worker has held no lease for `grace` seconds (see the module's text)."""

    def __init__(self, url: str, waiting: dict, bar, grace: float = LEASE_SECONDS, every: float = CHECK_SECONDS):
        self.url, self.waiting, self.bar, self.grace, self.every = url, waiting, bar, grace, every
        self.last = time.monotonic()
        self.missing: dict[str, float] = {}  # task -> when its lease was first seen missing
        self.said: set[str] = set()

    def check(self) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        lapsed, full = self.lapsed(now)
        for task, record in lapsed:
            self.said.add(task)
            text = (
                full_message(self.waiting[task][0], record)
                if full
                else message(self.waiting[task][0], record, self.grace)
            )
            self.bar.write(text, file=sys.stderr)  # beside the bar

    def lapsed(self, now: float) -> tuple[list[tuple[str, dict]], bool]:
        """The waiting tasks whose record stands and whose lease has been missing for `grace` seconds, and whether
        Redis is full now (a lease's renewal is a write: refused, the lease lapses with its worker alive)."""
        import redis

        tasks = [task for task in self.waiting if task not in self.said]
        if not tasks:
            return [], False
        with redis.Redis.from_url(self.url) as client:
            records = client.mget([taken_key(task) for task in tasks])
            leases = client.mget([lease_key(task) for task in tasks])
            full = not has_room(client, 0)
        found = []
        for task, record, lease in zip(tasks, records, leases):
            if record is None or lease is not None:  # not taken yet, or its worker answers
                self.missing.pop(task, None)
                continue
            if now - self.missing.setdefault(task, now) >= self.grace:  # not a task's end or a hand-over
                found.append((task, read_record(record)))
        return found, full


def message(student: str, record: dict, grace: float) -> str:
    taken, visibility = record["taken"], record["visibility"]
    when = "once the broker's visibility timeout has passed"
    if taken and visibility:
        when = f"once its visibility timeout ({visibility:.0f} s) has passed, at about {_clock(taken + visibility)}"
    # true whichever happened: a process that died on a live worker had its task put back on the queue at once
    # (another process takes it when one is free), a lost machine's waits for the visibility timeout; a worker whose
    # checkout moved gave the task back to its version's queue, which only a worker of that version serves
    return (
        f"lrcourse: {student}: taken at {_clock(taken)} by worker {record['worker']!r}, which has renewed no lease for "
        f"{grace:.0f} s: its grading process died, its machine was lost or cut off, or the worker stopped because its "
        "checkout changed. If only the process died, its worker put the task back on the queue at once and the next "
        f"free process takes it; if the machine is gone, the broker hands the task to another worker {when}; in "
        "either case only a worker of this run's course version takes it. If the workers were updated to a new "
        "version, none will: stop and run `lrcourse grade` again (it sends the students not yet graded with the new "
        "version). Meanwhile this command waits. Ctrl-C keeps every grade written; a rerun collects the rest."
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
    worker = record.get("worker")
    worker = "".join(c for c in worker[:64] if c.isprintable()) if isinstance(worker, str) else "?"
    numbers = {key: record.get(key) for key in ("taken", "visibility")}
    for key, value in numbers.items():
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e11
        numbers[key] = float(value) if ok else 0.0
    return {"worker": worker, **numbers}


def _clock(timestamp: float) -> str:
    if not timestamp:
        return "an unknown time"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M:%S UTC")
