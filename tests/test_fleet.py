"""Grading on many machines (issue 25): a real Redis broker with a password, two `lrcourse worker` processes each
from a checkout and an environment of its own (no shared grading folder), and `lrcourse grade --broker-file`.
Each checkout holds the graded chapter only: a worker serves, and warms as each of its pool processes starts, every
chapter of its checkout (`support.checkouts`).

One scenario, to keep the suite's time small on two cores: the enqueuing command is interrupted (SIGINT) after its
first result, one worker's grading process is killed (SIGKILL) mid-student, and the command is run again. The class:
chapter-2 catalogue entries (correct, wrong, forbidden, broken), the README's example class (examples/class: its
scores are `classresults.README_SCORES`, which local grading is held to by test_export), a hostile entry that local
grading scores in test_hostile (`patch-checker`: a checker patched in the kernel), a late student, a symlink and invalid
JSON. Every student ends graded exactly once, with the scores local `lrcourse grade` gives (the expectations
test_class_grading, test_export and test_hostile hold local grading to), each task graded to success once by the workers
(the rerun collected what was computed meanwhile). Then a worker of another course version, on the same broker, takes no
task.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from lrcourse.examples import submit_example_class

import catalogue
from support import hostile
from support.checkouts import checkout
from support.classresults import README_SCORES
from support.course import make_course, scores, submit, submit_text
from support.gradedclass import student_name, submit_answer, unexpected_scores
from support.paths import ROOT
from support.redis_broker import redis_server

pytestmark = pytest.mark.slow
CHAPTER = "02_ordered_schedules"
CLASS = [catalogue.STEP_CORRECT[0], *catalogue.STEP_WRONG[:2], catalogue.STEP_FORBIDDEN[0], catalogue.STEP_BROKEN[0]]
LATE = "late-correct"
EXAMPLES = {student for student, expected in README_SCORES.items() if not isinstance(expected, str)}  # graded
REFUSED_EXAMPLES = set(README_SCORES) - EXAMPLES  # erin: her notebook is not valid JSON
ATTACK = next(attack for attack in hostile.ATTACKS if attack.name == "patch-checker")
FORGED_CELL = "test_my_step_lr_one_group"  # the cell whose in-kernel pass patch-checker forges (test_hostile)
SUCCEEDED = re.compile(r"Task lrcourse\.grade_student\[(lrcourse-[0-9a-f]+)\] succeeded")


def start_worker(python: Path, clone: Path, broker: Path, log: Path) -> subprocess.Popen:
    command = [str(python), "-m", "lrcourse.cli", "worker", "--broker-file", str(broker), "--course", str(clone)]
    with open(log, "w") as out:
        return subprocess.Popen(command, cwd=clone, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def enqueue(course: Path, broker: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "lrcourse.cli",
        "grade",
        CHAPTER,
        "--broker-file",
        str(broker),
        "--course",
        str(course),
    ]
    return subprocess.Popen(command, cwd=course, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def marks(course: Path) -> list[Path]:
    return list((course / "autograded").glob(f"*/{CHAPTER}/.lrcourse-graded.json"))


def busy_children(worker: subprocess.Popen, log: Path) -> list[int]:
    """The worker's grading processes, once its log shows a task received and not yet done."""
    text = log.read_text()
    received = text.count("] received")
    finished = text.count("] succeeded") + text.count("] ignored")
    if received <= finished:
        return []
    found = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


def scratch_courses(pids: list[int]) -> list[Path]:
    from lrcourse.grading.fleet.worker import SCRATCH

    return [path for pid in pids for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH}{pid}-*")]


def pool_processes(worker: subprocess.Popen) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "lrcourse", "grader", f"source/{CHAPTER}"],
        capture_output=True,
        text=True,
    ).stdout
    if dirty.strip():
        pytest.fail(f"the workers run clones of the last commit: commit the package first\n{dirty}")
    base = tmp_path_factory.mktemp("fleet")
    with redis_server() as url:
        broker = base / "broker-url"
        broker.write_text(url)
        broker.chmod(0o600)
        pythons = {name: checkout(base / name, chapters=[CHAPTER]) for name in ("machine-a", "machine-b")}
        workers = {
            name: start_worker(python, base / name, broker, base / f"{name}.log") for name, python in pythons.items()
        }
        try:
            yield base, broker, workers
        finally:
            pids = [pid for process in workers.values() for pid in pool_processes(process)]
            for process in workers.values():
                stop(process)
        assert pids and not scratch_courses(pids)  # each pool process removed its scratch course as it ended


