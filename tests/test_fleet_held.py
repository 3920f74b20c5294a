"""The enqueuer's stranded rule (`fleet_watch.Lost`) after the R25f review: a task a live worker holds is never taken
for stranded, and a task sent again is graded into the gradebook once and leaves nothing behind.

- a worker's main process takes --concurrency tasks off the queue as it starts, before its processes are warm; it
  marks what it holds (`fleet_lease.Held`), so they are not sent again while it warms;
- a result that waits for room in a nearly full broker keeps its lease until it is stored, and the enqueuer says the
  broker is full (`fleet_lapsed.waits_message`) instead of sending the task again;
- a grading process stopped (SIGSTOP), its worker alive: named as such, its task not sent again;
- a task sent again keeps its count of deliveries: a poison submission fails after MAX_ATTEMPTS kills, never more.

A worker paused or lost mid-student, its task sent again: tests/test_fleet_resent.py. Stand-in workers
(tests/support/stub_fleet.py) with their warm-up, lease and marks made short, and the enqueuer's looks every second,
as tests/test_fleet_stranded.py does; a real Redis with a password."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import redis

from lrcourse.grading.fleet import broker as fleet, full as fleet_full, grade as fleet_grade
from lrcourse.grading.fleet.deliveries import count_attempt

import catalogue
from support import stub_fleet
from support.gradedclass import class_of
from support.held_fleet import (
    CHAPTER,
    EVERY,
    RESENT,
    no_room_for_the_result,
    quick_enqueue,
    started_worker,
    stopped,
    worker_script,
)
from support.paths import ROOT
from support.redis_broker import full, redis_server
from support.stub_fleet import enqueue, graded_lines, outcomes, queued, stub_worker, wait_for


def test_tasks_a_worker_takes_before_its_processes_are_warm_are_not_sent_again(tmp_path):
    """Celery's main process takes --concurrency tasks off the queue as it starts; its processes warm meanwhile (8 s
    here, 45-95 s on this machine). It marks them held: the enqueuer leaves them to it while a second, warm worker
    takes the rest, and each student is graded once (before, both were sent again at the enqueuer's second look and
    graded twice)."""
    students = [f"sleep-1-{c}" for c in "abcd"]
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], students)
    version = fleet.course_version(course, CHAPTER)
    slow_log, fast_log, errors = tmp_path / "slow.log", tmp_path / "fast.log", tmp_path / "enqueuer.err"
    with redis_server() as url, redis.Redis.from_url(url) as client:
        run = enqueue(url, course, CHAPTER, every=EVERY, stderr=errors.open("w"))
        slow = fast = None
        try:
            assert wait_for(lambda: queued(client, version) == 4, 120), errors.read_text()
            # its marks lapse 3 s after their last renewal, renewed every second: a warm-up of 8 s outlasts a mark
            # set once as a task is received, so only the renewals (`Held.renew`) keep the tasks from being sent again
            slow = started_worker(worker_script(warm=8, held=(1.0, 3.0)), url, "slow@test", slow_log, concurrency=2)
            assert wait_for(lambda: queued(client, version) == 2, 60), slow_log.read_text()[-2000:]
            assert "warm in" not in slow_log.read_text()  # taken before its processes are warm
            fast = stub_worker(url, ROOT, "fast@test", fast_log)
            out, _ = run.communicate(timeout=300)
        finally:
            stopped(run, slow, fast)
    said = errors.read_text()
    assert RESENT not in said, said
    graded = graded_lines(slow_log) + graded_lines(fast_log)
    assert sorted(line.split()[2] for line in graded) == students, graded  # each graded once, by one worker
    assert any("slow@test" in line for line in graded), graded  # the ones it held, once warm
    assert outcomes(out) == {student: ["graded", ""] for student in students}


def test_a_task_held_by_a_worker_that_never_warms_is_named_and_sent_again_after_the_bound(tmp_path):
    """A worker whose processes never warm (here a warm-up of 10 minutes) holds the task its main process took, and
    renews its mark for as long as it lives: before, the enqueuer waited for ever without a word. Past the bound on a
    task held with no lease (`fleet_watch.HELD_BOUND_SECONDS`, WARM_SECONDS + 120 s as shipped, 4 s here) the enqueuer
    names the student and the worker, takes the task for stranded and sends it again; a warm worker grades it once."""
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["sleep-1-a"])
    version = fleet.course_version(course, CHAPTER)
    cold_log, warm_log, errors = tmp_path / "cold.log", tmp_path / "warm.log", tmp_path / "enqueuer.err"
    bound = "from lrcourse.grading.fleet import watch as fleet_watch\nfleet_watch.HELD_BOUND_SECONDS = 4.0\n"
    script = stub_fleet.ENQUEUE.replace("url = sys.stdin", bound + "url = sys.stdin", 1)
    assert "HELD_BOUND_SECONDS = 4.0" in script
    with redis_server() as url, redis.Redis.from_url(url) as client:
        args = (str(course), CHAPTER, "64", str(EVERY))
        run = stub_fleet.started(script, url, *args, stdout=subprocess.PIPE, stderr=errors.open("w"), cwd=course)
        cold = warm = None
        try:
            assert wait_for(lambda: queued(client, version) == 1, 120), errors.read_text()
            cold = started_worker(worker_script(warm=600, held=(1.0, 3.0)), url, "cold@test", cold_log)
            assert wait_for(lambda: queued(client, version) == 0, 60), cold_log.read_text()[-2000:]  # taken, held
            assert wait_for(lambda: client.keys("lrcourse:held:*"), 30), cold_log.read_text()[-2000:]
            warm = stub_worker(url, ROOT, "warm@test", warm_log)
            out, _ = run.communicate(timeout=120)  # before: no end, the task held for ever
        finally:
            if cold is not None:
                os.killpg(cold.pid, signal.SIGKILL)  # its process, warming for 10 minutes, would hold a warm shutdown
                cold.wait(10)
            stopped(run, warm)
    said = errors.read_text()
    assert "lrcourse: sleep-1-a: held by worker 'cold@test' for " in said, said
    assert "with no grading process holding its lease" in said and "Fix or stop that worker" in said, said
    assert f"1 {RESENT} at two looks in a row: sent again" in said, said
    assert "warm in" not in cold_log.read_text() and graded_lines(cold_log) == []
    assert graded_lines(warm_log) == ["stub graded sleep-1-a by warm@test"]
    assert outcomes(out) == {"sleep-1-a": ["graded", ""]}


def test_a_result_waiting_for_room_keeps_its_lease_and_the_enqueuer_says_the_broker_is_full(tmp_path):
    """Redis with room for small writes (the enqueuer's looks count) but not for a 1.2 MB result: the result waits in
    its worker with its lease held, so its task is not taken for stranded (before: sent again, and nothing said of a
    full broker), and the enqueuer names the full broker; once there is room the result is written, the student once."""
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["sleep-4-a"])
    log, errors = tmp_path / "worker.log", tmp_path / "enqueuer.err"
    with redis_server() as url, redis.Redis.from_url(url) as client:
        worker = started_worker(worker_script(pad=1_200_000), url, "one@test", log)
        run = None
        try:
            with no_room_for_the_result(url, client, course, log, errors) as run:
                assert wait_for(lambda: "waits in its worker for room" in errors.read_text(), 60), errors.read_text()
                assert "waits (" in log.read_text(), log.read_text()[-2000:]  # the worker's own message
                time.sleep(6 * EVERY)  # six of the enqueuer's looks with room for small writes
                assert RESENT not in errors.read_text(), errors.read_text()
                assert client.keys("lrcourse:lease:*"), "the lease ended before the result was stored"
            out, _ = run.communicate(timeout=120)
        finally:
            stopped(run, worker)
        said = errors.read_text()
        assert RESENT not in said and "To make room: raise its maxmemory" in said, said
        assert graded_lines(log) == ["stub graded sleep-4-a by one@test"]
        assert outcomes(out) == {"sleep-4-a": ["graded", ""]}
        assert not client.keys("lrcourse:lease:*")  # released once the result was stored


def test_a_stopped_grading_process_is_named_as_such_and_its_task_is_not_sent_again(tmp_path):
    """Only the grading process stopped (SIGSTOP), its worker's main process alive: the lease lapses, the worker's
    mark lives and says a grading process has the task (Celery lists an active task among the reserved ones). The
    enqueuer names a grading process not answering, not a lost worker, and does not send the task again; resumed
    (SIGCONT), the process finishes and the student is graded once."""
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["sleep-12-a"])
    log, errors = tmp_path / "worker.log", tmp_path / "enqueuer.err"
    with redis_server() as url, redis.Redis.from_url(url) as client:
        worker = started_worker(worker_script(lease=2.0, held=(1.0, 3.0)), url, "one@test", log)
        run = None
        stopped_pids: list[int] = []
        try:
            assert wait_for(lambda: "warm in" in log.read_text(), 120), log.read_text()[-2000:]
            run = quick_enqueue(url, course, errors, grace=3.0)
            assert wait_for(lambda: client.keys("lrcourse:lease:*"), 120), errors.read_text()
            found = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout.split()
            stopped_pids = [int(pid) for pid in found]
            assert len(stopped_pids) == 1, found  # its one grading process
            os.kill(stopped_pids[0], signal.SIGSTOP)
            assert wait_for(lambda: "whose grading process" in errors.read_text(), 60), errors.read_text()
            time.sleep(4 * EVERY)  # more of the enqueuer's looks: the worker's mark keeps the task
            assert client.keys("lrcourse:held:*") and not client.keys("lrcourse:lease:*")
            os.kill(stopped_pids[0], signal.SIGCONT)
            out, _ = run.communicate(timeout=120)
        finally:
            for pid in stopped_pids:
                os.kill(pid, signal.SIGCONT)
            stopped(run, worker)
    said = errors.read_text()
    assert "lrcourse: sleep-12-a: taken at " in said and "by worker 'one@test', whose grading process" in said, said
    assert "its machine was lost" not in said and RESENT not in said, said
    assert graded_lines(log) == ["stub graded sleep-12-a by one@test"]
    assert outcomes(out) == {"sleep-12-a": ["graded", ""]}


def test_a_poison_submission_sent_again_still_fails_after_max_attempts(tmp_path):
    """A submission that kills its grading process each time, on a worker whose replacement process warms longer than
    the enqueuer's two looks: the task, given back and held by the main process meanwhile, is not sent again, and a
    task sent again would keep its count; the student fails after MAX_ATTEMPTS kills (before: 4 kills or more, the
    count reset by each resend), the other student is graded."""
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["a0", "poison-p"])
    log, errors = tmp_path / "worker.log", tmp_path / "enqueuer.err"
    with redis_server() as url:
        worker = started_worker(worker_script(warm=5, lease=2.0), url, "one@test", log)
        run = None
        try:
            assert wait_for(lambda: "warm in" in log.read_text(), 120), log.read_text()[-2000:]
            run = enqueue(url, course, CHAPTER, every=EVERY, stderr=errors.open("w"))
            out, _ = run.communicate(timeout=240)
        finally:
            stopped(run, worker)
    kills = log.read_text().count("exited with 'signal 9 (SIGKILL)'")
    assert kills == fleet.MAX_ATTEMPTS, (kills, errors.read_text()[-2000:])
    found = outcomes(out)
    assert found["a0"] == ["graded", ""]
    assert found["poison-p"][0] == "failed" and "died 3 times" in found["poison-p"][1], found


def test_a_task_sent_again_keeps_its_count_of_deliveries(url, tmp_path):
    """`send(resent=True)` (the enqueuer's `Lost`) keeps the count; a first send, or a rerun's, starts it again."""
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["alice"])
    folder = course / "submitted" / "alice" / CHAPTER
    app = fleet.celery_app(url)
    with redis.Redis.from_url(url) as client:
        task = "held-count"
        client.set(fleet.attempts_key(task), 2)
        fleet_grade.send(app, client, task, "v", CHAPTER, folder, False, {}, resent=True)
        assert client.get(fleet.attempts_key(task)) == b"2"
        client.delete(fleet.sent_key(task))
        fleet_grade.send(app, client, task, "v", CHAPTER, folder, False, {})
        assert client.get(fleet.attempts_key(task)) is None
        client.delete(fleet.queue_name("v"), fleet.sent_key(task))


def test_a_count_of_deliveries_waits_for_room_in_a_full_broker(url, monkeypatch, capsys):
    """`count_attempt` while Redis is full: it waits, saying so, and counts once there is room (a task taken while
    full is graded, not failed for the broker)."""
    monkeypatch.setattr(fleet_full, "WAIT_SECONDS", 0.1)
    counted = []
    with redis.Redis.from_url(url) as client:
        client.delete(fleet.attempts_key("held-full"))
        with full(client):
            counter = threading.Thread(target=lambda: counted.append(count_attempt(url, "held-full")))
            counter.start()
            time.sleep(1.0)
            assert counted == [] and client.get(fleet.attempts_key("held-full")) is None
        counter.join(30)
        assert counted == [1] and client.get(fleet.attempts_key("held-full")) == b"1"
        assert client.ttl(fleet.attempts_key("held-full")) > 0
        client.delete(fleet.attempts_key("held-full"))
    assert "held-full (its task kept by this worker) waits" in capsys.readouterr().out
