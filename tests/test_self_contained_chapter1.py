"""Issue 23, R23p W4: chapter 1's test cells call the answer themselves, not through a check that runs it (`observe`),
so no self-contained check ran: `rate_for_noise_floor` calling `root` of a scratch cell passed every visible cell and
scored 0 in the grade (NameError: the grader runs the answer cells alone). Each graded test cell now checks its answer
first (`check_self_contained`), as every other chapter's checks do; a helper of an answer cell above still counts."""

from __future__ import annotations

import re

import nbformat
import pytest

from lrcourse import cells

from catalogue.early import EARLY_SCRATCH_HELPERS
from support.course import make_course, scores, solution_answers, submit
from support.gradedclass import lrcourse, student_name, submit_answer
from support.paths import ROOT
from support.saved_cells import failures, save_answer_cell, start_reading_kernel

CHAPTER, NOTEBOOK = "01_learning_rate", "learning_rate.ipynb"
SCRATCH = EARLY_SCRATCH_HELPERS[0]
HELPER = "def root(x):\n    return x ** 0.5\n"
LARGEST_WITH_HELPER = solution_answers(CHAPTER)["largest_stable_lr"] + "\n\n" + HELPER  # an answer cell above
HONEST = {
    "the helper in its own answer cell": HELPER + "\n" + SCRATCH.source,
    "the helper in the answer cell above": SCRATCH.source,
}


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """`start(variable)`: chapter 1 in a real IPython shell working in `tmp_path` (`support.saved_cells`)."""
    from IPython.core.interactiveshell import InteractiveShell

    yield lambda variable: start_reading_kernel(tmp_path, monkeypatch, CHAPTER, NOTEBOOK, variable)
    InteractiveShell.clear_instance()


def test_every_graded_test_cell_checks_its_answer():
    """A graded test cell either calls a check of `lrcourse.checking` (each one that runs a function or class answer
    checks it is self-contained, through `observe`; those of plain data, `expect_data_self_contained`) or
    `check_self_contained` itself. Chapter 1's four called neither."""
    unchecked = []
    for path in sorted((ROOT / "source").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            grading = cell.get("metadata", {}).get("nbgrader", {})
            if cells.is_test(cell) and grading.get("points"):
                visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
                if not re.search(r"\bcheck_[a-z_]+\(", visible):
                    unchecked.append(grading.get("grade_id"))
    assert unchecked == []
    released = (ROOT / "notebooks" / CHAPTER / NOTEBOOK).read_text()
    assert released.count("check_self_contained(") == 8  # before and after the calls
    again = "# again after the calls: the grader has no file of your folder"  # R23u N2: a check, not a statement
    assert released.count(again) == 4 and "they read no file of your folder" not in released


@pytest.mark.parametrize("variable", ["largest_stable_lr", "rate_for_noise_floor"])
def test_a_helper_of_a_scratch_cell_fails_every_visible_cell(kernel, tmp_path, variable):
    """The catalogue's answer (`root` of a scratch cell, saved and run) passed every visible cell; now each fails,
    naming the helper. The same for the first exercise (`largest_stable_lr` calling a scratch cell's `steepest`)."""
    run, tests = kernel(variable)
    if variable == "rate_for_noise_floor":
        scratch, answer = SCRATCH.scratch, SCRATCH.source
    else:
        scratch = "def steepest(curvatures):\n    return max(curvatures)\n"
        answer = solution_answers(CHAPTER)[variable].replace("max(curvatures)", "steepest(curvatures)")
        assert "steepest(" in answer
    save_answer_cell(tmp_path / NOTEBOOK, variable, answer)
    assert run(scratch, new_cell=True) is None
    assert run(answer, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests) == 2, said
    helper = "root" if variable == "rate_for_noise_floor" else "steepest"
    for message in said:
        assert f"The cell that defines {variable} uses {helper}, which neither that cell nor a saved answer" in message


@pytest.mark.parametrize("variable", ["largest_stable_lr", "rate_for_noise_floor"])
def test_an_answer_that_reads_a_file_of_the_folder_when_called_fails_each_visible_cell(kernel, tmp_path, variable):
    """R23t M2: each test cell checked its answer before calling it, so the first one passed an answer reading
    notes.txt when called (no call had read it yet), and the grader, which has no file of the folder, scores it 0:
    the cells check it again after their calls."""
    (tmp_path / "notes.txt").write_text("x")
    run, tests = kernel(variable)
    marker = "    ### BEGIN SOLUTION\n"
    assert marker in solution_answers(CHAPTER)[variable]
    answer = solution_answers(CHAPTER)[variable].replace(marker, marker + "    open('notes.txt').read()\n", 1)
    save_answer_cell(tmp_path / NOTEBOOK, variable, answer)
    assert run(answer, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests) == 2, said
    assert all(f"{variable} reads notes.txt, a file of your folder" in message for message in said), said


@pytest.mark.parametrize("where", HONEST)
def test_an_answer_with_its_helper_in_an_answer_cell_passes(kernel, tmp_path, where):
    run, tests = kernel("rate_for_noise_floor")
    if where == "the helper in the answer cell above":
        save_answer_cell(tmp_path / NOTEBOOK, "largest_stable_lr", LARGEST_WITH_HELPER)
        assert run(LARGEST_WITH_HELPER, new_cell=True) is None
    save_answer_cell(tmp_path / NOTEBOOK, "rate_for_noise_floor", HONEST[where])
    assert run(HONEST[where], new_cell=True) is None
    assert failures(run, tests) == []


@pytest.mark.slow
def test_the_grade_gives_the_scratch_helper_0_and_the_honest_answers_full_marks(tmp_path):
    """`lrcourse grade`: the catalogue's answer 0 / 3 (NameError in the grader), the honest ones 3 / 3, and the
    solution 6 / 6: the check in the test cells costs an honest answer nothing under the grader."""
    course = make_course(tmp_path, [CHAPTER])
    submit_answer(course, student_name(SCRATCH), SCRATCH)
    solution = solution_answers(CHAPTER)
    submit(course, "honest-own-cell", CHAPTER, {**solution, "rate_for_noise_floor": HONEST[next(iter(HONEST))]})
    submit(
        course,
        "honest-cell-above",
        CHAPTER,
        {**solution, "largest_stable_lr": LARGEST_WITH_HELPER, "rate_for_noise_floor": SCRATCH.source},
    )
    submit(course, "solution", CHAPTER, solution)
    run = lrcourse(course, "grade", CHAPTER, "--workers", "1", timeout=1800)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    graded = scores(course, CHAPTER)
    floor = ("test_rate_for_noise_floor", "test_rate_for_noise_floor_stable")
    largest = ("test_largest_stable_lr", "test_largest_stable_lr_directions")
    expected = {student_name(SCRATCH): (3, 0), "honest-own-cell": (3, 3), "honest-cell-above": (3, 3)}
    expected["solution"] = (3, 3)
    for student, (largest_points, floor_points) in expected.items():
        cells_of = graded[student]
        got = (sum(cells_of[c][0] for c in largest), sum(cells_of[c][0] for c in floor))
        assert got == (largest_points, floor_points), (student, cells_of)
