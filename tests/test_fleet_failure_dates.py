"""When the enqueuer dates a task's hard-limit failure by its own read (`Lapsed.explained`, R25q N1: a worker's clock
behind), that read must be of this failure, made while it watched: not a dropped copy's earlier failure (R25r N1), and
not a read that came late because the enqueuer was cut off from the broker or stopped (R25r N2). Clocks in sync here:
both cases then said the wrong party's fault."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from lrcourse.grading.fleet import grade as fleet_grade
from lrcourse.grading.fleet.lapsed import Lapsed
from lrcourse.grading.fleet.result import read

from support import stub_fleet

LIMIT = 840.0


def failure(done: float) -> dict:
    when = datetime.fromtimestamp(done, UTC).isoformat()
    return {"status": "FAILURE", "result": {"exc_type": "TimeLimitExceeded", "exc_message": [LIMIT]}, "date_done": when}


def watch(began: float, looked: float, *looks: float) -> Lapsed:
    made = Lapsed("", {}, stub_fleet.Bar(), limits=(LIMIT, 1020.0))
    made.began, made.looked = began, looked
    made.full_looks.extend(looks)
    return made


def test_a_failure_read_late_is_dated_by_the_worker_not_by_the_late_read():
    """Redis full for the task's first 390 s, the failure made at `done`, clocks in sync; the enqueuer cut off from
    the broker (no look) from 100 s before the failure until it reads it, 5 to 590 s later: the broker's, every time."""
    now = time.time()
    for late in (5.0, 120.0, 300.0, 500.0, 590.0):
        done = now - late
        looks = [done - LIMIT + 30.0 * look for look in range(14)]  # full from the task's start, for 390 s
        still_cut_off = watch(now - 3000.0, done - 100.0, *looks)
        through_again = watch(now - 3000.0, now - 10.0, *looks)  # a look made on getting through, before the read
        through_again.gaps.append((done - 100.0, now - 10.0))
        for run in (still_cut_off, through_again):
            run.saw("task")
            said = run.explained("task", read(failure(done)))
            assert "while the broker was full" in said.reason, (late, said.reason)
    run = watch(now - 3000.0, now - 10.0, *(now - 500.0 + 30.0 * look for look in range(5)))  # looked all along
    assert "while the broker was full" in run.explained("task", read(failure(now - 1000.0))).reason  # 1000 s behind


class Client:
    """The broker as `Run.superseded` and `Run.write` use it: one stored result, deleted by the compare-and-delete."""

    def __init__(self, raw: bytes):
        self.raw = raw

    def get(self, key):
        return self.raw

    def eval(self, *args):
        self.raw = None


class Progress:
    """The progress bar `Run.write` moves."""

    def update(self, count):
        pass


class Copies:
    def __init__(self, alive: bool):
        self.answer = alive

    def alive(self, client, task, raw):
        return self.answer

    def forget(self, task):
        pass


def test_a_dropped_copy_s_failure_does_not_date_the_next_one(monkeypatch):
    """Copy 1's failure (a paused worker resumed past its limit) read and dropped while copy 2 lives; copy 2's own
    failure later, made while Redis was full: its span is read from its own read, not from copy 1's."""
    now = time.time()
    written = []
    monkeypatch.setattr(fleet_grade, "write", lambda *args: written.append(args[-1]) or "outcome")
    monkeypatch.setattr(fleet_grade, "forget", lambda client, tasks: None)
    run = fleet_grade.Run.__new__(fleet_grade.Run)
    run.bar, run.written, run.outcomes, run.course, run.assignment = Progress(), [], [], None, "02"
    run.waiting = {"task": ("amy", "x")}
    run.lapsed = watch(now - 3000.0, now - 10.0)
    writer = type("Writer", (), {"results": 0, "seconds": 0.0})()
    run.client, run.copies = Client(json.dumps(failure(now - 900.0)).encode()), Copies(alive=True)
    run.lapsed.seen["task"] = now - 900.0  # as `saw` dated copy 1's failure when read
    assert run.write(writer, "task") is False and run.client.raw is None  # dropped: copy 2 alive
    assert "task" not in run.lapsed.seen
    run.lapsed.full_looks.extend(now - 700.0 + 30.0 * look for look in range(23))  # full during copy 2's life
    run.client, run.copies = Client(json.dumps(failure(now - 1200.0)).encode()), Copies(alive=False)  # 20 min behind
    assert run.write(writer, "task") is True
    assert "while the broker was full" in written[-1].reason, written[-1].reason


def resent(monkeypatch, now: float, written: list, lapsed: Lapsed):
    """A run waiting for one task, whose first copy `lapsed` has seen, sent again (`Run.resend`, as `fleet_watch.Lost`
    does when Redis restarted empty or no worker holds it): the run, to read copy 2's failure with."""
    monkeypatch.setattr(fleet_grade, "write", lambda *args: written.append(args[-1]) or "outcome")
    monkeypatch.setattr(fleet_grade, "forget", lambda client, tasks: None)
    run = fleet_grade.Run.__new__(fleet_grade.Run)
    run.bar, run.written, run.outcomes, run.course, run.assignment = Progress(), [], [], None, "02"
    run.waiting, run.lapsed = {"task": ("amy", "x")}, lapsed
    monkeypatch.setattr(run, "send", lambda *args, **kwargs: None)
    run.resend("task")
    return run


