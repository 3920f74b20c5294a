"""A full broker: Redis at its `maxmemory` with `maxmemory-policy noeviction` (the README's setting) refuses writes with
OutOfMemoryError ("command not allowed when used memory > 'maxmemory'"). It answers; it has no room. Both sides say so
and what to do (`FIX`). Two things still end a worker while Redis is full, kombu's bookkeeping write refused: its main
process fetching a task (the task then in neither the queue nor kombu's unacknowledged hash), and a grading process
killed (a memory cap, kill -9: the requeue refused, the task left in the unacknowledged hash until the visibility
timeout). Either way the task is in no queue and held by no lease while its `sent` mark stays: the enqueuing command
finds it and sends it again once there is room (`fleet_watch.Lost`), and says that the worker must be started again.

A worker's result write is Celery's backend's; refused, it raised out of Celery's task tracing, the failure's write was
refused too, the acknowledgement after it as well (Redis refuses every command of a MULTI block when full), and Celery
ended the worker ("Unrecoverable error", exit 1); its "Restoring unacknowledged messages" ran while Redis was still
full, so the task stayed stranded until the visibility timeout (an hour). `waiting_backend` waits instead: the grading
process keeps the task (unacknowledged) and its result, says on the worker's log what is wrong and what to do, and
writes the result once Redis has room for it and the acknowledgement after it (`ROOM_MARGIN`), then the task is
acknowledged as usual. A task taken while Redis is full waits the same way before each of its first writes (`written`:
its count of attempts, its lease; a write refused after the look for room waits again), so that it is graded, not failed
for the broker, if there is room within Celery's hard time limit: these waits are inside the task, which the limit
counts from its start (`fleet_lease.hard_time_limit`: 840 s as shipped), so a result still waiting then is lost, its
process killed, and Celery's main process writes TimeLimitExceeded instead, itself waiting for room on its event loop
(the worker's main process blocked meanwhile); the enqueuer writes that failure, and a rerun grades the student again
(R25m W2). A worker's start waits the same way (kombu's first sweep of unacknowledged tasks takes a lock, a write:
refused, it ended the worker at once, the task left queued). The enqueuing command meanwhile ends with
`fleet.BROKER_STATUS` and `fleet.full_message` at its next write (a task sent), or waits for results it cannot get if it
has nothing to send: it is run again once there is room, and collects what the workers stored.
"""

from __future__ import annotations

import os
import time

WAIT_SECONDS = 5.0  # a refused result write is tried again this often
SAY_SECONDS = 60.0  # the worker's log repeats that it waits this often
ROOM_MARGIN = 1 << 20  # bytes left free after a result: the acknowledgement that follows must not find Redis full
FIX = (
    "raise its maxmemory (`redis-cli CONFIG SET maxmemory <bytes>`, and in redis.conf; its size: the README's \"Broker "
    "memory\"), or delete old course versions' queues (`redis-cli DEL lrcourse-<version>`)"
)


def is_full(error: BaseException) -> bool:
    """Redis refused a write for its maxmemory: redis-py's OutOfMemoryError, or kombu's OperationalError with its
    text."""
    from redis.exceptions import OutOfMemoryError

    return isinstance(error, OutOfMemoryError) or "'maxmemory'" in str(error)


def has_room(client, size: int) -> bool:
    """Redis can take `size` more bytes and the acknowledgement after them (no maxmemory: always)."""
    memory = client.info("memory")
    limit = int(memory.get("maxmemory", 0))
    return not limit or int(memory.get("used_memory", 0)) + size + ROOM_MARGIN < limit


def wait_for_room(client, what: str, size: int = 0, waits=None) -> None:
    """Return once Redis can take `size` bytes more (and the acknowledgement after them); meanwhile, say on the
    worker's log every SAY_SECONDS that `what` waits for room, and what to do. `waits()`, if given, is called once
    as the wait begins (a result's: its lease says so to the enqueuer, `fleet_lease.Lease.waits`)."""
    started = said = None
    while not has_room(client, size):
        now = time.monotonic()
        if started is None and waits is not None:
            waits()
        started = started or now
        if said is None or now - said >= SAY_SECONDS:
            said = now
            print(full_wait_message(what, now - started), flush=True)
        time.sleep(WAIT_SECONDS)


def written(client, what: str, write, size: int = 0, waits=None):
    """`write()`'s answer, once Redis takes it: `wait_for_room` first, and again if Redis filled between the look and
    the write (its OutOfMemoryError caught: the look then the write is not one step). `write` must be safe to repeat
    (it is refused whole, or was not tried). `waits`: `wait_for_room`'s."""
    from redis.exceptions import OutOfMemoryError

    while True:
        wait_for_room(client, what, size, waits)
        try:
            return write()
        except OutOfMemoryError:
            continue  # filled between the look and the write: wait again


