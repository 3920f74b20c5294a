"""The scores a student's kernel reports never reach the gradebook (fast: nbgrader's own gradebook and saving
step, no kernel). Autograde's saving step runs as `lrcourse grade` configures it, on a notebook whose forged
test cell passed in the kernel; the run is taken as stopped right there, before the trusted verdicts: the
gradebook, the export and grades.csv hold no score for that cell. Then the trusted verdict writes the score."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.preprocessors import SaveAutoGrades
from traitlets.config import Config

from lrcourse.gradebook_db import gradebook
from lrcourse.grading.autograde.grades_csv import GradesCsvExportPlugin
from lrcourse.grading.autograde.output_caps import CappedExecute, use_capped_execute
from lrcourse.grading.autograde.withheld_scores import (
    WithholdAutoGrades,
    in_kernel_scores,
    set_trusted_score,
    withhold_kernel_scores,
)
from lrcourse.grading.reports.results import PENDING, grade_value

from support.small_gradebook import ANSWER, WRITTEN, small_gradebook

TEST = "test_forged"


def graded_notebook():
    """What autograde saves from: the test cell passed in the kernel (no error: full marks by nbgrader's rule),
    an answer cell changed from the release, a written answer."""
    test = nbformat.v4.new_code_cell("assert check()", outputs=[])
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": TEST, "points": 3, "locked": True}
    answer = nbformat.v4.new_code_cell("x = 1")
    answer.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": ANSWER, "points": 1, "checksum": "0"}
    written = nbformat.v4.new_markdown_cell("my answer")
    written.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": WRITTEN, "points": 2}
    return nbformat.v4.new_notebook(cells=[test, answer, written])


@pytest.fixture(scope="module")
def empty_gradebook(tmp_path_factory) -> Path:
    """The small gradebook, one submission, nothing saved: made once (alembic is slow)."""
    return small_gradebook(tmp_path_factory.mktemp("gradebook") / "gradebook.db", TEST, submitted=True)


@pytest.fixture
def db_url(empty_gradebook, tmp_path):
    shutil.copy(empty_gradebook, tmp_path / "gradebook.db")
    return f"sqlite:///{tmp_path / 'gradebook.db'}"


def save(step, db_url):
    resources = {"nbgrader": {"notebook": "nb", "assignment": "ch", "student": "mallory", "db_url": db_url}}
    step().preprocess(graded_notebook(), resources)


def scores(db_url) -> dict:
    with gradebook(db_url) as book:
        grades = {g.name: g for g in book.find_submission_notebook("nb", "ch", "mallory").grades}
        return {name: (g.auto_score, g.needs_manual_grade, grade_value(g)) for name, g in grades.items()}


def exported_score(db_url, tmp_path) -> float:
    with gradebook(db_url) as book:
        GradesCsvExportPlugin(to=str(tmp_path / "grades.csv")).export(book)
    with open(tmp_path / "grades.csv", newline="") as handle:
        (row,) = csv.DictReader(handle)
    return float(row["raw_score"])


def test_nbgraders_own_saving_step_writes_the_score_the_kernel_chose(db_url):
    """The control: what a stop between autograde and the trusted verdicts used to leave."""
    save(SaveAutoGrades, db_url)
    assert scores(db_url)[TEST] == (3.0, False, 3.0)


def test_a_run_stopped_after_autograde_leaves_no_score_the_kernel_chose(db_url, tmp_path):
    save(WithholdAutoGrades, db_url)
    saved = scores(db_url)
    assert saved[TEST] == (None, True, PENDING)  # withheld: waiting for the grader, no score
    assert saved[ANSWER][0] is None and saved[WRITTEN][0] is None  # answer cells: nbgrader's own rule, unchanged
    assert exported_score(db_url, tmp_path) == 0.0
    with gradebook(db_url) as book:  # then the trusted verdict writes the score
        set_trusted_score(book.find_grade(TEST, "nb", "ch", "mallory"), 3.0)
        book.db.commit()
    assert scores(db_url)[TEST] == (3.0, False, 3.0)
    assert exported_score(db_url, tmp_path) == 3.0


def test_a_trusted_score_leaves_a_hand_grade_for_the_grader(db_url):
    save(WithholdAutoGrades, db_url)
    with gradebook(db_url) as book:
        grade = book.find_grade(TEST, "nb", "ch", "mallory")
        grade.manual_score = 1.0
        set_trusted_score(grade, 0.0)
        book.db.commit()
    assert scores(db_url)[TEST] == (0.0, True, PENDING)  # the grader's hand score still waits for review


def test_the_kernels_score_is_read_back_from_the_graded_notebook(tmp_path):
    notebook = graded_notebook()
    failed = nbformat.v4.new_code_cell("assert False")
    failed.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])]
    failed.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "test_failed", "points": 2}
    notebook.cells.append(failed)
    nbformat.write(notebook, tmp_path / "nb.ipynb")
    assert in_kernel_scores(tmp_path / "nb.ipynb") == {TEST: 3.0, "test_failed": 0}
    assert in_kernel_scores(tmp_path / "missing.ipynb") == {}


def test_grading_saves_through_the_withholding_step():
    config = Config()
    use_capped_execute(config)
    withhold_kernel_scores(config)
    steps = config.Autograde.autograde_preprocessors
    assert WithholdAutoGrades in steps and SaveAutoGrades not in steps and CappedExecute in steps
