"""A grading task's lease (`fleet_lease`): a worker process renews it while it grades; once the process is gone (a lost
machine, here a process killed with SIGKILL before Celery could hand its task back) the lease lapses, and the
enqueuing command says so once, naming the student, the worker and when the broker hands the task out again. A real
Redis with a password; the lease made 2 s long instead of 90 s."""

from __future__ import annotations

import json
import signal
import sys
import time

import pytest

from lrcourse.grading.fleet.lapsed import Lapsed, read_record
from lrcourse.grading.fleet.lease import lease_key, taken_key

from support.lease_holder import HOLD, holding
from support.redis_broker import full

TASK = "lrcourse-test-lease"
LIMITS = (840.0, 1020.0)  # (the hard time limit, the bound on a held task): the shipped settings


class Bar:
    """tqdm's write, kept."""

    def __init__(self):
        self.lines: list[str] = []
        self.files: list = []

    def write(self, text: str, file=None) -> None:
        self.lines.append(text)
        self.files.append(file)


def test_a_lease_lapses_when_its_worker_dies_and_the_enqueuer_says_so_once(url):
    holder = holding(url, HOLD, TASK)
    bar = Bar()
    watch = Lapsed(url, {TASK: ("alice", "fingerprint")}, bar, LIMITS, grace=0, every=0)
    time.sleep(3)  # longer than the lease: renewed meanwhile
    watch.check()
    assert bar.lines == []
    holder.send_signal(signal.SIGKILL)
    holder.wait(10)
    time.sleep(2.5)
    watch.check()
    watch.check()
    [said] = bar.lines
    assert said.startswith("lrcourse: alice: taken at ") and "'machine-a@pod-7'" in said, said
    # a whole worker lost: this command sends the task again (`Lost`), not the broker in an hour; its copy is dropped
    assert "this command sends the task again once no worker holds it at two looks in a row" in said, said
    assert "visibility timeout (3600 s)" not in said and "this command waits" in said, said
    assert bar.files == [sys.stderr]  # a warning, beside the progress bar: never in the command's output
    # a worker that stopped because its checkout changed gave the task back to a queue only its version serves
    assert "or the worker stopped because its checkout changed" in said and "run `lrcourse grade` again" in said
    # true in both cases: this holder's process was killed (a live worker would have put the task back at once)
    assert "If only the process died, its worker put the task back on the queue at once" in said, said


def test_a_lease_ended_by_its_worker_is_released_and_its_record_kept(url):
    import redis

    from lrcourse.grading.fleet.lease import Lease

    with Lease(url, TASK + "-done", "machine-b", 3600.0):
        with redis.Redis.from_url(url) as client:
            assert client.exists(lease_key(TASK + "-done")) and 0 < client.pttl(lease_key(TASK + "-done")) <= 90_000
    with redis.Redis.from_url(url) as client:
        assert not client.exists(lease_key(TASK + "-done"))
        assert json.loads(client.get(taken_key(TASK + "-done")))["worker"] == "machine-b"


def test_a_missing_lease_is_said_only_after_the_grace(url):
    """Between a task's end and its result, or a killed process's task and its next delivery, a lease is missing
    for a moment: only one missing for `grace` seconds is said."""
    import redis

    task = TASK + "-moment"
    record = {"worker": "machine-c", "taken": time.time(), "visibility": 3600.0}
    with redis.Redis.from_url(url) as client:
        client.set(taken_key(task), json.dumps(record))
    bar = Bar()
    watch = Lapsed(url, {task: ("bob", "fingerprint")}, bar, LIMITS, grace=60, every=0)
    watch.check()
    assert bar.lines == [] and task in watch.missing
    watch.missing[task] -= 61  # as if first seen missing a minute ago
    watch.check()
    assert len(bar.lines) == 1 and bar.lines[0].startswith("lrcourse: bob: "), bar.lines


