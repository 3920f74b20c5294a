"""A submission replaced while the queue grades it (F20, finding 3): the enqueuing command carries the secret of the
student's folder in submitted/ when it writes her result (`fleet_write.keep_secret_here`), so a collect during the
run made the result carry the new folder's secret with the old folder's grades. Now a result whose folder is no
longer the one enqueued (its fingerprint differs) is not written: her outcome says CHANGED, and the next run grades
the new folder. A real Redis and a stand-in worker (`support.stub_fleet`), as the queue's flow tests run them."""

from __future__ import annotations

import base64
import os
import secrets
import shutil

import pytest
import redis

from lrcourse.grading import intake
from lrcourse.grading.autograde import grade
from lrcourse.grading.exchange.submission_secrets import SECRET
from lrcourse.grading.fleet import write as fleet_write
from lrcourse.grading.fleet.result import Stored
from lrcourse.grading.fleet.write import CHANGED

import catalogue
from support.course import NOTEBOOK, make_course
from support.gradedclass import submit_answer
from support.paths import ROOT
from support.redis_broker import redis_server
from support.stub_fleet import enqueue, graded_lines, outcomes, running_worker, wait_for

CHAPTER = "02_ordered_schedules"
REPLACED, STEADY = "sleep-4-replaced", "sleep-0-steady"
FILE = NOTEBOOK[CHAPTER]


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


def earlier_result(course, student: str) -> dict:
    """What an earlier run wrote for `student`: her autograded and feedback folders, and her submission in submitted/."""
    written = {}
    for kind, name in (("autograded", FILE), ("feedback", "page.html"), ("submitted", FILE)):
        folder = course / kind / student / CHAPTER
        folder.mkdir(parents=True)
        (folder / name).write_text(f"the earlier {kind}")
        written[folder / name] = f"the earlier {kind}"
    return written


def new_result() -> Stored:
    files = {kind: {name: base64.b64encode(b"the new result").decode()} for kind, name in RESULT_FILES}
    return Stored("SUCCESS", document={"outcome": {"status": "graded", "reason": ""}, **files, "scores": {}})


RESULT_FILES = (("autograded", FILE), ("feedback", "page.html"))


@pytest.mark.parametrize("collect_at", ["before the write", "while the secret is carried"])
def test_a_changed_result_keeps_the_earlier_one_in_place(tmp_path, monkeypatch, collect_at):
    """G16 (3): a CHANGED result removed the student's earlier feedback (withdrawn as a failed student's), and, when
    the collect came while the secret was carried, her earlier autograded folder too (the new files had replaced it
    and were then removed): nothing of hers until the next run, formgrader's hand grading of her autograded notebook
    included. Now the new files are staged beside the earlier ones and renamed in only once the folder is known
    unchanged: the earlier result stays whole, and the run's end keeps her feedback."""
    earlier = earlier_result(tmp_path, "alice")
    answers = iter([False, True] if collect_at == "while the secret is carried" else [True])
    monkeypatch.setattr(fleet_write, "replaced", lambda *args: next(answers))
    outcome = fleet_write.write(
        tmp_path, fleet_write.Writer(tmp_path, "sqlite://"), CHAPTER, "alice", "f", new_result()
    )
    grade.withdraw_feedback(tmp_path, CHAPTER, [outcome])  # as the run's end does
    assert {path: path.read_text() for path in earlier if path.exists()} == earlier
    assert (outcome.status, outcome.reason, outcome.earlier_kept) == ("failed", CHANGED, True), outcome
    assert next(answers, "all asked") == "all asked"
    assert sorted(path.name for path in (tmp_path / "autograded" / "alice").iterdir()) == [CHAPTER]  # none staged
    assert sorted(path.name for path in (tmp_path / "feedback" / "alice").iterdir()) == [CHAPTER]


def test_a_result_is_put_in_place_of_the_earlier_one_whole(tmp_path):
    """The staged folders renamed into place: the earlier files gone, the new ones there, nothing staged left; a kind
    the result has none of removes the earlier folder of that kind (an older submission's)."""
    earlier_result(tmp_path, "alice")
    staged = {kind: tmp_path / kind / "alice" / f".{CHAPTER}.writing" for kind in ("autograded", "feedback")}
    fleet_write.stage_files(staged, {"autograded": {FILE: base64.b64encode(b"new").decode()}, "feedback": {}})
    assert (tmp_path / "feedback" / "alice" / CHAPTER / "page.html").exists()  # still the earlier one's
    fleet_write.put_in_place(staged)
    assert os.listdir(tmp_path / "autograded" / "alice") == [CHAPTER]
    assert os.listdir(tmp_path / "autograded" / "alice" / CHAPTER) == [FILE]
    assert (tmp_path / "autograded" / "alice" / CHAPTER / FILE).read_bytes() == b"new"
    assert os.listdir(tmp_path / "feedback" / "alice") == []