def waiting_backend(wanted=None, waits=None) -> type:
    """Celery's Redis result backend whose write waits for room in a full Redis, saying so (see the module's text);
    made on demand, so that importing this module imports neither Celery nor redis-py. `wanted(client, key)`: whether
    the result at `key` is to be written (not if one is stored already, or the enqueuer wrote it: a second copy's);
    `waits(key, size)`: called as its write begins to wait for room (`wait_for_room`)."""
    from celery.backends.redis import RedisBackend

    class WaitingBackend(RedisBackend):
        def __init__(self, app=None, url=None, **kwargs):
            # given as the app's backend class (`fleet_worker.make_app`), Celery passes no URL: the app's is the
            # broker's
            super().__init__(app=app, url=url or app.conf.result_backend, **kwargs)

        def _set(self, key, value, expires=None):
            task = key.decode() if isinstance(key, bytes) else str(key)
            if wanted is not None and not wanted(self.client, task):
                return None  # asked before the wait too: an unwanted result neither waits nor says it waits
            what, size = f"the result {task} (its task kept by this worker)", len(value) + len(key)
            told = None if waits is None else (lambda: waits(task, size))
            return written(self.client, what, lambda: self.set_if_wanted(task, value, expires), size, told)

        def set_if_wanted(self, key: str, value, expires=None) -> None:
            """Celery's write (the result with its expiry, published), asked again after the wait for room and in one
            transaction with it: every key `wanted` reads (the result, the task's done mark) is watched from its read
            (Redis's WATCH, `Watching`), so the write fails if any changed meanwhile, and it is asked again. So a
            stale copy's result that waited for room never replaces the success another copy stored meanwhile, nor is
            left as an orphan once the enqueuer wrote the task (R25m W4)."""
            from redis.exceptions import WatchError

            if wanted is None:
                return super()._set(key, value, expires)
            expires = self.expires if expires is None else expires
            while True:
                with self.client.pipeline() as pipe:
                    try:
                        if not wanted(Watching(pipe), key):
                            return None
                        pipe.multi()
                        if expires:
                            pipe.setex(key, expires, value)
                        else:
                            pipe.set(key, value)
                        pipe.publish(key, value)
                        pipe.execute()
                        return None
                    except WatchError:
                        continue  # changed between its read and the write: asked again

    return WaitingBackend


class Watching:
    """A Redis pipeline's reads for `waiting_backend`'s `wanted`, each key watched (WATCH) before it is read: the
    transaction that follows fails if any key read has changed since. Only the reads `wanted` makes are offered."""

    def __init__(self, pipe):
        self.pipe = pipe

    def exists(self, *keys) -> int:
        self.pipe.watch(*keys)
        return self.pipe.exists(*keys)

    def get(self, key):
        self.pipe.watch(key)
        return self.pipe.get(key)


class QuietSweeps:
    """A logging filter for the worker's event loop (`quiet_sweeps`): kombu's sweep of the unacknowledged tasks (every
    `fleet.RESTORE_SECONDS`) takes a lock, a write, which a full Redis refuses; the loop logged it as "Error in timer"
    with a 54-line traceback each time (about 19,000 lines an hour of a full Redis, burying the wait's message that
    says what to do: R25o N1). Said in one line instead, at most every SAY_SECONDS; any other error as it was."""

    def __init__(self, every: float = SAY_SECONDS):
        self.every, self.said = every, None

    def filter(self, record) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not str(record.msg).startswith("Error in timer") or error is None or not is_full(error):
            return True
        now = time.monotonic()
        if self.said is not None and now - self.said < self.every:
            return False
        self.said = now
        record.msg, record.args, record.exc_info, record.exc_text = SWEEP_REFUSED, (), None, None
        record.levelno, record.levelname = 30, "WARNING"
        return True


SWEEP_REFUSED = (
    "lrcourse worker: the broker is full (Redis's maxmemory is reached: it refuses writes): kombu's sweep of the "
    "unacknowledged tasks, every few seconds, is refused (said once a minute; no task is lost: it sweeps again once "
    f"there is room). To make room: {FIX}"
)


def quiet_sweeps() -> None:
    """The worker's event loop's refused sweeps said in one line (`QuietSweeps`), on kombu's loggers of its timers."""
    import logging

    for name in ("kombu.asynchronous.hub", "kombu.asynchronous.timer"):
        logging.getLogger(name).addFilter(QuietSweeps())


def full_wait_message(what: str, waited: float) -> str:
    return (
        f"lrcourse worker: process {os.getpid()}: the broker is full (Redis's maxmemory is reached: it refuses "
        f"writes); {what} waits ({waited:.0f} s so far) and goes on when there is room (a task's waits count against "
        "Celery's hard time limit, from the task's start: past it, its student fails, and a rerun grades her again). "
        f"To make room: {FIX}"
    )
