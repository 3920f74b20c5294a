"""`lrcourse grade`'s watchdog: no worker holds the run, not even while a Ctrl-C lets the students being graded finish.

Each worker tells the main process when it starts a student (on a queue the pool's processes inherit); one still on
that student after the student's budget and the worker's grace (`Limits.student_seconds + worker_grace_seconds`:
stuck outside the budget, in nbgrader's file handling or on a locked gradebook) is stopped (`Watchdog.check`); a
worker ended by its own memory cap (`worker_memory`) is recognised too (`Watchdog.ended`), and a worker that died
otherwise is charged to the student it was on (`Watchdog.death`). The first Ctrl-C (`drain`) keeps the watch: a
student whose worker sleeps forever is stopped at its deadline and reported, not waited for; and no student starts
after it (`CtrlC`'s `first`: the grading command's `WorkerPool.halt`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

STOP_SECONDS = 5.0  # a worker told to stop that has not ended by then (busy in C code, say) is killed
WATCH_SECONDS = 1.0  # how often the main process looks for a worker past its student's deadline


class Stopped(KeyboardInterrupt):
    """The run was told to stop (SIGTERM, SIGHUP): the workers end now, not after their students."""


@dataclass(frozen=True)
class End:
    """How a student's job ended, as the watchdog saw it: `stopped`, why its worker was ended because of this
    student (the watchdog stopped it, or its memory cap ended it), else ""; `pid`, the worker that was on it, if
    its start was heard (for `Watchdog.death`)."""

    stopped: str = ""
    pid: int | None = None


class Watchdog:
    """When each worker started its student (it reports on `starts`, a queue the pool's processes inherit), and
    the students whose worker it stopped for holding one student past `seconds`; the pool's worker processes
    (`enlist`), to tell how one died."""

    def __init__(self, starts, seconds: float, memory_mb: int):
        self.starts = starts
        self.seconds = seconds
        self.memory_mb = memory_mb
        self.running: dict[str, tuple[float, int]] = {}  # student -> (when the main process heard, worker pid)
        self.finished: set[str] = set()  # a start heard after its student's end is not a worker still busy
        self.stopped: set[str] = set()
        self.workers: dict[int, multiprocessing.process.BaseProcess] = {}  # pid -> the current pool's process

    def enlist(self, processes) -> None:
        """The current pool's worker processes (all started once as many students as workers were submitted)."""
        self.workers = {process.pid: process for process in processes}

    def ended(self, student: str) -> End:
        """The student's job ended (graded, failed or its pool broken): why its worker was ended because of it (the
        watchdog stopped it, or its memory cap ended it: worker_memory), and which worker was on it."""
        from lrcourse.grading.autograde.worker_memory import went_past

        self.hear_starts()  # a start not yet heard: never a stop here (the student has ended)
        self.finished.add(student)
        pid = self.running.pop(student, (0, None))[1]
        if student in self.stopped:
            why = f"grading took longer than {self.seconds:g} s (the student's budget and the worker's grace): stopped"
            return End(why, pid)
        if pid is not None and went_past(pid):
            why = (
                f"the grading worker went past its memory cap ({self.memory_mb} MB, c.Sandbox.worker_memory_mb) "
                "while grading this student: stopped"
            )
            return End(why, pid)
        return End("", pid)

    def death(self, pid: int | None) -> str:
        """How worker `pid` died of itself ("killed by SIGABRT ...", "exit status 1"), once it has ended (waiting up
        to STOP_SECONDS); "" if it did not end, is not known, or ended by SIGTERM: a broken pool ends its other
        workers so (a grading worker's SIGTERM handler exits with 128 + SIGTERM), and they are not at fault."""
        process = self.workers.get(pid)
        deadline = time.monotonic() + STOP_SECONDS
        while process is not None and process.exitcode is None and time.monotonic() < deadline:
            time.sleep(0.05)  # the pool's own thread may be reaping it: exitcode is set once that is done
        code = process.exitcode if process is not None else None
        if code in (None, -signal.SIGTERM, 128 + signal.SIGTERM):
            return ""
        if code == -signal.SIGABRT:
            return (
                f"killed by SIGABRT, as libzmq aborts when refused memory: a message past the worker's memory cap "
                f"({self.memory_mb} MB, c.Sandbox.worker_memory_mb) under RLIMIT_DATA, say"
            )
        return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"

    def hear_starts(self) -> None:
        """Note the starts the workers reported since last heard (a start heard after its student's end is not)."""
        while not self.starts.empty():  # the main process is its only reader: what is there can be read
            student, pid = self.starts.get()
            if student not in self.finished:
                self.running[student] = (time.monotonic(), pid)

    def all_late(self) -> bool:
        """Whether every student a worker is on is past its deadline (True when there is none)."""
        self.hear_starts()
        return all(time.monotonic() - started > self.seconds for started, _ in self.running.values())

    def check(self) -> bool:
        """Stop every worker past its deadline (SIGTERM, then SIGKILL: `end_workers`); whether any was. Call
        `ended` first for the students just finished: their workers are not still on them."""
        self.hear_starts()
        late = {s: pid for s, (t, pid) in self.running.items() if time.monotonic() - t > self.seconds}
        for student in late:
            self.stopped.add(student)
            del self.running[student]
        if late:
            end_workers([p for p in multiprocessing.active_children() if p.pid in late.values()])
        return bool(late)


def ended_then_checked(watch: Watchdog, futures: dict, done) -> tuple[dict, bool]:
    """Why each future of `done` ended (`Watchdog.ended`), then whether the watchdog stopped a worker: in that
    order, so the worker of a student who just finished is not taken for one still on that student (killing it
    would break the pool and restart every student in progress)."""
    ended = {future: watch.ended(futures[future][0]) for future in done}
    return ended, watch.check()


class CtrlC:
    """Ctrl-C (SIGINT) while students are graded or written: the first is noted (`asked`) and acted on at the run's
    next `check` (the local run drains, the queue's enqueuer stops collecting), wherever it lands; a second is
    `Stopped` at once. A KeyboardInterrupt raised where it lands can be lost: outside the local loop's wait it went
    to the pool's unwatched shutdown; inside nbgrader's bare excepts or a garbage collector's callback ("Exception
    ignored") it is swallowed and the run goes on to the end. Only the main thread can set a handler: elsewhere
    Ctrl-C is Python's KeyboardInterrupt, as before. `first`, if given, is called at the first Ctrl-C, in the
    signal handler (no new student starts from then on: it must take no lock)."""

    def __init__(self, first=None):
        self.asked = False
        self.first = first

    def handle(self, signum, frame) -> None:
        if self.asked:
            raise Stopped()
        self.asked = True
        if self.first is not None:
            self.first()

    def check(self) -> None:
        if self.asked:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGINT, self.handle)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


