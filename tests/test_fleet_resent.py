"""A task sent again because its worker was paused (SIGSTOP: a VM suspended) or lost whole mid-student (R25i, R25j):
it is graded elsewhere, once, and what the first holder does after it resumes neither leaves an orphan in the broker
(`fleet.done_key`) nor fails the student while the copy sent again can still come (`fleet_stranded.Copies.alive`); a
copy's own failure is written when the first holder is gone for good.

Split from tests/test_fleet_held.py (the same stand-in workers, tests/support/held_fleet.py), so that `make test`
(`--dist loadscope`: a file is one unit of a worker) can run the two files side by side: together they took over 16
minutes of one worker beside a full run (tests/support/suite_order.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import redis

from lrcourse.grading.fleet import broker as fleet, lease as fleet_lease

import catalogue
from support.gradedclass import class_of
from support.held_fleet import (
    CHAPTER,
    RESENT,
    fleet_task,
    quick_enqueue,
    slow_first,
    slow_rewarm,
    started_worker,
    stopped,
    time_limited,
    worker_script,
)
from support.paths import ROOT
from support.redis_broker import redis_server
from support.stub_fleet import graded_lines, outcomes, queued, stub_worker, wait_for


def test_a_paused_worker_s_task_is_sent_again_and_its_late_result_is_not_written(tmp_path):
    """A whole worker paused mid-student (SIGSTOP: a VM suspended): its lease and marks lapse, the enqueuer sends the
    task again, saying why, and another worker grades it. Resumed, the paused worker finishes its copy, whose result
    is not written (the enqueuer marked the task done): before, it stayed in the broker as an orphan for 7 days."""
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["sleep-10-a"])
    paused_log, other_log, errors = tmp_path / "paused.log", tmp_path / "other.log", tmp_path / "enqueuer.err"
    with redis_server() as url, redis.Redis.from_url(url) as client:
        paused = started_worker(worker_script(lease=3.0, held=(1.0, 3.0)), url, "paused@test", paused_log)
        run = other = None
        try:
            run = enqueued_once_leased(url, client, course, paused_log, errors)
            os.killpg(paused.pid, signal.SIGSTOP)
            other = stub_worker(url, ROOT, "other@test", other_log)
            out, _ = run.communicate(timeout=180)
            os.killpg(paused.pid, signal.SIGCONT)
            assert wait_for(lambda: "stub graded sleep-10-a by paused@test" in paused_log.read_text(), 60)
            time.sleep(3)  # its result's write, had it been made
            left = client.keys(fleet.result_key("*"))
        finally:
            os.killpg(paused.pid, signal.SIGCONT)  # a paused worker cannot stop
            stopped(run, paused, other)
    assert left == [], "the resumed copy's result was written: an orphan in the broker"
    assert graded_lines(other_log) == ["stub graded sleep-10-a by other@test"]
    assert outcomes(out) == {"sleep-10-a": ["graded", ""]}
    said = errors.read_text()
    assert f"1 {RESENT} at two looks in a row: sent again" in said, said
    assert "paused" in said and "start it again" in said, said  # the causes, and what to do


def test_a_resumed_worker_s_time_limit_failure_does_not_fail_a_student_whose_resent_copy_can_still_come(tmp_path):
    """R25i: a whole worker paused mid-student past its hard time limit; its task is sent again and another worker
    grades the copy. Resumed, the paused worker's main process stores TimeLimitExceeded for its own copy (Celery's
    hard limit, 8 s here) before the good copy's result: the enqueuer wrote that failure (the student failed, "not
    tried again") and the good result was then not stored beside it. Now a stored failure is not written while another
    copy of the task is observably alive (`fleet_stranded.Copies.alive`: queued, or its lease renewed since), and the
    good copy's result replaces a stored failure (`fleet_deliveries.result_wanted`): the student is graded, once."""
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["sleep-20-x"])
    paused_log, other_log, errors = tmp_path / "paused.log", tmp_path / "other.log", tmp_path / "enqueuer.err"
    quick = worker_script(lease=3.0, held=(1.0, 3.0))
    limited = time_limited(quick, 8)
    with redis_server() as url, redis.Redis.from_url(url) as client:
        paused = started_worker(limited, url, "paused@test", paused_log)
        run = other = None
        try:
            run = enqueued_once_leased(url, client, course, paused_log, errors, pause=paused)
            # its lease and marks as short-lived as the paused one's: both copies share the task's keys, and the paused
            # copy's last renewal, as it resumes, would otherwise outlive the other's renewals by far
            other = started_worker(quick, url, "other@test", other_log)
            assert wait_for(lambda: RESENT in errors.read_text(), 120), errors.read_text()
            taken = b'"worker": "other@test"'
            assert wait_for(lambda: taken in (client.get(fleet_lease.taken_key(fleet_task(client))) or b""), 120)
            os.killpg(paused.pid, signal.SIGCONT)  # 8 s and more since it took the task: its hard limit is past
            out, _ = run.communicate(timeout=180)
        finally:
            os.killpg(paused.pid, signal.SIGCONT)  # a paused worker cannot stop
            stopped(run, paused, other)
    assert "Hard time limit (8s) exceeded" in paused_log.read_text(), paused_log.read_text()[-3000:]
    assert outcomes(out) == {"sleep-20-x": ["graded", ""]}, errors.read_text()[-3000:]
    assert graded_lines(other_log) == ["stub graded sleep-20-x by other@test"]


