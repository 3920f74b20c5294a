"""A submission replaced while the queue grades it (F20, finding 3): the enqueuing command carries the secret of the
student's folder in submitted/ when it writes her result (`fleet_write.keep_secret_here`), so a collect during the
run made the result carry the new folder's secret with the old folder's grades. Now a result whose folder is no
longer the one enqueued (its fingerprint differs) is not written: her outcome says CHANGED, and the next run grades
the new folder. A real Redis and a stand-in worker (`support.stub_fleet`), as the queue's flow tests run them."""

from __future__ import annotations

import secrets

import redis

from lrcourse.grading.exchange.submission_secrets import SECRET
from lrcourse.grading.fleet.write import CHANGED

import catalogue
from support.course import make_course
from support.gradedclass import submit_answer
from support.paths import ROOT
from support.redis_broker import redis_server
from support.stub_fleet import enqueue, graded_lines, outcomes, running_worker, wait_for

CHAPTER = "02_ordered_schedules"
REPLACED, STEADY = "sleep-4-replaced", "sleep-0-steady"


def test_a_submission_replaced_while_it_is_graded_is_not_written_and_says_changed(tmp_path):
    course = make_course(tmp_path / "course", [CHAPTER])
    for student in (REPLACED, STEADY):
        submit_answer(course, student, catalogue.STEP_CORRECT[0])
    log = tmp_path / "worker.log"
    with redis_server() as url, redis.Redis.from_url(url) as client:
        with running_worker(url, ROOT, "one@test", log):
            run = enqueue(url, course, CHAPTER)
            try:
                assert wait_for(lambda: client.keys("lrcourse:lease:*"), 120), log.read_text()[-2000:]
                # a collect meanwhile: the folder now holds another submission's secret
                (course / "submitted" / REPLACED / CHAPTER / SECRET).write_text(secrets.token_hex(64))
                out, _ = run.communicate(timeout=300)
            finally:
                if run.poll() is None:
                    run.kill()
    assert sorted(line.split()[2] for line in graded_lines(log)) == sorted([REPLACED, STEADY])
    found = outcomes(out)
    assert found[STEADY] == ["graded", ""], found
    assert found[REPLACED] == ["failed", CHANGED], found
    assert not (course / "autograded" / REPLACED / CHAPTER).exists()  # nothing of the old folder's result written
    assert not (course / "feedback" / REPLACED / CHAPTER).exists()
    assert any((course / "feedback" / STEADY / CHAPTER).glob("*.html"))
