"""A function or class answer calls the globals its saved answer cells give, as the grader does (issue 23, R23t W4): a
helper the answer cell defines, defined again in a scratch cell run after it, was what every visible check called,
while the grader, running the answer cells as saved, called the answer cell's own. A real IPython shell runs the
chapter's setup, context and visible test cells."""

from __future__ import annotations

from support.course import solution_answers
from support.helper_cells import PLATEAU, RANGE, RIGHT, range_test_calling
from support.saved_cells import failures, save_answer_cell, start_reading_kernel

BUGGY = "def set_rates(optimizer, lr, ratios):\n    for group in optimizer.param_groups:\n        group['lr'] = lr\n"


def test_a_helper_of_the_answer_cell_fixed_in_a_scratch_cell_fails_every_visible_cell(tmp_path, monkeypatch, shells):
    """R23t W4: the buggy `set_rates` saved above `lr_range_test`, fixed in a scratch cell run after it, passed every
    visible cell; the grader calls the saved one (it fails the groups check run alone, the control below)."""
    chapter, notebook, name = RANGE
    cell = range_test_calling(BUGGY)
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is None
    assert run(RIGHT, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert all(f"{name} uses set_rates, which the answer cell of {name}" in one for one in said), said


def test_the_saved_helper_alone_is_what_the_checks_call(tmp_path, monkeypatch, shells):
    """The control: without the scratch fix the groups check fails on the saved, buggy `set_rates`."""
    chapter, notebook, name = RANGE
    cell = range_test_calling(BUGGY)
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == 1 and "Every group keeps its ratio" in said[0], said


def test_an_honest_helper_passes_whatever_scratch_cells_rebind_after_it(tmp_path, monkeypatch, shells):
    """What passes: a module imported again in a scratch cell (the same module wherever imported), a name the answer
    reads only as an attribute (`optimizer.param_groups`) bound in a scratch cell, and a self-test after the `def`s
    that raises (the helper was bound before the error)."""
    chapter, notebook, name = RANGE
    cell = (
        "import copy\nimport math\n\n" + range_test_calling(RIGHT) + "\nparam_groups = []\nassert False, 'self-test'\n"
    )
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, name, cell)
    assert isinstance(run(cell, new_cell=True), AssertionError)
    assert run("import copy\nimport math\nparam_groups = 1\n", new_cell=True) is None
    assert failures(run, tests) == []


def test_a_method_reading_a_helper_fixed_in_a_scratch_cell_fails(tmp_path, monkeypatch, shells):
    """The same for a class answer: `MyReduceLROnPlateau.__init__` calls its cell's `checked_factor`, defined again,
    differently, in a scratch cell."""
    chapter, notebook, grade_id, name = PLATEAU
    solved = solution_answers(chapter)[grade_id]
    line = "        self.mode, self.factor, self.patience = mode, factor, patience\n"
    assert line in solved
    helper = "def checked_factor(factor):\n    return factor\n\n\n"
    cell = helper + solved.replace(line, line + "        self.factor = checked_factor(factor)\n", 1)
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, grade_id, cell)
    assert run(cell, new_cell=True) is None
    assert failures(run, tests) == []
    assert run(helper.replace("return factor", "return float(factor)"), new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests) and all(f"{name} uses checked_factor" in one for one in said), said


