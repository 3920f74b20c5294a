"""`lrcourse grade`'s watchdog, without nbgrader: a worker held on one student past the student's budget and
the worker's grace is stopped, that student fails with the reason, every other student is graded."""

from __future__ import annotations

import os
import queue
import time
from concurrent.futures import Future

from lrcourse.grading import grade, worker
from lrcourse.grading.outcomes import Outcome
from lrcourse.grading.sandbox.limits import Limits

from support import stuck_worker


def test_a_worker_held_past_its_students_deadline_is_stopped_and_the_others_graded(tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "start", stuck_worker.start)  # the pool's processes start a `Stuck`
    limits = Limits(student_seconds=2, worker_grace_seconds=1)
    todo = [(student, "") for student in ("a", stuck_worker.STUCK, "b", "c", "d")]
    started = time.monotonic()
    outcomes = grade.run_workers(tmp_path, "ch", todo, 2, "sqlite://", False, False, limits)
    took = time.monotonic() - started
    by_student = {o.student: (o.status, o.reason) for o in outcomes}
    assert by_student == {
        **{s: ("graded", "") for s in "abcd"},
        stuck_worker.STUCK: (
            "failed",
            "grading took longer than 3 s (the student's budget and the worker's grace): stopped",
        ),
    }, by_student
    assert took < 60, took  # stopped at its deadline (3 s), not after its hour


def test_a_student_that_just_ended_past_its_deadline_is_not_taken_for_a_held_worker():
    """The watchdog hears a student's end before it looks for late workers: a worker whose student finished as
    the deadline passed is not stopped (stopping it would break the pool, restarting every student in it)."""
    watch = grade.Watchdog(queue.Queue(), seconds=0.01, memory_mb=100)
    watch.starts.put(("a", os.getpid()))  # our own pid: a process `end_workers` never touches (not a child)
    watch.starts.put(("b", os.getpid()))
    watch.hear_starts()  # the main process heard both starts
    time.sleep(0.05)  # both past their deadline; only a's result has arrived
    done = Future()
    done.set_result(None)
    ended, stopped = grade.ended_then_checked(watch, {done: ("a", "")}, {done})
    assert ended == {done: ""} and stopped, (ended, stopped)
    assert watch.stopped == {"b"}, watch.stopped


def test_a_failed_students_older_feedback_is_withdrawn_and_only_theirs(tmp_path):
    """release_feedback sends whatever feedback/<id>/<chapter> holds: a failed student's is an older run's."""
    for student in ("stopped", "graded", "other-chapter"):
        (tmp_path / "feedback" / student / ("ch" if student != "other-chapter" else "ch2")).mkdir(parents=True)
    (tmp_path / "feedback" / "stopped" / "ch" / "nb.html").write_text("an older submission's feedback")
    (tmp_path / "ch").mkdir()  # feedback/../ch
    outcomes = [
        Outcome("stopped", "failed", "grading took longer than 3 s"),
        Outcome("graded", "graded", ""),
        Outcome("other-chapter", "failed", "x"),
        Outcome("..", "failed", "the student id is not ..."),  # never a path outside feedback/
    ]
    assert grade.withdraw_feedback(tmp_path, "ch", outcomes) == ["stopped"]
    assert not (tmp_path / "feedback" / "stopped" / "ch").exists()
    assert (
        (tmp_path / "ch").is_dir()
        and (tmp_path / "feedback" / "graded" / "ch").is_dir()
        and (tmp_path / "feedback" / "other-chapter" / "ch2").is_dir()
    )
