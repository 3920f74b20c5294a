"""`lrcourse grade`'s watchdog, without nbgrader: a worker held on one student past the student's budget and
the worker's grace is stopped, that student fails with the reason, every other student is graded."""

from __future__ import annotations

import time

from lrcourse.grading import grade, worker
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
