"""Root's collect and the grader account's in one course, with real OS users (F24, issue 20): what root's collect
leaves (its `submitted/<id>/...`, a `.replaced` folder of a collect killed between its two renames, its collect
record) cannot be replaced by the grader account's collect, which then printed a traceback and stopped the class.
Now each student it cannot write is refused with the mend (`chown -R <owner> <course>`), the others are collected,
and a record it cannot write is said, with the summary."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from lrcourse.grading.exchange.collect import collect
from lrcourse.grading.exchange.collect_record import write_collect_record
from lrcourse.grading.exchange.inbound_folder import ExchangeUnusable

from support.course import released
from support.inbound_folders import exchange_course, inbound_folder
from support.secret_class import COURSE_ID, class_course, collected
from support.students import CHAPTER, Students, needs_root

CLI = "from lrcourse.cli import main; import sys; sys.exit(main())"


@pytest.fixture
def grader_class():
    """alice, mallory and the grader account owning the course; the exchange's course folder root's, its inbound
    folder listable by the grader account's group (3773), as a shared hub's exchange may be."""
    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-accounts-"))
    scratch.chmod(0o755)
    students = Students(scratch, ("alice", "mallory", "grader"))
    try:
        course, exchange = class_course(scratch)
        with open(course / "nbgrader_config.py", "a") as config:
            config.write(f"\nc.Exchange.root = {str(exchange)!r}\n")
        grader = students.name["grader"]
        subprocess.run(["chown", "-R", f"{grader}:{grader}", str(course)], check=True)
        inbound = exchange / COURSE_ID / "inbound"
        shutil.chown(inbound, group=grader)
        inbound.chmod(0o3773)
        yield course, exchange, students
    finally:
        students.remove()
        shutil.rmtree(scratch, ignore_errors=True)


def grader_collects(students: Students, course: Path):
    return students.python("grader", "-c", CLI, "collect", CHAPTER, "--course", str(course))


@needs_root
def test_what_roots_collect_makes_is_the_course_owners_and_the_grader_accounts_collect_goes_on(grader_class):
    """F24 M1(b): root's collect left submitted/<id>/... and the collect record root's; the grader account's next
    collect refused every student root had collected (and mallory: submitted/ was root's) and ended with a
    traceback, exit status 1, no record. Now root gives what it makes in the course to the course's owner."""
    course, exchange, students = grader_class
    alice, mallory, grader = (students.name[role] for role in ("alice", "mallory", "grader"))
    students.submit("alice", released(course, CHAPTER), exchange)
    write_collect_record(course, collected(course, exchange))  # as root
    made = [
        course / "submitted",
        *(course / "submitted").rglob("*"),
        course / "reports",
        *(course / "reports").iterdir(),
    ]
    assert {path.owner() for path in made} == {grader}, [(path, path.owner()) for path in made]
    time.sleep(1.1)
    students.submit("mallory", released(course, CHAPTER), exchange)
    run = grader_collects(students, course)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stdout + run.stderr
    assert f"collected {alice!r}" in run.stdout and f"collected {mallory!r}" in run.stdout, run.stdout
    record = course / "reports" / f"collect-{CHAPTER}.json"
    assert f"collect record: {record}" in run.stdout and mallory in record.read_text()


def roots_leftovers(course: Path, exchange: Path, students: Students) -> Path:
    """Alice collected by a root's collect killed between its two renames (before root gave what it makes to the
    course's owner): her folder `.replaced` and `.collecting`, both root's, and the record root's; then mallory
    submits. Alice's folder in submitted/."""
    students.submit("alice", released(course, CHAPTER), exchange)
    write_collect_record(course, collected(course, exchange))
    mine = course / "submitted" / students.name["alice"]
    (mine / CHAPTER).rename(mine / f".{CHAPTER}.replaced")  # what the kill between the renames leaves
    (mine / f".{CHAPTER}.collecting").mkdir()
    record = course / "reports" / f"collect-{CHAPTER}.json"
    subprocess.run(["chown", "-R", "root:root", str(mine), str(record)], check=True)  # as the earlier root left them
    for folder in (mine, mine / f".{CHAPTER}.replaced"):
        folder.chmod(0o755)  # as that collect made them (before they were 0700: R20n W1)
    time.sleep(1.1)
    students.submit("mallory", released(course, CHAPTER), exchange)
    return mine


@needs_root
def test_an_earlier_roots_leftovers_refuse_their_student_with_the_mend_and_the_class_is_collected(grader_class):
    """F24 W2: a root's collect (before it gave what it makes to the course's owner) killed between its two renames
    left alice's folder as `.replaced` and `.collecting`, both root's, and the record root's. The grader account's
    collect stopped with a traceback, exit status 3, nothing collected, every later one the same. Now: alice refused,
    naming the `.replaced` copy and the chown that mends it; mallory collected; the record not written, and said so;
    exit status 1 (refusals). Once chowned, the next collect puts alice's folder back and collects her."""
    course, exchange, students = grader_class
    alice, mallory, grader = (students.name[role] for role in ("alice", "mallory", "grader"))
    mine = roots_leftovers(course, exchange, students)
    run = grader_collects(students, course)
    assert "Traceback" not in run.stderr and run.returncode == 1, run.stdout + run.stderr
    mend = f"as root, `chown -R {grader} {course}` (the course folder's owner), then collect again"
    refused = f"refused 'submitted/{alice}/{CHAPTER}': not put back from its .replaced copy (a collect was killed"
    assert refused in run.stdout and mend in run.stdout, run.stdout
    assert f"refused '{alice}+" not in run.stdout, "one row for her, the one that names the mend"
    assert f"collected {mallory!r}" in run.stdout and f"collected {alice!r}" not in run.stdout, run.stdout
    assert "collect record: not written, cannot be written: [Errno 13] Permission denied" in run.stdout, run.stdout
    subprocess.run(["chown", "-R", grader, str(course)], check=True)  # the mend, as said
    again = grader_collects(students, course)
    assert again.returncode == 0 and f"collected {alice!r}" in again.stdout, again.stdout + again.stderr
    assert "put back from its .replaced copy" in again.stdout and sorted(os.listdir(mine)) == [CHAPTER]


@needs_root
def test_nbgrader_collect_says_a_record_it_cannot_write_after_the_summary_not_in_a_traceback(grader_class):
    """R20n M1: the same leftovers, collected through `nbgrader collect` (the course's TrustedCollect, which
    formgrader's Collect button runs): the refusal and mallory's collect were logged, then the record root left ended
    the run in a PermissionError traceback, before the summary of refusals. Now the record's failure is logged with
    the mend, after the summary, and the run fails with the refusals."""
    course, exchange, students = grader_class
    alice, mallory, grader = (students.name[role] for role in ("alice", "mallory", "grader"))
    roots_leftovers(course, exchange, students)
    run = students.python(
        "grader", "-m", "nbgrader", "collect", CHAPTER, f"--CourseDirectory.root={course}",
        f"--CourseDirectory.course_id={COURSE_ID}",
    )  # fmt: skip
    log = run.stdout + run.stderr
    assert "Traceback" not in log and run.returncode != 0, log
    assert f"refused 'submitted/{alice}/{CHAPTER}': not put back" in log and f"collected {mallory!r}" in log, log
    record = course / "reports" / f"collect-{CHAPTER}.json"
    unwritten = f"collect record: not written, cannot be written: [Errno 13] Permission denied: '{record}'"
    assert unwritten in log and f"as root, `chown -R {grader} {course}`" in log, log
    assert "1 submission(s) refused: see the refusals above (the collect record is not written)" in log, log
    assert log.index(f"{CHAPTER}: 1 collected, 1 refused") < log.index(unwritten), "the summary first"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a folder to another uid")
def test_an_exchange_folder_of_another_instructor_account_is_refused_with_what_is_true(tmp_path):
    """F24 M1(a): the README's set-up gives the exchange's course folder to the grader account; root's collect
    refused it blaming a student ("may have put their own folder in its place", chmod 1777): not the likely cause,
    nor the fix. Now the refusal names both: collect as that account, or, if no instructor's account made it, a
    student's folder."""
    course, exchange = exchange_course(tmp_path)
    inbound_folder(exchange.inbound)
    os.chown(exchange.root / exchange.course_id, 65534, 65534)  # nobody: the account that runs the course, say
    with pytest.raises(ExchangeUnusable) as refused:
        collect(course, CHAPTER, exchange)
    said = str(refused.value)
    assert (
        "lr-schedules is owned by nobody, not by root (the collecting user or root). If nobody is the account " in said
    )
    assert "collect as nobody, not as another account" in said, said
    assert "Otherwise a student may have put their own folder in its place" in said, said
    assert not (course / "submitted").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another uid")
def test_the_chown_mend_is_given_only_for_another_accounts_file(tmp_path, monkeypatch):
    """R20n N3: every PermissionError got "made by another account (root's collect?) ... chown -R", also one on this
    account's own file in its own folder (an immutable file, a root-squashed share), which that chown does not mend.
    Now the mend only where the path, or the folder it is in, is another account's; root's own refusals as they are."""
    from lrcourse.grading.exchange.other_account import cannot_write

    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    mine.write_text("")
    theirs.write_text("")
    me = 54321
    for path in (tmp_path, mine):
        os.chown(path, me, me)
    monkeypatch.setattr(os, "geteuid", lambda: me)  # this account, not root: what else is root's is another's
    denied = [PermissionError(13, "Permission denied", str(path)) for path in (mine, theirs, tmp_path / "new")]
    said = [cannot_write(error, tmp_path) for error in denied]
    assert said[0] == f"cannot be written: [Errno 13] Permission denied: '{mine}'", said
    assert "chown -R" in said[1] and "made by another account" in said[1], said
    assert "chown -R" not in said[2], "a new file in this account's own folder"
    monkeypatch.undo()
    assert "chown -R" not in cannot_write(denied[1], tmp_path)  # root: no account's chown mends its refusal
