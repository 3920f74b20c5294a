"""The scores a student's kernel reports never reach the gradebook as grades.

nbgrader's autograde scores each test cell by whether it raised in the student's kernel and saves that score
(`SaveAutoGrades`); the trusted verdicts replace it afterwards. A run stopped between the two (SIGTERM,
Ctrl-C, `kill -9`, a worker that died) would leave the gradebook, formgrader, the export and the report
holding scores the student's kernel chose. So under `lrcourse grade` autograde saves every kernel-scored
cell (a code test cell: graded, not an answer) as withheld instead: no automatic score, waiting for a grader
(nbgrader's `needs_manual_grade`, which the export shows as pending). Only the trusted verdicts write its
score. At every instant the gradebook holds no score or a trusted one for such a cell.

What the kernel reported is still needed, to say where it differed from the trusted verdict: it is read back
from the graded notebook that autograde wrote (`in_kernel_scores`), by nbgrader's own rule.
"""

from __future__ import annotations

from pathlib import Path

from nbgrader import utils
from nbgrader.preprocessors import SaveAutoGrades

from lrcourse import cells


class WithholdAutoGrades(SaveAutoGrades):
    """nbgrader's SaveAutoGrades, saving every kernel-scored cell as withheld (no score, needs grading)."""

    def _add_score(self, cell, resources) -> None:
        if not cells.is_test(cell):
            return super()._add_score(cell, resources)
        grade = self.gradebook.find_grade(
            cells.nbgrader_id(cell), self.notebook_id, self.assignment_id, self.student_id
        )
        grade.auto_score = None
        grade.needs_manual_grade = True
        self.gradebook.db.commit()


def set_trusted_score(grade, score: float) -> None:
    """A test cell's score from the grader, no longer withheld (still for a grader if one scored it by hand)."""
    grade.auto_score = score
    grade.needs_manual_grade = grade.manual_score is not None  # nbgrader's own rule (SaveAutoGrades)


def withhold_kernel_scores(config) -> None:
    """Make nbgrader's autograde save kernel-scored cells through WithholdAutoGrades."""
    from nbgrader.converters import Autograde

    steps = list(
        config.Autograde.get("autograde_preprocessors", Autograde.class_traits()["autograde_preprocessors"].default())
    )
    names = (
        SaveAutoGrades,
        "nbgrader.preprocessors.SaveAutoGrades",
        "nbgrader.preprocessors.saveautogrades.SaveAutoGrades",
    )
    config.Autograde.autograde_preprocessors = [WithholdAutoGrades if step in names else step for step in steps]


def in_kernel_scores(path: Path) -> dict[str, float]:
    """{grade_id: the score the kernel's outputs give, by nbgrader's rule} of a graded notebook ({} if none)."""
    import nbformat

    if not path.is_file():
        return {}
    notebook = nbformat.read(path, as_version=4)
    return {cells.nbgrader_id(cell): _kernel_score(cell) for cell in notebook.cells if cells.is_test(cell)}


def _kernel_score(cell) -> float | None:
    try:
        return utils.determine_grade(cell)[0]
    except Exception:  # outputs the kernel forged so that nbgrader cannot score them: no score to compare
        return None
