"""Which of the enqueuing command's waiting tasks the broker lost or no worker holds, as the broker tells it
(`fleet_watch.Lost` looks with these and decides): one pipelined round trip for the marks, then the queue read by
index, each message searched in its headers only."""

from __future__ import annotations

from lrcourse.grading.fleet import broker as fleet
from lrcourse.grading.fleet.lease import WARM_SECONDS, held_key, lease_key, read_held

SCAN_CHUNK = 8  # messages read in one round trip when looking for a stranded task (`stranded_tasks`)


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
    start = 0
    while missing:
        messages = client.lrange(queue, start, start + SCAN_CHUNK - 1)
        for message in messages:
            missing -= names_in(message, missing)
        if len(messages) < SCAN_CHUNK:
            break
        start += SCAN_CHUNK
    return [task for task in tasks if task in missing]


def names_in(message: bytes, tasks: set[str]) -> set[str]:
    """Which of `tasks` a kombu message names: its headers (the task's id; its properties after them, the id again as
    the correlation id). A message is JSON with its body first (base64, a student's whole parcel: megabytes) and its
    headers and properties last (a few kB: Celery's `argsrepr` is cut at 1 kB), so the headers' key is sought from
    the end and only what follows it is searched, once per task; a name counts only as a whole JSON string, and a `"`
    inside a string (a file's name in `argsrepr`) is escaped, so no file name can pass for a task's id."""
    start = max(message.rfind(b'"headers":'), 0)
    return {task for task in tasks if message.find(f'"{task}"'.encode(), start) != -1}
