"""`lrcourse doctor`'s line on the exchange's outbound/ and feedback/ (lrcourse/grading/doctor/course_owner.py), run as
the grader's uid or root and compared with what nbgrader's release and release_feedback (the course's) do: r20h W2, an
entry there of another account's that is not a folder (a link, a FIFO), and N3, feedback/'s command; W4, another
account's outbound/ when root runs the course; M1, a course folder of root's whose outbound/ and feedback/ are the
grader's. Each mend is followed as written (its command run by the shell), then the next line is checked."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from support.doctor_exchange import GRADER, STAFF_TA, STUDENT, course_in, doctor, grader_release_all, scratch_folder

OK = " |  | fix:  | "  # a line without a problem
VERB = {"outbound": "assignment", "feedback": "feedback"}
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")


@pytest.fixture
def scratch():
    with scratch_folder() as folder:
        yield folder


def follow(said: str) -> None:
    """The line's first mend, as written: its command run by the shell (as root, as each says)."""
    command = re.search(r"fix: `([^`]+)`", said)
    assert command, said
    subprocess.run(["bash", "-c", command.group(1)], check=True)


@pytest.mark.parametrize("name", ["outbound", "feedback"])
@pytest.mark.parametrize("kind", ["link", "fifo"])
def test_another_accounts_entry_at_outbound_or_feedback_that_is_not_a_folder_fails_as_release_refuses_it(
    scratch, monkeypatch, name, kind
):
    """r20h W2: a student's link (to her own folder holding a "chapter") or FIFO at outbound/ or feedback/ got "ok ...
    is yours" while classmates listed and fetched through it and the release refused it. Release's rule, release's
    refusal: the line names its kind and owner, the mend is `rm`, and, followed, the release works (N3: feedback/ is
    release_feedback's)."""
    course = course_in(monkeypatch, scratch, 0o1777)
    shutil.rmtree(course / "outbound")
    planted = scratch / "hers"
    (planted / "ch2").mkdir(parents=True)
    if kind == "link":
        (course / name).symlink_to(planted)
    else:
        os.mkfifo(course / name)
    os.chown(course / name, STUDENT, STUDENT, follow_symlinks=False)
    assert grader_release_all(course.parent, scratch, verb=VERB[name]).startswith("ExchangeError")
    said = doctor(scratch)
    what = "a symbolic link" if kind == "link" else "a FIFO"
    assert f"{course / name} is {what}, not a folder, owned by uid {STUDENT}, not by you" in said, said
    command = "release" if name == "outbound" else "release_feedback"
    assert f"nbgrader's {command} refuses it" in said and "stops=release" in said, said
    assert f"fix: `rm {course / name}` (as root: not `chown`" in said, said
    follow(said)
    assert planted.is_dir() and not os.path.lexists(course / name)  # the link went, not what it led to
    assert grader_release_all(course.parent, scratch, verb=VERB[name]) == "None"
    assert OK in doctor(scratch) and (course / name).stat().st_uid == GRADER


@pytest.mark.parametrize("owner", [GRADER, STAFF_TA])
def test_another_accounts_outbound_fails_when_root_runs_the_course(scratch, monkeypatch, owner):
    """r20h W4: as root (the README's root-run course), a TA's outbound/ got ok and root's release refused it; the
    grader account's too, which root's release refuses the same (only root's own are root's to trust)."""
    course = course_in(monkeypatch, scratch, 0o1777, owner=0)
    os.chown(course / "outbound", owner, owner)
    assert "is owned by uid" in grader_release_all(course.parent, scratch, uid=0)
    said = doctor(scratch, uid=0)
    assert f"{course / 'outbound'} is owned by uid {owner}, not by root (the user who releases)" in said, said
    assert f"fix: `rm -r {course / 'outbound'}` (as root" in said and "stops=release" in said, said
    follow(said)
    assert grader_release_all(course.parent, scratch, uid=0) == "None"
    assert OK in doctor(scratch, uid=0)


def test_a_course_folder_of_roots_holding_the_graders_outbound_and_feedback_is_a_note_not_a_fail(scratch, monkeypatch):
    """r20h M1: a course folder root's 0755 whose outbound/ and feedback/ are the grader's got a FAIL "cannot make the
    chapter's folders in it", while release, release_feedback and collect worked. A note; a FAIL only for what is
    missing and cannot be made (feedback/, here), whose `chown` mend then lets release_feedback make it."""
    course = course_in(monkeypatch, scratch, 0o1777)
    os.chown(course, 0, 0)
    (course / "feedback").mkdir()
    os.chown(course / "feedback", GRADER, 0)
    said = doctor(scratch)
    assert OK in said and f"(note: {course} is root's: nbgrader's release and release_feedback work" in said, said
    assert grader_release_all(course.parent, scratch) == "None"
    assert grader_release_all(course.parent, scratch, verb="feedback") == "None"
    shutil.rmtree(course / "feedback")
    said = doctor(scratch)
    assert f"{course} is root's, not yours (the user who collects): nbgrader's release_feedback, run as you, " in said
    assert "cannot make feedback/ in it (Permission denied)" in said and "outbound/ in it" not in said, said
    assert grader_release_all(course.parent, scratch, verb="feedback").startswith("ExchangeError")
    follow(said)  # `chown <grader> <course>`
    assert grader_release_all(course.parent, scratch, verb="feedback") == "None" and OK in doctor(scratch)
