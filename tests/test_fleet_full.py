"""A full broker (a real Redis at its maxmemory, `maxmemory-policy noeviction`) is a clear, recoverable condition
(`fleet_full`): a worker whose result write is refused keeps the task and the result, says on its log that the broker
is full and what to do, and writes it once there is room, without dying (it ended with Celery's "Unrecoverable error"
and left the task stranded for the visibility timeout); the enqueuing command names "full" and the fix, exit status 3.
A worker that ends on a full broker, its task sent again once there is room: tests/test_fleet_full_ends.py.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import redis

from lrcourse.grading.fleet import broker as fleet

import catalogue
from support import stub_fleet
from support.gradedclass import class_of
from support.paths import ROOT
from support.redis_broker import fill, redis_server
from support.stub_fleet import enqueue, graded_lines, outcomes, queued, stub_worker, wait_for

CHAPTER = "02_ordered_schedules"
FULL_SAID = "the broker is full (Redis's maxmemory is reached: it refuses writes)"
RESTORE = 2.0  # seconds between kombu's sweeps of the unacknowledged tasks (10 s as shipped: `fleet.RESTORE_SECONDS`)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return class_of(tmp_path_factory.mktemp("full") / "course", catalogue.STEP_CORRECT[0], ["sleep-4-a"])


def test_a_worker_waits_out_a_full_broker_and_its_result_arrives(course, tmp_path):
    log = tmp_path / "worker.log"
    with redis_server() as url, redis.Redis.from_url(url) as client:
        worker = stub_worker(url, ROOT, "one@test", log, restore=RESTORE)
        run = enqueue(url, course, CHAPTER, 1, stderr=subprocess.PIPE)
        try:
            assert wait_for(lambda: client.keys("lrcourse:lease:*"), 120), "no worker took the task"
            fill(client)  # while the student is graded: the result's write finds Redis full
            assert wait_for(lambda: FULL_SAID in log.read_text(), 60), log.read_text()[-3000:]
            text = log.read_text()
            assert "redis-cli CONFIG SET maxmemory" in text and "redis-cli DEL lrcourse-<version>" in text, text
            time.sleep(2.5 * RESTORE)  # two of kombu's sweeps of the unacknowledged tasks at least: each a write too
            assert worker.poll() is None, "the worker ended on a full broker: " + log.read_text()[-3000:]
            assert client.hlen("unacked") == 1, "the task is not kept by the worker while it waits"
            client.config_set("maxmemory", 0)  # room made: the result is written, the task acknowledged
            out, err = run.communicate(timeout=120)
            assert run.returncode == 0, err[-2000:]
            assert outcomes(out) == {"sleep-4-a": ["graded", ""]}, out
            assert wait_for(lambda: client.hlen("unacked") == 0, 30), "the task was not acknowledged"
            assert worker.poll() is None, log.read_text()[-3000:]
            assert "Unrecoverable error" not in log.read_text()
            assert graded_lines(log) == ["stub graded sleep-4-a by one@test"]
        finally:
            for process in (run, worker):
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(60)


def test_the_enqueuer_names_a_full_broker_and_the_fix(tmp_path):
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["alice"])
    with redis_server() as url, redis.Redis.from_url(url) as client:
        fill(client)
        url_file = course.parent / "broker-url"
        url_file.write_text(url)
        url_file.chmod(0o600)
        argv = ["grade", CHAPTER, "--course", str(course), "--broker-file", str(url_file)]
        run = subprocess.run([sys.executable, "-m", "lrcourse.cli", *argv], capture_output=True, text=True, timeout=120)
    assert run.returncode == fleet.BROKER_STATUS, run.stdout + run.stderr
    address = url.rsplit("@", 1)[1].split("/")[0]
    assert f"the broker at {address} is full (Redis's maxmemory is reached: it refuses writes)" in run.stderr
    assert "does not answer" not in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert "redis-cli CONFIG SET maxmemory" in run.stderr and "grades written so far are kept" in run.stderr


def test_a_worker_started_on_a_full_broker_waits_for_room_then_grades(tmp_path):
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["sleep-1-b"])
    log = tmp_path / "worker.log"
    with redis_server() as url, redis.Redis.from_url(url) as client:
        run = enqueue(url, course, CHAPTER, 1, stderr=subprocess.PIPE)
        worker = None
        try:
            version = fleet.course_version(course, CHAPTER)
            assert wait_for(lambda: queued(client, version) == 1, 120), "nothing queued"
            fill(client)
            worker = stub_worker(url, ROOT, "two@test", log)
            assert wait_for(lambda: "this worker's start waits" in log.read_text(), 120), log.read_text()[-3000:]
            assert worker.poll() is None and "Unrecoverable error" not in log.read_text()
            client.config_set("maxmemory", 0)
            out, err = run.communicate(timeout=180)
            if run.returncode != 0:  # a write of its own found Redis full before the room came: the README's rerun
                assert "is full (Redis's maxmemory is reached" in err, err[-2000:]
                run = enqueue(url, course, CHAPTER, 1, stderr=subprocess.PIPE)
                out, err = run.communicate(timeout=180)
            assert run.returncode == 0, err[-2000:]
            assert outcomes(out) == {"sleep-1-b": ["graded", ""]}, out
            assert graded_lines(log) == ["stub graded sleep-1-b by two@test"]
        finally:
            for process in (run, worker):
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(60)


def test_the_messages_of_a_wait_for_room_say_that_celery_s_hard_time_limit_counts_it():
    """R25m W2: a result's wait for room is inside its task, which Celery's hard time limit counts from its start; the
    messages said it is written "once there is room" whenever that comes. Now the enqueuer's (`Lapsed`: a result that
    waits, a lease lapsed while full) name the limit as computed, and the worker's log says the waits count against
    it."""
    from lrcourse.grading.fleet.full import full_wait_message
    from lrcourse.grading.fleet.lapsed import Lapsed
    from lrcourse.grading.fleet.lease import lease_key, lease_value, taken_key

    bar, waits, lapsed = stub_fleet.Bar(), "hl-waits", "hl-lapsed"
    watch = Lapsed("", {waits: ("ann", "f"), lapsed: ("ben", "f")}, bar, limits=(777.0, 1020.0), grace=0, every=0)
    with redis_server() as url, redis.Redis.from_url(url) as client:
        watch.url = url
        client.set(lease_key(waits), lease_value("tok", 3, 2_000_000))
        client.set(taken_key(lapsed), json.dumps({"worker": "w@a", "taken": time.time(), "visibility": 3600.0}))
        fill(client)
        watch.check()
        client.config_set("maxmemory", 0)
    said = {text.split(":")[1].strip(): text for text, _ in bar.said}
    assert set(said) == {"ann", "ben"}, said
    for text in said.values():
        assert "Celery's hard time limit (777 s from the task's start" in text, text
        assert "the student fails" in text or "the student failed" in text, text
        assert "a rerun" in text and "grades her again" in text, text
    logged = full_wait_message("the result x (its task kept by this worker)", 5.0)
    assert "count against Celery's hard time limit" in logged and "its student fails" in logged, logged


def test_a_result_lost_waiting_for_room_past_the_hard_limit_is_not_blamed_on_the_student(tmp_path):
    """R25n M1: a result that waited for room in its worker (Redis with room for small writes, not for a 1.3 MB
    result) past Celery's hard time limit is lost, and the worker's main process stores TimeLimitExceeded. Her outcome
    said "held on this student past the queue's hard time limit ... not tried again": her submission blamed, no rerun
    asked for. The enqueuer saw the wait (`Lapsed.waited`), so her outcome now says the broker's part and the rerun,
    which grades her."""
    from support.held_fleet import (
        no_room_for_the_result,
        rerun_after,
        started_worker,
        stopped,
        time_limited,
        worker_script,
    )

    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["sleep-2-a"])
    log, errors = tmp_path / "worker.log", tmp_path / "enqueuer.err"
    with redis_server() as url, redis.Redis.from_url(url) as client:
        worker = started_worker(time_limited(worker_script(pad=1_200_000), 10), url, "one@test", log)
        run = None
        try:
            with no_room_for_the_result(url, client, course, log, errors) as run:
                assert wait_for(lambda: "waits in its worker for room" in errors.read_text(), 60), errors.read_text()
                assert wait_for(lambda: "Hard time limit (10s) exceeded" in log.read_text(), 60), log.read_text()
            out, _ = run.communicate(timeout=120)
            [(status, reason)] = outcomes(out).values()
            assert status == "failed" and "waited for room in the full broker" in reason, reason
            assert "hard time limit (10 s" in reason and "not her submission's fault" in reason, reason
            out = rerun_after(url, course, reason, tmp_path / "rerun.err", timeout=120)
        finally:
            stopped(run, worker)
        assert outcomes(out) == {"sleep-2-a": ["graded", ""]}, out
        assert graded_lines(log) == ["stub graded sleep-2-a by one@test"] * 2


def test_only_a_hard_limit_after_a_wait_for_room_is_said_to_be_the_broker_s():
    """`Lapsed.explained`: a task not seen waiting keeps the stored failure's text; a task seen waiting that then
    succeeds, or failed otherwise, keeps its result."""
    from lrcourse.grading.fleet.lapsed import Lapsed
    from lrcourse.grading.fleet.result import Stored, read

    limit = read({"status": "FAILURE", "result": {"exc_type": "TimeLimitExceeded", "exc_message": [840.0]}})
    other = read({"status": "FAILURE", "result": {"exc_type": "MemoryError", "exc_message": ["x"]}})
    assert limit.limit == 840.0 and "held on this student" in limit.reason and other.limit is None
    watch = Lapsed("", {}, stub_fleet.Bar(), limits=(840.0, 1020.0))
    watch.waited.add("seen")
    assert watch.explained("unseen", limit) == limit and watch.explained("seen", other) == other
    assert watch.explained("seen", Stored("SUCCESS", document={})).status == "SUCCESS"
    said = watch.explained("seen", limit)
    assert said.status == "FAILURE" and said.limit == 840.0, said
    assert "waited for room in the full broker" in said.reason and "hard time limit (840 s" in said.reason, said
