"""`lrcourse grade` when a student's crash breaks the pool of grading workers before the next student is sent."""

from __future__ import annotations

from lrcourse.grading.autograde import grade, worker
from lrcourse.grading.sandbox.limits import Limits

from support import stuck_worker


def test_a_pool_broken_before_the_next_student_is_sent_retries_the_rest_in_a_new_one(tmp_path, monkeypatch):
    """The crash can break the pool before the next student is even sent (ProcessPoolExecutor.submit then raises):
    the students not sent wait for a new pool, uncharged, and the run goes on (the CI race of 2026-12-04)."""
    monkeypatch.setattr(worker, "start", stuck_worker.start)
    get = grade.WorkerPool.get

    def get_then_crash_first(self, size):
        pool = get(self, size)
        submit = pool.submit

        def submit_and_wait_for_the_crash(function, *args):
            future = submit(function, *args)
            if args[1] == stuck_worker.CRASH:
                future.exception(timeout=120)  # the pool broke: the next submit raises
            return future

        pool.submit = submit_and_wait_for_the_crash
        return pool

    monkeypatch.setattr(grade.WorkerPool, "get", get_then_crash_first)
    students = [(stuck_worker.CRASH, ""), ("a", ""), ("b", "")]
    outcomes = grade.run_workers(tmp_path, "ch", students, 1, "sqlite://", False, False, Limits())
    assert {o.student: o.status for o in outcomes} == {stuck_worker.CRASH: "failed", "a": "graded", "b": "graded"}
