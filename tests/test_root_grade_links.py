"""Root's grade in a course another account owns hands what it made to that owner (R20p W2, G21), with real OS users.
R20q W2: it did so through links the owner planted: with `<course>/autograded -> <a root-owned tree>`, a root-owned
file under the link's target became the owner's (and `autograded -> /` would have handed /etc to the grader account).
Now each folder is opened from the course down by descriptor, never through a link, and what a link stopped is
named. R20q M1: what root's grade made releasing a chapter new to the gradebook (the release folder, the gradebook
when there was none) stayed root's: the owner's next grade failed a full-marks submission with nbgrader's "error
accessing the nbgrader database" (whose mend, `nbgrader db upgrade`, is the wrong one), and the owner's
`generate_assignment --force` a traceback. Now root's grade gives them to the owner, and a gradebook the owner
cannot write is refused up front with the chown that mends it."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from support.course import solution_answers, submit
from support.secret_class import class_course, hand_copy
from support.students import CHAPTER, grader_account, needs_root

CLI = "from lrcourse.cli import main; import sys; sys.exit(main())"


@pytest.fixture
def owner():
    with grader_account("lrcourse-links-") as made:
        yield made


def grade_command(course: Path) -> tuple[str, ...]:
    return ("-c", CLI, "grade", CHAPTER, "--course", str(course), "--no-sandbox")


def roots(*trees: Path) -> list[Path]:
    return [path for tree in trees for path in [tree, *tree.rglob("*")] if path.lstat().st_uid == 0]


def everything(*trees: Path) -> list[Path]:
    return [path for tree in trees for path in [tree, *tree.rglob("*")]]


@needs_root
def test_roots_grade_gives_nothing_through_a_link_the_course_owner_planted(owner):
    """The owner links `autograded` and `reports` to root-owned trees: root's grade (worktree code, no sandbox)
    leaves every file there root's. Since issue 20's G24 it grades no one through them: the run is refused (exit 2),
    naming both links (`tests/test_root_grade_planted.py`); the hand-over's own stops are
    `test_the_hand_over_stops_at_a_link_a_non_folder_or_a_hard_linked_file_and_says_so`."""
    scratch, students = owner
    grader = students.name["grader"]
    course, _ = class_course(scratch)
    hand_copy(course, "victim", "x" * 128)
    planted = {}
    for name in ("autograded", "reports"):
        target = scratch / f"root-{name}"
        (target / "victim" / "deep").mkdir(parents=True)
        (target / "victim" / "deep" / "root-only").write_text("root's")
        shutil.rmtree(course / name, ignore_errors=True)
        planted[name] = target
    subprocess.run(["chown", "-R", grader, str(course)], check=True)
    for name, target in planted.items():
        students.shell("grader", 'ln -s "$1" "$2"', str(target), str(course / name))
    by_root = subprocess.run([sys.executable, *grade_command(course)], capture_output=True, text=True, timeout=600)
    out = by_root.stdout + by_root.stderr
    assert by_root.returncode == 2 and "Traceback" not in out, out
    assert len(everything(*planted.values())) == 8 and roots(*planted.values()) == everything(*planted.values()), [
        (path, path.owner()) for path in everything(*planted.values())
    ]
    for name, target in planted.items():
        assert f"{course / name} is a link (to {str(target)!r})" in out, out


@needs_root
def test_after_roots_grade_releases_a_new_chapter_the_owners_grade_and_release_run(owner):
    """A course with no gradebook and the chapter never released, a full-marks submission: root's grade releases
    it and grades her; after it nothing in the course is root's, the owner's own grade exits 0 with root's score,
    and the owner's `nbgrader generate_assignment --force` runs."""
    scratch, students = owner
    course, _ = class_course(scratch)
    hand_copy(course, "victim", "x" * 128)
    submit(course, "victim", CHAPTER, solution_answers(CHAPTER))
    (course / "gradebook.db").unlink()
    shutil.rmtree(course / "notebooks" / CHAPTER)
    subprocess.run(["chown", "-R", students.name["grader"], str(course)], check=True)
    by_root = subprocess.run([sys.executable, *grade_command(course)], capture_output=True, text=True, timeout=600)
    assert "1 graded" in by_root.stdout, by_root.stdout + by_root.stderr
    assert (course / "notebooks" / CHAPTER).is_dir() and roots(course) == [], roots(course)
    score = re.search(r"victim\s+graded\s+(\S+ / \S+)", by_root.stdout)
    assert score and not score[1].startswith("0 "), by_root.stdout
    by_owner = students.python("grader", *grade_command(course), "--force", timeout=600)
    out = by_owner.stdout + by_owner.stderr
    assert by_owner.returncode == 0 and "1 graded" in by_owner.stdout and "Traceback" not in out, out
    assert re.search(rf"victim\s+graded\s+{re.escape(score[1])}", by_owner.stdout), (score[1], by_owner.stdout)
    again = f"import os, subprocess, sys; os.chdir({str(course)!r}); sys.exit(subprocess.run([sys.executable, '-m', "
    again += f"'nbgrader', 'generate_assignment', {CHAPTER!r}, '--force']).returncode)"
    release = students.python("grader", "-c", again, timeout=600)
    assert release.returncode == 0 and "Traceback" not in release.stderr, release.stdout + release.stderr


