"""A function or class answer is judged by the cell that bound it and by the answer cell as saved (issue 23, R23s W2,
W3, M2): `class MyReduceLROnPlateau(ScratchBase): pass` (no function of its own) and `MyReduceLROnPlateau =
ScratchBase` (its functions are the scratch cell's) passed every visible cell and scored 0; the answer run in a cell
below the released stub passed every visible cell, and the grader ran the stub; a base class's method reading a file
of the folder was missed. A real IPython shell runs the chapter's setup, context and visible test cells."""

from __future__ import annotations

import pytest

from support.course import solution_answers
from support.saved_cells import failures, save_answer_cell, start_reading_kernel

PLATEAU = ("03_adaptive_schedules", "adaptive_schedules.ipynb", "my_reduce_lr_on_plateau", "MyReduceLROnPlateau")
SCRATCH = "class MyReduceLROnPlateau"


@pytest.mark.parametrize(
    "cell",
    ["class MyReduceLROnPlateau(ScratchBase):\n    pass\n", "MyReduceLROnPlateau = ScratchBase\n"],
    ids=["empty subclass", "alias"],
)
def test_a_class_answer_that_names_a_scratch_cells_class_fails(tmp_path, monkeypatch, shells, cell):
    """R23s W2: the answer cell, saved and run, reads ScratchBase, which only a scratch cell defines."""
    chapter, notebook, grade_id, name = PLATEAU
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    assert run(solution_answers(chapter)[grade_id].replace(SCRATCH, "class ScratchBase", 1), new_cell=True) is None
    save_answer_cell(tmp_path / notebook, grade_id, cell)
    assert run(cell, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests) and all("uses ScratchBase" in one for one in said), said


def test_a_base_class_method_that_reads_a_file_of_the_folder_fails(tmp_path, monkeypatch, shells):
    """R23s M2: the class's own functions were read, not its bases': a base's `step` reading notes.txt passed."""
    chapter, notebook, grade_id, name = PLATEAU
    (tmp_path / "notes.txt").write_text("x")
    solved = solution_answers(chapter)[grade_id]
    based = solved.replace(SCRATCH + ":", "class Base:", 1).replace(
        "        current = float(metric)", "        open('notes.txt').read()\n        current = float(metric)", 1
    )
    cell = (
        based + "\n\nclass MyReduceLROnPlateau(Base):\n    def get_last_lr(self):\n        return list(self._last_lr)\n"
    )
    assert "notes.txt" in based and "class Base:" in based
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, grade_id, cell)
    assert run(cell, new_cell=True) is None
    said = failures(run, tests)
    assert said and all("notes.txt" in one for one in said), said


@pytest.mark.parametrize("saved", ["", "pass\n"], ids=["the released stub", "no def"])
def test_a_function_answer_run_below_the_saved_stub_fails_until_saved(tmp_path, monkeypatch, shells, saved):
    """R23s W3: the solution run in a new cell, the answer cell as released (the grader runs that stub), or emptied,
    passed every visible cell. It fails saying to run the answer cell and save; typed there and saved, it passes."""
    chapter, notebook, name = "04_custom_schedules", "custom_schedules.ipynb", "recipe_from_rates"
    solved = solution_answers(chapter)[name]
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    if saved:
        save_answer_cell(tmp_path / notebook, name, saved)
    assert run(solved, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert all(f"is not the cell that last assigned {name}" in one for one in said), said
    save_answer_cell(tmp_path / notebook, name, solved)
    assert run(solved, new_cell=True) is None
    assert failures(run, tests) == []


def test_a_function_answer_whose_self_test_after_the_def_raises_passes(tmp_path, monkeypatch, shells):
    """The answer cell as saved, its self-test after the `def` raising: the function is the cell's, whole (a `def`
    binds by no assignment, so the error reading of data answers would count the self-test as before the answer)."""
    chapter, notebook, name = "04_custom_schedules", "custom_schedules.ipynb", "recipe_from_rates"
    cell = solution_answers(chapter)[name] + "\nrecipe_from_rates([])\n"
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is not None
    assert failures(run, tests) == []
