"""A broker away mid-run (`fleet_outage`): the enqueuing command waits for it, says once since when it is unreachable,
and goes on when it answers; the tasks a Redis restarted empty lost are sent again (`fleet_watch.Lost`) and each
student is graded and written once. What waiting cannot cure is not waited for (`unreachable`). A real Redis with a
password, stopped and started again; stub workers (`support.stub_fleet`) that print each student they grade. The
limit (`--broker-wait`) is test_fleet_broker_down.py's."""

from __future__ import annotations

import re
import signal
import time
from urllib.parse import urlsplit

import pytest
import redis
from kombu.exceptions import OperationalError

from lrcourse.grading.fleet import broker as fleet
from lrcourse.grading.fleet.grade import BATCH, Run, sending_backend
from lrcourse.grading.fleet.outage import Outage, unreachable
from lrcourse.grading.fleet.ready import ready_tasks
from lrcourse.grading.fleet.stranded import Copies, lost_tasks

import catalogue
from support.course import make_course
from support.gradedclass import submit_answer
from support.labserver import free_port
from support.paths import ROOT
from support.redis_broker import full, redis_server, restartable_redis_server
from support.stub_fleet import Bar, enqueue, graded_lines, outcomes, queued, running_worker, stub_worker, wait_for

CHAPTER = "02_ordered_schedules"
FIRST, OTHERS = "sleep-3-alice", ["tom", "uma"]  # sent in this order (the intake's), one at a time (a window of 1)
LOOKS = 600.0  # the enqueuer's periodic looks, far apart: longer than the whole test


def test_a_broker_away_mid_run_is_waited_for_and_each_student_is_graded_and_written_once(tmp_path):
    course = make_course(tmp_path / "course", [CHAPTER])
    for student in [FIRST, *OTHERS]:
        submit_answer(course, student, catalogue.STEP_CORRECT[0])
    version = fleet.course_version(course, CHAPTER)
    before, after, errors = tmp_path / "before.log", tmp_path / "after.log", tmp_path / "enqueuer.err"
    with restartable_redis_server() as (url, restart), redis.Redis.from_url(url) as client:
        worker = stub_worker(url, ROOT, "before@test", before)
        # its looks (`Lost`, `Unserved`) every 10 minutes: only the look made at once once the broker is back
        # (`Lost.broker_back`) can find the task the restart lost within this test's waits
        run = enqueue(url, course, CHAPTER, window=1, every=LOOKS, stderr=errors.open("w"))
        try:
            assert wait_for(lambda: any(client.scan_iter(fleet.attempts_key("*"))), 120), errors.read_text()
            worker.send_signal(signal.SIGTERM)  # a warm shutdown: FIRST, in hand, is graded and its result stored
            worker.wait(60)
            assert wait_for(lambda: queued(client, version) == 1, 60), errors.read_text()  # FIRST written, tom sent
            said = []

            def while_down() -> None:  # the run keeps trying, and says so once
                said.append(wait_for(lambda: "is unreachable since" in errors.read_text(), 60))
                time.sleep(3)

            restart(while_down)
            assert said == [True], errors.read_text()
            assert run.poll() is None, errors.read_text()
            # tom, lost, sent again at the look made once the broker answers, not at the next periodic look
            assert wait_for(lambda: queued(client, version) == 1, 60), errors.read_text()
            with running_worker(url, ROOT, "after@test", after):
                stdout, _ = run.communicate(timeout=180)
        finally:
            for process in (run, worker):
                process.kill()
                process.wait()
    text = errors.read_text()
    assert run.returncode == 0, text
    assert outcomes(stdout) == {student: ["graded", ""] for student in [FIRST, *OTHERS]}
    assert graded_lines(before) == [f"stub graded {FIRST} by before@test"]
    assert sorted(graded_lines(after)) == [f"stub graded {student} by after@test" for student in OTHERS]
    address = f"127.0.0.1:{urlsplit(url).port}"
    assert text.count(f"lrcourse: the broker at {address} is unreachable since ") == 1, text
    assert text.count(f"lrcourse: the broker at {address} answers again, after ") == 1, text
    assert text.count("the broker lost 1 waiting task(s)") == 1, text
    assert "Traceback" not in text, text


