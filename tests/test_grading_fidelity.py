"""The graded exercises never misgrade: real nbgrader grading of correct, wrong, forbidden and broken answers.

Every answer in `tests/catalogue/` is a student of a scratch course graded by `lrcourse grade`
(nbgrader's own autograde, per student, two workers): see `gradedclass.py`. Each test cell must give
full marks or zero exactly as the catalogue says. `test_class_grading.py` holds plain sequential
`nbgrader autograde` (the in-kernel hidden tests) to the catalogue on a sample of it.
"""

from __future__ import annotations

import csv

import nbformat
import pytest

from lrcourse.build import chapters

from support.gradedclass import ANSWERS, BROKEN, EXAMPLE_CHAPTER, EXAMPLES, student_name

CHAPTERS = chapters()


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_solution_gets_full_marks(graded_course, chapter):
    cells = graded_course.scores[chapter]["solution"]
    assert cells and all(score == maximum for score, maximum in cells.values()), cells


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_untouched_release_gets_zero_on_every_exercise(graded_course, chapter):
    cells = graded_course.scores[chapter]["untouched"]
    assert cells and all(score == 0 for score, _ in cells.values()), cells


@pytest.mark.slow
@pytest.mark.parametrize("answer", ANSWERS, ids=student_name)
def test_each_answer_loses_exactly_the_cells_it_should(graded_course, answer):
    everything = graded_course.scores[answer.chapter][student_name(answer)]
    assert set(answer.cells) <= set(everything)
    cells = {name: everything[name] for name in answer.cells}  # the answered exercise's test cells
    partial = {name for name, (score, maximum) in cells.items() if 0 < score < maximum}
    assert not partial, f"a test cell gives all or nothing: {partial}"
    lost = {name for name, (score, maximum) in cells.items() if score != maximum}
    assert lost == answer.failing, f"lost {sorted(lost)}, expected {sorted(answer.failing)}"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_only_the_broken_submissions_fail_to_grade(graded_course, chapter):
    run = graded_course.runs[chapter]
    expected_failures = {s: why for s, why in BROKEN.items() if why} if chapter == "03_adaptive_schedules" else {}
    if chapter == EXAMPLE_CHAPTER:
        expected_failures = {s: why for s, why in EXAMPLES.items() if isinstance(why, str)}
    failed = {
        line.split()[0]: line for line in run.stdout.splitlines() if " failed " in line and not line.startswith(chapter)
    }
    assert set(failed) == set(expected_failures), run.stdout[-3000:]
    for student, why in expected_failures.items():
        assert why in failed[student], failed[student]
    assert run.returncode == (1 if expected_failures else 0), run.stderr[-2000:]


@pytest.mark.slow
def test_a_crashed_kernel_is_graded_by_the_trusted_verdicts_with_the_crash_as_reason(graded_course):
    run = graded_course.runs["03_adaptive_schedules"]
    line = next(line for line in run.stdout.splitlines() if line.strip().startswith("broken-kernel-crash "))
    assert " graded " in line and "Kernel died" in line and "no feedback" in line, line


@pytest.mark.slow
def test_failure_messages_are_actionable(graded_course):
    """A failed test shows the configuration, the step, expected and actual values."""
    folder = graded_course.path / "autograded" / "my-step-lr-decays-one-step-early" / "02_ordered_schedules"
    cell = next(
        c
        for c in nbformat.read(next(folder.glob("*.ipynb")), as_version=4).cells
        if c.get("id") == "test_my_step_lr_one_group"
    )
    message = next(o for o in cell.outputs if o.output_type == "error").evalue
    assert "MyStepLR(optimizer, step_size=3, gamma=0.5)" in message
    assert "after step number 2" in message and "PyTorch's is 0.1" in message
    assert "PyTorch's StepLR:" in message and "yours:" in message


@pytest.mark.slow
def test_the_readme_walkthrough_class_scores_as_documented(graded_course):
    scores = graded_course.scores[EXAMPLE_CHAPTER]
    for student, expected in EXAMPLES.items():
        if isinstance(expected, str):
            assert student not in scores
        else:
            assert sum(score for score, _ in scores[student].values()) == expected, student


@pytest.mark.slow
def test_every_readable_submission_is_in_the_gradebook_and_the_csv(graded_course):
    rows = list(csv.DictReader(open(graded_course.path / "grades.csv")))
    for chapter, students in graded_course.scores.items():
        submitted = {p.name for p in (graded_course.path / "submitted").iterdir() if (p / chapter).is_dir()}
        unreadable = {s for s, why in {**BROKEN, **EXAMPLES}.items() if isinstance(why, str) and why != "Kernel died"}
        assert set(students) == submitted - unreadable
        in_csv = {row["student_id"] for row in rows if row["assignment"] == chapter}
        assert in_csv >= set(students)
        for row in rows:
            if row["assignment"] == chapter and row["student_id"] in students:
                expected = sum(score for score, _ in students[row["student_id"]].values())
                assert float(row["score"]) == pytest.approx(expected)
