"""A gradebook of one chapter ("ch") with one notebook ("nb") of three cells and one student ("mallory"), for tests of
what is saved into it: a test cell worth 3, an autograded answer worth 1 and a written answer worth 2."""

from __future__ import annotations

from pathlib import Path

from lrcourse.gradebook_db import gradebook
from lrcourse.grading.course import ensure_tools_on_path

ANSWER, WRITTEN = "answer", "written"


def small_gradebook(path: Path, test_cell: str, submitted: bool) -> Path:
    """The gradebook at `path` (made with alembic: slow, so make it once a module and copy it), with mallory's
    submission of "ch" if `submitted`."""
    ensure_tools_on_path()  # nbgrader creates the gradebook with alembic, from the venv
    with gradebook(f"sqlite:///{path}") as book:
        book.add_assignment("ch")
        book.add_notebook("nb", "ch")
        book.add_grade_cell(test_cell, "nb", "ch", max_score=3, cell_type="code")
        for name, points, kind in ((ANSWER, 1, "code"), (WRITTEN, 2, "markdown")):
            book.add_grade_cell(name, "nb", "ch", max_score=points, cell_type=kind)
            book.add_solution_cell(name, "nb", "ch")
        book.add_student("mallory")
        if submitted:
            book.add_submission("ch", "mallory")
    return path