def test_a_helper_of_an_answer_cell_above_fixed_in_a_scratch_cell_fails(tmp_path, monkeypatch, shells):
    """`epochs_to_floor` calls `reduced`, which the answer cell of `my_reduce_lr_on_plateau` above it defines: the
    grader runs that cell first, in the same process, so a scratch cell's `reduced`, written differently, is not what it
    calls."""
    chapter, notebook, grade_id, _ = PLATEAU
    name = "epochs_to_floor"
    answers = solution_answers(chapter)
    helper = "def reduced(rate, factor, min_lr):\n    return max(rate * factor, min_lr)\n"
    line = "        new = max(rate * factor, min_lr)"
    assert line in answers[name]
    floor = answers[name].replace(line, "        new = reduced(rate, factor, min_lr)", 1)
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    for given, cell in ((grade_id, answers[grade_id] + "\n\n" + helper), (name, floor)):
        save_answer_cell(tmp_path / notebook, given, cell)
        assert run(cell, new_cell=True) is None
    assert failures(run, tests) == []
    assert run(helper.replace("max(rate * factor, min_lr)", "max(min_lr, rate * factor)"), new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert all(f"{name} uses reduced, which the answer cell of {grade_id} defines" in one for one in said), said


def test_a_helper_below_an_error_of_the_answer_cell_fails(tmp_path, monkeypatch, shells):
    """The answer cell as saved stopped with an error after its `def lr_range_test` and before its `set_rates`: the
    kernel's `set_rates` is an earlier cell's, and the grader's run of that cell stops there too."""
    chapter, notebook, name = RANGE
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    assert run(BUGGY, new_cell=True) is None
    cell = range_test_calling("") + "\n\n1 / 0\n\n\n" + RIGHT
    save_answer_cell(tmp_path / notebook, name, cell)
    assert isinstance(run(cell, new_cell=True), ZeroDivisionError)
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert all(f"{name} uses set_rates, which the answer cell of {name}" in one for one in said), said


def test_a_helper_named_as_a_test_cells_name_is_named(tmp_path, monkeypatch, shells):
    """Chapter 1's test cells bind names at their top level (`rate`): a helper of that name in the answer cell is the
    test cell's in the kernel once a test cell ran (a TypeError in the next cell, before), and the answer's own in the
    grader, whose test cells run apart from the answer. The check says so where it happens."""
    chapter, notebook, name = "01_learning_rate", "learning_rate.ipynb", "rate_for_noise_floor"
    solved = solution_answers(chapter)[name]
    line = "    return 4 * target / (noise_squared + 2 * curvature * target)\n"
    assert line in solved
    helper = "def rate(target, curvature, noise_squared):\n    return 4 * target / (noise_squared + 2 * curvature * target)\n"
    cell = helper + "\n\n" + solved.replace(line, "    return rate(target, curvature, noise_squared)\n", 1)
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, name, cell)
    assert run(cell, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert all(f"{name} uses rate, which the answer cell of {name}" in one for one in said), said
    assert all("a test cell included, with a rate of its own: then give yours another name" in one for one in said), (
        said
    )


def test_a_helper_an_answer_cell_below_defines_again_is_the_one_both_call(tmp_path, monkeypatch, shells):
    """The grader runs every answer cell, in order, before any test cell: a helper the answer cell below defines again
    is the one the class calls there, as here when the cells ran in order. Both exercises pass; a scratch cell's
    `checked_factor` after them still fails the class, naming the cell below as the one that gives it."""
    chapter, notebook, grade_id, name = PLATEAU
    answers = solution_answers(chapter)
    line = "        self.mode, self.factor, self.patience = mode, factor, patience\n"
    assert line in answers[grade_id]
    plateau = "def checked_factor(factor):\n    return factor\n\n\n"
    plateau += answers[grade_id].replace(line, line + "        self.factor = checked_factor(factor)\n", 1)
    floor = "def checked_factor(factor):\n    return float(factor)\n\n\n" + answers["epochs_to_floor"]
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    for given, cell in ((grade_id, plateau), ("epochs_to_floor", floor)):
        save_answer_cell(tmp_path / notebook, given, cell)
        assert run(cell, new_cell=True) is None
    assert failures(run, tests) == []
    assert run("def checked_factor(factor):\n    return factor\n", new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert all(f"{name} uses checked_factor, which the answer cell of epochs_to_floor" in one for one in said), said


def test_a_constant_a_test_cell_binds_too_passes(tmp_path, monkeypatch, shells):
    """Chapter 3's test cell binds `nan, inf = float("nan"), float("inf")`: a class whose cell binds `inf` the same
    way, read in `__init__`, reads the test cell's inf in the kernel once that cell ran, a value like its own, and its
    own in the grader. Plain data a test cell bound is not refused (a function or class a test cell bound is: the
    helper `rate` above)."""
    chapter, notebook, grade_id, name = PLATEAU
    solved = solution_answers(chapter)[grade_id]
    line = '        self.best = math.inf if mode == "min" else -math.inf\n'
    assert line in solved
    cell = "inf = float('inf')\n\n\n" + solved.replace(line, '        self.best = inf if mode == "min" else -inf\n', 1)
    run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, name)
    save_answer_cell(tmp_path / notebook, grade_id, cell)
    assert run(cell, new_cell=True) is None
    assert any('inf = float("nan"), float("inf")' in test for test in tests)
    assert failures(run, tests) == []
