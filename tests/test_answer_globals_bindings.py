"""Which bindings of a helper the visible checks accept (issue 23, R23u): the kernel's helper is accepted when the
input that bound it last binds it by the same statements as the answer cell the grader takes it from (W1: chapter 3's
class and floor cells, each with the same helper, on Restart & Run All; M2: a helper copied unchanged into a scratch
cell), and not when the answer cell imports it and a scratch cell defines it (W4), nor when a helper's own helper is
fixed in a scratch cell (W2). A real IPython shell runs the chapter's setup, context and visible test cells."""

from __future__ import annotations

import pytest

from support.course import solution_answers
from support.helper_cells import PLATEAU, RANGE, RIGHT, range_test_calling
from support.saved_cells import failures, save_answer_cell, start_reading_kernel

STABLE = ("01_learning_rate", "learning_rate.ipynb", "largest_stable_lr")
REDUCED = "def reduced(rate, factor, min_lr):\n    return max(rate * factor, min_lr)\n\n\n"


def class_and_floor(class_helper: str, floor_helper: str) -> tuple[str, str]:
    """Chapter 3's class and floor solutions, each calling `reduced`, each cell defining its own above it."""
    answers = solution_answers(PLATEAU[0])
    line_p, line_f = (
        "                new_lr = max(old_lr * self.factor, min_lr)\n",
        "        new = max(rate * factor, min_lr)",
    )
    assert line_p in answers[PLATEAU[2]] and line_f in answers["epochs_to_floor"]
    plateau = answers[PLATEAU[2]].replace(line_p, "                new_lr = reduced(old_lr, self.factor, min_lr)\n", 1)
    floor = answers["epochs_to_floor"].replace(line_f, "        new = reduced(rate, factor, min_lr)", 1)
    return class_helper + plateau, floor_helper + floor


def test_run_all_with_the_same_helper_in_two_answer_cells_passes(tmp_path, monkeypatch, shells):
    """R23u W1: the class cell and the floor cell below it each define the same `reduced` (Exercise 3.6 asks for what
    the floor needs inside its cell). On Restart & Run All the class tests run before the floor cell: the kernel's
    `reduced` is the class cell's, the same statement as the floor cell's the grader calls. Every class cell passes
    (each failed before), before and after the floor cell ran."""
    chapter, notebook, grade_id, name = PLATEAU
    plateau, floor = class_and_floor(REDUCED, REDUCED)
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    for given, cell in ((grade_id, plateau), ("epochs_to_floor", floor)):
        save_answer_cell(tmp_path / notebook, given, cell)
    assert run(plateau, new_cell=True) is None
    assert failures(run, tests) == []
    assert run(floor, new_cell=True) is None
    assert failures(run, tests) == []