def test_a_lease_lapsed_while_its_worker_still_holds_the_task_names_a_grading_process_not_answering(url):
    """A grading process stopped (SIGSTOP) or frozen while its worker's main process lives: the lease lapses but the
    worker's mark (`Held`) still says a grading process has the task. The enqueuer says so, and what to do, not that
    a worker was lost. A task its worker holds for a process still warming has no lease yet: not said here."""
    import redis

    from lrcourse.grading.fleet.lease import held_key, held_value

    hung, warming = TASK + "-hung", TASK + "-warming"
    record = json.dumps({"worker": "machine-e", "taken": time.time(), "visibility": 3600.0})
    bar = Bar()
    watch = Lapsed(url, {hung: ("erin", "f"), warming: ("finn", "f")}, bar, LIMITS, grace=0, every=0)
    with redis.Redis.from_url(url) as client:
        client.set(taken_key(hung), record)
        client.set(taken_key(warming), record)
        client.set(held_key(hung), held_value("machine-e", grading=True), px=60_000)
        client.set(held_key(warming), held_value("machine-e", grading=False), px=60_000)
        try:
            watch.check()
            watch.check()
        finally:
            client.delete(held_key(hung), held_key(warming), taken_key(hung), taken_key(warming))
    [said] = bar.lines
    assert said.startswith("lrcourse: erin: taken at ") and "'machine-e', whose grading process" in said, said
    assert "while the worker itself answers" in said and "not lost, so the task is not sent again" in said, said
    assert "state T is stopped (`kill -CONT` resumes it)" in said and "hard time limit" in said, said
    assert "its machine was lost" not in said, said


def test_a_lease_lapsed_while_redis_is_full_is_said_as_the_broker_full(url):
    """A lease's renewal is a write: while Redis is full it lapses with its worker alive, waiting for room."""
    import redis

    task = TASK + "-full"
    record = {"worker": "machine-d", "taken": time.time(), "visibility": 3600.0}
    bar = Bar()
    watch = Lapsed(url, {task: ("dora", "fingerprint")}, bar, LIMITS, grace=0, every=0)
    with redis.Redis.from_url(url) as client:
        client.set(taken_key(task), json.dumps(record))
        with full(client):
            watch.check()
            watch.check()
    [said] = bar.lines
    assert said.startswith("lrcourse: dora: taken at ") and "'machine-d'" in said, said
    assert "the broker is full" in said and "redis-cli CONFIG SET maxmemory" in said, said
    assert "its grading process died" not in said, said
    assert 'a worker that ended on it (exit 1, "Unrecoverable error" in its log) must be started again' in said, said


@pytest.mark.parametrize(
    "raw", [b"not json", b"[1, 2]", b'{"worker": "\\u001b[2Jx", "taken": true, "visibility": 1e300}', b'{"worker": 7}']
)
def test_a_record_from_the_broker_is_read_as_untrusted(raw):
    record = read_record(raw)
    assert record["worker"].isprintable() and len(record["worker"]) <= 64
    assert record["taken"] == 0.0 and record["visibility"] in (0.0,)


def test_a_lease_refused_by_a_redis_that_filled_after_the_look_for_room_waits_and_is_written(url, monkeypatch, capsys):
    """The look for room then the write is not one step (R25e, gap.py): Redis full between them refuses the lease's
    write. The grading process waits for room again, saying so on its log, and writes the lease once there is room,
    rather than failing its student for the broker."""
    import threading

    import redis

    from lrcourse.grading.fleet import full as fleet_full
    from lrcourse.grading.fleet.lease import Lease

    task = TASK + "-gap"
    looks = []
    real_has_room = fleet_full.has_room

    def has_room(client, size):  # the first look sees room; Redis is full by the write
        looks.append(size)
        return len(looks) == 1 or real_has_room(client, size)

    monkeypatch.setattr(fleet_full, "has_room", has_room)
    monkeypatch.setattr(fleet_full, "WAIT_SECONDS", 0.1)
    with redis.Redis.from_url(url) as client:
        with full(client):
            room = threading.Timer(1.0, lambda: client.config_set("maxmemory", 0))  # room made meanwhile
            room.start()
            with Lease(url, task, "machine-g", 3600.0, seconds=60.0):
                assert client.exists(lease_key(task)) and client.exists(taken_key(task))
            room.join()
        client.delete(taken_key(task))
    assert len(looks) > 2, looks  # refused after the first look, then waited
    assert f"the lease of {task} (its task kept by this worker) waits" in capsys.readouterr().out