def submit_late(course: Path, student: str) -> None:
    """A correct answer submitted a day after the due date, in a course whose late submissions score zero (the
    enqueuing course's setting: the workers' checkouts do not have it)."""
    from lrcourse.gradebook_db import gradebook

    with open(course / "nbgrader_config.py", "a") as config:
        config.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        book.update_or_create_assignment(CHAPTER, duedate=datetime(2000, 1, 1))
    folder = submit_answer(course, student, catalogue.STEP_CORRECT[0]).parent
    (folder / "timestamp.txt").write_text("2000-01-02 00:00:00.000000 UTC")


def late_penalty(course: Path, student: str) -> float:
    from lrcourse.gradebook_db import gradebook

    with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        return book.find_submission(CHAPTER, student).late_submission_penalty


def test_a_class_graded_through_the_queue_survives_an_interrupt_and_a_killed_worker(fleet):
    base, broker, workers = fleet
    course = make_course(base / "course", [CHAPTER])
    for answer in CLASS:
        submit_answer(course, student_name(answer), answer)
    submit_late(course, LATE)
    submit_example_class(course, ROOT / "examples" / "class")
    assert not ATTACK.extra_cells and not ATTACK.mutate  # its answer cell is the whole attack
    submit(course, ATTACK.name, CHAPTER, hostile.answers(ATTACK.answer))
    submit_text(course, "refused-invalid-json", CHAPTER, '{"cells": [')
    linked = submit_answer(course, "refused-link", catalogue.STEP_CORRECT[0]).parent
    os.symlink("/etc/passwd", linked / "data.txt")
    log_a = base / "machine-a.log"

    first = enqueue(course, broker)
    wait_until(lambda: marks(course) or first.poll() is not None, 900, "a first result")
    first.send_signal(signal.SIGINT)
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 130, stdout[-3000:] + stderr[-3000:]
    assert "run the command again" in stderr
    graded_first = {path.parent.parent.name for path in marks(course)}

    # the workers grade on without the command; one is killed in the middle of a student
    wait_until(lambda: busy_children(workers["machine-a"], log_a), 600, "machine-a grading a student")
    time.sleep(3)
    killed = busy_children(workers["machine-a"], log_a)
    for pid in killed:
        os.kill(pid, signal.SIGKILL)

    second = enqueue(course, broker)
    stdout, stderr = second.communicate(timeout=1800)
    assert second.returncode == 1, stdout[-3000:] + stderr[-3000:]  # the two refused students fail: not clean

    rows = {row["student"]: row for row in csv.DictReader(open(course / "reports" / f"{CHAPTER}.csv"))}
    names = {student_name(answer) for answer in CLASS} | {LATE} | EXAMPLES | {ATTACK.name}
    assert set(rows) == names | {"refused-invalid-json", "refused-link"} | REFUSED_EXAMPLES
    assert all(rows[s]["status"] == "skipped" for s in graded_first), rows
    assert all(rows[s]["status"] == "graded" for s in names - graded_first), rows
    assert "data.txt is a symbolic link" in rows["refused-link"]["reason"]
    assert rows["refused-invalid-json"]["status"] == "failed"
    for student in REFUSED_EXAMPLES:
        assert rows[student]["status"] == "failed" and README_SCORES[student] in rows[student]["reason"], rows[student]
    graded = scores(course, CHAPTER)
    assert set(graded) == names  # the refused never reach the gradebook
    expected = {student_name(a): a.failing for a in CLASS} | {LATE: catalogue.STEP_CORRECT[0].failing}
    assert unexpected_scores(graded, expected) == {}
    totals = {student: sum(score for score, _ in graded[student].values()) for student in EXAMPLES}
    assert totals == {student: README_SCORES[student] for student in EXAMPLES}  # as local grading (test_export)
    # the forged in-kernel pass is not taken: the trusted verdict scores that cell 0, as local grading does
    # (test_hostile), and the attack gains nothing over a correct answer's full marks
    forged, maximum = graded[ATTACK.name][FORGED_CELL]
    assert forged == 0 and maximum > 0, graded[ATTACK.name]
    assert sum(score for score, _ in graded[ATTACK.name].values()) < sum(m for _, m in graded[ATTACK.name].values())
    assert all(any((course / "feedback" / s / CHAPTER).glob("*.html")) for s in names)
    # the late student's page shows the penalty this course's gradebook holds (the worker's scratch one has none)
    penalty = late_penalty(course, LATE)
    assert penalty > 0 and all(late_penalty(course, s) in (None, 0.0) for s in names - {LATE})
    if LATE not in graded_first:  # graded by this run: its report has her score after the penalty (zero), as grades.csv
        assert float(rows[LATE]["score"]) == 0, rows[LATE]
    page = next((course / "feedback" / LATE / CHAPTER).glob("*.html")).read_text()
    assert f"Late submission penalty (Score: -{round(penalty, 2)})" in page, page[:3000]

    logs = "".join((base / f"{name}.log").read_text() for name in workers)
    assert "WorkerLostError" in logs or "signal 9" in logs, logs[-3000:]
    assert killed and not scratch_courses(killed)  # the killed process's, removed by its replacement
    successes = Counter(SUCCEEDED.findall(logs))
    assert len(successes) == len(names) and set(successes.values()) == {1}, successes  # each graded once


