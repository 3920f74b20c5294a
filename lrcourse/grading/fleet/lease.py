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
lease, was taken by a worker process that stopped answering: the enqueuing command says so (`fleet_lapsed.Lapsed`), naming the
student and the worker. If the worker's mark still says a grading process has it, that process is stopped or frozen
and the worker lives (`fleet_lapsed.hung_message`). If only the process died, its worker put the task back at once; if the whole
worker stopped answering, its marks lapse too and the enqueuing command sends the task again (`fleet_watch.Lost`),
about two minutes after the worker's last renewal; a task marked held with no lease for longer than a warm-up
(`fleet_watch.HELD_BOUND_SECONDS`) is named and sent again the same way. The copy the broker gives back after
the visibility timeout, or that a paused worker resumes, is dropped by the worker once the result is written
(`fleet.done_key`, `fleet_worker`), never graded into the gradebook twice.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time

from lrcourse.grading.fleet import broker as fleet
from lrcourse.grading.fleet.full import written

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


# a lease's value is "TOKEN RENEWAL NEEDS" (`lease_value`): the copy's own token, its count of renewals (so that the
# enqueuer sees a renewal as a change, `fleet_stranded.Copies`), the bytes its result waits for (`Lease.waits`). Each
# copy of a task (one sent again while a paused worker held the first) shares the task's key, so a copy renews it (one
# step in Redis: RENEW) only if it holds its own token, or, missing, only if the task was not sent again since this
# copy took it (its `resent_key` unchanged: `mark_resent`); a copy that finds it was sent again deletes its own key
# (the live copy takes it at its next renewal) and returns -1; 0 if another copy's key stands, 1 if set. And deletes
# it only if it holds its token.
RENEW = (
    "local held = redis.call('get', KEYS[1]) "
    "local mine = held and string.sub(held, 1, string.len(ARGV[1])) == ARGV[1] "
    "if (redis.call('get', KEYS[2]) or '') ~= ARGV[4] then "
    "if mine then redis.call('del', KEYS[1]) end return -1 end "
    "if held and not mine then return 0 end "
    "redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1"
)
DELETE_IF_MINE = (
    "local held = redis.call('get', KEYS[1]) "
    "if held and string.sub(held, 1, string.len(ARGV[1])) == ARGV[1] then return redis.call('del', KEYS[1]) end "
    "return 0"
)


def held_key(task: str) -> str:
    return f"lrcourse:held:{task}"


def lease_key(task: str) -> str:
    return f"lrcourse:lease:{task}"


def taken_key(task: str) -> str:
    return f"lrcourse:taken:{task}"


def resent_key(task: str) -> str:
    return f"lrcourse:resent:{task}"


def mark_resent(client, task: str) -> None:
    """Said before the enqueuer sends `task` again (`fleet_watch.Lost`): a fresh value, so that a copy taken before
    (a paused worker's, resumed) neither makes its lapsed lease again nor keeps one it still holds (`Lease`). Redis
    restarted empty drops it: a copy taken after a resend then makes no lease again and grades on without one, and
    the enqueuer sends the task again (its `sent` mark gone too: `fleet_watch.Lost`), R25n N2."""
    client.set(resent_key(task), secrets.token_hex(8), ex=fleet.RESULT_SECONDS)


