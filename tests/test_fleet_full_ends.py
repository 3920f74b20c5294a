"""A worker that ends on a full broker (issue 25): its task is left in neither the queue nor a worker's hands (taken
while Redis is full, or given back by a grading process killed while it is full), and the enqueuer sends it again once
there is room, saying why; a worker started then grades each student once.

Split from tests/test_fleet_full.py (a full broker a worker waits out), so that `make test` (`--dist loadscope`: a file
is one unit of a worker) can run the two files side by side: together they took nearly 14 minutes of one worker beside
a full run (tests/support/suite_order.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
import redis

from lrcourse.grading.fleet import broker as fleet

import catalogue
from support import stub_fleet
from support.gradedclass import class_of
from support.paths import ROOT
from support.redis_broker import fill, redis_server
from support.stub_fleet import enqueue, graded_lines, outcomes, queued, running_worker, stub_worker, wait_for

CHAPTER = "02_ordered_schedules"


def sent_marks(client) -> int:
    return len(list(client.scan_iter(fleet.sent_key("*"))))


@pytest.mark.parametrize("rerun", [False, True], ids=["same-run", "rerun"])
def test_a_task_taken_by_a_worker_that_ends_on_a_full_broker_is_sent_again_and_graded_once(tmp_path, rerun):
    """Issue 25: an idle worker's main process takes a queued task while Redis is full; kombu's record of it as
    unacknowledged is refused and the worker ends, the task in neither the queue nor the unacknowledged hash while
    its `sent` mark stays. The other student stays queued. Once there is room, the run (or, after Ctrl-C, a rerun)
    sends the stranded task again, and a worker started then grades each student once; each is written once."""
    students = ["sleep-1-c", "sleep-1-d"]
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], students)
    version = fleet.course_version(course, CHAPTER)
    log, log2, errors = tmp_path / "worker.log", tmp_path / "worker2.log", tmp_path / "enqueuer.err"
    with redis_server() as url, redis.Redis.from_url(url) as client:
        worker = stub_worker(url, ROOT, "ends@test", log, every=1.0)
        run = None
        try:
            assert wait_for(lambda: "warm in" in log.read_text(), 120), log.read_text()[-3000:]
            time.sleep(2)  # the worker's loop polling its queue
            os.kill(worker.pid, signal.SIGSTOP)  # its main process between two polls while both tasks are queued
            run = enqueue(url, course, CHAPTER, every=1.0, stderr=errors.open("w"))
            assert wait_for(lambda: queued(client, version) == 2 and sent_marks(client) == 2, 120), errors.read_text()
            fill(client)  # after the run's last write: it waits for results, and sends nothing
            os.kill(worker.pid, signal.SIGCONT)  # it takes one task; its HSET into the unacknowledged hash is refused
            assert wait_for(lambda: queued(client, version) == 1 and worker.poll() is not None, 60), log.read_text()
            # stranded: taken off the queue, not recorded as unacknowledged, still marked sent
            assert client.hlen("unacked") == 0 and sent_marks(client) == 2, log.read_text()[-3000:]
            time.sleep(4)  # several of the run's looks while Redis is full: nothing sent (it would be refused)
            assert run.poll() is None and queued(client, version) == 1, errors.read_text()
            if rerun:
                run.send_signal(signal.SIGINT)
                run.wait(60)
            client.config_set("maxmemory", 0)  # room made, as the README says
            with running_worker(url, ROOT, "after@test", log2, every=1.0):
                if rerun:
                    run = enqueue(url, course, CHAPTER, every=1.0, stderr=errors.open("a"))
                stdout, _ = run.communicate(timeout=180)
        finally:
            for process in (run, worker):
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGCONT)
                    process.send_signal(signal.SIGTERM)
                    process.wait(60)
    said = errors.read_text()
    assert run.returncode == 0, said[-3000:]
    assert outcomes(stdout) == {student: ["graded", ""] for student in students}, stdout
    assert graded_lines(log) == [], log.read_text()[-3000:]  # the first worker graded nothing: it ended
    assert sorted(graded_lines(log2)) == [f"stub graded {student} by after@test" for student in students]
    assert said.count("1 waiting task(s) are in neither the queue nor a worker's hands") == 1, said


# the watches made quick: a worker's mark lapses in 3 s, a killed grading process's lease in 10 s (not 90: its
# Lease's default), the enqueuer says "no worker" after 5 s without a mark
QUICK = (
    "from lrcourse.grading.fleet import lease as fleet_lease, watch as fleet_watch\n"
    "fleet_watch.SERVING_SECONDS = 3.0\n"
    "fleet_lease.Lease.__init__.__defaults__ = (10.0,)\n"
)
QUICK_WORKER = stub_fleet.WORKER.replace("url = sys.stdin", QUICK + "url = sys.stdin", 1)
QUICK_ENQUEUE = stub_fleet.ENQUEUE.replace("url = sys.stdin", "fleet_watch.SERVING_SECONDS = 5.0\nurl = sys.stdin", 1)


def test_a_grading_process_killed_on_a_full_broker_ends_its_worker_and_the_run_says_so_then_sends_its_task_again(
    tmp_path,
):
    """Issue 25 (R25e): a grading process killed (a memory cap, kill -9) while Redis is full: Celery's requeue (one
    kombu transaction with an LPUSH) is refused and the worker ends (exit 1), its task left in kombu's unacknowledged
    hash, which kombu restores only after the visibility timeout. While full, the run says the broker is full and
    that a worker that ended on it must be started again; once there is room, that no worker serves its version,
    and it sends the task again (held by no lease, in no queue, at two looks with room); a worker started then grades
    the student once."""
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["sleep-10-k"])
    version = fleet.course_version(course, CHAPTER)
    log, log2, errors = tmp_path / "worker.log", tmp_path / "worker2.log", tmp_path / "enqueuer.err"
    with redis_server() as url, redis.Redis.from_url(url) as client:
        args = (str(ROOT), "dies@test", "3600", "0.3", "1", "1.0", str(stub_fleet.RESTORE_SECONDS))
        options = {"stderr": subprocess.STDOUT, "start_new_session": True, "cwd": ROOT}
        worker = stub_fleet.started(QUICK_WORKER, url, *args, stdout=log.open("a"), **options)
        run = stub_fleet.started(
            QUICK_ENQUEUE,
            url,
            str(course),
            CHAPTER,
            "64",
            "1.0",
            stdout=subprocess.PIPE,
            stderr=errors.open("w"),
            cwd=course,
        )
        try:
            assert wait_for(lambda: client.keys("lrcourse:lease:*"), 120), log.read_text()[-3000:]
            [record] = client.mget(client.keys("lrcourse:taken:*"))
            fill(client)
            os.kill(json.loads(record)["pid"], signal.SIGKILL)  # its requeue is refused
            assert wait_for(lambda: worker.poll() is not None, 60), log.read_text()[-3000:]
            assert worker.returncode == 1, log.read_text()[-3000:]
            assert client.hlen("unacked") == 1 and queued(client, version) == 0  # held for the visibility timeout
            started_again = "must be started again"
            assert wait_for(lambda: started_again in errors.read_text(), 60), errors.read_text()
            assert wait_for(lambda: not client.keys("lrcourse:lease:*"), 30)  # the killed process's lease lapsed
            time.sleep(4)  # several of the run's looks while Redis is full: nothing sent (it would be refused)
            assert "no worker could mark course version" in errors.read_text() and queued(client, version) == 0
            client.config_set("maxmemory", 0)  # room made
            said = "no worker has marked course version"
            assert wait_for(lambda: said in errors.read_text(), 60), errors.read_text()
            assert wait_for(lambda: queued(client, version) == 1, 60), errors.read_text()  # sent again
            with running_worker(url, ROOT, "after@test", log2, every=1.0):
                stdout, _ = run.communicate(timeout=180)
        finally:
            for process in (run, worker):
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(60)
    text = errors.read_text()
    assert run.returncode == 0, text[-3000:]
    assert outcomes(stdout) == {"sleep-10-k": ["graded", ""]}, stdout
    assert graded_lines(log) == [] and graded_lines(log2) == ["stub graded sleep-10-k by after@test"]
    assert text.count("1 waiting task(s) are in neither the queue nor a worker's hands") == 1, text
    assert text.count(said) == 1 and text.count("no worker could mark course version") == 1, text
    assert 'a worker that ended while the broker was full, exit 1 and "Unrecoverable error" in its log' in text, text
