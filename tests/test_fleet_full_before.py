"""A task stopped by Celery's hard time limit while the broker was full, before its result was made (R25o M1): its
waits for room before grading (its count of attempts, its lease) show no lease's `waits`, so the enqueuer saw no
result waiting, and her outcome said "held on this student ... not tried again". The enqueuer now remembers the tasks
it waited for while a look found Redis full (`Lapsed.full_looks`), and says the broker's part and the rerun."""

from __future__ import annotations

import time

import redis

import catalogue
from support import stub_fleet
from support.gradedclass import class_of
from support.held_fleet import quick_enqueue, rerun_after, started_worker, stopped, time_limited, worker_script
from support.redis_broker import redis_server
from support.stub_fleet import graded_lines, outcomes, wait_for

STORE_WAIT = "the result celery-task-meta"  # the worker's main process waits for room to store the failure


def test_a_task_stopped_by_the_hard_limit_while_waiting_for_room_before_grading_is_not_blamed_on_her(tmp_path):
    """R25o's scenario: the task is held by its worker while its process warms (12 s, the hard limit 10 s), and Redis
    is made full before the process starts it: its count of attempts waits for room until the limit stops it, and the
    worker's main process waits for room to store TimeLimitExceeded. No lease said it waits; her outcome says the
    broker was full and a rerun grades her, and the rerun does, once."""
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["sleep-2-a"])
    log, errors = tmp_path / "worker.log", tmp_path / "enqueuer.err"
    with redis_server() as url, redis.Redis.from_url(url) as client:
        worker = started_worker(time_limited(worker_script(warm=12), 10), url, "one@test", log)
        run = None
        try:
            run = quick_enqueue(url, course, errors)
            assert wait_for(lambda: client.keys("lrcourse:held:*"), 120), (log.read_text()[-2000:], errors.read_text())
            client.config_set("maxmemory-policy", "noeviction")
            client.config_set("maxmemory", max(1, int(client.info("memory")["used_memory"]) // 2))
            try:
                assert wait_for(lambda: STORE_WAIT in log.read_text(), 120), log.read_text()[-3000:]
                time.sleep(3)  # a look of the enqueuer's (every second here) finds Redis full
            finally:
                client.config_set("maxmemory", 0)
            out, _ = run.communicate(timeout=180)
            assert "Hard time limit (10s) exceeded" in log.read_text(), log.read_text()[-3000:]
            # kombu's sweeps refused while Redis was full: one line, no traceback (R25o N1: `fleet_full.quiet_sweeps`)
            assert "redis.exceptions.OutOfMemoryError" not in log.read_text(), log.read_text()[-3000:]
            assert "waits in its worker for room" not in errors.read_text(), errors.read_text()  # no result's wait
            assert graded_lines(log) == [], graded_lines(log)  # never graded in this run
            [(status, reason)] = outcomes(out).values()
            assert status == "failed" and "held on this student" not in reason, reason
            assert "while the broker was full" in reason and "hard time limit (10 s" in reason, reason
            out = rerun_after(url, course, reason, tmp_path / "rerun.err", timeout=180)
        finally:
            stopped(run, worker)
        assert outcomes(out) == {"sleep-2-a": ["graded", ""]}, out
        assert graded_lines(log) == ["stub graded sleep-2-a by one@test"]


def test_only_a_hard_limit_whose_span_saw_a_full_broker_is_said_to_be_the_broker_s():
    """`Lapsed.explained`: a task stopped by the limit while a look found Redis full, between its start (its failure's
    date_done less the limit, two looks' span allowed) and its failure, is said to be the broker's; one whose time ran
    after those looks (queued while Redis was full, started once it had room) keeps the stored text, as does one that
    ran with room between two full episodes (R25p N2), a task no full look saw, and any other result. A failure with no
    date said is the broker's if any full look came while this run's tasks waited."""
    from datetime import UTC, datetime

    from lrcourse.grading.fleet.lapsed import Lapsed
    from lrcourse.grading.fleet.result import Stored, read

    now = round(time.time(), 3)  # microseconds: kept by isoformat

    def limit(done: float | None, seconds: list) -> Stored:
        when = None if done is None else datetime.fromtimestamp(done, UTC).isoformat()
        error = {"exc_type": "TimeLimitExceeded", "exc_message": seconds}
        return read({"status": "FAILURE", "result": error, "date_done": when})

    killed = limit(now, [840.0])
    assert abs(killed.done - now) < 1e-3 and killed.limit == 840.0 and "held on this student" in killed.reason, killed
    naive = read({"status": "FAILURE", "result": {}, "date_done": datetime.fromtimestamp(now, UTC).isoformat()[:-6]})
    assert abs(naive.done - now) < 1e-3 and read({"status": "FAILURE", "result": {}, "date_done": "today"}).done is None
    other = read({"status": "FAILURE", "result": {"exc_type": "MemoryError", "exc_message": ["x"]}})

    def watch(*looks: float, every: float = 30.0) -> Lapsed:
        made = Lapsed("", {}, stub_fleet.Bar(), limits=(840.0, 1020.0), every=every)
        made.full_looks.extend(looks)
        return made

    during = watch(*(now - 900.0 + 30.0 * look for look in range(21)))  # full from 900 s to 300 s before
    before = watch(*(now - 2000.0 + 30.0 * look for look in range(37)), now - 840.0 - 61.0)  # none in her span
    after = watch(now + 61.0, now + 100.0)  # full only once she was stopped
    for run in (watch(), before, after):
        assert run.explained("task", killed) == killed, run.full_looks
    assert during.explained("task", other) == other
    assert during.explained("task", Stored("SUCCESS", document={})).status == "SUCCESS"
    said = during.explained("task", killed)
    assert said.status == "FAILURE" and said.limit == 840.0, said
    assert "while the broker was full" in said.reason and "hard time limit (840 s" in said.reason, said
    assert "held on this student" not in said.reason and "grades her again" in said.reason, said
    assert "hard time limit (840 s" in during.explained("task", limit(now, [])).reason  # not said: the course's
    assert "while the broker was full" in before.explained("task", limit(None, [840.0])).reason  # no date said
    assert watch().explained("task", limit(None, [840.0])) == limit(None, [840.0])  # and no full look
    ahead = during.explained("task", limit(now + 900.0, [840.0]))  # a worker's clock 15 minutes ahead (R25p N1)
    assert "while the broker was full" in ahead.reason, ahead
    # R25q N1: a worker's clock behind this one's, the failure read now by a run that began before her task: dated by
    # the read too. Full the whole task, or only its last 100 s; stored before the run began (a rerun's), its date alone
    for looks, skews in (
        ((now - 830.0 + 30.0 * look for look in range(28)), (-300.0, -900.0)),
        ((now - 100.0,), (-300.0,)),
    ):
        run = watch(*looks)
        run.began = now - 1000.0
        run.saw("task")
        for skew in skews:
            behind = run.explained("task", limit(now + skew, [840.0]))
            assert "while the broker was full" in behind.reason, (skew, behind)
    # 5 minutes behind, her task run with room after a full spell that ended 950 s before: not moved onto that spell
    earlier = watch(*(now - 2000.0 + 30.0 * look for look in range(36)))
    earlier.began = now - 1000.0
    earlier.saw("task")
    assert earlier.explained("task", limit(now - 300.0, [840.0])) == limit(now - 300.0, [840.0])
    rerun = watch(now + 30.0)  # began now, a failure stored an hour ago, full looks only since
    rerun.saw("task")
    assert rerun.explained("task", limit(now - 3600.0, [840.0])) == limit(now - 3600.0, [840.0])
    # R25p N2: queued while Redis was full, run with room, stopped by the limit of its own accord, and a full look
    # between its failure and its collection (looks every second, as in the fleet tests): two episodes, not one
    episodes = watch(now - 2000.0, now + 5.0, every=1.0)
    assert episodes.explained("task", killed) == killed, episodes.explained("task", killed)
    assert "while the broker was full" in watch(now - 2000.0, now - 5.0, every=1.0).explained("task", killed).reason
    during.waited.add("task")  # a result seen waiting: that text
    assert "her result waited for room" in during.explained("task", killed).reason
