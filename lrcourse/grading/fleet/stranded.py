"""Which of the enqueuing command's waiting tasks the broker lost or no worker holds, as the broker tells it
(`fleet_watch.Lost` looks with these and decides): one pipelined round trip for the marks, then the queue read by
index, each message searched in its headers only. And whether another copy of a task whose failure is stored is
alive (`Copies`, asked by `fleet_grade.Run.superseded`)."""

from __future__ import annotations

import time

from lrcourse.grading.fleet import broker as fleet
from lrcourse.grading.fleet.full import has_room
from lrcourse.grading.fleet.lease import RENEW_SECONDS, WARM_SECONDS, held_key, lease_key, read_held

SCAN_CHUNK = 8  # messages read in one round trip when looking for a stranded task (`stranded_tasks`)
# a failure's copy ends within this of its failure's write: its process stopped by SIGTERM releases its lease (at once)
# or is killed (billiard's SIGKILL after a stop it ignored: its lease then lapses, unrenewed); a renewal later counts
SETTLE_SECONDS = 2.0
# a live copy's lease is renewed every RENEW_SECONDS (less for a lease shorter than a minute): one renewal looked for
# after the settle, with a margin for the enqueuer's looks (POLL_SECONDS) and a slow broker; 27 s in all
ALIVE_SECONDS = SETTLE_SECONDS + RENEW_SECONDS + 5.0


def lost_tasks(client, tasks: list[str]) -> list[str]:
    """The tasks with neither a `sent` mark nor a result in the broker, asked in one pipelined round trip."""
    with client.pipeline(transaction=False) as pipe:
        for task in tasks:
            pipe.exists(fleet.sent_key(task), fleet.result_key(task))
        return [task for task, present in zip(tasks, pipe.execute()) if not present]


def overdue_message(student: str, worker: str, seconds: float) -> str:
    """Said once when a task has been held by a worker with no lease for longer than a warm-up (`Lost.overdue`)."""
    return (
        f"lrcourse: {student}: held by worker {worker!r} for {seconds:.0f} s with no grading process holding its lease "
        f"(a live worker holds a task so only while a process warms for it, at most {WARM_SECONDS} s): that worker's "
        'processes do not warm, or keep dying as they warm (its log shows each process\'s "warm in" line, or the '
        "error), or the one grading it does not answer. The task is taken for stranded and sent again for another "
        "worker, its count of attempts kept; the copy that worker holds is dropped, or its result not written, once "
        "this one's is. Fix or stop that worker."
    )


def held_only(client, tasks: list[str]) -> dict[str, str]:
    """The tasks with a `sent` mark, no result, no lease and a worker's mark (`fleet_lease.Held`), each with the name
    of the worker that marks it, asked in one pipelined round trip."""
    with client.pipeline(transaction=False) as pipe:
        for task in tasks:
            pipe.exists(fleet.sent_key(task))
            pipe.exists(fleet.result_key(task), lease_key(task))
            pipe.get(held_key(task))
        answers = pipe.execute()
    found = {}
    for task, sent, answered, mark in zip(tasks, answers[::3], answers[1::3], answers[2::3]):
        if sent and not answered and (held := read_held(mark)) is not None:
            found[task] = held["worker"]
    return found


def stranded_tasks(client, tasks: list[str], queue: str, overdue: set[str] = frozenset()) -> list[str]:
    """The tasks with a `sent` mark, no result and no lease (`fleet_lease`) that are not in `queue` (see `Lost`); a
    worker's mark counts for all but the `overdue` tasks (`Lost.overdue`). Only
    those with a mark and neither a result nor a lease are looked for, in the queue, SCAN_CHUNK messages a round trip,
    stopping once all are found. The queue is read from its left end by index: kombu pushes on the left and takes from
    the right, so a task taken meanwhile moves no message and one sent meanwhile only makes a message read twice; from
    the right a take would shift one past the reading, unseen. Its cost: Redis sends the queue's messages up to the
    last of these tasks (the parcels: about 0.1 MB a student with one notebook), each look while some of the run's
    tasks are queued, the whole queue when one is stranded; each message is then searched only in its headers
    (`names_in`), not its body. Measured on this shared 2-core machine (load average 13; the R25e review's cost.py,
    real Celery messages): 64 queued messages with a 0.1 MB parcel each (9 MB) 0.04-0.07 s a look; with a 4 MB
    parcel each (5.3 MB a message, 341 MB) 3.6-6 s, one 178 MB message 2.9-4.3 s, nearly all of it Redis sending
    them (the search of all 64 messages for 64 tasks: 0.014 s; searched whole, once per task, it took 19.5 s).
    Once every CHECK_SECONDS, in the enqueuer's only loop, while some of the run's tasks wait."""
    with client.pipeline(transaction=False) as pipe:
        for task in tasks:
            pipe.exists(fleet.sent_key(task))
            pipe.exists(fleet.result_key(task), lease_key(task), *([] if task in overdue else [held_key(task)]))
        answers = pipe.execute()
    missing = {task for task, sent, held in zip(tasks, answers[::2], answers[1::2]) if sent and not held}
    missing -= queued_of(client, missing, queue)
    return [task for task in tasks if task in missing]


