"""A function or class answer is judged by its own cell, through its decorators and whatever binds it (issue 23,
R23t W3): `@torch.no_grad()` over the answer made the checks read torch's wrapper (torch/utils/_contextlib.py, shared
by every such function), so an answer calling a scratch cell's function passed every visible cell and scored 0, and
an honest decorated answer failed after another `@torch.no_grad()` function read a file. A real IPython shell runs
the chapter's setup, context and visible test cells."""

from __future__ import annotations

import pytest

from support.course import solution_answers
from support.saved_cells import failures, save_answer_cell, start_reading_kernel

RECIPE = ("04_custom_schedules", "custom_schedules.ipynb", "recipe_from_rates")
PLATEAU = ("03_adaptive_schedules", "adaptive_schedules.ipynb", "my_reduce_lr_on_plateau", "MyReduceLROnPlateau")


def test_a_decorated_function_answer_that_calls_a_scratch_function_fails(tmp_path, monkeypatch, shells):
    """R23t W3: `first_float` is a scratch cell's; torch's wrapper file, read instead of the cell, has no such name."""
    chapter, notebook, name = RECIPE
    solved = solution_answers(chapter)[name]
    line = "    rates = [float(rate) for rate in rates]\n"
    assert line in solved
    cell = "import torch\n\n@torch.no_grad()\n" + solved.replace(line, "    rates = first_float(rates)\n", 1)
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    assert run("def first_float(rates):\n    return [float(r) for r in rates]\n", new_cell=True) is None
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests) and all("uses first_float" in one for one in said), said


def test_a_decorated_honest_answer_passes_after_another_decorated_function_read_a_file(tmp_path, monkeypatch, shells):
    """R23t W3: every `@torch.no_grad()` function shares torch's wrapper code, so a scratch `peek` reading notes.txt
    was blamed on the answer; the answer reads no file and the grader gives it full marks."""
    chapter, notebook, name = RECIPE
    (tmp_path / "notes.txt").write_text("x")
    cell = "import torch\n\n@torch.no_grad()\n" + solution_answers(chapter)[name]
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is None
    peek = "import torch\n\n@torch.no_grad()\ndef peek():\n    return open('notes.txt').read()\n\npeek()\n"
    assert run(peek, new_cell=True) is None
    assert failures(run, tests) == []


def test_a_decorated_method_that_reads_a_file_of_the_folder_fails(tmp_path, monkeypatch, shells):
    """R23t W3: `@torch.no_grad()` on `step`, which reads notes.txt, was dropped as torch's code."""
    chapter, notebook, grade_id, name = PLATEAU
    (tmp_path / "notes.txt").write_text("x")
    solved = solution_answers(chapter)[grade_id]
    line = "    def step(self, metric):\n"
    assert line in solved
    cell = solved.replace(line, "    @torch.no_grad()\n" + line + "        open('notes.txt').read()\n", 1)
    cell = cell if "import torch" in cell else "import torch\n\n" + cell
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, grade_id, cell)
    assert run(cell, new_cell=True) is None
    said = failures(run, tests)
    assert said and all("notes.txt" in one for one in said), said


SELF_BOUND = {
    "a self-alias": "lr_range_test = lr_range_test\n",
    "globals()": "lr_range_test = globals()['lr_range_test']\n",
    "a conditional def": "if 'lr_range_test' not in dir():\n    def lr_range_test(*args):\n        raise NotImplementedError()\n",
}


@pytest.mark.parametrize("cell", list(SELF_BOUND.values()), ids=list(SELF_BOUND))
def test_an_answer_cell_that_keeps_a_scratch_cells_function_fails(tmp_path, monkeypatch, shells, cell):
    """R23t W1: a scratch cell held the solution, the answer cell as saved and run only kept it: every visible cell
    passed (the checks read the scratch cell), and the grader, which runs no scratch cell, gave 0."""
    chapter, notebook, name = "06_choosing_the_rate", "choosing_the_rate.ipynb", "lr_range_test"
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    assert run(solution_answers(chapter)[name], new_cell=True) is None
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert all(name in one and "answer cell" in one for one in said), said


def test_a_self_alias_of_a_function_answer_fails_in_chapter_4(tmp_path, monkeypatch, shells):
    """R23t W1, chapter 4: `recipe_from_rates = recipe_from_rates` scored 0 in a real grade, passing every cell."""
    chapter, notebook, name = RECIPE
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    assert run(solution_answers(chapter)[name], new_cell=True) is None
    cell = f"{name} = {name}\n"
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests) and all(f"uses {name}," in one for one in said), said


@pytest.mark.parametrize("case", [(RECIPE[0], RECIPE[1], RECIPE[2], RECIPE[2]), PLATEAU], ids=["a function", "a class"])
def test_an_answer_cell_that_imports_its_answer_from_a_module_of_the_folder_fails(tmp_path, monkeypatch, shells, case):
    """R23t W2: `from mywork import recipe_from_rates` passed every visible cell: the checks read mywork.py."""
    chapter, notebook, grade_id, name = case
    module = f"mywork_{grade_id}"  # one a case: the kernel's process imports each once
    (tmp_path / f"{module}.py").write_text("import math\nimport torch\n" + solution_answers(chapter)[grade_id])
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    assert run("import sys\nsys.path.insert(0, '')\n", new_cell=True) is None
    cell = f"from {module} import {name}\n"
    save_answer_cell(tmp_path / notebook, grade_id, cell)
    assert run(cell, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests) and all(f"imports {module}, a module of your folder" in one for one in said), said


def test_the_first_test_cell_fails_a_function_that_reads_a_file_of_the_folder_when_called(
    tmp_path, monkeypatch, shells
):
    """R23t M2: `lr_range_test` reading beta.json only when called passed the first visible cell (its check ran before
    the first call) and the grader stopped every cell with FileNotFoundError; now the first cell fails too."""
    chapter, notebook, name = "06_choosing_the_rate", "choosing_the_rate.ipynb", "lr_range_test"
    (tmp_path / "beta.json").write_text("0.98")
    line = "    saved_model = copy.deepcopy(model.state_dict())\n"
    solved = solution_answers(chapter)[name]
    assert line in solved
    cell = "import json\n\n" + solved.replace(line, line + "    _b = json.load(open('beta.json'))\n", 1)
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is None
    said = failures(run, tests[:1])
    assert len(said) == 1 and "reads beta.json, a file of your folder" in said[0], said
