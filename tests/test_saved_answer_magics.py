"""A magic in the answer cell is refused only where it changes what the grader gets (R23n M1): the grader's answer
process makes every magic a no-op (`answer_zygote`), so `%load_ext autoreload` above the answer or `%time f()` after
it costs the grade nothing and passes in the kernel, while `%%time` over the answer, `g = %time f()` read by the
answer, or `%time x = ...` rebinding it (R23s, R23h) still fail there. A real IPython shell for the kernel's side, the
grader's own answer process for the grade's."""

from __future__ import annotations

import pytest

from lrcourse import checking
from lrcourse.checking.saved_answer import as_python, grade_changing_magics

from catalogue import step_lr_reading
from support.answer_process import graders_namespace
from support.saved_cells import failures, save_answer_cell, start_reading_kernel

ANSWER = step_lr_reading.ANSWER
RIGHT = {"step_size": 5, "gamma": 0.7, "hand_set_rate": 0.25}
HARMLESS = {
    "an extension loaded above": "%load_ext autoreload\n" + ANSWER,
    "a timing after": ANSWER + "%time sum(range(10))\n",
    "a backend above": "%matplotlib inline\n" + ANSWER,
    "a shell command above": "!echo reading the log\n" + ANSWER,
    "a timing in a loop above": "for _ in range(2):\n    %time sum(range(10))\n" + ANSWER,
    "a timing that prints the answer after": ANSWER + "%time print(inferred_step_lr)\n",
    "a shell output bound after": ANSWER + "files = !ls\n",
    "R23o's honest cells": (
        "%load_ext autoreload\n%autoreload 2\n%config InlineBackend.figure_format = 'retina'\n%precision 3\n%cd .\n"
        "%alias_magic t timeit\n%xmode Minimal\n" + ANSWER + "inferred_step_lr?\n%whos\n%timeit -n1 -r1 sum(range(5))\n"
        "%env\n%store inferred_step_lr\n%history -l 1\n!echo done\n"
    ),
}
WRONG = ANSWER.replace("0.7", "0.5")
FROM_ENV = (
    'import os\ninferred_step_lr = {"step_size": 5, "gamma": float(os.environ["GAMMA"]), "hand_set_rate": 0.25}\n'
)
FROM_FILE = 'inferred_step_lr = {"step_size": 5, "gamma": float(open("g.txt").read()), "hand_set_rate": 0.25}\n'
UNSEEN = {  # R23o W1: each passed every visible cell, and the grade differed from the kernel's answer
    "%run after a wrong answer": (WRONG + "%run fix.py\n", "%run"),
    "%run -i after a wrong answer": (WRONG + "%run -i fix.py\n", "%run"),
    "%store -r after a wrong answer": (WRONG + "%store -r inferred_step_lr\n", "%store"),
    "%rerun after a wrong answer": (WRONG + "%rerun -g inferred_step_lr = {\n", "%rerun"),
    "%env NAME value before the answer reading it": ("%env GAMMA 0.7\n" + FROM_ENV, "%env"),
    "%set_env before the answer reading it": ("%set_env GAMMA 0.7\n" + FROM_ENV, "%set_env"),
    "a shell command writing the file the answer reads": ("!echo 0.7 > g.txt\n" + FROM_FILE, "!"),
    "an alias writing the file the answer reads": (
        "%alias setg echo 0.7 > g.txt\n%setg\n" + FROM_FILE,
        "%alias, %setg",
    ),
}
CHANGING = {  # what the grade gets differs from the kernel's
    "%%time over the answer": ("%%time\n" + ANSWER, "%%time"),
    "a magic's value read by the answer": (
        'g = %time 0.7\ninferred_step_lr = {"step_size": 5, "gamma": g, "hand_set_rate": 0.25}\n',
        "%time",
    ),
    "the answer rebound by a magic after": (
        ANSWER + '%time inferred_step_lr = {"step_size": 5, "gamma": 0.5, "hand_set_rate": 0.25}\n',
        "%time",
    ),
    "the answer changed by a magic after": (ANSWER + "%time inferred_step_lr.update(gamma=0.5)\n", "%time"),
    "a name bound by a magic before": ("g = 0.5\n%time g = 0.7\n" + ANSWER.replace("0.7", "g"), "%time"),
    "a shell output bound before": ("files = !ls\n" + ANSWER, "!"),
    "options before the code that binds": ("%prun -q " + ANSWER, "%prun"),  # R23o N2
    **UNSEEN,
}


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    yield start_reading_kernel(
        tmp_path, monkeypatch, "02_ordered_schedules", "ordered_schedules.ipynb", "inferred_step_lr"
    )
    InteractiveShell.clear_instance()


