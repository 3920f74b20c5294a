"""A small graded class for the export and class-report tests, and the gradebook read independently of
`lrcourse.grading.reports.results` (so the tests compare the outputs with nbgrader's own numbers).

The README's example class (examples/class: alice correct, bob partly, carol a syntax error, dave a
hang, erin a malformed notebook) in chapter 2, graded with `--export --roster` (its only grading in the suite: the
README's scores are held here too, `README_SCORES`); before it a generated class in
chapter 1, graded without `--export` (the report alone), whose notebook gains a written answer graded by hand
(nbgrader's "manually graded answer" cell), graded for one student through nbgrader's API and left pending
for the other.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from filelock import FileLock

from lrcourse.build import generate_release
from lrcourse.examples import submit_example_class

from support.course import NOTEBOOK, solution_answers, submit
from support.gradedclass import lrcourse
from support.paths import ROOT

EXAMPLE = "02_ordered_schedules"
GENERATED = "01_learning_rate"
WRITTEN = "explain_stable_lr"  # the written answer added to chapter 1, 2 points, graded by hand
WRITTEN_POINTS = 2.0
ALICE_WRITTEN_SCORE = 1.5
ROSTER = ROOT / "examples" / "canvas_roster.csv"
# The README's walkthrough of the example class: student -> autograded score out of 9 (the written answers, 4
# points, are left unanswered), or the reason the submission cannot be graded
README_SCORES = {"alice": 9, "bob": 7, "carol": 0, "dave": 0, "erin": "not valid JSON"}


def written_answer_cell() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(
        "Explain in two sentences why a rate above the largest stable one diverges.\n\n"
        "Because each step overshoots the minimum by more than it started from."
    )
    cell.id = WRITTEN
    cell.metadata["nbgrader"] = {
        "grade": True,
        "solution": True,
        "locked": False,
        "points": WRITTEN_POINTS,
        "grade_id": WRITTEN,
        "schema_version": 3,
    }
    return cell


def make_class_course(directory: Path, written_answer: bool) -> Path:
    """A scratch course with chapter 2 (and chapter 1, with a written answer, when asked), released."""
    chapters = [EXAMPLE] + ([GENERATED] if written_answer else [])
    for chapter in chapters:
        shutil.copytree(ROOT / "source" / chapter, directory / "source" / chapter)
    if written_answer:
        path = directory / "source" / GENERATED / NOTEBOOK[GENERATED]
        notebook = nbformat.read(path, as_version=4)
        after = next(i for i, c in enumerate(notebook.cells) if c.get("id") == "test_largest_stable_lr")
        notebook.cells.insert(after + 1, written_answer_cell())
        nbformat.write(notebook, path)
    shutil.copy(ROOT / "nbgrader_config.py", directory)
    generate_release(directory, chapters)
    return directory


def grade_by_hand(course: Path, student: str, score: float) -> None:
    """What nbgrader's formgrader does when a grader enters a score (its GradeHandler.put)."""
    from lrcourse.gradebook_db import gradebook

    with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        grade = book.find_grade(WRITTEN, Path(NOTEBOOK[GENERATED]).stem, GENERATED, student)
        grade.manual_score = score
        grade.needs_manual_grade = False
        book.db.commit()


def build_class(directory: Path) -> tuple[Path, subprocess.CompletedProcess]:
    """Grade the class with `lrcourse grade`: chapter 1 (with its written answer, alice's graded by hand),
    then chapter 2 with `--export --roster`. Returns (course, the CompletedProcess of chapter 2's grading)."""
    course = make_class_course(directory, written_answer=True)
    submit_example_class(course, ROOT / "examples" / "class")
    # nbgrader scores an unchanged written answer 0 by itself: both write one, a grader marks alice's
    autograded = {k: v for k, v in solution_answers(GENERATED).items() if not k.startswith("written_")}
    submit(course, "alice", GENERATED, {**autograded, WRITTEN: "It overshoots, more each step."})
    submit(course, "zoe", GENERATED, {WRITTEN: "No idea."})  # exercises untouched; not in the roster
    # two students: one worker (a second one's start, nbgrader and both zygotes, costs more than the student it takes)
    first = lrcourse(course, "grade", GENERATED, "--workers", "1", timeout=1200)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    # without --export, grading writes the graded chapter's report alone
    assert f"class report: {course.resolve() / 'reports' / (GENERATED + '.html')}" in first.stdout, first.stdout
    assert "the class report or export failed" not in first.stderr, first.stderr[-2000:]
    grade_by_hand(course, "alice", ALICE_WRITTEN_SCORE)
    # five students, one worker too: a second one's start costs about 17 CPU-s, more than the students it would take
    run = lrcourse(course, "grade", EXAMPLE, "--workers", "1", "--export", "--roster", str(ROSTER), timeout=1200)
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]  # erin's notebook is malformed
    return course, run


def graded_class_copy(tmp_path_factory, name: str) -> tuple[Path, subprocess.CompletedProcess]:
    """A private copy of the class, graded once per test session (test_export and test_class_report share it:
    grading it twice cost a worker minutes). Under xdist the first worker to ask grades it in the run's
    shared temporary folder (new each session) while the other waits on a file lock; each caller gets its
    own copy, since some tests write into the course. A failed build is reported to every caller."""
    base = tmp_path_factory.getbasetemp()
    distributed = os.environ.get("PYTEST_XDIST_WORKER") is not None
    shared = (base.parent if distributed else base) / "graded-example-class"
    with FileLock(f"{shared}.lock"):
        if (shared / "error.txt").is_file():
            pytest.fail(f"grading the shared class failed: {(shared / 'error.txt').read_text()}")
        if not (shared / "run.json").is_file():
            try:
                course, run = build_class(shared / "course")
            except BaseException as error:
                shared.mkdir(parents=True, exist_ok=True)
                (shared / "error.txt").write_text(f"{type(error).__name__}: {error}"[:5000])
                raise
            (shared / "run.json").write_text(json.dumps([run.args, run.returncode, run.stdout, run.stderr]))
    args, returncode, stdout, stderr = json.loads((shared / "run.json").read_text())
    course = tmp_path_factory.mktemp(name) / "course"
    shutil.copytree(shared / "course", course, symlinks=True)
    mine = (shared / "course").resolve()
    return course, subprocess.CompletedProcess(
        [str(arg).replace(str(mine), str(course)) for arg in args],
        returncode,
        stdout.replace(str(mine), str(course)),
        stderr.replace(str(mine), str(course)),
    )


def gradebook_cells(course: Path, db_url: str | None = None) -> dict:
    """{assignment: {student: {grade_id: (score, max_score, needs_manual_grade)}}} straight from nbgrader."""
    from lrcourse.gradebook_db import gradebook

    result = {}
    with gradebook(db_url or f"sqlite:///{course / 'gradebook.db'}") as book:
        for assignment in book.assignments:
            for submission in book.assignment_submissions(assignment.name):
                result.setdefault(assignment.name, {})[submission.student_id] = {
                    grade.name: (grade.score, grade.max_score, grade.needs_manual_grade)
                    for notebook in submission.notebooks
                    for grade in notebook.grades
                    if grade.max_score
                }
    return result


def nbgrader_totals(course: Path) -> dict[tuple[str, str], str]:
    """(assignment, student) -> score, from nbgrader's own grades.csv."""
    with open(course / "grades.csv", newline="") as handle:
        return {(row["assignment"], row["student_id"]): row["score"] for row in csv.DictReader(handle)}


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