def test_a_rerun_does_not_write_a_resumed_worker_s_failure_while_the_copy_sent_again_is_queued(tmp_path):
    """R25j, first probe: the paused worker's copy sent again (its lease and marks lapsed), then the enqueuing command
    interrupted and run again. The rerun sends nothing (the copy is queued), and the worker, resumed past its hard time
    limit (8 s; its first grading takes 60 s), stores TimeLimitExceeded for its copy. E14's count of copies sent lived
    in one run: the rerun counted one, wrote the failure ("not tried again") and the good copy, graded next (1 s), was
    dropped. The resumed worker itself takes the copy sent again while the process replacing the killed one warms
    (12 s here; its first process warmed at once): the copy is in no queue and has no lease, only the worker's mark
    (R25k, case a; CI failed so when that process's start took longer than the enqueuer's first look). The failure is
    dropped while the copy is in the queue, or its lease or its worker's mark is renewed; the copy's result is
    written: graded, once."""
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["sleep-20-x"])
    log, errors, again = tmp_path / "paused.log", tmp_path / "enqueuer.err", tmp_path / "rerun.err"
    script = slow_first(time_limited(worker_script(lease=3.0, held=(1.0, 3.0)), 8), tmp_path / "first", 60, 1)
    script = slow_rewarm(script, tmp_path / "warmed", 12)
    with redis_server() as url, redis.Redis.from_url(url) as client:
        paused = started_worker(script, url, "paused@test", log)
        run = rerun = None
        try:
            run = enqueued_once_leased(url, client, course, log, errors, pause=paused)
            assert wait_for(lambda: RESENT in errors.read_text(), 120), errors.read_text()
            run.send_signal(signal.SIGINT)  # Ctrl-C: the copy sent again stays queued
            run.communicate(timeout=60)
            assert "Interrupted" in errors.read_text() and queued(client, fleet_version(course)) == 1
            clients = len(client.client_list())
            rerun = quick_enqueue(url, course, again)
            assert wait_for(lambda: len(client.client_list()) > clients, 120), again.read_text()  # it collects
            time.sleep(2)
            os.killpg(paused.pid, signal.SIGCONT)  # 8 s and more since it took the task: its hard limit is past
            version = fleet_version(course)
            task = fleet_task(client)

            def held_unleased() -> bool:  # the copy sent again taken by the resumed worker, its process warming
                lease, mark = client.mget([fleet_lease.lease_key(task), fleet_lease.held_key(task)])
                return (
                    queued(client, version) == 0 and lease is None and mark is not None and b"Hard" in log.read_bytes()
                )

            assert wait_for(held_unleased, 30, step=0.05), log.read_text()[-3000:]
            out, _ = rerun.communicate(timeout=180)
        finally:
            os.killpg(paused.pid, signal.SIGCONT)  # a paused worker cannot stop
            stopped(run, rerun, paused)
    assert log.read_text().count("warm in") >= 2  # the copy graded by the process that warmed 12 s
    assert log.read_text().count("Hard time limit (8s) exceeded") == 1, log.read_text()[-3000:]  # the paused copy's
    assert outcomes(out) == {"sleep-20-x": ["graded", ""]}, again.read_text()[-3000:]
    assert graded_lines(log) == ["stub graded sleep-20-x by paused@test"]  # the copy sent again, once