@pytest.mark.parametrize("cell", HARMLESS.values(), ids=HARMLESS)
def test_a_magic_the_grade_does_not_feel_is_not_refused(cell):
    assert grade_changing_magics(as_python(cell), "inferred_step_lr") == []


@pytest.mark.parametrize("cell, magic", CHANGING.values(), ids=CHANGING)
def test_a_magic_that_changes_the_graded_answer_is_named(cell, magic):
    assert grade_changing_magics(as_python(cell), "inferred_step_lr") == magic.split(", ")


def test_a_magic_above_or_after_the_answer_passes_in_the_kernel_as_it_scores_in_the_grade(kernel):
    """R23n M1: `%load_ext autoreload` above the answer, or `%time ...` after it, failed every visible cell ("Remove
    the magics") though the grader binds the answer whole (3/3)."""
    run, tests = kernel
    for cell in (HARMLESS["an extension loaded above"], HARMLESS["a timing after"]):
        assert graders_namespace(cell)["inferred_step_lr"] == RIGHT
        assert run(cell) is None  # run and saved in the answer cell
        assert failures(run, tests) == [], cell


def test_a_magic_that_changes_the_graded_answer_still_fails_in_the_kernel(kernel):
    """The magics that do cost the grade fail every visible cell, naming the magic."""
    run, tests = kernel
    cell, magic = CHANGING["the answer rebound by a magic after"]
    assert graders_namespace(cell)["inferred_step_lr"]["gamma"] == 0.7  # the kernel's is 0.5
    assert run(cell) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert f"uses an IPython magic ({magic}) that changes, or may change, what the grader gets of" in said[0]


def test_a_magic_whose_text_does_not_show_its_effect_fails_every_visible_cell(kernel, tmp_path):
    """R23o W1: `%run`, `%store -r`, `%rerun`, `%env NAME value`, `!cmd > file` and an alias were read as binding
    nothing (their text is no Python assignment): every visible cell passed, and the grade, where each does nothing,
    differed (2/3 or 0/3). Only a few magics known to bind nothing pass now; each of these fails, naming its magic and
    saying to run it in a scratch cell."""
    run, tests = kernel
    (tmp_path / "fix.py").write_text(f"inferred_step_lr = {RIGHT!r}\n")
    for cell, magic in UNSEEN.values():
        if magic == "%store":  # a real %store writes the profile's database: saved, and what it restores run
            save_answer_cell(tmp_path / "ordered_schedules.ipynb", "inferred_step_lr", cell)
            assert run(ANSWER, new_cell=True) is None
        else:
            assert run(cell) is None, cell  # run and saved in the answer cell
        if magic != "%rerun":  # which cell it reruns depends on the history (R23o's kernel's: the right answer)
            assert run(f"assert inferred_step_lr == {RIGHT!r}", new_cell=True) is None  # the kernel's answer: right
        said = failures(run, tests)
        assert len(said) == len(tests), (cell, said)
        assert f"uses an IPython magic ({magic}) that changes, or may change," in said[0], said[0]
        assert "run it in a scratch cell" in said[0] and ("%%time" in said[0]) == ("%time" in magic), said[0]


def test_a_function_answer_under_a_harmless_magic_passes():
    """The function answers' check reads the same rule: `%load_ext autoreload` above `def recipe_from_rates` passes."""
    from IPython.core.interactiveshell import InteractiveShell

    cell = (
        "%load_ext autoreload\n"
        "def recipe_from_rates(rates):\n"
        '    return {"lr": 0.1, "warmup_epochs": 1, "start_factor": 0.5, "step_size": 2, "gamma": 0.5}\n'
    )
    assert "recipe_from_rates" in graders_namespace(cell)
    recipe = {"lr": 0.1, "warmup": 1, "start_factor": 0.5, "step_size": 2, "gamma": 0.5}
    shell = InteractiveShell.instance()
    try:
        assert shell.run_cell(cell, store_history=True).error_in_exec is None
        checking.check_recipe(shell.user_ns["recipe_from_rates"], **recipe)
    finally:
        InteractiveShell.clear_instance()