class Lease:
    """Held by a worker process while it grades `task` (a context manager): the record of who took it, and a key a
    thread renews until the grading ends. A broker out of reach lets the key lapse, as a lost machine's would. The key
    is the task's, shared by every copy of it: each copy holds a token of its own (`lease_value`) and neither renews
    nor deletes a key that holds another copy's token. A paused copy stopped by its hard time limit as it resumed
    deleted the key whatever it held: the live copy's lease, so its task looked unheld. A lapsed key (renewals
    refused by a full Redis, a process stopped: SIGSTOP, a VM paused or suspended) is made again at the next renewal
    unless the task was sent again meanwhile (`mark_resent`, read as the copy takes the task): a copy taken before
    then makes no key and deletes one it still holds (`superseded`), so the live copy sent again takes it (a paused
    copy, resumed, made it again, and the live copy could not set its own: its task looked unheld, R25k). Whether it
    was sent again is asked of the broker, not measured by this machine's clock, which a suspended or paused machine
    stops (time.monotonic skipped the pause: the lapsed key was made again, R25l M1); and a process stopped and resumed
    before any copy was sent takes its lapsed key back, so its task is not sent again while it grades (it graded on
    with no lease until `fleet_watch.HELD_BOUND_SECONDS` sent a second copy, R25l M2). A superseded copy grades on:
    whichever copy stores its result first is written, the other's is not (`fleet_deliveries.result_wanted`). Each
    renewal waits for the broker half its period at most (a socket timeout, 1 s at least: a hung broker held it for
    ever), so renewals come every `every` s (a third of the lease's life, 20 s at most) and at most 1.5 * `every`
    apart, well within the lease's life. `drop`: released from a signal handler (the worker's SIGTERM exit)."""

    def __init__(self, url: str, task: str, worker: str, visibility: float, seconds: float = LEASE_SECONDS):
        self.url, self.task, self.worker, self.visibility, self.seconds = url, task, worker, visibility, seconds
        self.needs = 0  # bytes its result waits for (`waits`): in the lease's value, read by the enqueuer (`fleet_lapsed.Lapsed`)
        self.token, self.renewals = secrets.token_hex(8), 0
        self.every = min(RENEW_SECONDS, seconds / 3)  # renewals' period
        self.resent = b""  # the task's `resent_key` as this copy took it: changed, a copy was sent again since
        self.superseded = False  # the task was sent again since this copy took it (`set`)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.renew, name="lrcourse-lease", daemon=True)

    def __enter__(self) -> Lease:
        import redis

        self.client = client = redis.Redis.from_url(self.url)
        record = {"worker": self.worker, "pid": os.getpid(), "taken": time.time(), "visibility": self.visibility}
        self.resent = client.get(resent_key(self.task)) or b""  # a read: a full Redis answers it
        # a full Redis refuses them: wait for room, saying so on the worker's log (each write safe to repeat)
        what = f"the lease of {self.task} (its task kept by this worker)"
        written(client, what, lambda: client.set(taken_key(self.task), json.dumps(record), ex=fleet.RESULT_SECONDS))
        written(client, what, self.set)
        self.thread.start()
        return self

    def set(self, client=None) -> bool:
        """The key set to this copy's value, renewal counted, if this copy's, or missing and the task not sent again
        since this copy took it; deleted if this copy's and the task was sent again (`superseded`). True if set."""
        self.renewals += 1
        value = lease_value(self.token, self.renewals, self.needs)
        keys = (lease_key(self.task), resent_key(self.task))
        done = (client or self.client).eval(
            RENEW, 2, *keys, f"{self.token} ", value, int(self.seconds * 1000), self.resent
        )
        self.superseded = self.superseded or done == -1
        return done == 1

    def renew(self) -> None:
        """Every `every` s from the last renewal's start until stopped, on a client of its own whose calls wait for the
        broker half a period at most, 1 s at least (10 s for the shipped lease)."""
        import redis

        wait = max(self.every / 2, 1.0)  # 1 s at least: a busy machine's broker, for leases of seconds (tests)
        timeouts = {"socket_timeout": wait, "socket_connect_timeout": wait}
        with redis.Redis.from_url(self.url, **timeouts) as client:
            began = time.monotonic()
            while not self.stop.wait(max(0.0, began + self.every - time.monotonic())):
                began = time.monotonic()
                try:
                    self.set(client)
                except redis.RedisError:
                    pass  # tried again at the next renewal; meanwhile the lease may lapse

    def waits(self, size: int) -> None:
        """Its result (`size` bytes) waits for room in the broker: the lease, held until the result is stored, says
        so at once and at each renewal, so that the enqueuer names a full broker (`fleet_lapsed.Lapsed`)."""
        import redis

        self.needs = size
        try:
            self.set()
        except redis.RedisError:
            pass  # the renewal says it

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.drop()
        self.client.close()

    def drop(self) -> None:
        """The key deleted if it holds this copy's token (the record stays: the enqueuer forgets it with the result),
        its renewals stopped, without waiting for the renewing thread: safe in a signal handler that ends the process
        at once (`fleet_worker.Station`'s SIGTERM: billiard's hard time limit sends it, then SIGKILL 0.1 s later)."""
        import redis

        self.stop.set()
        try:
            self.client.eval(DELETE_IF_MINE, 1, lease_key(self.task), f"{self.token} ")
        except redis.RedisError:
            pass


def lease_value(token: str, renewals: int, needs: int) -> str:
    """A lease's value: the copy's token, its count of renewals, and the bytes its result waits for (0: grading)."""
    return f"{token} {renewals} {needs}"


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
    not answer (`fleet_lapsed.Lapsed`) from a task waiting for a warm-up (`fleet_watch.Lost`); and when it was set, so
    that each renewal changes it, as a lease's does (`fleet_stranded.Copies`: a mark renewed is a copy held)."""
    return json.dumps({"worker": worker, "grading": grading, "marked": time.time()})


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


def hard_time_limit(checkout) -> float:
    """Celery's hard time limit on a task, as `fleet_worker.make_app` sets it from `checkout`'s nbgrader_config.py:
    the student's budget, the worker's grace and 120 s (the last resort when the sandbox's clocks and the watchdog's
    miss a held process)."""
    from lrcourse.grading.course import course_config
    from lrcourse.grading.sandbox.limits import Limits

    limits = Limits.from_config(course_config(checkout, "sqlite://"))
    return limits.student_seconds + limits.worker_grace_seconds + 120
