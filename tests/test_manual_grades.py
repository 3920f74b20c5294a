"""Written answers graded by hand (issue 12): a real chapter's manually graded answer cells, left by `lrcourse
grade` to nbgrader's formgrader, graded through nbgrader's API, and seen in the exported per-item grades.

Chapter 1 has two written answers (nbgrader "manually graded answer" cells, 2 points each, with the rubric
between the solution markers in source/ and stripped from the release).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from lrcourse import cells
from lrcourse.grading.reports.results import PENDING

from support.classresults import read_csv
from support.course import NOTEBOOK, make_course, released, solution_answers, submit
from support.gradedclass import lrcourse
from support.paths import ROOT

CHAPTER = "01_learning_rate"
WRITTEN = ("written_noise_decay", "written_ill_conditioning")


def written_cells(notebook) -> dict:
    return {c.id: c for c in notebook.cells if c.get("id") in WRITTEN}


def test_the_written_answers_are_manually_graded_cells_with_a_hidden_rubric():
    source = nbformat.read(ROOT / "source" / CHAPTER / NOTEBOOK[CHAPTER], as_version=4)
    release = nbformat.read(ROOT / "notebooks" / CHAPTER / NOTEBOOK[CHAPTER], as_version=4)
    for name, cell in written_cells(source).items():
        assert cells.is_written_answer(cell) and cell.metadata["nbgrader"]["points"] == 2, name
        assert "### BEGIN SOLUTION" in cell.source and "Rubric" in cell.source
        student = written_cells(release)[name]
        assert "Rubric" not in student.source and "BEGIN SOLUTION" not in student.source, name
    assert set(written_cells(release)) == set(WRITTEN)


@pytest.fixture
def under_tmp(tmp_path: Path):
    """A folder under /tmp, which each sandboxed student process replaces by a /tmp of its own."""
    if tmp_path.resolve().is_relative_to("/tmp"):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(dir="/tmp", prefix="lrcourse-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_a_hand_grade_entered_through_nbgraders_api_is_in_the_exported_grades(under_tmp: Path):
    """Also (issue 21) a course checked out under /tmp with its virtual environment there grades with feedback:
    the course lives under /tmp and the command runs from this environment reached through a link there, so
    sys.prefix is a path under /tmp that each student's private /tmp would hide (on main, every kernel died)."""
    from lrcourse.gradebook_db import gradebook

    (under_tmp / "venv").symlink_to(Path(sys.prefix))
    python = str(under_tmp / "venv" / "bin" / "python")
    course = make_course(under_tmp / "course", [CHAPTER])
    answers = {
        **solution_answers(CHAPTER),
        WRITTEN[0]: "A constant rate stalls at its noise floor.",
        WRITTEN[1]: "The steep direction bounds the rate; a schedule does not fix that.",
    }
    submit(course, "alice", CHAPTER, answers)
    submit(course, "untouched", CHAPTER)
    run = lrcourse(course, "grade", CHAPTER, "--workers", "1", python=python, timeout=1200)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "2 written answer(s) await manual grading in nbgrader's formgrader" in run.stdout, run.stdout
    for student in ("alice", "untouched"):  # the kernels ran: each has its feedback
        assert list((course / "feedback" / student / CHAPTER).glob("*.html")), run.stdout[-2000:]

    notebook = Path(NOTEBOOK[CHAPTER]).stem
    with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        untouched = book.find_submission_notebook(notebook, CHAPTER, "untouched")
        autograded = [g for g in untouched.grades if g.cell_type == "code"]
        assert autograded and all(g.score == 0 for g in autograded), "the untouched release scores 0 everywhere"
        assert all(not g.needs_manual_grade and g.score == 0 for g in untouched.grades if g.name in WRITTEN)
        grade = book.find_grade(WRITTEN[0], notebook, CHAPTER, "alice")
        assert grade.needs_manual_grade and grade.max_score == 2
        grade.manual_score = 1.5  # what the formgrader stores when a grader enters a score
        grade.needs_manual_grade = False
        book.db.commit()
        automatic = sum(
            g.score for g in book.find_submission_notebook(notebook, CHAPTER, "alice").grades if g.cell_type == "code"
        )

    export = lrcourse(course, "export", timeout=600)
    assert export.returncode == 0, export.stdout[-2000:] + export.stderr[-2000:]
    [row] = [r for r in read_csv(course / "exports" / "grades-by-item.csv") if r["student_id"] == "alice"]
    assert row[f"{CHAPTER}/{WRITTEN[0]}"] == "1.5"
    assert row[f"{CHAPTER}/{WRITTEN[1]}"] == PENDING
    assert float(row[f"{CHAPTER}/total"]) == pytest.approx(automatic + 1.5)
    assert released(course, CHAPTER)  # the release the students got is the course's own