@needs_root
def test_a_gradebook_the_owner_cannot_write_is_refused_with_the_chown_not_nbgraders_upgrade(owner):
    """The gradebook root's grade left root's before R20q M1: the owner's grade is refused before grading anyone,
    naming the file and the chown that mends it, not nbgrader's `nbgrader db upgrade`."""
    scratch, students = owner
    grader = students.name["grader"]
    course, _ = class_course(scratch)
    hand_copy(course, "victim", "x" * 128)
    subprocess.run(["chown", "-R", grader, str(course)], check=True)
    subprocess.run(["chown", "root", str(course / "gradebook.db")], check=True)
    by_owner = students.python("grader", *grade_command(course), timeout=600)
    out = by_owner.stdout + by_owner.stderr
    assert by_owner.returncode == 2 and "Traceback" not in out and "db upgrade" not in out, out
    assert f"the gradebook {course / 'gradebook.db'} cannot be written" in out, out
    assert f"`chown -R {grader} {course}`" in out, out


@needs_root
def test_the_hand_over_stops_at_a_link_a_non_folder_or_a_hard_linked_file_and_says_so(tmp_path):
    """`give_to_course_owner` as root in a course of another uid: a link on the way (`autograded -> <a root-owned
    tree>`, as R20q's `autograded -> /`: never a system folder here, so that a regression harms only tmp_path) or
    inside the tree is never followed, a hard-linked file (another name elsewhere) is not chowned, a file where a
    folder should be stops the walk; each is named. Everything else root made there is the owner's."""
    import os

    from lrcourse.grading.autograde.graded_files import close_student_folders
    from lrcourse.grading.exchange.other_account import give_to_course_owner

    course, outside, uid = tmp_path / "course", tmp_path / "outside", 54321
    course.mkdir()
    (outside / "inside" / "deep").mkdir(parents=True)
    (outside / "secret").write_text("root's")
    os.chown(course, uid, uid)
    (course / "autograded").symlink_to(outside)
    note = close_student_folders(course, "inside")
    assert f"{course / 'autograded'} is a link: root gave nothing there" in note, note
    assert [os.stat(p).st_uid for p in (outside / "inside", outside / "inside" / "deep")] == [0, 0]
    assert stat.S_IMODE(os.stat(outside / "inside").st_mode) == 0o755  # not closed through the link either
    assert os.stat(course / "feedback" / "inside").st_uid == uid
    made = course / "reports"
    (made / "sub").mkdir(parents=True)
    (made / "sub" / "plain").write_text("ok")
    (made / "sub" / "out").symlink_to(outside)
    os.link(outside / "secret", made / "sub" / "hard")
    note = give_to_course_owner(made, course)
    assert f"{made / 'sub' / 'hard'} is a file with other names (hard links)" in note, note
    assert [os.stat(p).st_uid for p in (made, made / "sub", made / "sub" / "plain")] == [uid] * 3
    assert os.lstat(made / "sub" / "out").st_uid == uid  # the link itself, never its target
    assert [os.stat(p).st_uid for p in (outside, outside / "inside", outside / "secret")] == [0, 0, 0]
    (course / "notes").write_text("a file, not a folder")
    note = give_to_course_owner(course / "notes" / "deeper", course)
    assert f"{course / 'notes'} is not a folder" in note, note