@pytest.mark.parametrize("magic", ["%prun -q", "%prun -l 3 -q", "%timeit -n 1 -r 1", "%time"])
def test_a_line_magic_with_options_over_the_answer_is_named_in_the_kernel(kernel, tmp_path, magic):
    """R23o N2, in a real shell: the answer saved under a line magic with options (`%prun -q inferred_step_lr = ...`)
    fails every visible cell naming the magic, not "does not assign" (its options are read past)."""
    run, tests = kernel
    assert run(ANSWER, new_cell=True) is None  # an earlier run: the kernel has the answer
    cell = f"{magic} {ANSWER}"
    save_answer_cell(tmp_path / "ordered_schedules.ipynb", "inferred_step_lr", cell)
    assert run(cell, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert f"uses an IPython magic ({magic.split()[0]}) that changes" in said[0], said[0]


# R23p N1: a code magic whose code binds what its text does not show (exec of the right source after a wrong answer)
RIGHT_SOURCE = repr(ANSWER)
HIDDEN = {
    "%time exec(RIGHT) after a wrong answer": (f"RIGHT = {RIGHT_SOURCE}\n{WRONG}%time exec(RIGHT)\n", "exec"),
    "%timeit of eval": (WRONG + "%timeit -n 1 -r 1 eval(compile(RIGHT, 'r', 'exec'))\n", "eval, compile"),
    "%prun of globals()": (WRONG + '%prun -q globals().update(inferred_step_lr={"gamma": 0.7})\n', "globals"),
    "%time setattr": (
        WRONG + "import __main__\n%time setattr(__main__, 'inferred_step_lr', None)\n",
        "setattr, __main__",
    ),
    "%time get_ipython": (WRONG + "%time get_ipython().run_cell(RIGHT)\n", "get_ipython"),
    "%time __import__": (WRONG + "%time __import__('builtins').exec(RIGHT)\n", "__import__, exec"),
    "%time vars": (WRONG + "%time vars()['inferred_step_lr'] = {}\n", "vars"),
    "%%time over exec": ("%%time\n" + WRONG + "exec(RIGHT)\n", "exec"),
    "%time of a function of the cell that calls exec": (
        WRONG + "def fix():\n    exec(RIGHT, globals())\n%time fix()\n",
        "fix",
    ),
}


@pytest.mark.parametrize("cell, names", HIDDEN.values(), ids=HIDDEN)
def test_a_code_magic_that_binds_unseen_is_named(cell, names):
    from lrcourse.checking.saved_answer import expect_no_magic

    magic = "%%time" if cell.startswith("%%") else cell.split("\n")[-2].split()[0]
    assert grade_changing_magics(as_python(cell), "inferred_step_lr") == [magic]
    with pytest.raises(checking.CheckFailed) as said:
        expect_no_magic(as_python(cell), "inferred_step_lr")
    assert f"uses an IPython magic ({magic})" in str(said.value)
    used = str(said.value).split("the magic's code uses ", 1)[1].split(", which can bind what its text does not show")
    assert len(used) == 2 and set(used[0].split(", ")) == set(names.split(", ")), str(said.value)


def test_a_timing_after_the_answer_of_an_honest_function_passes():
    """Honest timings after the answer are not refused: of the answer itself, of a function using getattr, of sum."""
    cell = (
        "import sys\ndef largest_stable_lr(lr, path):\n    return 2.0 * getattr(sys, 'maxsize') / sys.maxsize\n"
        "%time largest_stable_lr(0.1, [[1.0], [0.6]])\n%timeit -n 1 -r 1 sum(range(5))\n"
    )
    assert grade_changing_magics(as_python(cell), "largest_stable_lr") == []


def test_time_exec_of_the_right_def_after_a_wrong_one_fails_every_visible_cell(tmp_path, monkeypatch):
    """R23p N1, in a real shell on chapter 1: the answer cell holds the right source as a string, a wrong `def`, then
    `%time exec(RIGHT)`: the kernel has the right function, the grader (where %time does nothing) the wrong one. Every
    visible cell passed; now each fails naming %time and exec. The right `def` alone passes."""
    from IPython.core.interactiveshell import InteractiveShell

    from support.course import solution_answers

    chapter, variable = "01_learning_rate", "largest_stable_lr"
    right = solution_answers(chapter)[variable]
    wrong = right.replace("2.0 * (1 + momentum)", "1.0 * (1 + momentum)")
    assert wrong != right
    cell = f"RIGHT = {right!r}\n{wrong}\n%time exec(RIGHT)\n"
    try:
        run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, "learning_rate.ipynb", variable)
        save_answer_cell(tmp_path / "learning_rate.ipynb", variable, cell)
        assert run(cell, new_cell=True) is None
        right_in_kernel = "assert largest_stable_lr(0.1, [[1.0], [0.5], [0.25]]) == 0.4"  # the kernel's: right
        assert run(right_in_kernel, new_cell=True) is None
        said = failures(run, tests)
        assert len(said) == len(tests) == 2, said
        assert "uses an IPython magic (%time)" in said[0] and "the magic's code uses exec" in said[0], said[0]
        save_answer_cell(tmp_path / "learning_rate.ipynb", variable, right)
        assert run(right, new_cell=True) is None
        assert failures(run, tests) == []
    finally:
        InteractiveShell.clear_instance()