def test_only_a_broker_out_of_reach_is_waited_for():
    app = fleet.celery_app(f"redis://:pw@127.0.0.1:{free_port()}/0", backend=sending_backend())  # the enqueuer's
    with pytest.raises(OperationalError) as refused:  # kombu's, from redis-py's refused connection
        app.send_task("nothing", args=[], task_id="t", queue="nowhere")
    assert unreachable(refused.value), repr(refused.value)
    with redis_server() as url, redis.Redis.from_url(url) as client:
        with pytest.raises(redis.AuthenticationError) as wrong:
            redis.Redis.from_url(url.replace(urlsplit(url).password, "wrong")).ping()
        with full(client), pytest.raises(redis.OutOfMemoryError) as filled:
            client.set("x", "y" * 1000)
    assert not unreachable(wrong.value) and not unreachable(filled.value)  # waiting cures neither
    with pytest.raises(ValueError) as other:  # a server other than the broker (a PostgreSQL gradebook)
        raise ValueError("a gradebook's") from ConnectionRefusedError(111, "Connection refused")
    assert not unreachable(other.value)


class PostfixBar(Bar):
    """`Bar`, with the postfix tqdm shows on the progress line."""

    def __init__(self):
        super().__init__()
        self.postfix = ""

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text


def test_an_outage_lasts_until_a_round_goes_through_not_until_the_broker_answers_a_ping():
    """A broker that answers the ping and fails the next round again is the same outage: said once, its limit counted
    from its first error, so a broker that keeps failing rounds ends the run within the limit."""
    bar, refused = PostfixBar(), redis.ConnectionError("Connection refused")
    outage = Outage("redis://:pw@127.0.0.1:6399/0", bar, check=lambda: None, limit=2)
    outage.wait(refused, ping=lambda: None)  # answers the ping; the round fails again (no `over`)
    assert bar.postfix.startswith("broker unreachable since "), bar.postfix
    time.sleep(2)

    def down() -> None:
        raise refused

    began = time.monotonic()
    with pytest.raises(fleet.BrokerUnreachable, match=r"unreachable for 2 s \(--broker-wait\)"):
        outage.wait(refused, ping=down)
    assert time.monotonic() - began < 1  # the limit counted from the first error, not from this wait
    said = [text for text, _ in bar.said]
    assert len(said) == 1 and "the broker at 127.0.0.1:6399 is unreachable since " in said[0], said


def test_an_outage_is_over_once_a_round_goes_through_and_said_to_be_once():
    bar = PostfixBar()
    outage = Outage("redis://:pw@127.0.0.1:6399/0", bar, check=lambda: None, limit=2)
    outage.over()  # no outage: nothing to say
    assert bar.said == []
    outage.wait(redis.ConnectionError("Connection reset by peer"), ping=lambda: None)
    outage.over()
    outage.over()
    said = [text for text, _ in bar.said]
    assert len(said) == 2 and re.search(
        r"the broker at 127.0.0.1:6399 answers again, after \d+ s: going on", said[1]
    ), said
    assert bar.postfix == ""


def test_a_result_lost_by_a_restart_after_it_was_seen_ready_leaves_its_task_waiting_to_be_sent_again():
    """Redis restarted empty between the look for ready results (`ready_tasks`) and the read of one (`Run.write`):
    redis-py reconnects without an error and reads nothing. The student is not failed: the task stays waiting, with
    neither its `sent` mark nor a result, and no done mark, so `fleet_watch.Lost` sends it again (R25m W1)."""
    task, success = "rs-task", b'{"status": "SUCCESS", "result": {}}'
    with restartable_redis_server() as (url, restart), redis.Redis.from_url(url) as client:
        run = Run.__new__(Run)  # only what `write` uses before it writes anything
        run.client, run.copies, run.bar = client, Copies("lrcourse-test-restart"), Bar()
        run.waiting, run.outcomes, run.written = {task: ("rs-student", "f")}, [], []
        client.set(fleet.sent_key(task), 1)
        client.set(fleet.result_key(task), success)
        assert ready_tasks(client, run.waiting, BATCH) == [task]
        restart()
        assert run.write(writer=None, task=task) is False
        assert run.waiting == {task: ("rs-student", "f")} and run.outcomes == [] and run.written == []
        assert not client.exists(fleet.done_key(task))  # a copy sent again is graded, not dropped
        assert lost_tasks(client, list(run.waiting)) == [task]  # what `Lost` sends again