def test_the_hung_message_s_limits_are_computed_from_the_settings_it_describes(tmp_path):
    """R25i: the message typed "1020 s" (the bound on a held task) and "840 s with this course's settings" (Celery's
    hard limit); both are now computed: the hard limit from the course's nbgrader_config.py (`hard_time_limit`: the
    student's budget, the worker's grace and 120 s), the bound passed by the enqueuer (`fleet_watch.HELD_BOUND_SECONDS`).
    A course with another budget reads its own limit."""
    import shutil

    from lrcourse.grading.fleet.lapsed import hung_message
    from lrcourse.grading.fleet.lease import hard_time_limit
    from lrcourse.grading.fleet.watch import HELD_BOUND_SECONDS

    from support.paths import ROOT

    assert hard_time_limit(ROOT) == 420 + 300 + 120  # the shipped settings: the README's 840 s
    assert HELD_BOUND_SECONDS == 900 + 120  # the README's 1020 s: WARM_SECONDS and the margin
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    with (course / "nbgrader_config.py").open("a") as config:
        config.write("\nc.Sandbox.student_seconds = 1000\n")
    hard = hard_time_limit(course)
    assert hard == 1000 + 300 + 120
    record = {"worker": "machine-e", "taken": time.time()}
    said = hung_message("erin", record, 90, hard, HELD_BOUND_SECONDS)
    assert "with no lease for 1020 s" in said and "(below; 1420 s with this course's settings) comes only after" in said
    said = hung_message("erin", record, 90, 840, 2000)
    assert "lease for 2000 s" in said and "(below; 840 s with this course's settings) comes before that" in said
    assert "1020" not in said, said


def test_a_lease_says_the_bytes_its_result_waits_for_and_its_renewals_change_its_value(url):
    """The lease's value (`lease_value`: token, renewals, bytes waited for) as the enqueuer reads it: `waiting_size`
    finds the bytes a result waits for (`Lapsed` names a full broker with it); each renewal changes the value, which
    is how the enqueuer sees a copy alive (`fleet_stranded.Copies`)."""
    import redis

    from lrcourse.grading.fleet.lapsed import waiting_size
    from lrcourse.grading.fleet.lease import Lease

    task = TASK + "-value"
    with redis.Redis.from_url(url) as client, Lease(url, task, "machine-h", 3600.0, seconds=60.0) as lease:
        grading = client.get(lease_key(task))
        assert waiting_size(grading) == 0
        lease.set()
        renewed = client.get(lease_key(task))
        assert renewed != grading and waiting_size(renewed) == 0
        lease.waits(1_200_000)
        assert waiting_size(client.get(lease_key(task))) == 1_200_000
    assert [waiting_size(raw) for raw in (None, b"", b"x", b"1", b"t 1 -5", b"t 1 9" + b"9" * 20)] == [0] * 6


def test_the_lapsed_watch_s_limits_are_required_not_silent_zeros(url):
    """R25j: `Lapsed`'s limits (Celery's hard time limit, the bound on a held task), said by `hung_message`, defaulted
    to (0, 0): a watch made without them would say "0 s" to the instructor. They are now required."""
    with pytest.raises(TypeError, match="limits"):
        Lapsed(url, {}, Bar(), grace=0, every=0)
    assert Lapsed(url, {}, Bar(), LIMITS).limits == LIMITS


SIGTERM_EXIT = """
import os, signal, sys, time
from pathlib import Path
from lrcourse.grading.autograde import worker as grader
from lrcourse.grading.fleet import worker as fleet_worker
from lrcourse.grading.fleet.lease import Lease

url = sys.stdin.read().strip()
# the grader's own start, made a stand-in: its SIGTERM handler closes the grader and ends at once (os._exit: no atexit,
# no finally), as the shipped one does
grader.start = lambda *args: signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(128 + signum))
station = fleet_worker.Station(Path(sys.argv[1]), sandboxed=False)
station.open()
station.leases[sys.argv[2]] = Lease(url, sys.argv[2], "machine-t", 3600.0, seconds=60.0).__enter__()
print("held", flush=True)
time.sleep(600)
"""


def test_a_grading_process_ended_by_sigterm_releases_its_lease(url):
    """R25k, case b: billiard's hard time limit ends a grading process with SIGTERM (then SIGKILL 0.1 s later), and
    the worker's handler ends it at once (os._exit): its lease outlived it by LEASE_SECONDS, so a live copy of its task
    could not take the key. The handler now deletes the process's own leases first."""
    import redis

    from support.paths import ROOT

    task = TASK + "-sigterm"
    process = holding(url, SIGTERM_EXIT, str(ROOT), task)
    try:
        with redis.Redis.from_url(url) as client:
            assert client.exists(lease_key(task))
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 128 + signal.SIGTERM
            assert not client.exists(lease_key(task)), "the lease outlived its process"
            client.delete(taken_key(task))
    finally:
        process.kill()
        process.wait(10)
