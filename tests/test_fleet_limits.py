"""Celery's hard time limit on a grading task (`fleet_worker.make_app`), the last resort when a worker is held where
the sandbox's own clocks do not reach: the held student fails with the reason, is not handed out again, and the
others are graded. A real Redis broker and one `lrcourse worker` process from this checkout, its limit made small
(45 s) and one student's task held in the worker outside any sandbox (a sleep before grading starts). The worker runs
as `lrcourse worker` runs it (`run_station`: the main process's marks of the tasks it holds, `fleet_lease.Held`, and of
the versions it serves): started with `serve` alone, it marked neither, and alice's task, taken off the queue while
the only pool process warmed (68 s at load 15), was at the enqueuer's second look in neither the queue nor a
worker's hands: sent again (`fleet_watch.Lost`, same task id), its copy received once the held one's process was
killed, a third "received" in the log (issue 25)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import catalogue
from support.course import make_course, scores
from support.gradedclass import submit_answer
from support.paths import ROOT
from support.redis_broker import redis_server
from support.stub_fleet import started

pytestmark = pytest.mark.slow
CHAPTER = "02_ordered_schedules"
TASK = re.escape("lrcourse.grade_student")  # the task's name in the worker's log
LIMIT = 45  # seconds, waited out by the held one: a steady student (alice) took 17 s here at load 9-11, 21 s at load 12

WORKER = """
import sys, time
from pathlib import Path
from lrcourse.grading.fleet import worker as fleet_worker
app, station = fleet_worker.make_app(sys.stdin.read().strip(), Path(sys.argv[1]))
app.conf.task_time_limit = float(sys.argv[2])
# Only the graded chapter served: a pool process warms every chapter it serves as it starts (all seven: 38 s at load 6,
# 83 s at load 12; this one alone: 31 s at load 7), and both this one and the held one's replacement (which the
# worker's shutdown waits for) start.
every = station.serving
station.serving = lambda: {name: version for name, version in every().items() if name == sys.argv[3]}
grade = station.grade

def held(task):
    if str(task.get("student")).startswith("held"):
        time.sleep(3600)  # held outside the student's kernel and the verdicts: no sandbox clock runs here
    return grade(task)

station.grade = held
fleet_worker.run_station(app, station, 1, 3600, "limits@test")  # with its Held and CheckoutWatch steps
"""

ENQUEUE = """
import json, sys
from pathlib import Path
from lrcourse.grading.fleet.grade import grade_class_remote
result = grade_class_remote(Path(sys.argv[1]), sys.argv[2], sys.stdin.read().strip(), progress=False)
print(json.dumps({o.student: [o.status, o.reason] for o in result.outcomes}))
"""


def pool(worker: subprocess.Popen) -> set[int]:
    found = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout.split()
    return {int(pid) for pid in found}


def scratch_courses(pids: set[int]) -> list[Path]:
    from lrcourse.grading.fleet.worker import SCRATCH

    return [path for pid in pids for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH}{pid}-*")]


def wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.5)


def test_a_student_held_past_the_hard_limit_fails_with_the_reason_and_the_others_are_graded(tmp_path):
    course = make_course(tmp_path / "course", [CHAPTER])
    for student in ("alice", "held-0"):  # sent in this order: alice is graded before the held one starts
        submit_answer(course, student, catalogue.STEP_CORRECT[0])
    log = tmp_path / "worker.log"
    with redis_server() as url, open(log, "w") as out:
        worker = started(WORKER, url, str(ROOT), str(LIMIT), CHAPTER, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            run = started(ENQUEUE, url, str(course), CHAPTER, stdout=subprocess.PIPE, cwd=course)
            wait_for(lambda: log.read_text().count("] received") == 2 or run.poll() is not None, 900)
            held = pool(worker)
            stdout, _ = run.communicate(timeout=900)
            wait_for(lambda: len(pool(worker) - held) == 1, 60)
            replacement = pool(worker) - held  # it removes what the held one left, as it starts
            wait_for(lambda: not scratch_courses(held), 120)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(120)
    outcomes = json.loads(stdout.strip().splitlines()[-1])
    assert outcomes["alice"][0] == "graded", outcomes
    status, reason = outcomes["held-0"]
    assert status == "failed" and f"hard time limit ({LIMIT} s" in reason and "not tried again" in reason, reason
    assert set(scores(course, CHAPTER)) == {"alice"}  # the held student never reached the gradebook
    text = log.read_text()
    limited = re.findall(rf"Hard time limit \({LIMIT}[.0-9]*s\) exceeded for {TASK}\[(lrcourse-\w+)\]", text)
    received = re.findall(rf"{TASK}\[(lrcourse-\w+)\] received", text)
    assert len(limited) == 1, text[-3000:]
    # the held one's task received once (not handed out again), alice's once (never taken for stranded and sent again)
    assert received.count(limited[0]) == 1 and len(received) == len(set(received)) == 2, (received, text[-3000:])
    assert len(held) == len(replacement) == 1  # the held process ended, another took its place
    assert not scratch_courses(held)
