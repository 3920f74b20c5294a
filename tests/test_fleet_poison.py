"""A poison submission through the queue, end to end: its grading process dies (SIGKILL) every time it is given the
student; the worker puts the task back each time (`reject_on_worker_lost`), a new process takes it, and after
`fleet.MAX_ATTEMPTS` deaths the next delivery fails that student with the reason; the class finishes and the others
are graded, each once. A real Redis with a password and a real worker whose grading is a stand-in
(`support.stub_fleet`: a student named poison-... kills the process grading it). A student held rather than killed
is test_fleet_limits's."""

from __future__ import annotations

from lrcourse.grading import fleet

import catalogue
from support.course import make_course, scores
from support.gradedclass import submit_answer
from support.paths import ROOT
from support.redis_broker import redis_server
from support.stub_fleet import enqueue, graded_lines, outcomes, running_worker

CHAPTER = "02_ordered_schedules"


def test_a_submission_that_kills_its_grading_process_every_time_fails_and_the_class_finishes(tmp_path):
    course = make_course(tmp_path / "course", [CHAPTER])
    students = ["a0", "poison-p", "z0"]
    for student in students:
        submit_answer(course, student, catalogue.STEP_CORRECT[0])
    log = tmp_path / "worker.log"
    with redis_server() as url:
        with running_worker(url, ROOT, "one@test", log):
            run = enqueue(url, course, CHAPTER)
            stdout, _ = run.communicate(timeout=600)
    assert run.returncode == 0
    result = outcomes(stdout)
    assert result["a0"] == result["z0"] == ["graded", ""], result
    status, reason = result["poison-p"]
    assert status == "failed" and reason == (
        f"the grading worker died {fleet.MAX_ATTEMPTS} times while grading this student: not tried again"
    ), reason
    assert sorted(graded_lines(log)) == ["stub graded a0 by one@test", "stub graded z0 by one@test"]
    said = log.read_text()
    assert said.count("exited with 'signal 9 (SIGKILL)'") == fleet.MAX_ATTEMPTS, said[-3000:]  # each death Celery's
    assert sorted(scores(course, CHAPTER)) == ["a0", "z0"]  # the poison student never reached the gradebook
