"""The enqueuing command's watch on the leases of the tasks it waits for (`Lapsed`, read by `fleet_grade`): a task
whose record stands and whose lease (`fleet_lease.Lease`) has been missing for a lease's life was taken by a worker
process that stopped answering; the command says so once, naming the student and the worker, and why it may be (a
grading process stopped while its worker lives, a worker lost, a full broker), and what to do (see `fleet_lease`'s
module text)."""

from __future__ import annotations

import json
import math
import sys
import time
from collections import deque
from datetime import UTC, datetime

from lrcourse.grading.fleet.full import FIX, has_room
from lrcourse.grading.fleet.lease import (
    CHECK_SECONDS,
    LEASE_SECONDS,
    held_key,
    lease_key,
    printable,
    read_held,
    taken_key,
)
from lrcourse.grading.fleet.result import Stored

# the full looks `Lapsed` keeps: at CHECK_SECONDS apart, 34 hours of a full Redis, far more than a task's hard time
# limit (its span, read back from its failure, which is collected within a poll of it)
FULL_LOOKS = 4096


class Lapsed:
    """The enqueuing command's watch on the tasks it waits for (`check` at each poll): says once per task, on the
    terminal, when its worker has held no lease for `grace` seconds (see the module's text)."""

    def __init__(
        self,
        url: str,
        waiting: dict,
        bar,
        limits: tuple[float, float],
        grace: float = LEASE_SECONDS,
        every: float = CHECK_SECONDS,
    ):
        self.url, self.waiting, self.bar, self.grace, self.every = url, waiting, bar, grace, every
        # (Celery's hard time limit, the bound on a held task), said by `hung_message`: required, since a default of
        # zeros said "0 s" in the message
        self.limits = limits
        self.last = time.monotonic()
        self.missing: dict[str, float] = {}  # task -> when its lease was first seen missing
        self.said: set[str] = set()
        self.waited: set[str] = set()  # tasks whose result was seen waiting for room (`explained`)
        # the times (Unix) of the looks that found Redis full while tasks waited, the newest FULL_LOOKS (`explained`):
        # one list for all tasks, since each task's span is read from its failure's time (R25p N2: a task's first and
        # last full look read two separate full episodes as one, spanning a run that had room)
        self.full_looks: deque[float] = deque(maxlen=FULL_LOOKS)
        # the failure dated on this machine's clock (`saw`, `explained`): when this run began, and when it first read
        # each task's stored result (NIT 1 of R25q: a worker's clock behind this one's moved the failure out of its span)
        self.began = time.time()
        self.seen: dict[str, float] = {}
        # this run's last look (`check`), and the spans it made none for two looks' span or more (cut off from the
        # broker, stopped with Ctrl-Z, a sleeping laptop): a failure read late is not dated by its read (R25r N2)
        self.looked = self.began
        self.gaps: deque[tuple[float, float]] = deque(maxlen=FULL_LOOKS)

    def check(self) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        clock = time.time()
        if clock - self.looked > 2 * self.every:
            self.gaps.append((self.looked, clock))
        self.looked = clock
        lapsed, full, waits = self.lapsed(now)
        if full:  # its waits for room before grading (count of attempts, lease) show no lease's `waits` (R25o M1)
            self.full_looks.append(time.time())
        for task, size in waits:
            self.waited.add(task)
            if task not in self.said:
                self.said.add(task)
                self.bar.write(waits_message(self.waiting[task][0], size, self.limits[0]), file=sys.stderr)
        for task, record in lapsed:
            self.said.add(task)
            student = self.waiting[task][0]
            if full:
                text = full_message(student, record, self.limits[0])
            elif record["grading"]:
                text = hung_message(student, record, self.grace, *self.limits)
            else:
                text = message(student, record, self.grace)
            self.bar.write(text, file=sys.stderr)  # beside the bar

    def lapsed(self, now: float) -> tuple[list[tuple[str, dict]], bool, list[tuple[str, int]]]:
        """The waiting tasks whose record stands and whose lease has been missing for `grace` seconds (each record
        with `grading`: its worker's main process still marks it as held by a grading process, `Held`), whether Redis
        is full now (a lease's renewal is a write: refused, the lease lapses with its worker alive), and the tasks
        whose lease says their result waits for room (`Lease.waits`: its size) that Redis still has no room for, said
        or not (`explained`). A task its worker holds for a process still warming has no lease yet, legitimately: not
        said here (`fleet_watch.Lost` names it if it is held so for longer than a warm-up)."""
        import redis

        tasks = list(self.waiting)
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
            if task in self.said:
                continue
            waiting_for_a_process = mark is not None and not mark["grading"]
            if record is None or lease is not None or waiting_for_a_process:  # not taken, answering, or not yet run
                self.missing.pop(task, None)
                continue
            if now - self.missing.setdefault(task, now) >= self.grace:  # not a task's end or a hand-over
                found.append((task, {**read_record(record), "grading": mark is not None}))
        return found, full, waits

    def saw(self, task: str) -> None:
        """The task's stored result read by this run (`fleet_grade.Run.write`, before any wait on it): dated once, on
        this machine's clock."""
        self.seen.setdefault(task, time.time())

    def forget(self, task: str, waits: bool = False) -> None:
        """The task's failure dropped unwritten (`fleet_grade.Run.superseded`: another copy alive) or the task sent
        again (`resend`, `waits`): its read no longer dates the next failure of the task (R25r N1: copy 2's span was
        read from copy 1's). On a resend the earlier copy's wait for room no longer explains it either (R25t N3): that
        copy can no longer hold the task's lease (`mark_resent`). A dropped copy's wait is kept: any wait seen since
        the last resend is the live copy's own, and its failure may come before the next look (R25u M1). With no
        resend (a `--force` rerun over a copy still alive) it may be the dropped copy's, which finished her all the
        same: a worker did grade her, and the broker lost the result (R25v N1)."""
        self.seen.pop(task, None)
        if waits:
            self.waited.discard(task)

    def explained(self, task: str, result: Stored) -> Stored:
        """The task's result, its outcome's reason said again if Celery's hard time limit stopped it while the broker
        was full. Seen waiting for room (`waited`): the worker had finished the student, and its result, waiting for
        room in the full broker, was lost with the process the limit killed. A look found Redis full (`full_looks`)
        between the task's start (its failure's time less the limit) and its failure: the limit may have
        been spent waiting for room before grading her (its count of attempts, its lease: no lease says so), or on a
        result's wait no look saw (a Redis too full for the lease's own renewal: `full_message`). The stored failure
        blamed her submission ("held on this student") and said "not tried again" (R25n M1, R25o M1). A wait that
        lasts to the limit is seen, as a rule: the limit leaves 120 s beyond the student's budget and the worker's
        grace, and the looks come every CHECK_SECONDS. A task queued while Redis was full and started once it had room
        keeps the stored text: its time ran after those looks (two looks' span allowed on either side for the workers'
        clocks, whose `date_done` this is, and a full episode's first look; one ahead of this machine's is read as
        when this run first read it, since no failure is read before it is made), and so does one that ran with room
        between two full episodes (R25p N2), unless the second's first look comes within that span of its failure. A
        failure read `seconds` or more after this run began (`saw`) was made while it looked, as a rule within a poll
        of that read (every task this run sent is: its limit counts from its start, after the sending): dated more
        than two looks before that read (a worker's clock behind this machine's), it is dated by that read instead,
        so the span is not moved off the full looks, nor onto an earlier episode's (R25q N1), if this run looked all that
        while (`watched`: no minute without a look, as when cut off from the broker or stopped, R25r N2); one read
        sooner (a task an interrupted run sent, collected by a rerun) or after such a gap is read by the worker's date
        (or that read, if the date is later), which is why the workers' clocks are kept synchronised (NTP: README)."""
        if result.limit is None:
            return result
        seconds = result.limit if math.isfinite(result.limit) else self.limits[0]  # NaN: the limit not said
        if task in self.waited:
            return Stored(result.status, reason=waited_reason(seconds), limit=result.limit, done=result.done)
        margin = 2 * self.every
        seen = self.seen.get(task, time.time())
        done = min(result.done, seen) if result.done is not None else None  # a worker's clock ahead (R25p N1)
        if done is not None and seen - self.began >= seconds and done < seen - margin and self.watched(seen - seconds):
            done = seen  # made while this run looked, a worker's clock behind this one's: dated by this run (R25q N1)
        # no date said (the broker's content is not trusted): any full look of this run's, as its tasks waited then
        full = bool(self.full_looks) if done is None else self.full_in(done - seconds - margin, done + margin)
        if full:
            return Stored(result.status, reason=full_reason(seconds), limit=result.limit, done=done)
        return result

    def watched(self, since: float) -> bool:
        """Whether this run looked at the broker every two looks' span or sooner from `since` to now (`gaps`): a
        failure it read then was read within a poll of its making."""
        now = time.time()
        recent = now - self.looked <= 2 * self.every
        return recent and not any(start < now and end > since for start, end in self.gaps)

    def full_in(self, start: float, end: float) -> bool:
        """Whether a look found Redis full between `start` and `end` (Unix times, both included)."""
        return any(start <= clock <= end for clock in self.full_looks)