def test_a_resent_task_s_failure_is_dated_by_its_own_read(monkeypatch):
    """Copy 1's failure read 1500 s ago, its copy's liveness not known yet (`saw`), then the task resent; copy 2's
    failure read now, made while Redis was full: the broker's. Without `resend`'s forget it was dated by copy 1's read,
    off the full looks, and blamed on her (R25t N2)."""
    now, written = time.time(), []
    lapsed = watch(now - 3000.0, now - 10.0)
    lapsed.seen["task"] = now - 1500.0
    run = resent(monkeypatch, now, written, lapsed)
    run.lapsed.full_looks.extend(now - 700.0 + 30.0 * look for look in range(10))  # full during copy 2's life
    run.client, run.copies = Client(json.dumps(failure(now - 1.0)).encode()), Copies(alive=False)
    assert run.write(type("Writer", (), {"results": 0, "seconds": 0.0})(), "task") is True
    assert "while the broker was full" in written[-1].reason, written[-1].reason


def test_a_resent_task_s_failure_is_not_explained_by_the_first_copy_s_wait(monkeypatch):
    """Copy 1's result seen waiting for room (`waited`), then the task resent; copy 2 stopped by the hard limit with
    Redis full only 5.5 hours before: the stored failure's text, not copy 1's "her result waited for room" (R25t N3)."""
    now, written = time.time(), []
    lapsed = watch(now - 30000.0, now - 10.0, now - 20000.0)
    lapsed.waited.add("task")
    run = resent(monkeypatch, now, written, lapsed)
    run.client, run.copies = Client(json.dumps(failure(now - 1.0)).encode()), Copies(alive=False)
    assert run.write(type("Writer", (), {"results": 0, "seconds": 0.0})(), "task") is True
    assert "waited for room" not in written[-1].reason and "held on this student" in written[-1].reason, written[-1]


def test_a_live_copy_s_wait_explains_its_failure_after_its_sibling_s_is_dropped(monkeypatch):
    """The task resent; a look sees copy 2's result wait for room (Redis takes small writes, so no full look); copy
    1's failure read and dropped (copy 2 alive); copy 2 stopped by the hard limit while waiting, read before the next
    look: the broker's, as its wait says. Dropping copy 1 had discarded copy 2's wait and blamed her (R25u M1)."""
    now, written = time.time(), []
    lapsed = watch(now - 3000.0, now - 10.0)
    run = resent(monkeypatch, now, written, lapsed)
    lapsed.waiting.update(run.waiting)  # the run's tasks, whose waits `check` says
    lapsed.lapsed = lambda now: ([], False, [("task", 50_000_000)])
    lapsed.last = time.monotonic() - 31.0
    lapsed.check()
    assert "task" in lapsed.waited
    writer = type("Writer", (), {"results": 0, "seconds": 0.0})()
    run.client, run.copies = Client(json.dumps(failure(now - 5.0)).encode()), Copies(alive=True)
    assert run.write(writer, "task") is False  # copy 1's, dropped
    run.client, run.copies = Client(json.dumps(failure(now - 1.0)).encode()), Copies(alive=False)
    assert run.write(writer, "task") is True
    assert "waited for room" in written[-1].reason, written[-1].reason


def test_the_looks_check_makes_are_what_dates_a_failure(monkeypatch):
    """`Lapsed.check` itself records the looks (`looked`) and the spans without one (`gaps`) that `explained` reads
    (R25s N1: with them set by hand, deleting either line left the tests green). A fake clock; Redis full for the
    task's first 390 s or only around its start (the broker's fault), or only before it began (hers); polls every 0.51 s, as a real round
    sleeps 0.5 s and then works, so the looks come a little more than 30 s apart: a gap threshold of one look's span
    (a gap at every look), three (a 71 s one not seen) or twenty (a 570 s one not seen) goes red (R25t N1)."""
    from lrcourse.grading.fleet import lapsed

    clock = {"now": 0.0}
    monkeypatch.setattr(
        lapsed, "time", type("Clock", (), {"time": lambda: clock["now"], "monotonic": lambda: clock["now"]})
    )
    done = 1_800_000_000.0
    full_when = {
        "broker": lambda t: done - LIMIT <= t <= done - 450.0,
        "hers": lambda t: done - 1700.0 <= t <= done - 1010.0,
        "at its start": lambda t: done - 900.0 <= t <= done - 835.0,  # the broker's: inside the span's margin
    }

    def said(truth: str, skew: float, read_at: float, blind: tuple = ()) -> str:
        clock["now"] = done - 3000.0
        run = Lapsed("", {}, stub_fleet.Bar(), limits=(LIMIT, 1020.0))
        run.lapsed = lambda now: ([], full_when[truth](clock["now"]), [])  # no task lapsed; Redis full or not
        for step in range(int((read_at - clock["now"]) / 0.51)):  # a round sleeps 0.5 s, then works
            clock["now"] = done - 3000.0 + step * 0.51
            if not (blind and blind[0] <= clock["now"] < blind[1]):
                run.check()
        clock["now"] = read_at
        run.saw("task")
        reason = run.explained("task", read(failure(done + skew))).reason
        return "broker" if "while the broker was full" in reason else "hers"

    for truth in ("broker", "hers"):
        for skew in (0.0, -300.0, -900.0):  # a prompt read: the worker's clock behind is corrected by the read
            assert said(truth, skew, done + 1.0) == truth, (truth, skew)
        # cut off from the broker from 100 s before the failure to 500 s after it, read after the next look
        assert said(truth, 0.0, done + 531.0, blind=(done - 100.0, done + 500.0)) == truth, truth
        # a shorter cut-off (570 s), read promptly after: still a gap, so still dated by the worker (R25t N1)
        assert said(truth, 0.0, done + 501.0, blind=(done - 100.0, done + 470.0)) == truth, truth
    # cut off for 60 s only (71 s between two looks), read 61 s after the failure: a gap all the same (more than two
    # looks' span), so the span is not moved 61 s later, off the full looks at the task's start (a threshold of
    # three looks' span moved it)
    assert said("at its start", 0.0, done + 61.0, blind=(done - 10.0, done + 50.0)) == "broker"
