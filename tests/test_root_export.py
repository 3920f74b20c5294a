"""Issue 20, after R20r: root's `lrcourse grade --export` in a course another account owns left `exports/` and its
files root's, and the owner's next export exited 1 (W2): now each file the export writes in the course (and
`exports/`) is handed to the owner, never through a link; root's `lrcourse export` alone is refused there (R20t:
export as the owner). A link the hand-over stopped at was
named "replace it by a folder", also for a file (N1). A run stopped by Ctrl-C or SIGTERM printed no summary, so what
the hand-over left was said nowhere (N2). The owner's `lrcourse export` on root's 0600 gradebook ended in
sqlalchemy's traceback, not the refusal with the chown that grade gives (N3)."""

from __future__ import annotations

import os
import shutil
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
    with grader_account("lrcourse-export-") as made:
        yield made


def roots(tree: Path) -> list[Path]:
    return [path for path in [tree, *tree.rglob("*")] if path.lstat().st_uid == 0]


def export_command(course: Path) -> tuple[str, ...]:
    return ("-c", CLI, "export", CHAPTER, "--course", str(course))


@needs_root
def test_roots_grade_export_and_roots_export_leave_nothing_roots_and_the_owners_export_runs(owner):
    scratch, students = owner
    course, _ = class_course(scratch)
    hand_copy(course, "victim", "x" * 128)
    submit(course, "victim", CHAPTER, solution_answers(CHAPTER))
    subprocess.run(["chown", "-R", students.name["grader"], str(course)], check=True)
    grade = ("-c", CLI, "grade", CHAPTER, "--course", str(course), "--no-sandbox", "--export")
    by_root = subprocess.run([sys.executable, *grade], capture_output=True, text=True, timeout=600)
    assert by_root.returncode == 0, by_root.stdout + by_root.stderr
    assert (course / "exports" / "grades-by-item.csv").is_file() and roots(course) == [], roots(course)
    shutil.rmtree(course / "exports")  # root's export alone is refused (R20t): export as the owner
    by_root = subprocess.run([sys.executable, *export_command(course)], capture_output=True, text=True, timeout=600)
    mend = f"export as that account (`runuser -u {students.name['grader']} -- lrcourse export ...`)"
    assert by_root.returncode == 2 and mend in by_root.stderr, by_root.stderr
    assert not (course / "exports").exists() and roots(course) == [], roots(course)
    by_owner = students.python("grader", *export_command(course), timeout=600)
    assert by_owner.returncode == 0 and "Traceback" not in by_owner.stderr, by_owner.stdout + by_owner.stderr


@needs_root
def test_the_owners_export_on_roots_unreadable_gradebook_is_refused_with_the_chown(owner):
    scratch, students = owner
    grader = students.name["grader"]
    course, _ = class_course(scratch)
    subprocess.run(["chown", "-R", grader, str(course)], check=True)
    os.chown(course / "gradebook.db", 0, 0)
    (course / "gradebook.db").chmod(0o600)
    by_owner = students.python("grader", *export_command(course), timeout=600)
    out = by_owner.stdout + by_owner.stderr
    assert by_owner.returncode == 2 and "Traceback" not in out, out
    assert f"lrcourse export: the gradebook {course / 'gradebook.db'} cannot be written" in by_owner.stderr, out
    assert f"`chown -R {grader} {course}` (the course folder's owner), then export again" in by_owner.stderr, out


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another uid")
def test_a_linked_file_is_named_with_remove_the_link_not_replace_it_by_a_folder(tmp_path):
    from lrcourse.grading.exchange.other_account import give_if_there

    course, uid = tmp_path / "course", 54321
    course.mkdir()
    os.chown(course, uid, uid)
    (tmp_path / "elsewhere.csv").write_text("root's")
    (course / "grades.csv").symlink_to(tmp_path / "elsewhere.csv")  # a target inside tmp_path only
    note = give_if_there(course / "grades.csv", course)
    assert note.endswith(
        "is a link: root gave nothing there or below it to the course's owner (a link is never followed); remove the "
        "link (or replace it by a folder or file of the course's own), then grade or collect again"
    ), note
    assert os.stat(tmp_path / "elsewhere.csv").st_uid == 0


@pytest.mark.parametrize("path", ["local", "fleet"])
def test_a_stopped_run_says_on_stderr_what_the_hand_over_left(path, tmp_path, monkeypatch, capsys):
    """A run ended by Ctrl-C (or SIGTERM's `Stopped`) prints no summary: the notes of what a link kept from the
    course's owner go to stderr from the run's `finally`; a run that finishes leaves them to its summary."""
    from lrcourse.grading import intake
    from lrcourse.grading.autograde import grade
    from lrcourse.grading.fleet import grade as fleet_grade

    note = f"{tmp_path}/feedback is a link: root gave nothing there"
    monkeypatch.setattr(grade, "give_run_to_course_owner", lambda *args: [note])
    monkeypatch.setattr(grade, "ensure_tools_on_path", lambda: None)
    monkeypatch.setattr(fleet_grade, "ensure_tools_on_path", lambda: None)
    monkeypatch.setattr(grade, "course_config", lambda *args: None)
    monkeypatch.setattr(grade.Limits, "from_config", staticmethod(lambda config: None))
    for module in (grade, intake):
        monkeypatch.setattr(module, "take_in", lambda *args: ([], [("s0", "s0's notebook")]))
    for module in (grade, fleet_grade):
        monkeypatch.setattr(module, "create_gradebook_tables", lambda *args: None)
    stop = {"now": True}

    def graded(*args, **kwargs):
        if stop["now"]:
            raise KeyboardInterrupt
        return []

    monkeypatch.setattr(grade, "run_workers", graded)
    monkeypatch.setattr(fleet_grade.Run, "__init__", lambda self, *args: None)
    monkeypatch.setattr(fleet_grade.Run, "collect", graded)
    for module in (grade, fleet_grade):
        monkeypatch.setattr(module, "finish", lambda course, db_url, result, start: result)

    def run():
        if path == "local":
            return grade.grade_class(tmp_path, CHAPTER, workers=1, db_url="sqlite://", sandboxed=False)
        return fleet_grade.grade_class_remote(tmp_path, CHAPTER, "redis://nowhere", db_url="sqlite://")

    with pytest.raises(KeyboardInterrupt):
        run()
    assert f"not given to the course's owner: {note}" in capsys.readouterr().err
    stop["now"] = False
    assert run().not_given == [note] and capsys.readouterr().err == ""  # its summary says it