def waited_reason(seconds: float) -> str:
    """A student's outcome when her result waited for room past Celery's hard time limit (`Lapsed.explained`)."""
    return (
        "the worker finished this student, but her result waited for room in the full broker (Redis's maxmemory) "
        f"past the queue's hard time limit ({seconds:.0f} s from the task's start) and was lost: not her submission's "
        "fault; run `lrcourse grade` again once the broker has room, and it grades her again"
    )


def full_reason(seconds: float) -> str:
    """A student's outcome when Celery's hard time limit stopped her task while the broker was full (`Lapsed.explained`):
    its waits for room count against the limit."""
    return (
        "the grading worker was stopped by the queue's hard time limit "
        f"({seconds:.0f} s from the task's start) while the broker was full (Redis's maxmemory): the task's waits for "
        "room count against that limit, so it may have been spent waiting for the broker, not on her submission; run "
        "`lrcourse grade` again once the broker has room, and it grades her again"
    )


def waiting_size(lease: bytes | None) -> int:
    """The bytes a lease says its result waits for (`Lease.waits`: the last field of `lease_value`), or 0: grading, or
    not a number (the broker's content is not trusted)."""
    try:
        size = int((lease or b"0").split()[-1])
    except (ValueError, IndexError):
        return 0
    return size if 1 < size < 1 << 40 else 0