def queued_of(client, tasks: set[str], queue: str) -> set[str]:
    """Which of `tasks` are in `queue`, read SCAN_CHUNK messages a round trip from its left end, stopping once all are
    found (see `stranded_tasks`)."""
    missing, found, start = set(tasks), set(), 0
    while missing:
        messages = client.lrange(queue, start, start + SCAN_CHUNK - 1)
        for message in messages:
            named = names_in(message, missing)
            found, missing = found | named, missing - named
        if len(messages) < SCAN_CHUNK:
            break
        start += SCAN_CHUNK
    return found


def names_in(message: bytes, tasks: set[str]) -> set[str]:
    """Which of `tasks` a kombu message names: its headers (the task's id; its properties after them, the id again as
    the correlation id). A message is JSON with its body first (base64, a student's whole parcel: megabytes) and its
    headers and properties last (a few kB: Celery's `argsrepr` is cut at 1 kB), so the headers' key is sought from
    the end and only what follows it is searched, once per task; a name counts only as a whole JSON string, and a `"`
    inside a string (a file's name in `argsrepr`) is escaped, so no file name can pass for a task's id."""
    start = max(message.rfind(b'"headers":'), 0)
    return {task for task in tasks if message.find(f'"{task}"'.encode(), start) != -1}


class Copies:
    """Whether another copy of a task is observably alive when the task's stored result is a failure: a copy sent again
    (`fleet_watch.Lost`) while the first was held by a worker that was paused, or lost for good. The paused one, as
    it resumes past its hard time limit, stores TimeLimitExceeded (Celery's main process does) while the copy sent
    again waits in the queue, is held by a worker while a process warms for it, or is being graded: that failure is
    not the student's. A copy is alive if it is in the queue, or if the task's lease (`fleet_lease.Lease`) or a
    worker's mark of it (`fleet_lease.Held`: the worker has the task, its grading not begun, or begun) is renewed or
    set after the failure was stored (each renewal changes their values): a stored failure is dropped only then. The
    queue (its messages up to the task's, or all of them: `queued_of`) is read at the first look and again only
    before the failure is written, not at each look. Asked of the broker each time, not counted by a run: a count of
    copies sent, kept by one run, was lost by a rerun (the paused copy's failure then written, the good one dropped)
    and waited on for a copy already failed when the first holder was gone for good (its failures dropped until the
    attempts ran out: "died 3 times", though none died). The first look comes SETTLE_SECONDS after the failure is
    first seen (the failing copy's own lease ends meanwhile) and notes the lease and the mark: it finds a copy
    queued, never that none is alive, since a copy taken off the queue is marked a moment later; then a look every SETTLE_SECONDS. The
    failure is written once a look finds nothing changed and neither a lease nor a mark that says a copy waits for a
    process (a mark that says a process grades it, with no lease, is the failed copy's own, lapsing), or, if neither
    changed, ALIVE_SECONDS - SETTLE_SECONDS after the first look (not after the failure's first sight: the
    enqueuer's rounds may be slow): a lease or a mark that stands unrenewed keeps a failure unwritten that long at
    most. A mark renewed drops the failure as a renewed lease does; the copy its worker holds is then waited for, as
    any held task is, for `fleet_watch.HELD_BOUND_SECONDS` at most (a worker whose processes never warm: named, and
    sent again). A look while Redis is full, and every look made before the broker was away, count for nothing (the
    copies could not renew), as in `fleet_watch.Lost`; and after either, no look concludes that no copy is alive
    within ALIVE_SECONDS of the last look that found Redis full (`look_at_room`, once a round) or of the broker's
    return: a lease and a mark that lapsed meanwhile are made again only at the copy's next renewal (`blind`)."""

    def __init__(self, queue: str, settle: float = SETTLE_SECONDS, life: float = ALIVE_SECONDS):
        self.queue, self.settle, self.life = queue, settle, life
        self.seen: dict[str, tuple[float, bytes, float]] = {}  # task -> (first seen, its failure's bytes, last look)
        # task -> when the first look came, and the task's (lease, mark) it found
        self.signs: dict[str, tuple[float, tuple[bytes | None, bytes | None]]] = {}
        # the last moment the copies could not renew (a look found Redis full, or the broker came back): see `blind`
        self.blinded, self.room_looked = float("-inf"), float("-inf")

    def alive(self, client, task: str, failure: bytes, now: float | None = None) -> bool | None:
        """True if another copy of `task` is alive (its stored `failure` is to be dropped), False if none is (it is to
        be written), None if not known yet (asked again at the next poll)."""
        now = time.monotonic() if now is None else now
        first, seen, looked = self.seen.get(task, (now, failure, now))
        if seen != failure:  # another failure replaced it: its copy's own settle
            first, looked = now, now
            self.signs.pop(task, None)
        self.seen[task] = (first, failure, looked)
        if now - first < self.settle or now - looked < self.settle and task in self.signs:
            return None
        self.seen[task] = (first, failure, now)
        if not has_room(client, 0):  # renewals and marks are writes, refused while Redis is full: nothing would change
            self.blinded = now
            self.signs.pop(task, None)
            return None
        signs = tuple(client.mget([lease_key(task), held_key(task)]))
        if task not in self.signs:
            self.signs[task] = (now, signs)
            # noted: a copy between the queue and its worker's mark shows at the next look
            return True if queued_of(client, {task}, self.queue) else None
        noted, before = self.signs[task]
        if any(sign is not None and sign != old for sign, old in zip(signs, before)):
            return True  # a lease or a mark renewed (or set by another copy) since the first look
        lease, mark = signs
        waits = lease is not None or (held := read_held(mark)) is not None and not held["grading"]
        # counted from the first look, not from the failure's first sight: a slow round of the enqueuer (writing many
        # results) between the two would leave less than a renewal's interval to see one in
        if (waits and now - noted < self.life - self.settle) or self.blind(now):
            return None
        return bool(queued_of(client, {task}, self.queue))  # the queue read again only to conclude: queued, alive

    def blind(self, now: float) -> bool:
        """Whether the copies may not have renewed since they last could not (`blinded`): a full Redis or an outage
        long enough for a live copy's lease (90 s) and its worker's mark (60 s) to lapse leaves neither until the
        copy's next try, up to a renewal's interval after the room or the broker came back; so no copy is concluded
        before a copy's life has passed since (R25m W3). In normal operation never: the fast conclusion stands."""
        return now - self.blinded < self.life

    def look_at_room(self, client, now: float | None = None) -> None:
        """Once a round of the enqueuer, at most every `settle` s: whether Redis is full, noted (`blind`). A failure
        that waited for room in its worker is stored only once there is room, after every look `alive` makes; the
        copies' renewals were refused as long."""
        now = time.monotonic() if now is None else now
        if now - self.room_looked < self.settle:
            return
        self.room_looked = now
        if not has_room(client, 0):
            self.blinded = now

    def broker_back(self, now: float | None = None) -> None:
        """After the broker was away (`fleet_outage`): the leases and marks could not be renewed meanwhile (a renewal
        is a write), so no look made before counts: each task's failure settles and is looked at afresh (R25l), and
        none is concluded to have no copy within a copy's life (`blind`)."""
        self.blinded = time.monotonic() if now is None else now
        self.seen.clear()
        self.signs.clear()

    def watched(self) -> set[str]:
        """The tasks whose stored failure is waited on: looked at, neither written nor dropped yet."""
        return set(self.seen)

    def forget(self, task: str) -> None:
        """The task's failure written or dropped: its looks forgotten."""
        self.seen.pop(task, None)
        self.signs.pop(task, None)