def test_a_copy_s_failure_is_written_when_the_first_holder_is_gone_for_good(tmp_path):
    """R25j, second probe (a regression of E14): the worker holding the task lost whole (SIGKILL: it never stores
    anything), its task sent again, and the copy fails on another worker (its hard time limit, 8 s). E14 counted two
    copies, so it dropped that failure and waited for the first, gone for good: the task was sent again and failed
    again until its attempts ran out, then "the grading worker died 3 times" was written though none died (2 x 840 s
    more per such student as shipped). With no other copy alive (none queued, no lease renewed) the copy's own
    failure is written, after one delivery more, not MAX_ATTEMPTS."""
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["sleep-20-x"])
    lost_log, other_log, errors = tmp_path / "lost.log", tmp_path / "other.log", tmp_path / "enqueuer.err"
    quick = worker_script(lease=3.0, held=(1.0, 3.0))
    with redis_server() as url, redis.Redis.from_url(url) as client:
        lost = started_worker(quick, url, "lost@test", lost_log)
        run = other = None
        try:
            run = enqueued_once_leased(url, client, course, lost_log, errors)
            os.killpg(lost.pid, signal.SIGKILL)  # its main process and pool at once: a machine lost
            lost.wait(30)
            other = started_worker(time_limited(quick, 8), url, "other@test", other_log)
            out, _ = run.communicate(timeout=300)
        finally:
            stopped(run, lost, other)  # `lost` too: still running if the warm-up or the lease wait failed (R25r N3)
    said = other_log.read_text()
    assert said.count("Hard time limit (8s) exceeded") == 1, said[-3000:]  # once: not sent again and again
    [(status, reason)] = outcomes(out).values()
    assert status == "failed" and "past the queue's hard time limit" in reason, (reason, errors.read_text()[-3000:])
    assert "died" not in reason


def test_the_enqueuer_is_stopped_here_when_no_worker_takes_a_lease(tmp_path, monkeypatch):
    """`enqueued_once_leased`: the run it started is stopped if no lease comes, as the tests' `finally` stopped it when
    it was bound before the wait."""
    log, errors = tmp_path / "worker.log", tmp_path / "enqueuer.err"
    log.write_text("warm in 1 s")
    errors.write_text("")
    runs = []

    def enqueue(*_) -> subprocess.Popen:
        runs.append(subprocess.Popen(["sleep", "600"]))
        return runs[-1]

    here = sys.modules[__name__]
    monkeypatch.setattr(here, "quick_enqueue", enqueue)
    monkeypatch.setattr(here, "wait_for", lambda found, *_: bool(found()))  # one look each
    with pytest.raises(AssertionError):
        enqueued_once_leased("", SimpleNamespace(keys=lambda _: []), tmp_path, log, errors)
    assert len(runs) == 1 and runs[0].poll() is not None, runs


def enqueued_once_leased(url: str, client, course, log, errors, pause=None) -> subprocess.Popen:
    """The enqueuing command (`quick_enqueue`, its errors to `errors`), started once the worker logging to `log` is
    warm, returned once a worker holds a lease on its task, and given `pause` (that worker's process, the leader of
    its group) after that worker is paused a second later (SIGSTOP: the caller's `finally` resumes it); the command
    stopped here if this fails, since the caller's `finally` never had it."""
    assert wait_for(lambda: "warm in" in log.read_text(), 120), log.read_text()[-2000:]
    run = quick_enqueue(url, course, errors)
    try:
        assert wait_for(lambda: client.keys("lrcourse:lease:*"), 120), errors.read_text()
        if pause is not None:
            time.sleep(1)
            os.killpg(pause.pid, signal.SIGSTOP)
    except BaseException:
        stopped(run)
        raise
    return run


def fleet_version(course) -> str:
    return fleet.course_version(course, CHAPTER)