def test_a_different_helper_in_an_answer_cell_below_not_yet_run_is_named(tmp_path, monkeypatch, shells):
    """Where the floor cell's `reduced` is written differently and that cell has not run, the message says so, and
    what to do, rather than blaming a scratch cell or an edit; once it ran, the class cells pass."""
    chapter, notebook, grade_id, name = PLATEAU
    other = REDUCED.replace("max(rate * factor, min_lr)", "max(min_lr, rate * factor)")
    plateau, floor = class_and_floor(REDUCED, other)
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    for given, cell in ((grade_id, plateau), ("epochs_to_floor", floor)):
        save_answer_cell(tmp_path / notebook, given, cell)
    assert run(plateau, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    below = f"{name} uses reduced, and the answer cell of epochs_to_floor, below, defines reduced again"
    assert all(below in one and "has not run in this kernel" in one for one in said), said
    assert run(floor, new_cell=True) is None
    assert failures(run, tests) == []


def test_a_helper_copied_unchanged_into_a_scratch_cell_passes(tmp_path, monkeypatch, shells):
    """R23u M2: the answer cell's `set_rates` run again, unchanged, in a scratch cell is the function the grader calls;
    every cell passes (each failed before). Written differently it still fails (tests/test_answer_globals.py)."""
    chapter, notebook, name = RANGE
    cell = range_test_calling(RIGHT)
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is None
    assert run("# a copy to try things\n" + RIGHT, new_cell=True) is None
    assert failures(run, tests) == []


def test_an_imported_helper_defined_in_a_scratch_cell_fails(tmp_path, monkeypatch, shells):
    """R23u W4: the answer cell binds `ratio` by `from operator import sub as ratio` (the bug); a scratch `def ratio`
    fixed it, and every visible cell passed while the grade was 0/3. An import of the same thing passes."""
    chapter, notebook, name = STABLE
    solved = solution_answers(chapter)[name]
    line = "factor = w1 / w0"
    assert line in solved
    cell = "from operator import sub as ratio\n\n" + solved.replace(line, line.replace("w1 / w0", "ratio(w1, w0)"))
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is None
    assert run("def ratio(a, b):\n    return a / b\n", new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests) == 2, said
    assert all(f"{name} uses ratio, which the answer cell of {name}" in one for one in said), said
    assert run("from operator import truediv as ratio\n", new_cell=True) is None
    assert len(failures(run, tests)) == 2
    assert run("from operator import sub as ratio\n", new_cell=True) is None
    assert all("uses ratio" not in one for one in failures(run, tests))


def test_a_helpers_helper_fixed_in_a_scratch_cell_fails(tmp_path, monkeypatch, shells):
    """R23u W2: `set_rates` calls `scale`, saved buggy (`return lr`) in the answer cell and fixed in a scratch cell:
    every visible cell passed, the grade lost 2 points. The helpers the answer's helpers read are checked too."""
    chapter, notebook, name = RANGE
    scale = "def scale(lr, ratio):\n    return lr\n\n\n"
    helper = scale + RIGHT.replace("= lr * ratio", "= scale(lr, ratio)")
    cell = range_test_calling(helper)
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is None
    assert run(scale.replace("return lr", "return lr * ratio"), new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert all(f"{name} uses scale, which the answer cell of {name}" in one for one in said), said


def test_a_method_set_on_the_class_from_a_scratch_cell_fails(tmp_path, monkeypatch, shells):
    """R23u W3: the saved class leaves out `self.cooldown_counter = self.cooldown` (the cooldown cell fails on it
    alone); a scratch cell set the solution's `step` on it and every visible cell passed, the grade lost the cooldown
    point. Each of the class's functions must come from its saved cell, not only the first."""
    chapter, notebook, grade_id, name = PLATEAU
    solved = solution_answers(chapter)[grade_id]
    line = "            self.cooldown_counter = self.cooldown\n"
    assert line in solved and f"class {name}" in solved
    cell = solved.replace(line, "", 1)
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, grade_id, cell)
    assert run(cell, new_cell=True) is None
    assert len(failures(run, tests)) == 1
    fixed = solved.replace(f"class {name}", "class _Fixed", 1) + f"\n{name}.step = _Fixed.step\n"
    assert run(fixed, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert all(f"The step of {name} in this kernel (_Fixed.step) was defined by a cell" in one for one in said), said


def test_a_context_function_rebound_in_a_scratch_cell_is_named(tmp_path, monkeypatch, shells):
    """R23u M1: the chapter's `loss_fn` rebound in a scratch cell (a learner trying another loss) failed an honest
    `lr_range_test` with a message blaming its smoothing; the grader uses the chapter's `loss_fn`. The message now
    names `loss_fn` and what to run."""
    chapter, notebook, name = RANGE
    cell = solution_answers(chapter)[name]
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is None
    assert failures(run, tests) == []
    assert run("loss_fn = lambda out, y: 0.0 * out.sum()\n", new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert all(f"{name} uses loss_fn, and the loss_fn in this kernel is not the chapter's" in one for one in said)


def test_a_helper_bound_through_global_is_said_so(tmp_path, monkeypatch, shells):
    """R23u N3: a helper the cell binds only inside a function it calls (`global WORST`) is refused as read from
    outside (that function may not have run), and the message no longer says the cell does not define it."""
    chapter, notebook, name = STABLE
    solved = solution_answers(chapter)[name]
    assert "return 2.0 * (1 + momentum) / max(curvatures)" in solved
    body = solved.replace(
        "return 2.0 * (1 + momentum) / max(curvatures)", "return 2.0 * (1 + momentum) / WORST(curvatures)"
    )
    cell = "def _setup():\n    global WORST\n    WORST = max\n\n\n_setup()\n\n\n" + body
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests) == 2, said
    assert all("uses WORST, which that cell binds only in a function, through `global`" in one for one in said), said


@pytest.mark.parametrize(
    "wrapping",
    [
        "def logged(function):\n    def inner(*args):\n        return function(*args)\n    return inner\n\n\n"
        "largest_stable_lr = logged(largest_stable_lr)\n",
        "import functools\n\nlargest_stable_lr = functools.partial(largest_stable_lr)\n",
    ],
)
def test_a_helper_behind_a_wrapper_without_wrapped_is_checked(tmp_path, monkeypatch, shells, wrapping):
    """R23u W6: the answer wrapped by a closure that keeps no `__wrapped__`, or by `functools.partial`, hid its helper
    `ratio` (saved as `a - b`, fixed in a scratch cell): every visible cell passed. The wrapped function is followed."""
    chapter, notebook, name = STABLE
    solved = solution_answers(chapter)[name]
    line = "factor = w1 / w0"
    assert line in solved
    helper = "def ratio(a, b):\n    return a - b\n\n\n"
    cell = helper + solved.replace(line, line.replace("w1 / w0", "ratio(w1, w0)")) + "\n\n" + wrapping
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is None
    assert run("def ratio(a, b):\n    return a / b\n", new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests) == 2, said
    assert all(f"{name} uses ratio, which the answer cell of {name}" in one for one in said), said


def test_data_a_helper_reads_changed_in_place_in_a_scratch_cell_fails(tmp_path, monkeypatch, shells):
    """R23u W5: the answer cell binds `SETTINGS = {"numerator": 1.0}` (the bug) and the answer returns
    `SETTINGS["numerator"] / max(curvatures)`; a scratch cell's `SETTINGS["numerator"] = 2.0` fixed it, every visible
    cell passed and the grade was 0/3."""
    chapter, notebook, name = STABLE
    solved = solution_answers(chapter)[name]
    assert "return 2.0 * (1 + momentum) / max(curvatures)" in solved
    body = solved.replace(
        "return 2.0 * (1 + momentum) / max(curvatures)",
        'return SETTINGS["numerator"] * (1 + momentum) / max(curvatures)',
    )
    cell = 'SETTINGS = {"numerator": 1.0}\n\n\n' + body
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is None
    assert run('SETTINGS["numerator"] = 2.0\n', new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests) == 2, said
    assert all("uses SETTINGS, which the answer cell of" in one and "changed SETTINGS in place" in one for one in said)


@pytest.mark.parametrize(
    "saved, scratch",
    [  # R23v W4: a module's attribute set since; R23v M1: a log the answer itself appends to, cleared since
        ("import torch\n\n\n", "torch.backends.cudnn.deterministic = True\n"),
        ("LOG = []\n\n\n", "print(len(LOG))\nLOG.clear()\n"),
    ],
)
def test_what_the_answer_does_not_read_as_data_changed_since_passes(tmp_path, monkeypatch, shells, saved, scratch):
    chapter, notebook, name = STABLE
    solved = solution_answers(chapter)[name]
    assert "return 2.0 * (1 + momentum) / max(curvatures)" in solved
    body = (
        "return float(torch.tensor(2.0) * (1 + momentum) / max(curvatures))"
        if "torch" in saved
        else "return 2.0 * (1 + momentum) / max(curvatures)"
    )
    if "LOG" in saved:
        body = "LOG.append(list(curvatures))\n    " + body
    cell = saved + solved.replace("return 2.0 * (1 + momentum) / max(curvatures)", body)
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is None
    assert run(scratch, new_cell=True) is None
    assert failures(run, tests) == []
