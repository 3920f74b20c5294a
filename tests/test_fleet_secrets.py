"""The submission-secret ledger through the queue (`lrcourse grade --broker-file`, F19): a worker grades in a scratch
course of its own, which holds one student and no ledger, so the rule of `submission_secrets` (a secret is kept only
by the student the ledger records as its owner) must be applied where the ledger and the class are: the enqueuing
command, as it writes each result (`fleet_write.keep_secret_here`). Before, mallory's hand copy holding alice's
recorded secret kept it in her autograded and feedback folders, both students graded, and after release_feedback
alice's fetch_feedback brought mallory's feedback.

A real Redis broker with a password and one real `lrcourse worker` process of this checkout (sandboxed grading),
serving the graded chapter only, as test_fleet_limits runs it: as `lrcourse worker` runs it (`run_station`: the main
process's marks of the tasks it holds, `fleet_lease.Held`, and of the versions it serves), since without them the
enqueuer may take a task held while the pool process warms for lost and send it again under load."""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
from pathlib import Path

import pytest

from lrcourse.grading.exchange.submission_secrets import SECRET, SHARED_SECRET, UNRECORDED, digest, write_ledger

import catalogue
from support.course import make_course
from support.gradedclass import submit_answer
from support.paths import ROOT
from support.redis_broker import redis_server
from support.stub_fleet import started

pytestmark = pytest.mark.slow
CHAPTER = "02_ordered_schedules"

WORKER = """
import sys
from pathlib import Path
from lrcourse.grading.fleet import worker as fleet_worker
app, station = fleet_worker.make_app(sys.stdin.read().strip(), Path(sys.argv[1]))
every = station.serving  # the graded chapter only: each pool process warms every chapter it serves
station.serving = lambda: {name: version for name, version in every().items() if name == sys.argv[2]}
fleet_worker.run_station(app, station, 1, 3600, "secrets@test")  # with its Held and CheckoutWatch steps
"""

ENQUEUE = """
import json, sys
from pathlib import Path
from lrcourse.grading.fleet.grade import grade_class_remote
result = grade_class_remote(Path(sys.argv[1]), sys.argv[2], sys.stdin.read().strip(), progress=False)
print(json.dumps({o.student: [o.status, o.reason] for o in result.outcomes}))
"""


def secret_of(course: Path, kind: str, student: str) -> str:
    return (course / kind / student / CHAPTER / SECRET).read_text()


def test_a_hand_copy_holding_a_classmates_recorded_secret_does_not_keep_it_through_the_queue(tmp_path):
    """Alice's secret recorded as hers by collect; mallory's folder, copied into submitted/ by hand, holds it. Both
    are graded through the queue: alice keeps it (autograded and feedback), mallory's folders get a fresh one and her
    reason says whose it is, once. Carol's hand copy holds a secret no collect recorded: a fresh one, UNRECORDED once
    (F20; the worker's scratch course records each student's own secret as hers, else every reason said it)."""
    course = make_course(tmp_path / "course", [CHAPTER])
    secret = secrets.token_hex(64)
    for student in ("alice", "mallory", "carol"):
        submit_answer(course, student, catalogue.STEP_CORRECT[0])
        (course / "submitted" / student / CHAPTER / SECRET).write_text(secret if student != "carol" else "c" * 128)
    write_ledger(course, CHAPTER, {digest(secret.encode()): "alice"})  # as collect records alice's submission
    log = tmp_path / "worker.log"
    with redis_server() as url, open(log, "w") as out:
        worker = started(WORKER, url, str(ROOT), CHAPTER, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            run = started(ENQUEUE, url, str(course), CHAPTER, stdout=subprocess.PIPE, cwd=course)
            stdout, _ = run.communicate(timeout=900)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(120)
    assert run.returncode == 0, log.read_text()[-3000:]
    outcomes = json.loads(stdout.strip().splitlines()[-1])
    graded = {"alice": "graded", "mallory": "graded", "carol": "graded"}
    assert {student: status for student, (status, _) in outcomes.items()} == graded
    shared = SHARED_SECRET.format("alice")
    assert shared not in outcomes["alice"][1] and UNRECORDED not in outcomes["alice"][1], outcomes
    assert outcomes["mallory"][1].count(shared) == 1 and UNRECORDED not in outcomes["mallory"][1], outcomes
    assert outcomes["carol"][1].count(UNRECORDED) == 1, outcomes
    assert secret_of(course, "feedback", "carol") != "c" * 128
    for kind in ("autograded", "feedback"):
        assert secret_of(course, kind, "alice") == secret
        assert secret_of(course, kind, "mallory") != secret
    assert secret_of(course, "autograded", "mallory") == secret_of(course, "feedback", "mallory")  # release reads it
    assert any((course / "feedback" / "mallory" / CHAPTER).glob("*.html"))
