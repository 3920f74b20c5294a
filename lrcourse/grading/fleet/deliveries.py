"""A grading task delivered more than once, as a worker's grading process (`fleet_worker`) sees it: its count of
deliveries in the broker (a process killed on it gives it back: after MAX_ATTEMPTS its student fails, so a submission
that kills its workers never blocks the queue; a task sent again by the enqueuer keeps its count), and a copy of a task
already done (one sent again while its first worker still held it, one kombu restored after the visibility timeout,
one a paused worker resumed): dropped unrun if its result is stored or the enqueuer wrote it (`fleet.done_key`), and
its result not written beside a success stored or one written, so that no orphan result is left in the broker (a
stored failure it replaces: see `result_wanted`).
"""

from __future__ import annotations

from lrcourse.grading.fleet import broker as fleet
from lrcourse.grading.fleet.full import written


def graded_already(url: str, task: str) -> bool:
    """The enqueuer wrote the task's result (`fleet.done_key`: a copy kombu restored after the visibility timeout, or
    one a paused worker held), or its result is stored and a success: read raw and checked (`fleet_result`), not
    through Celery's backend, which raises on a stored result that is not JSON or a forged exception."""
    import redis

    with redis.Redis.from_url(url) as client:
        if client.exists(fleet.done_key(task)):
            return True
        return stored_success(client.get(fleet.result_key(task)))


def result_wanted(client, key: str) -> bool:
    """Whether a grading's result at `key` is to be written: not if a success is stored there already (a copy sent
    again while this one was held: the enqueuer may be reading the first) or the enqueuer wrote it (`fleet.done_key`:
    this copy would be an orphan in the broker for RESULT_SECONDS). A stored failure is replaced: the copy of a paused
    worker that resumed past the hard time limit stores TimeLimitExceeded, which the enqueuer drops while another copy
    of the task is observably alive, in the queue, or its lease or a worker's mark of it renewed after the failure
    was stored (`fleet_stranded.Copies.alive`, `fleet_grade.Run.superseded`); that copy's result, written here over the failure
    if the enqueuer has not dropped it yet, is then the one it waits for."""
    if client.exists(fleet.done_key(key.removeprefix(fleet.RESULT_PREFIX))):
        return False
    return not stored_success(client.get(key))


def stored_success(raw) -> bool:
    """Whether `raw` (a stored result, or None) is a success: read raw and checked (`fleet_result`), not through
    Celery's backend, which raises on a stored result that is not JSON or a forged exception."""
    from lrcourse.grading.fleet import result as fleet_result

    try:
        return raw is not None and fleet_result.read(raw).status == "SUCCESS"
    except fleet_result.Refused:
        return False


def count_attempt(url: str, task: str, by: int = 1) -> int:
    """The task's count of deliveries moved by `by`: a full Redis refuses it, so it waits for room, saying so."""
    import redis

    what, key = f"{task} (its task kept by this worker)", fleet.attempts_key(task)  # graded, not failed, for a full one
    with redis.Redis.from_url(url) as client:
        count = written(client, what, lambda: client.incrby(key, by))  # apart: a repeated INCRBY would count twice
        written(client, what, lambda: client.expire(key, fleet.RESULT_SECONDS))
        return int(count)
