"""A grading worker without nbgrader, for the watchdog's test (`tests/test_grade_watchdog.py`): the pool's
initializer in place of `worker.start` gives the worker process a `Stuck` in place of its `Worker`, so the pool's
real task (`worker.grade_student`, which tells the watchdog who it starts) runs `Stuck.grade`: the student named
`STUCK` never ends, like a worker held outside the student's budget (a locked gradebook); `sleep-<s>` is graded
after <s> seconds; the student named `CRASH`
aborts its worker every time, as libzmq does when RLIMIT_DATA refuses it memory; the student named `SLOW` is graded
in part, as a worker grades one whose time budget ran out before every test cell was checked; any other is graded."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

from lrcourse.grading.autograde import worker
from lrcourse.grading.outcomes import Outcome

STUCK = "stuck"
CRASH = "crash"
SLOW = "slow"
SLOW_REASON = "time budget ran out: 1 of 2 test cell(s) not checked, scored 0 (test_b)"


@dataclass
class Stuck:
    starts: object

    def grade(self, assignment: str, student: str, current: str) -> Outcome:
        if student == STUCK:
            time.sleep(3600)
        if student.startswith("sleep-"):
            time.sleep(float(student.removeprefix("sleep-")))  # a student graded in that many seconds
        if student == CRASH:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file of the stand-in
            os.abort()
        if student == SLOW:
            return Outcome(student, "graded", SLOW_REASON, score=1.0, max_score=2.0, unchecked=["test_b"])
        return Outcome(student, "graded", score=1.0, max_score=1.0)


def start(course: str, db_url: str, sandboxed: bool = True, starts=None, halted=None) -> None:
    worker.install(Stuck(starts), starts, halted)