def drain(pool, futures: dict, running: set, watch: Watchdog) -> list[str]:
    """Ctrl-C: cancel the students not started and wait for those being graded, still watched: a worker held past
    its student's deadline is stopped as during the run (`Watchdog.check`), once every student being graded is past
    theirs (stopping one worker ends the pool's others), so no student holds the command, and each student not
    graded for it is reported (the lines, also printed). A second Ctrl-C is `Stopped`: the workers end and their
    sandboxes are cleared now, not left to an interrupted wait."""
    watch.hear_starts()  # futures the pool has queued count as running too: only students heard starting are graded
    in_flight = sum(futures[future][0] in watch.running for future in running)
    note = f"\nInterrupted: finishing the {in_flight} student(s) being graded, cancelling the rest (Ctrl-C again: stop now)."
    print(note, file=sys.stderr)
    reported = []
    try:
        pool.shutdown(wait=False, cancel_futures=True)
        while running := {future for future in running if not future.cancelled()}:  # the pool cancels, never
            # notifies: `wait` would never count a future it cancelled as done
            done, running = wait(running, timeout=WATCH_SECONDS, return_when=FIRST_COMPLETED)
            ended = {future: watch.ended(futures[future][0]) for future in done}
            reported += [line for future in done if (line := not_drained(futures[future][0], future, ended[future]))]
            if watch.all_late():  # stopping a worker ends the pool's others: not while a student is within its time
                watch.check()
    except KeyboardInterrupt:
        raise Stopped() from None
    for line in reported:
        print(line, file=sys.stderr)
    return reported


def not_drained(student: str, future, end: End) -> str:
    """Why a student being graded at Ctrl-C was not graded ("" if it was, or was never started)."""
    if end.stopped:
        return f"{student}: {end.stopped}; not graded"
    if future.cancelled():
        return ""
    error = future.exception()
    if isinstance(error, BrokenProcessPool) and end.pid is None:  # queued, never started: as if cancelled
        return ""
    if isinstance(error, BrokenProcessPool):  # the watchdog stopped a worker, or one died: the pool ends them all
        return f"{student}: not graded (the grading workers ended while it was graded: a worker was stopped or died)"
    if error is not None:
        return f"{student}: not graded ({type(error).__name__}: {error})"
    outcome = future.result()
    return f"{student}: {outcome.reason}; not graded" if getattr(outcome, "status", "") == "failed" else ""


def end_workers(processes, seconds: float = STOP_SECONDS) -> list:
    """SIGTERM (each worker closes its sandboxes and exits), then SIGKILL for any still alive after `seconds`:
    a worker's handler runs only between Python instructions. A killed worker's sandboxes die with it
    (PDEATHSIG); what they leave on disk and in cgroups is for `leftovers`. Returns the workers killed."""
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + seconds
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
    killed = [process for process in processes if process.is_alive()]
    for process in killed:
        process.kill()
        process.join(1)
    return killed