def waits_message(student: str, size: int, hard: float) -> str:
    """Said once when a worker's result waits for room: the broker is full for it, though it takes small writes. The
    wait is inside the task, which Celery's hard time limit `hard` counts from its start (R25m W2)."""
    return (
        f"lrcourse: {student}: graded; its result ({size / 1e6:.1f} MB) waits in its worker for room in the broker, "
        "which is full for it (Redis's maxmemory is nearly reached: it refuses writes that do not fit). The worker "
        "keeps the task and writes its result once there is room, and this command then collects it, if that comes "
        f"within Celery's hard time limit ({hard:.0f} s from the task's start, with this course's settings): past "
        'it the result is lost and the student failed ("held past the queue\'s hard time limit"), and a rerun once '
        f"there is room grades her again. To make room: {FIX}. Meanwhile this command waits. Ctrl-C keeps every "
        "grade written; a rerun collects the rest."
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
        "task again once no worker holds it at two looks in a row, which may have come already (it says so when it "
        'does: "in neither the queue nor a worker\'s hands"), and the copy the broker gives back '
        "after its visibility timeout, or the one a paused worker resumes, is then dropped, its result not written "
        "twice; in either case only a worker of this run's course version takes it. If the workers were updated to "
        "a new version, none will: stop and run `lrcourse grade` again (it sends the students not yet graded with "
        "the new version). Meanwhile this command waits. Ctrl-C keeps every grade written; a rerun collects the rest."
    )


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


def full_message(student: str, record: dict, hard: float) -> str:
    """`message` while Redis is full: the lease lapsed because its renewal was refused, not (only) its worker. Its
    result's wait for room counts against Celery's hard time limit `hard` (R25m W2)."""
    return (
        f"lrcourse: {student}: taken at {_clock(record['taken'])} by worker {record['worker']!r}, whose lease lapsed "
        "while the broker is full (Redis's maxmemory is reached: it refuses writes, a lease's renewal too): the worker "
        "may be grading it still, and writes its result once there is room, if that comes within Celery's hard time "
        f"limit ({hard:.0f} s from the task's start; past it the student fails, and a rerun grades her again); a "
        "worker that ended on it (exit 1, "
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
