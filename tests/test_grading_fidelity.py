"""The graded exercises never misgrade: real nbgrader grading of correct, wrong, forbidden and broken answers.

Every answer in `implementations.py` is submitted as a student of a scratch course and graded by
`lrcourse grade` (nbgrader's own autograde, per student, in parallel). Each test cell must give full
marks or zero exactly as the catalogue says. `test_class_grading.py` checks that these scores equal
plain sequential `nbgrader autograde`.
"""
from __future__ import annotations

import pytest

import implementations as catalogue
from course import make_course, scores, solution_answers, submit
from lrcourse.build import chapters
from lrcourse.grading import grade_class

CHAPTERS = chapters()
ANSWERS = catalogue.CORRECT + catalogue.WRONG + catalogue.FORBIDDEN + catalogue.BROKEN + [catalogue.STEP_HANGS_AT_DEFINITION]


def student_name(answer) -> str:
    return f"{answer.cell}-{answer.name}".replace("_", "-")


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """Grade the solution, the untouched release and every catalogue answer; return scores and reports."""
    course = make_course(tmp_path_factory.mktemp("fidelity"), CHAPTERS)
    for chapter in CHAPTERS:
        submit(course, "solution", chapter, solution_answers(chapter))
        submit(course, "untouched", chapter)
    for answer in ANSWERS:
        submit(course, student_name(answer), answer.chapter, {answer.cell: answer.source})
    reports = {chapter: grade_class(course, chapter, workers=2, progress=False) for chapter in CHAPTERS}
    return course, {chapter: scores(course, chapter) for chapter in CHAPTERS}, reports


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_solution_gets_full_marks(graded, chapter):
    cells = graded[1][chapter]["solution"]
    assert cells and all(score == maximum for score, maximum in cells.values()), cells


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_untouched_release_gets_zero_on_every_exercise(graded, chapter):
    cells = graded[1][chapter]["untouched"]
    assert cells and all(score == 0 for score, _ in cells.values()), cells


@pytest.mark.slow
@pytest.mark.parametrize("answer", ANSWERS, ids=lambda a: student_name(a))
def test_each_answer_loses_exactly_the_cells_it_should(graded, answer):
    everything = graded[1][answer.chapter][student_name(answer)]
    assert set(answer.cells) <= set(everything)
    cells = {name: everything[name] for name in answer.cells}  # the answered exercise's test cells
    lost = {name for name, (score, maximum) in cells.items() if score != maximum}
    partial = {name for name, (score, maximum) in cells.items() if 0 < score < maximum}
    assert not partial, f"a test cell gives all or nothing: {partial}"
    assert lost == answer.failing, f"lost {sorted(lost)}, expected {sorted(answer.failing)}"


@pytest.mark.slow
def test_no_submission_failed_to_grade(graded):
    for chapter, report in graded[2].items():
        assert not report.failed, [(o.student, o.reason) for o in report.failed]


@pytest.mark.slow
def test_failure_messages_are_actionable(graded):
    """A failed test shows the configuration, the step, expected and actual values, and a hint."""
    import nbformat

    course = graded[0]
    path = next((course / "autograded" / "my-step-lr-decays-one-step-early" / "02_ordered_schedules").glob("*.ipynb"))
    cell = next(c for c in nbformat.read(path, as_version=4).cells if c.get("id") == "test_my_step_lr_one_group")
    error = next(o for o in cell.outputs if o.output_type == "error")
    message = error.evalue
    assert "MyStepLR(optimizer, step_size=3, gamma=0.5)" in message
    assert "after step number 2" in message and "PyTorch's is 0.1" in message
    assert "PyTorch's StepLR:" in message and "yours:" in message
