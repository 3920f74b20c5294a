"""A course folder whose group holds students (R20n W1), with real OS users: on hosts where every account shares one
group (`users`, where USERGROUPS_ENAB is off), a course made `chmod 750`, or kept in a home made 0750, let every
student in that group read each classmate's submission_secret.txt in submitted/ (0644 in 0755 folders: she fetches
their feedback with it) and source/, and the doctor, which looked at others' bits only, passed it. Now collect writes
each student's folder in submitted/ 0700 and her secret 0600 (the course owner's: root's collect gives them to it),
which the grader account still grades; and the doctor warns of a course folder, or a folder above it, whose group
lets in accounts besides its owner, naming them."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from lrcourse.grading.doctor.diagnose import course_folder_closed

from support.course import released
from support.secret_class import class_course, collected
from support.students import CHAPTER, Students, needs_root

CLI = "from lrcourse.cli import main; import sys; sys.exit(main())"


@pytest.fixture
def shared_group():
    """alice, mallory and the grader account, all in one group (a distro's shared `users`); a scratch folder."""
    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-group-"))
    scratch.chmod(0o755)
    students = Students(scratch, ("alice", "mallory", "grader"))
    group = f"{students.name['grader']}s"
    try:
        subprocess.run(["groupadd", group], check=True)
        for name in students.name.values():
            subprocess.run(["usermod", "-aG", group, name], check=True)
        yield scratch, students, group
    finally:
        students.remove()
        subprocess.run(["groupdel", group], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


def as_user(students: Students, role: str, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["runuser", "-u", students.name[role], "--", *command], capture_output=True, text=True, timeout=30
    )


@needs_root
def test_a_classmate_in_the_course_folders_group_reads_no_submission_and_the_doctor_names_her(shared_group):
    scratch, students, group = shared_group
    alice, mallory, grader = (students.name[role] for role in ("alice", "mallory", "grader"))
    course, exchange = class_course(scratch)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Exchange.root = {str(exchange)!r}\n")
    subprocess.run(["chown", "-R", f"{grader}:{group}", str(course)], check=True)
    course.chmod(0o750)  # the README's `chmod 750`, its group everyone's
    students.submit("alice", released(course, CHAPTER), exchange)
    assert [row["student"] for row in collected(course, exchange).collected] == [alice]  # as root
    folder = course / "submitted" / alice / CHAPTER
    secret = folder / "submission_secret.txt"
    for path, mode in ((folder.parent, 0o700), (folder, 0o700), (secret, 0o600)):
        assert (stat.S_IMODE(os.stat(path).st_mode), path.owner()) == (mode, grader), path
    for command in (["cat", str(secret)], ["ls", str(folder)]):
        denied = as_user(students, "mallory", *command)
        assert denied.returncode != 0 and "Permission denied" in denied.stderr, denied
    said = course_folder_closed(course)
    assert said.warning and f"readable or enterable by accounts besides its owner ({alice}, {mallory})" in said.line()
    assert said.fix.startswith(f"`chmod g-rwx {course}`; or keep its group") and "instructors only" in said.fix
    graded = students.python("grader", "-c", CLI, "grade", CHAPTER, "--course", str(course), "--no-sandbox")
    assert graded.returncode == 0 and "1 graded" in graded.stdout, graded.stdout + graded.stderr
    assert any((course / "feedback" / alice / CHAPTER).glob("*.html")), "the grader account read her folder"
    subprocess.run(["chgrp", grader, str(course)], check=True)  # its group its owner's alone: closed
    assert not course_folder_closed(course).warning, course_folder_closed(course)


@needs_root
def test_a_home_whose_group_holds_a_student_lets_her_reach_an_open_course_and_the_doctor_says_so(shared_group):
    """R20n W1, the home variant: the instructor's home 0750, its group shared with a student (hers as a member, or
    her primary group), the course 0755 in it: the doctor passed (the home has no o+x); now it names who gets in."""
    scratch, students, group = shared_group
    alice, grader = students.name["alice"], students.name["grader"]
    home = scratch / "instructor"
    course = home / "course"
    course.mkdir(parents=True)
    shutil.chown(home, grader, group)
    shutil.chown(course, grader, grader)
    home.chmod(0o750)
    course.chmod(0o755)
    said = course_folder_closed(course)
    assert said.warning and "readable or enterable by accounts besides its owner (" in said.line(), said.line()
    assert alice in said.line() and grader not in said.line().split("its owner (")[1], said.line()
    assert said.fix.startswith(f"`chmod o-rwx {course}`; or keep its group"), said.fix
    subprocess.run(["gpasswd", "-d", alice, group], check=True, capture_output=True)
    subprocess.run(["usermod", "-g", group, alice], check=True)  # her primary group: not in gr_mem
    assert alice in course_folder_closed(course).line()
    home.chmod(0o700)  # the README's home
    assert not course_folder_closed(course).warning, course_folder_closed(course)
