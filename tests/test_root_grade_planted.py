"""Root's grade in a course another account owns writes nothing through a link that account planted (issue 20, after
G23): `<course>/autograded -> elsewhere` (or feedback, reports, grades.csv, gradebook.db, notebooks, submitted) put
root's files at the link's target. Now the run is refused before grading anyone (exit 2), naming the link and the
mend; a student's own `<kind>/<id>` or `<kind>/<id>/<chapter>` that is a link fails that student only. Every link
here points into the test's own scratch folder, at a root-owned folder made there, never at a system folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.secret_class import class_course, hand_copy
from support.students import CHAPTER, grader_account, needs_root

CLI = "from lrcourse.cli import main; import sys; sys.exit(main())"
TOP = ("autograded", "feedback", "reports", "grades.csv", "gradebook.db", "notebooks", "submitted", ".nbgrader.log")


@pytest.fixture
def owner():
    with grader_account("lrcourse-planted-") as made:
        yield made


def target(scratch: Path, name: str) -> Path:
    """A root-owned folder inside the scratch folder, holding one root-only file."""
    folder = scratch / "targets" / name.strip(".")
    folder.mkdir(parents=True)
    (folder / "root-only").write_text("root's")
    return folder


def untouched(folder: Path) -> bool:
    found = [(p.name, p.lstat().st_uid) for p in folder.rglob("*")]
    return found == [("root-only", 0)] and (folder / "root-only").read_text() == "root's" and folder.stat().st_uid == 0


def roots_grade(course: Path, *more: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", CLI, "grade", CHAPTER, "--course", str(course), "--no-sandbox", *more]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@needs_root
def test_roots_grade_refuses_each_link_the_course_owner_planted_where_it_writes(owner):
    """Each of the course's own names the run writes, replaced by the owner's link to a root-owned folder (a file's
    name by a link to a file there that is not yet made): root's grade exits 2 before grading anyone, naming the link
    and the mend, and nothing appears or changes at the target. With the link gone, the course grades as before."""
    scratch, students = owner
    grader = students.name["grader"]
    course, _ = class_course(scratch)
    hand_copy(course, "victim", "x" * 128)
    subprocess.run(["chown", "-R", grader, str(course)], check=True)
    for name in TOP:
        there = target(scratch, name)
        aside = course / f"{name}.aside"
        if os.path.lexists(course / name):
            (course / name).rename(aside)
        pointed = there if name in ("autograded", "feedback", "reports", "notebooks", "submitted") else there / name
        students.shell("grader", 'ln -s "$1" "$2"', str(pointed), str(course / name))
        ran = roots_grade(course, *(["--export"] if name == "reports" else []))
        out = ran.stdout + ran.stderr
        assert ran.returncode == 2 and "Traceback" not in out, (name, out)
        assert (
            f"{course / name} is a link (to {str(pointed)!r})" in out
            and f"grade as the course's owner ({grader})" in out
        )
        assert untouched(there), (name, [(p, p.lstat().st_uid) for p in there.rglob("*")])
        (course / name).unlink()
        if os.path.lexists(aside):
            aside.rename(course / name)
    ran = roots_grade(course)
    assert ran.returncode in (0, 1) and re.search(r"victim\s+graded", ran.stdout), ran.stdout + ran.stderr


@needs_root
def test_a_students_linked_folder_fails_her_only_and_nothing_is_written_at_its_target(owner):
    """The owner links one student's `autograded/<id>` and another's `feedback/<id>/<chapter>` to root-owned folders:
    root's grade fails each with the link and the mend, grades their classmate, and writes nothing at either target."""
    scratch, students = owner
    grader = students.name["grader"]
    course, _ = class_course(scratch)
    for student in ("victim", "other", "honest"):
        hand_copy(course, student, "x" * 128)
    (course / "feedback" / "other").mkdir(parents=True)
    subprocess.run(["chown", "-R", grader, str(course)], check=True)
    planted = {
        course / "autograded" / "victim": target(scratch, "victim"),
        course / "feedback" / "other" / CHAPTER: target(scratch, "other"),
    }
    for link, there in planted.items():
        students.shell("grader", 'mkdir -p "$(dirname "$2")" && ln -s "$1" "$2"', str(there), str(link))
    ran = roots_grade(course)
    out = ran.stdout + ran.stderr
    assert ran.returncode == 1 and "Traceback" not in out, out
    assert re.search(r"honest\s+graded", ran.stdout), ran.stdout
    for link, there in planted.items():
        assert untouched(there), (link, [(p, p.lstat().st_uid) for p in there.rglob("*")])
    report = (course / "reports" / f"{CHAPTER}.csv").read_text()
    for link in planted:
        assert f"{link} is a link" in report, report


@needs_root
def test_the_checks_name_links_in_any_course_as_root(tmp_path):
    """`planted_links` and `student_link` as root, course of uid 54321 (no account needed): links named, plain
    folders not; in root's own course too (R20v W1 b: one others may write is theirs to plant links in; one root's
    through and through has none)."""
    from lrcourse.grading.exchange.root_links import planted_links, student_link

    course, elsewhere = tmp_path / "course", tmp_path / "elsewhere"
    (course / "autograded" / "a").mkdir(parents=True)
    elsewhere.mkdir()
    (course / "reports").symlink_to(elsewhere)
    (course / "autograded" / "b").symlink_to(elsewhere)
    assert student_link(course, "a", CHAPTER) == ""  # root's own course through and through: nothing to find
    assert len(planted_links(course, CHAPTER)) == 1 and student_link(course, "b", CHAPTER)  # root's links too (R20v)
    os.chown(course, 54321, 54321)
    assert [note.split(" is a link")[0] for note in planted_links(course, CHAPTER)] == [str(course / "reports")]
    assert student_link(course, "a", CHAPTER) == ""
    assert student_link(course, "b", CHAPTER).startswith(
        f"{course / 'autograded' / 'b'} is a link (to {str(elsewhere)!r})"
    )
