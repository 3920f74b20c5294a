"""Watches on the course version while a queue runs (`fleet_worker` holds the worker's, `fleet_grade` the
enqueuer's): the usual update pulls one commit on the instructor's machine and on every worker, so both sides'
versions move, and a task of the old version then sits on a queue nobody serves.

- `CheckoutWatch`, in a worker's main process: every CHECK_SECONDS it reads its checkout's versions from the disk again
  (`Station.moved`: the package hashed once, then each assignment's source; 0.2 s for 7 assignments) and, if they moved,
  stops the worker (SIGTERM to itself: Celery's warm shutdown lets its processes finish their students) so that it exits
  with RESTART_STATUS and its supervisor starts it on the new checkout. Without it, a worker with no work never looked:
  it listens only to its old version's queue, where no task of the new version arrives, so it never restarted and the
  new queue was never served. The look runs on the worker's own event loop (a worker bootstep on Celery's timer), not in
  a thread: the prefork pool forks its processes from the main process, and a thread there holding a lock at a fork (the
  redis client's, logging's, the import lock) would leave the new process a lock nobody releases. Each look also marks
  the versions it serves in the broker (`serving_key`, lapsing after SERVING_SECONDS), for the enqueuer.
- `Unserved`, in the enqueuing command: while tasks wait, it says once, on stderr, when this course's version moved
  since the run started (its tasks carry the old one: a rerun sends the waiting students with the new version), or
  when no worker has marked this run's version as served for SERVING_SECONDS: while Redis is full, that the broker
  is full (a mark is a write), and again once there is room if still no worker marks it for SERVING_SECONDS (a
  worker that ended on the full broker must be started again).
- `Lost`, in the enqueuing command too: sends again the waiting tasks the broker no longer holds (it lost its data)
  or no worker holds (stranded: taken by a worker that stopped answering, or that ended while Redis was full).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

from lrcourse.grading.fleet import broker as fleet
from lrcourse.grading.fleet.full import FIX, has_room
from lrcourse.grading.fleet.lease import WARM_SECONDS, mark_resent
from lrcourse.grading.fleet.stranded import held_only, lost_tasks, overdue_message, stranded_tasks

CHECK_SECONDS = 30.0  # a worker looks at its checkout this often; the enqueuer at its version too
SERVING_SECONDS = 90.0  # a worker's mark that it serves a version lapses this long after its last look
MARK_SECONDS = 5.0  # the longest a mark waits for the broker (a redis socket's timeouts)
# a task a worker's main process holds with no lease longer than this is taken for stranded (`Lost.overdue`): a live
# worker holds one for a process warming at most WARM_SECONDS (Celery then gives up on the process); the margin covers
# the marks' renewals and the enqueuer's looks
HELD_BOUND_SECONDS = WARM_SECONDS + 120.0


def serving_key(version: str, worker: str) -> str:
    return f"lrcourse:serving:{version}:{worker}"


class CheckoutWatch:
    """A worker's look at its checkout (see the module's text): `step`, a bootstep that runs `look` every `every` s
    on the worker's event loop, from the worker's start to its end."""

    def __init__(self, url: str, station, name: str, every: float = CHECK_SECONDS):
        self.url, self.station, self.every = url, station, every
        self.name = name.replace("%h", socket.gethostname())  # Celery's placeholder in `lrcourse worker`'s default
        self.moved = ""  # why the checkout moved, once seen

    def step(self):
        """The bootstep, for `app.steps["worker"]` (Celery's documented way to extend a worker). Celery's Timer of a
        worker with an event loop (prefork on Redis, as `fleet_worker.serve` runs it) has no thread of its own: its
        entries run in the main thread between the loop's polls, idle or not, while the pool's processes grade."""
        from celery import bootsteps

        watch = self

        class Look(bootsteps.StartStopStep):
            name = "lrcourse.checkout_look"
            requires = {"celery.worker.components:Timer"}
            entry = None

            def start(self, worker) -> None:
                watch.mark(watch.station.versions.values())  # at once, as the worker starts: then each look
                self.entry = worker.timer.call_repeatedly(watch.every, self.tick)

            def tick(self) -> None:
                if watch.look():
                    self.stop(None)  # told to stop: no more looks during the warm shutdown

            def stop(self, worker) -> None:
                if self.entry is not None:
                    self.entry.cancel()
                    self.entry = None

        return Look

    def look(self) -> bool:
        """One look: True (and the worker told to stop) if the checkout moved; else its versions marked served. A look
        that cannot read the checkout (an update half done: a config that does not parse yet, a file removed while it
        is hashed; or one that stays broken) says so in one line and marks nothing: the next look tries again, and
        the enqueuer, seeing no mark for SERVING_SECONDS, says so too. Not caught here, the exception would reach
        kombu's `Hub.fire_timers`, which logs it with its traceback at every look and keeps the entry, but raises an
        AssertionError (a config's `assert`) or a MemoryError on, out of the worker's loop."""
        try:
            moved = self.moved_now()
        except Exception as error:
            print(
                f"lrcourse worker: the checkout's look failed ({error_text(error)}); it looks again in "
                f"{self.every:.0f} s",
                flush=True,
            )
            return False
        serving = dict(self.station.versions)  # as it started: the queues it listens to
        if moved:
            self.moved = moved
            print(
                f"lrcourse worker: this checkout moved while the worker waited: {moved}; the worker stops to be "
                "started again on the new version",
                flush=True,
            )
            os.kill(os.getpid(), signal.SIGTERM)  # the main process's own: Celery's warm shutdown
            return True
        self.mark(serving.values())
        return False

    def moved_now(self) -> str:
        """Why the checkout moved (`Station.moved`), or "": the package hashed and the config run once for all the
        assignments this worker serves (as it started: the queues it listens to), not once for each."""
        code, settings = fleet.code_version(), fleet.grading_settings(self.station.checkout)
        serving = list(self.station.versions)
        return next((why for assignment in serving if (why := self.station.moved(assignment, code, settings))), "")

    def mark(self, versions) -> None:
        import redis

        try:
            # on the worker's loop, which waits meanwhile: a broker that takes the connection and never answers holds
            # it MARK_SECONDS, not for ever
            timeouts = {"socket_timeout": MARK_SECONDS, "socket_connect_timeout": MARK_SECONDS}
            with redis.Redis.from_url(self.url, **timeouts) as client:
                for version in versions:
                    client.set(serving_key(version, self.name), 1, px=int(SERVING_SECONDS * 1000))
        except redis.RedisError:
            pass  # the broker out of reach: the mark lapses, and the enqueuer (if it reaches the broker) says so


def moved_or_unreadable(station, assignment) -> str:
    """For a grading process (`fleet_worker.make_app`'s task): `station.moved(assignment)`, or, if the checkout cannot
    be read now (an update half done: a config that does not parse yet, a file removed while it is hashed), that as
    the reason: a checkout whose version cannot be read cannot vouch for a grade, so the task goes back to the queue
    uncharged and the worker restarts, as when it moved (an update under way moves it anyway; a checkout that stays
    unreadable keeps the worker from starting, where its supervisor shows it), instead of failing the student."""
    try:
        return station.moved(assignment)
    except Exception as error:
        return f"its version cannot be read now ({error_text(error)})"


def error_text(error: Exception) -> str:
    """An exception as one short line, for a log or a terminal: its type and its first 200 characters."""
    return f"{type(error).__name__}: {' '.join(str(error).split())[:200]}"


def full_text(what: str, waiting: dict) -> str:
    """Why `what` while Redis is full, for the enqueuer's terminal: the cause, and the fix."""
    return (
        f"{what}: the broker is full (Redis's maxmemory is reached: it refuses writes, a worker's marks, leases and "
        f"results too); {len(waiting)} task(s) wait. To make room: {FIX}. A worker still running goes on once "
        'there is room; one that ended on it (exit 1, "Unrecoverable error" in its log) must be started again. This '
        "command waits meanwhile (Ctrl-C keeps every grade written; a rerun collects the rest)."
    )


def served(client, version: str) -> bool:
    """Whether a worker marked `version` as served within SERVING_SECONDS."""
    return next(iter(client.scan_iter(serving_key(version, "*"), count=1000)), None) is not None


class Unserved:
    """The enqueuing command's watch (see the module's text); `check` at each poll, which looks every `every` s."""

    def __init__(self, course: Path, assignment: str, version: str, waiting: dict, bar, every: float | None = None):
        self.course, self.assignment, self.version, self.waiting = course, assignment, version, waiting
        self.bar, self.every = bar, CHECK_SECONDS if every is None else every  # read now: a test sets it shorter
        self.last = self.since = time.monotonic()
        self.said: set[str] = set()
        self.full = False  # Redis was full at the last look that found no worker's mark

    def check(self, client) -> None:
        now = time.monotonic()
        if not self.waiting or now - self.last < self.every:
            return
        self.last = now
        if "moved" not in self.said and (now_version := self.version_now()) not in (self.version, None):
            self.said.add("moved")
            self.say(
                f"the course changed since this run started (course version {self.version}, now {now_version}): "
                f"its {len(self.waiting)} waiting task(s) are on the old version's queue, which workers restarted "
                "on the new checkout do not serve. Stop (Ctrl-C: every grade written is kept) and run `lrcourse grade` "
                "again: it sends the students not yet graded with the new version."
            )
        elif served(client, self.version):
            self.since, self.full = now, False
        elif not has_room(client, 0):  # a worker's mark is a write: refused, not missing
            self.full = True
            if "unserved" not in self.said and now - self.since >= SERVING_SECONDS:
                self.said.add("unserved")
                self.say(full_text(f"no worker could mark course version {self.version} as served", self.waiting))
        elif self.full:  # room again: a worker still running marks within its look's period; give it the grace
            self.since, self.full = now, False
            self.said.discard("unserved")  # said while full: said again if still no worker serves the version
        elif "unserved" not in self.said and now - self.since >= SERVING_SECONDS:
            self.said.add("unserved")
            self.say(
                f"no worker has marked course version {self.version} as served for {SERVING_SECONDS:.0f} s, and "
                f"{len(self.waiting)} task(s) wait on its queue: start a worker from a checkout at this version (a "
                'worker that ended while the broker was full, exit 1 and "Unrecoverable error" in its log, must be '
                "started again), or, if the course changed, stop (Ctrl-C: every grade written is kept) and run "
                "`lrcourse grade` again."
            )

    def broker_back(self) -> None:
        """After the broker was away (`fleet_outage`): the workers' marks lapsed meanwhile (a mark is a write), so
        they are given the grace again before a missing one is said."""
        self.since = time.monotonic()

    def version_now(self) -> str | None:
        """The course's version read now, or None (said once) if it cannot be read: a config being edited, a file
        removed while it is hashed. The run goes on: its tasks carry the version it started with."""
        try:
            return fleet.course_version(self.course, self.assignment)
        except Exception as error:
            if "unreadable" not in self.said:
                self.said.add("unreadable")
                self.say(
                    f"the course's version cannot be read now ({error_text(error)}); the run goes on with version "
                    f"{self.version}, and looks again every {self.every:.0f} s"
                )
            return None

    def say(self, text: str) -> None:
        self.bar.write(f"lrcourse: {text}", file=sys.stderr)  # above the progress bar, as `IdleHint` says its own


class Lost:
    """The enqueuing command's look for tasks the broker no longer holds, sent again with `resend(task)`:

    - lost with the broker's data (a Redis without persistence restarted mid-run: its queue, its `sent` marks and its
      results gone, while redis-py reconnects without a word). A waiting task has, until the command collects it, its
      `sent` mark or its result in the broker (the mark is set as it is sent, both are removed only once its result is
      written); with neither, the broker lost it (`fleet_stranded.lost_tasks`).
    - stranded (`fleet_stranded.stranded_tasks`, when `queue` is given: the run's version's queue): it has its `sent`
      mark (a rerun's `send` skips it), no result, no lease and no worker's mark that it holds it (`fleet_lease.Held`),
      and is not in the queue: no worker holds it, whether or not kombu still lists it as unacknowledged. Its worker
      stopped answering (its machine lost, cut off or paused: its lease and marks lapse), or ended while Redis was full:
      its main process took it off the queue and kombu's record of it as unacknowledged was refused ("Unrecoverable
      error"), or its grading process was killed (a memory cap, kill -9) and Celery's requeue, one kombu transaction
      with an LPUSH, was refused (exit 1): the task then stays in kombu's unacknowledged hash, which kombu restores only
      after the visibility timeout (an hour). A task a live worker holds is not taken for stranded: its main process
      marks every task it holds, one waiting for a process still warming included (Celery takes --concurrency tasks off
      the queue as the worker starts, before its processes are warm), and a grading process holds a lease until the
      task's result is stored (renewed while the result waits for room). The moments a held task has neither are short
      and covered by needing two looks in a row that each find it so, both while Redis has room: a delivery in flight
      (off the queue, not yet marked). A mark without a lease counts for HELD_BOUND_SECONDS at most (`overdue`): a
      worker whose processes never warm, or keep dying as they warm, would otherwise hold its tasks for as long as its
      main process lives, and this command wait for ever without a word; past the bound the task is named with its
      worker and taken for stranded. While Redis is full a look counts for nothing: a renewal is refused, so a task
      being graded loses its lease; once there is room a lease is renewed within `fleet_lease.RENEW_SECONDS` and a mark
      within `fleet_lease.HELD_RENEW_SECONDS`, both shorter than a look's period. A task found stranded is sent again
      only if Redis has room for its parcel (`size(task)`, and the acknowledgement after it: `fleet_full.has_room`):
      sent into a full Redis, the send is refused and the run ends, where it can wait for the room instead. Its `sent`
      mark is dropped first, so that `send` sends it, and its count of deliveries kept (`resend`); and the task
      marked as sent again (`fleet_lease.mark_resent`), so that the copy a paused worker held, resumed, neither keeps
      nor makes again its lease, which the live copy takes. The copy kombu
      restores from its unacknowledged hash after the visibility timeout, or the one a paused worker resumes, is dropped
      by the worker that takes it, or its result not written, once the result is stored or the command wrote it
      (`fleet.done_key`): it costs nothing, and leaves nothing in the broker.

    Sending again is safe: a task is written once, when the command first collects its result and stops waiting for
    it; a copy also still graded by a worker that held it costs that worker's time, never a second grade in the
    gradebook. `check` at each poll, which looks every `every` s."""

    def __init__(self, waiting: dict, resend, bar, every: float | None = None, queue: str = "", size=None, bound=None):
        self.waiting, self.resend, self.bar, self.queue = waiting, resend, bar, queue
        self.size = size or (lambda task: 0)  # bytes a task's message takes in Redis when sent again
        self.every = CHECK_SECONDS if every is None else every  # read now: a test sets it shorter
        self.bound = HELD_BOUND_SECONDS if bound is None else bound  # the same
        self.last = time.monotonic()
        self.stranded: set[str] = set()  # tasks seen stranded at the last look, made while Redis had room
        self.held_since: dict[str, float] = {}  # task -> first seen held by a worker with no lease, at looks with room
        self.named: set[str] = set()  # tasks said to be held too long (`overdue`): said once a run

    def check(self, client) -> None:
        now = time.monotonic()
        if not self.waiting or now - self.last < self.every:
            return
        self.last = now
        lost = lost_tasks(client, list(self.waiting))
        if lost:
            self.bar.write(
                f"lrcourse: the broker lost {len(lost)} waiting task(s) (restarted without its data?): sent again",
                file=sys.stderr,
            )
            for task in lost:
                mark_resent(client, task)  # first: a copy taken before then no longer makes its lapsed lease again
                self.resend(task)
        remaining = [task for task in self.waiting if task not in lost]
        stranded = self.stranded_again(client, remaining, self.overdue(client, remaining, now))
        if stranded:
            self.bar.write(
                f"lrcourse: {len(stranded)} waiting task(s) are in neither the queue nor a worker's hands at two looks "
                "in a row: sent again. Their worker stopped answering (its machine down or cut off, paused, or killed "
                'whole) or ended while the broker was full (exit 1, "Unrecoverable error" in its log: start it '
                "again). A copy it still holds (a paused worker resumed) or that the broker gives back after its "
                "visibility timeout is dropped by the worker that takes it once the result is written: no student is "
                "written twice",
                file=sys.stderr,
            )
            for task in stranded:
                client.delete(fleet.sent_key(task))  # else `send` takes it for one queued or being graded
                mark_resent(client, task)  # first: the copy its worker held neither keeps nor makes its lease again
                self.resend(task)
                self.held_since.pop(task, None)  # its copy sent again: a worker that holds it gets the bound anew

    def overdue(self, client, tasks: list[str], now: float) -> set[str]:
        """The tasks a worker's main process has held with no lease (`fleet_lease.Held`) at every look with room for
        `bound` seconds, each named once on the terminal with its worker: a live worker holds a task so only while a
        process warms for it, so that worker's processes never warm, keep dying as they warm, or the one grading it
        does not answer. Its mark then no longer counts: the task is taken for stranded (`stranded_again`). Looks while
        Redis is full start the count again (a grading process's first writes wait for room there, its lease too)."""
        if not self.queue or not has_room(client, 0):
            self.held_since = {}
            return set()
        held = held_only(client, tasks)
        self.held_since = {task: self.held_since.get(task, now) for task in held}
        overdue = {task for task, since in self.held_since.items() if now - since >= self.bound}
        for task in sorted(overdue - self.named):
            self.named.add(task)
            seconds = now - self.held_since[task]
            self.bar.write(overdue_message(self.waiting[task][0], held[task], seconds), file=sys.stderr)
        return overdue

    def broker_back(self) -> None:
        """After the broker was away (`fleet_outage`): look at the next check (a Redis restarted empty lost its
        tasks), and count no look made before: the leases lapsed meanwhile (a renewal is a write), so a task held by
        a worker may look stranded once, until its next renewal."""
        self.last = time.monotonic() - self.every
        self.stranded = set()

    def stranded_again(self, client, tasks: list[str], overdue: set[str] = frozenset()) -> list[str]:
        """The tasks stranded now and at the last look, both made while Redis had room, that Redis has room to take
        again (their parcels together); those seen stranded now and not sent are kept for the next look. A worker's
        mark of an `overdue` task does not count (`overdue`)."""
        if not self.queue:
            return []
        if not has_room(client, 0):
            self.stranded = set()  # a look while full counts for nothing (see the class's text)
            return []
        now = set(stranded_tasks(client, tasks, self.queue, overdue))
        again, total = [], 0
        for task in (task for task in tasks if task in now and task in self.stranded):
            size = self.size(task)
            if has_room(client, total + size):
                again.append(task)
                total += size
        self.stranded = now - set(again)
        return again
