"""Issue 23, R23l: what a saved answer cell reads from the answer cells above it. The grader runs a chapter's answer
cells as saved, in order, in one process, so a name an answer cell above binds is there (M2: the check of a function
refused it, saying the grader runs the answer cell on its own), and its value is that saved cell's, not the kernel's
(M3: a name edited and run unsaved, or rebound in a scratch cell, passed the visible checks and scored 0)."""

from __future__ import annotations

import nbformat
import pytest

from catalogue import step_lr_reading
from support.paths import ROOT
from support.saved_cells import failures, save_answer_cell, start_reading_kernel


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """`start(chapter, notebook, variable)`: the chapter in a real IPython shell (`support.saved_cells`): its
    `run(cell, new_cell=False)` and the visible test cells that read `variable`."""
    from IPython.core.interactiveshell import InteractiveShell

    def start(chapter, notebook, variable):
        return start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, variable)

    yield start
    InteractiveShell.clear_instance()


def test_a_function_that_calls_a_helper_of_the_answer_cell_above_passes_and_one_from_a_scratch_cell_fails(
    kernel, tmp_path
):
    """R23l M2 (T1): chapter 3's MyReduceLROnPlateau answer cell also defines `reduced_rate`, and `epochs_to_floor`
    calls it: graded in full (the grader runs the answer cells in order, in one process), and every visible cell
    said "The grader runs only the answer cell, on its own". The same helper in a scratch cell is still refused."""
    solved = nbformat.read(ROOT / "solutions" / "03_adaptive_schedules" / "adaptive_schedules.ipynb", as_version=4)
    solution = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell.source for cell in solved.cells}
    helper = "def reduced_rate(rate, factor, min_lr):\n    return max(rate * factor, min_lr)\n"
    floor = solution["epochs_to_floor"].replace("max(rate * factor, min_lr)", "reduced_rate(rate, factor, min_lr)")
    assert "reduced_rate(" in floor
    run, tests = kernel("03_adaptive_schedules", "adaptive_schedules.ipynb", "epochs_to_floor")
    notebook = tmp_path / "adaptive_schedules.ipynb"
    save_answer_cell(notebook, "my_reduce_lr_on_plateau", solution["my_reduce_lr_on_plateau"] + "\n\n" + helper)
    save_answer_cell(notebook, "epochs_to_floor", floor)
    assert run(solution["my_reduce_lr_on_plateau"] + "\n\n" + helper) is None
    assert run(floor) is None
    assert failures(run, tests) == []
    save_answer_cell(notebook, "my_reduce_lr_on_plateau", solution["my_reduce_lr_on_plateau"])  # helper elsewhere
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert "uses reduced_rate, which neither that cell nor a saved answer cell above it defines" in said[0]
    assert "on its own" not in said[0]


def test_a_name_read_from_an_answer_cell_above_must_come_from_that_cell_as_saved(kernel, tmp_path):
    """R23l M3: `STEP = 4` saved in the prediction's answer cell, then edited to `STEP = 5` and run unsaved (U1), or
    `STEP = 5` run in a scratch cell after the saved cell (U2), and the answer cell reading STEP: every visible cell
    passed on the kernel's 5, and the grader, which runs the saved cells, scored step_size 0. The kernel's STEP must
    come from the saved cell above, run whole; a comment added since the run is the same cell (N1)."""
    notebook, answer = "ordered_schedules.ipynb", step_lr_reading.ANSWER
    run, tests = kernel("02_ordered_schedules", notebook, "inferred_step_lr")
    prediction = "STEP = {}\npredicted_rate_after_edit = 0.1\n"
    save_answer_cell(tmp_path / notebook, "predicted_rate_after_edit", prediction.format(4))
    assert run(prediction.format(4)) is None
    assert run(prediction.format(5)) is None  # U1: edited, run, not saved
    assert run(answer.replace('"step_size": 5', '"step_size": STEP')) is None  # saved
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert (
        f"The answer cell of inferred_step_lr saved in {notebook} reads STEP, which the answer cell of "
        "predicted_rate_after_edit binds, and the STEP in this kernel is not from that cell as saved" in said[0]
    )
    save_answer_cell(tmp_path / notebook, "predicted_rate_after_edit", prediction.format(5) + "# read off the log\n")
    assert failures(run, tests) == []  # saved since, with a comment: the same cell
    assert run("STEP = 4\n", new_cell=True) is None  # U2: a scratch cell after the saved one, then the answer
    assert run(answer.replace('"step_size": 5', '"step_size": STEP')) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert "reads STEP, which the answer cell of predicted_rate_after_edit binds" in said[0]
    assert run(prediction.format(5)) is None
    assert run(answer.replace('"step_size": 5', '"step_size": STEP')) is None
    assert failures(run, tests) == []