def test_a_stale_worker_on_the_same_broker_takes_no_task(fleet):
    """A worker of another course version listens to its own version's queue only: on the broker the current
    workers serve, it receives nothing, and every student is graded by a current worker."""
    base, broker, workers = fleet
    other_version = {"lrcourse/grading/other_version.py": '"""Another version."""\n'}
    python = checkout(base / "machine-old", other_version, chapters=[CHAPTER])
    log = base / "machine-old.log"
    stale = start_worker(python, base / "machine-old", broker, log)
    try:
        wait_until(lambda: " ready." in log.read_text() or stale.poll() is not None, 300, "the stale worker")
        assert stale.poll() is None, log.read_text()[-3000:]
        course = make_course(base / "course-two", [CHAPTER])
        students = [f"student-{n}" for n in range(4)]
        for student in students:
            submit_answer(course, student, catalogue.STEP_CORRECT[0])
        run = enqueue(course, broker)
        stdout, stderr = run.communicate(timeout=1200)
    finally:
        stop(stale)
    assert run.returncode == 0, stdout[-3000:] + stderr[-3000:]
    assert set(scores(course, CHAPTER)) == set(students)
    stale_log = log.read_text()
    assert "serving" in stale_log and "] received" not in stale_log, stale_log[-3000:]
    current = "".join((base / f"{name}.log").read_text() for name in workers)
    assert "version mismatch" not in current + stale_log


def test_a_task_whose_workers_died_too_often_fails_its_student_without_grading(fleet):
    """A submission that kills its grading process each time is not handed out for ever: once delivered more than
    MAX_ATTEMPTS times, the task's result is that student's failure (the delivery count is the broker's)."""
    import redis

    from lrcourse.grading.fleet import broker as queue

    _, broker, _ = fleet
    url = broker.read_text()
    task = "lrcourse-test-poison"
    with redis.Redis.from_url(url) as client:
        client.set(queue.attempts_key(task), queue.MAX_ATTEMPTS)  # three deliveries whose worker died
    app = queue.celery_app(url)
    served = queue.queue_name(queue.course_version(ROOT, CHAPTER))  # the workers' clones are of this commit
    payload = {"assignment": CHAPTER, "student": "mallory", "version": "x"}
    app.send_task(queue.TASK, args=[payload], task_id=task, queue=served)
    result = app.AsyncResult(task).get(timeout=300)
    assert result["outcome"]["status"] == "failed"
    assert f"died {queue.MAX_ATTEMPTS} times" in result["outcome"]["reason"], result
