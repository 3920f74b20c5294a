"""A whole worker lost in the middle of a student (its main process and its pool killed with SIGKILL at once, as a
machine lost): nobody puts the task back, so the broker's visibility timeout does; a live worker's sweep
(`fleet.RESTORE_SECONDS`) hands it to another worker, which grades it; nothing is lost and nobody is graded twice
or written twice. (test_fleet kills one pool process, whose worker puts its task back at once.) A real Redis with a
password and two real workers whose grading is a stand-in (`support.stub_fleet`), the visibility timeout made 30 s
instead of an hour."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import redis

from lrcourse.grading import intake
from lrcourse.grading.fleet import broker as fleet
from lrcourse.grading.fleet.lease import lease_key, taken_key

import catalogue
from support.course import make_course, scores
from support.gradedclass import submit_answer
from support.paths import ROOT
from support.redis_broker import redis_server
from support.stub_fleet import enqueue, graded_lines, outcomes, stub_worker, wait_for

CHAPTER = "02_ordered_schedules"
VISIBILITY = 30.0  # longer than any task here (the slow one: 8 s), as the README asks, and than a worker's start
SLOW = "sleep-8-zoe"  # after b0 and b1 in the intake's order


def slow_task(course) -> str:
    """SLOW's task id, as the enqueuing command makes it."""
    folder = course / "submitted" / SLOW / CHAPTER
    version = fleet.course_version(course, CHAPTER)
    return fleet.task_id(version, CHAPTER, SLOW, intake.fingerprint(folder), fleet.course_id(course))


def group_alive(pid: int) -> bool:
    found = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True).stdout.split()
    return bool(found)


def test_a_worker_killed_whole_mid_task_has_its_task_graded_by_another_once(tmp_path):
    course = make_course(tmp_path / "course", [CHAPTER])
    students = ["b0", "b1", SLOW]
    for student in students:
        submit_answer(course, student, catalogue.STEP_CORRECT[0])
    lost_log, live_log = tmp_path / "lost.log", tmp_path / "live.log"
    with redis_server() as url, redis.Redis.from_url(url) as client:
        lost = stub_worker(url, ROOT, "lost@test", lost_log, visibility=VISIBILITY)
        live = None
        try:
            assert wait_for(lambda: "warm in" in lost_log.read_text(), 120), lost_log.read_text()
            run = enqueue(url, course, CHAPTER)

            slow = slow_task(course)

            def only_slow_taken() -> bool:  # b0 and b1 collected (their records forgotten), zoe's lease live
                return {key.decode() for key in client.scan_iter(taken_key("*"))} == {taken_key(slow)} and bool(
                    client.exists(lease_key(slow))
                )

            assert wait_for(only_slow_taken, 120), lost_log.read_text()[-3000:]
            assert json.loads(client.get(taken_key(slow)))["worker"] == "lost@test"
            os.killpg(lost.pid, signal.SIGKILL)  # the worker and its pool at once: no one gives the task back
            killed = time.monotonic()
            # started now, it is up before the visibility timeout has passed (its start's sweep finds nothing): its
            # periodic sweep hands the task out
            live = stub_worker(url, ROOT, "live@test", live_log, visibility=VISIBILITY)
            lost.wait(30)
            assert wait_for(lambda: not group_alive(lost.pid), 30)
            assert wait_for(lambda: graded_lines(live_log), 300)
            regraded = time.monotonic() - killed
            stdout, _ = run.communicate(timeout=300)
        finally:
            if lost.poll() is None:
                os.killpg(lost.pid, signal.SIGKILL)
            if live is not None:
                live.send_signal(signal.SIGTERM)
                live.wait(60)
        attempts_left = list(client.scan_iter(fleet.attempts_key("*")))
    assert run.returncode == 0
    assert outcomes(stdout) == {student: ["graded", ""] for student in students}
    assert graded_lines(lost_log) == ["stub graded b0 by lost@test", "stub graded b1 by lost@test"]
    assert graded_lines(live_log) == [f"stub graded {SLOW} by live@test"]  # once, by the other worker
    assert sorted(scores(course, CHAPTER)) == sorted(students)  # one submission each in the gradebook
    assert attempts_left == []  # each result collected and its records forgotten
    # handed out by the live worker's sweep soon after the visibility timeout (kombu's default throttle swept every
    # 100 s: about 100 s after the live worker's start here, its first sweep being at its start)
    assert regraded < VISIBILITY + fleet.RESTORE_SECONDS + 8 + 25, regraded  # 25 s: this busy machine's slack