def test_a_run_killed_between_the_two_renames_has_her_earlier_result_put_back(tmp_path, monkeypatch):
    """R20n M2: killed between `put_in_place`'s two renames (the earlier result aside as `.<chapter>.earlier`, the new
    one still `.writing`), neither was in place, and the next run's `put_in_place` removed `.earlier`: her earlier
    autograded folder was lost until a regrade wrote one. Now the next write of hers puts it back first, even when her
    new result is refused."""
    earlier = earlier_result(tmp_path, "alice")
    staged = put_in_place_killed_between_the_renames(tmp_path, monkeypatch)
    assert not (tmp_path / "autograded" / "alice" / CHAPTER).exists()  # what the kill leaves
    outcome = fleet_write.write(tmp_path, None, CHAPTER, "alice", "", {"status": "not a result"})
    assert outcome.status == "failed" and "refused" in outcome.reason, outcome
    assert {path: path.read_text() for path in earlier} == earlier  # back in place, as it was
    for kind in ("autograded", "feedback"):
        assert not (tmp_path / kind / "alice" / f".{CHAPTER}.earlier").exists()
    fleet_write.put_in_place(staged)  # a later run's result replaces it as usual
    assert (tmp_path / "autograded" / "alice" / CHAPTER / FILE).read_bytes() == b"the new result"


def test_a_failed_result_after_a_kill_leaves_her_to_be_graded_again_by_the_next_run(tmp_path, monkeypatch):
    """R20o M3: a fleet result that fails (refused here, after a run killed between the renames put her earlier
    result back, its done-mark with it) had her feedback withdrawn but kept `autograded/<id>/<a>/.lrcourse-graded.json`
    for her current submission: the next run without --force skipped her ("already graded, submission unchanged")
    and no feedback ever reached her. Now the withdrawal removes the mark too, and the next run grades her."""
    earlier_result(tmp_path, "alice")
    shutil.copyfile(ROOT / "source" / CHAPTER / FILE, tmp_path / "submitted" / "alice" / CHAPTER / FILE)
    current = intake.fingerprint(tmp_path / "submitted" / "alice" / CHAPTER)
    intake.mark_done(tmp_path, "alice", CHAPTER, current, 1.0, 2.0)  # graded before, as the folder is now
    assert intake.take_in(tmp_path, CHAPTER, force=False)[1] == []
    put_in_place_killed_between_the_renames(tmp_path, monkeypatch)
    outcome = fleet_write.write(tmp_path, None, CHAPTER, "alice", current, {"status": "not a result"})
    assert outcome.status == "failed" and "refused" in outcome.reason, outcome
    assert grade.withdraw_feedback(tmp_path, CHAPTER, [outcome]) == ["alice"]  # as the run's end does
    assert not (tmp_path / "feedback" / "alice" / CHAPTER).exists()
    assert not (tmp_path / "autograded" / "alice" / CHAPTER / intake.MARK).exists()
    assert (tmp_path / "autograded" / "alice" / CHAPTER / FILE).exists()  # her earlier notebook stays for formgrader
    skipped, todo = intake.take_in(tmp_path, CHAPTER, force=False)
    assert (skipped, todo) == ([], [("alice", current)])


def test_a_changed_result_keeps_her_done_mark(tmp_path):
    """An outcome that keeps her earlier result (CHANGED, awaiting a collect) keeps its mark with it: that mark is of
    the earlier folder, and the changed one is graded next run all the same (its fingerprint differs)."""
    earlier_result(tmp_path, "alice")
    intake.mark_done(tmp_path, "alice", CHAPTER, "f", 1.0, 2.0)
    grade.withdraw_feedback(tmp_path, CHAPTER, [fleet_write.changed("alice")])
    assert (tmp_path / "autograded" / "alice" / CHAPTER / intake.MARK).exists()


def put_in_place_killed_between_the_renames(course, monkeypatch) -> dict:
    """Alice's new result staged, then `put_in_place` killed between its two renames (`killed_at_writing`): her
    earlier result aside as `.<chapter>.earlier`, the new one still `.writing`. Returns the staged folders."""
    staged = {kind: course / kind / "alice" / f".{CHAPTER}.writing" for kind in ("autograded", "feedback")}
    fleet_write.stage_files(staged, new_result().document)
    rename = type(course).rename
    monkeypatch.setattr(type(course), "rename", lambda self, target: killed_at_writing(rename, self, target))
    with pytest.raises(KeyboardInterrupt):
        fleet_write.put_in_place(staged)
    monkeypatch.setattr(type(course), "rename", rename)
    return staged


def killed_at_writing(rename, path, target):
    """`Path.rename` as a run killed between `put_in_place`'s two renames sees it."""
    if path.name == f".{CHAPTER}.writing":
        raise KeyboardInterrupt("killed between the two renames")
    return rename(path, target)
