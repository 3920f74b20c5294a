"""A reading exercise's answer cell that runs PyTorch's schedulers before its answer is bound, flagged in the notebook
(issue 23, R23b M1): the cell is graded without torch.optim.lr_scheduler, so such an answer scored 0 while every test
cell in the notebook stayed green. A replay in a scratch cell, or after the answer in its cell, is not flagged: the
grade keeps those answers' points (the catalogue's `*_replayed_*` answers). A real IPython shell, as in a learner's
kernel, running the chapter's own setup and test cells."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
import torch.optim.lr_scheduler
import torch.optim.swa_utils

from lrcourse.checking.answer_cell_schedulers import SCHEDULER_NAMES, schedulers_named

import catalogue as catalogue_answers
from catalogue import plateau_reading, step_lr_reading
from support.paths import ROOT
from support.saved_cells import failures, save_answer_cell, start_reading_kernel

READINGS = {  # chapter: (its notebook, the answer's name, the catalogue module with its REPLAY and ANSWER)
    "02_ordered_schedules": ("ordered_schedules.ipynb", "inferred_step_lr", step_lr_reading),
    "03_adaptive_schedules": ("adaptive_schedules.ipynb", "inferred_plateau_arguments", plateau_reading),
}
LOOPS_READING = ("adaptive_schedules.ipynb", "diagnosed_loops", None)  # Exercise 3.4(b), R23d W1


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """`start(chapter)`: a real IPython shell in a folder holding the chapter's released notebook, its setup and
    context cells run; returns `run(cell, new_cell=False)` (kept in the history, `In`, as the kernel keeps it; a cell
    that assigns the answer is typed in the answer cell and saved, unless `new_cell`: `support.saved_cells`) and the
    chapter's visible test cells of the reading exercise."""
    from IPython.core.interactiveshell import InteractiveShell

    def start(chapter, reading=None):
        name, variable, _ = reading or READINGS[chapter]
        return start_reading_kernel(tmp_path, monkeypatch, chapter, name, variable)

    yield start
    InteractiveShell.clear_instance()


@pytest.mark.parametrize("chapter", READINGS)
def test_a_replay_before_the_answer_in_its_cell_fails_the_visible_tests_with_the_reason(kernel, chapter):
    _, variable, catalogue = READINGS[chapter]
    run, tests = kernel(chapter)
    assert run(catalogue.REPLAY + catalogue.ANSWER) is None  # the kernel has PyTorch's schedulers: no error there
    said = failures(run, tests)
    assert len(said) == len(tests), said  # every test cell of the exercise: the grade loses them all
    assert f"The cell that last assigned {variable} uses PyTorch's schedulers" in said[0]
    assert "graded without torch.optim.lr_scheduler" in said[0] and "separate scratch cell" in said[0]
    for value in ("0.4,", "0.7,", "0.25", "0.03"):  # the answer's values are not in it
        assert value not in said[0], said[0]


@pytest.mark.parametrize("chapter", READINGS)
def test_a_replay_elsewhere_or_after_the_answer_passes(kernel, chapter):
    _, variable, catalogue = READINGS[chapter]
    run, tests = kernel(chapter)
    assert run(catalogue.ANSWER) is None
    assert run(catalogue.REPLAY) is None  # a scratch cell below the answer
    assert failures(run, tests) == []
    assert run(catalogue.REPLAY) is None  # a scratch cell above the answer
    assert run(catalogue.ANSWER) is None
    assert failures(run, tests) == []
    assert run(catalogue.ANSWER + catalogue.REPLAY) is None  # after the answer in its cell: graded in full
    assert failures(run, tests) == []


def test_the_names_read_are_uses_before_the_answer_and_an_alias_is_found_by_its_value():
    alias = {"Plateau": torch.optim.lr_scheduler.ReduceLROnPlateau, "sched_module": torch.optim.lr_scheduler}
    answer = "x = 1\n"
    assert schedulers_named("from torch.optim.lr_scheduler import StepLR\n" + answer, "x", {}) == []  # import only
    assert schedulers_named("s = torch.optim.lr_scheduler.StepLR(o, 5)\n" + answer, "x", {}) == [
        "StepLR",
        "lr_scheduler",
    ]
    assert schedulers_named("def f(o):\n    return Plateau(o)\nf(o)\n" + answer, "x", alias) == ["Plateau"]
    assert schedulers_named("s = sched_module.LinearLR\n" + answer, "x", alias) == ["LinearLR", "sched_module"]
    assert schedulers_named(answer + "s = StepLR(o, 5)\n", "x", {}) == []  # after the answer: the grade keeps it
    assert schedulers_named('x = {"StepLR": 1}  # StepLR\n', "x", {}) == []  # a string and a comment are no use
    assert schedulers_named("x = (\n", "x", {}) == []  # a syntax error is another check's to report


def test_every_scheduler_of_the_pinned_torch_is_a_name_read():
    """Held to torch's own list: a scheduler the pinned torch adds is flagged too."""
    public = {
        name
        for module in (torch.optim.lr_scheduler, torch.optim.swa_utils)
        for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, torch.optim.lr_scheduler.LRScheduler)
    }
    assert "ReduceLROnPlateau" in public and "SWALR" in public
    assert public - SCHEDULER_NAMES == set()


def test_the_four_loops_replayed_in_their_answer_cell_fail_the_visible_tests_and_pass_in_a_scratch_cell(kernel):
    """R23d W1: Exercise 3.4(b)'s test cells did not read the answer cell: a replay of the four loops there passed
    every visible test and scored 0 / 4 graded."""
    run, tests = kernel("03_adaptive_schedules", LOOPS_READING)
    assert run(plateau_reading.LOOPS_REPLAY) is None
    said = failures(run, tests)
    assert len(said) == len(tests) == 4, said
    assert "The cell that last assigned diagnosed_loops uses PyTorch's schedulers (ReduceLROnPlateau)" in said[0]
    answer = 'diagnosed_loops = {"A": "training loss", "B": "one epoch late", "C": "accuracy", "D": "correct"}\n'
    assert run(answer) is None  # the replay above it, in a scratch cell
    assert failures(run, tests) == []


@pytest.mark.parametrize(
    "completed",
    ['x["gamma"] = 0.5\n', "x.update(gamma=0.5)\n", "x.setdefault('gamma', 0.5)\n", "x.gamma = 0.5\n"]
    + ['x["steps"][0] += 1\n', "del x['spare']\n"],
)
def test_an_answer_completed_in_place_after_the_replay_is_cut_after_that_statement(completed):
    """R23d M1: the answer bound first, a replay, then an item stored or a mutating method called on it: graded, the
    replay raises before the answer is whole (1 / 3 in chapter 2); read only to its name's binding it passed."""
    cell = 'x = {"step_size": 5}\ns = StepLR(o, 5)\n' + completed
    assert schedulers_named(cell, "x", {}) == ["StepLR"]
    assert schedulers_named(cell + "t = StepLR(o, 5)\n", "x", {}) == ["StepLR"]  # the last change is the cut
    assert schedulers_named('x = {"step_size": 5}\nprint(x.get("gamma"))\ns = StepLR(o, 5)\n', "x", {}) == []


def test_a_name_the_cell_binds_itself_is_not_read_off_the_kernels_object_of_that_name():
    """R23d N1: chapter 3's section 3.1 leaves a ReduceLROnPlateau named `scheduler` in the kernel; an answer cell
    whose own function takes a parameter of that name, or binds it, is no replay."""
    kernel_names = {
        "scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau.__new__(torch.optim.lr_scheduler.ReduceLROnPlateau)
    }
    own = "def drop(scheduler):\n    return scheduler\nx = drop(0.4)\n"
    assert schedulers_named(own, "x", kernel_names) == []
    assert schedulers_named("scheduler = 0.4\nx = scheduler * 2\n", "x", kernel_names) == []
    assert schedulers_named("x = [scheduler for scheduler in (1, 2)]\n", "x", kernel_names) == []
    # the kernel's own object, read by the cell at its top level or in a function of it, is still flagged
    assert schedulers_named("x = scheduler.get_last_lr()\n", "x", kernel_names) == ["scheduler"]
    assert schedulers_named("def f():\n    return scheduler\nx = f()\n", "x", kernel_names) == ["scheduler"]


@pytest.mark.parametrize("chapter", READINGS)
def test_a_replay_defined_before_the_answer_and_called_after_it_passes(kernel, chapter):
    """R23f W1: a function's body runs where it is called: a replay defined before the answer and called after it is
    graded in full, and was flagged in every visible cell ("scores 0, though it passes here")."""
    _, _, catalogue = READINGS[chapter]
    run, tests = kernel(chapter)
    assert run(catalogue.REPLAY_DEFINED + catalogue.ANSWER + catalogue.CALLED_AFTER) is None
    assert failures(run, tests) == []


@pytest.mark.parametrize("chapter", READINGS)
def test_a_replay_through_a_scheduler_imported_under_an_alias_fails_the_visible_tests(kernel, chapter):
    """R23f M1: `from torch.optim.lr_scheduler import ReduceLROnPlateau as Plateau` in the answer cell, the replay,
    then the answer: graded, Plateau(...) raises before the answer is bound (0), and every visible cell passed."""
    _, variable, catalogue = READINGS[chapter]
    run, tests = kernel(chapter)
    assert run(catalogue.ALIASED_REPLAY + catalogue.ANSWER) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    alias = {"02_ordered_schedules": "Decay", "03_adaptive_schedules": "Plateau"}[chapter]
    assert f"The cell that last assigned {variable} uses PyTorch's schedulers ({alias})" in said[0]


def test_the_loops_replayed_by_a_function_called_only_after_the_answer_pass(kernel):
    """R23f W1 in Exercise 3.4(b): the four loops' replay defined before the answer, called after it."""
    run, tests = kernel("03_adaptive_schedules", LOOPS_READING)
    answer = 'diagnosed_loops = {"A": "training loss", "B": "one epoch late", "C": "accuracy", "D": "correct"}\n'
    check = "print({log: replay(kind) == LOOPS['rates'][log] for log, kind in diagnosed_loops.items()})\n"
    defined = plateau_reading.LOOPS_REPLAY.split("kinds = ")[0]
    assert run(defined + answer + check) is None
    assert failures(run, tests) == []


CORRECT_READINGS = [
    a for a in catalogue_answers.CORRECT if a.cell in (*(v for _, v, _ in READINGS.values()), "diagnosed_loops")
]


@pytest.mark.parametrize("answer", CORRECT_READINGS, ids=lambda answer: answer.name)
def test_every_correct_reading_of_the_catalogue_passes_every_visible_cell_in_the_kernel(kernel, answer):
    reading = {"diagnosed_loops": LOOPS_READING, **{v: (n, v, c) for n, v, c in READINGS.values()}}[answer.cell]
    run, tests = kernel(answer.chapter, reading)
    assert run(answer.source) is None
    assert failures(run, tests) == []


@pytest.mark.parametrize(
    "cell",
    [
        "def f(o):\n    return ReduceLROnPlateau(o)\nf(o)\n",  # called before the answer
        "def g(o):\n    return StepLR(o, 5)\ndef f(o):\n    return g(o)\nf(o)\n",  # through another function
        "def f(o):\n    return [g(o)]\ndef g(o):\n    return StepLR(o, 5)\nrates = [f(o) for o in (1, 2)]\n",
        "def f(o):\n    return StepLR(o, 5)\nrates = list(map(f, [o]))\n",  # handed to a call
        "def run(f):\n    return f(1)\n@run\ndef f(o):\n    return StepLR(o, 5)\n",  # a decorator that calls it
        "def f(o, s=StepLR(o, 5)):\n    return s\n",  # a default value runs at definition
        "class Replay:\n    s = StepLR(o, 5)\n",  # a class body runs at definition
        "class Replay:\n    def __init__(self, o):\n        self.s = StepLR(o, 5)\nr = Replay(o)\n",
        "class R:\n    def rates(self, o):\n        return StepLR(o, 5)\nr = make()\nr.rates(o)\n",
        "f = lambda o: StepLR(o, 5)\nf(o)\n",
        "rates = sorted([1, 2], key=lambda o: StepLR(o, 5))\n",  # a lambda handed on
        "rates = [StepLR(o, 5) for o in (1, 2)]\n",  # a comprehension at the top level
        "from torch.optim.lr_scheduler import ReduceLROnPlateau as Plateau\ns = Plateau(o)\n",
        "from torch.optim import lr_scheduler as L\ns = getattr(L, 'Step' + 'LR')(o, 5)\n",
        "import torch.optim.lr_scheduler as L\ns = getattr(L, 'StepLR')(o, 5)\n",
        "from torch.optim.swa_utils import SWALR as S\ns = S(o, 0.1)\n",
        "def f(o):\n    from torch.optim.lr_scheduler import StepLR as S\n    return S(o, 5)\nf(o)\n",
        "import importlib\nL = importlib.import_module('torch.optim.lr_scheduler')\ns = getattr(L, 'StepLR')(o, 5)\n",
        "L = __import__('torch.optim.lr_scheduler', fromlist=['StepLR'])\ns = getattr(L, 'StepLR')(o, 5)\n",
    ],
)
def test_code_that_runs_before_the_answer_is_read_whatever_form_it_takes(cell):
    assert schedulers_named(cell + "x = 1\n", "x", {}) != [], cell


@pytest.mark.parametrize(
    "cell",
    [
        "def f(o):\n    return StepLR(o, 5)\nx = 1\nf(o)\n",  # called after the answer
        "def g(o):\n    return StepLR(o, 5)\ndef f(o):\n    return g(o)\nx = 1\nf(o)\n",
        "f = lambda o: StepLR(o, 5)\nx = 1\nf(o)\n",
        "class R:\n    def rates(self, o):\n        return StepLR(o, 5)\nx = 1\nR().rates(o)\n",
        "import functools\n@functools.cache\ndef f(o):\n    return StepLR(o, 5)\nx = 1\nf(o)\n",
        "@torch.no_grad()\ndef f(o):\n    return StepLR(o, 5)\nx = 1\nf(o)\n",
        "def f(o):\n    return StepLR(o, 5)\ndef h():\n    return 2\nh()\nx = 1\nf(o)\n",  # another function called
        "from torch.optim.lr_scheduler import StepLR as S\nx = 1\ns = S(o, 5)\n",  # an alias used after
    ],
)
def test_a_function_defined_before_the_answer_and_run_only_after_it_is_no_use(cell):
    assert schedulers_named(cell, "x", {}) == [], cell


def test_a_scheduler_module_named_by_a_computed_string_is_not_followed():
    """What the reading does not catch, stated: the module's name built at run time."""
    cell = "import importlib\nL = importlib.import_module('torch.optim.' + 'lr_scheduler')\ns = getattr(L, 'Step' + 'LR')(o)\n"
    assert schedulers_named(cell + "x = 1\n", "x", {}) == []


@pytest.mark.parametrize(
    "cell",
    [
        "from lrcourse.schedules import plateau_run as pr\nrun = pr(20, patience=2)\n",
        "from lrcourse.schedules import plateau_run\nrun = plateau_run(20, patience=2)\n",
        "from lrcourse import schedules as S\nrun = S.plateau_run(20, patience=2)\n",
        "run = pr(20, patience=2)\n",  # the kernel's alias, bound in an earlier cell
    ],
)
def test_the_courses_helper_that_runs_a_plateau_scheduler_is_flagged_under_any_alias(cell):
    """R23g W2: `from lrcourse.schedules import plateau_run as pr`, `pr(...)`, then the answer: graded, plateau_run's
    ReduceLROnPlateau raises before the answer is bound (0 / 6), and every visible cell passed. lrcourse.schedules'
    other functions build no scheduler of their own (lr_curve's factory is the cell's, read where it is written)."""
    from lrcourse.schedules import plateau_run

    assert schedulers_named(cell + "x = 1\n", "x", {"pr": plateau_run}) != [], cell
    assert schedulers_named("x = 1\n" + cell, "x", {"pr": plateau_run}) == [], cell  # after the answer: graded whole
    assert schedulers_named("from lrcourse.schedules import lr_curve as c\nr = c(f, 5)\nx = 1\n", "x", {}) == []


READING_CLASS = (
    "class Reading:\n    def __init__(self, log):\n        self.log = log\n"
    "    def replay(self, **answer):\n        return StepLR(o, **answer)\n"
)
READING_DATACLASS = (
    "from dataclasses import dataclass\n@dataclass\nclass Reading:\n    log: list\n"
    "    def replay(self, **answer):\n        return StepLR(o, **answer)\n"
)


@pytest.mark.parametrize("defined", [READING_CLASS, READING_DATACLASS])
def test_a_class_whose_method_replays_only_after_the_answer_is_no_use(defined):
    """R23g W3: reading a class's name counted as running all its methods: a Reading built before the answer and
    replayed after it (graded whole) was flagged in every visible cell. Building it runs its dunder methods only."""
    cell = defined + "reading = Reading(log)\nx = {'step_size': 5}\nreading.replay(**x)\n"
    assert schedulers_named(cell, "x", {}) == []
    assert schedulers_named(defined + "reading = Reading(log)\nreading.replay(step_size=5)\nx = 1\n", "x", {}) == [
        "StepLR"
    ]


@pytest.mark.parametrize(
    "cell",
    [
        READING_CLASS.replace("self.log = log", "self.rates = self.replay()") + "reading = Reading(log)\n",
        READING_DATACLASS + "    def __post_init__(self):\n        self.replay()\nreading = Reading(log)\n",
        "class R:\n    @property\n    def rate(self):\n        return StepLR(o, 5)\nr = R()\nprint(r.rate)\n",
        "class R:\n    def __repr__(self):\n        return str(StepLR(o, 5))\nprint(R())\n",
        "class R:\n    def __call__(self, o):\n        return StepLR(o, 5)\nR()(o)\n",
        "class Base:\n    def __init_subclass__(cls):\n        StepLR(o, 5)\nclass R(Base):\n    pass\n",
    ],
)
def test_a_class_that_replays_when_built_printed_called_or_read_before_the_answer_is_flagged(cell):
    assert schedulers_named(cell + "x = 1\n", "x", {}) == ["StepLR"], cell


HELPER_REPLAYS = {  # chapter: (the id of the cell defining the chapter's own replay helper, a replay through it)
    "02_ordered_schedules": (
        "ex-rules",
        "rows = bench([0.4], step_size=5, gamma=0.7, steps=24, edits={15: {0: 0.25}})\n",
    ),
    "03_adaptive_schedules": (
        "tracer",
        "trace(READ_RUN['val_loss'], lrs=(0.1,), factor=0.4, patience=4, cooldown=6, threshold=0.03046)\n",
    ),
}


@pytest.mark.parametrize("chapter", READINGS)
def test_a_replay_through_the_chapters_helper_after_the_answer_passes_and_before_it_fails(kernel, chapter):
    """R23g M1: the self-contained check read the whole answer cell, so a replay after the answer through the
    chapter's own helper (`bench`, `trace`; not a context cell's) failed "uses bench, which that cell does not
    define", though the grade keeps the answer whole (the helper's NameError comes after it is bound)."""
    name, variable, catalogue = READINGS[chapter]
    helper_cell, replay = HELPER_REPLAYS[chapter]
    run, tests = kernel(chapter)
    notebook = nbformat.read(name, as_version=4)
    assert run(next(c.source for c in notebook.cells if c.get("id") == helper_cell)) is None
    assert run(catalogue.ANSWER + replay) is None
    assert failures(run, tests) == []
    assert run(replay + catalogue.ANSWER) is None  # before the answer: the grade stops there, NameError
    said = failures(run, tests)
    assert said and f"The cell that last assigned {variable} uses {replay.split('(')[0].split()[-1]}," in said[0], said


@pytest.mark.parametrize("chapter", READINGS)
def test_a_replay_before_the_answer_in_the_saved_answer_cell_fails_though_the_answer_was_retyped_below(kernel, chapter):
    """R23g W1: the answer cell (replay, then the answer) run and saved, then the answer retyped in a new cell: the
    kernel's history read only the new cell and passed, and the saved answer cell, the one graded, scored 0."""
    name, variable, catalogue = READINGS[chapter]
    run, tests = kernel(chapter)
    save_answer_cell(name, variable, catalogue.REPLAY + catalogue.ANSWER)
    assert run(catalogue.REPLAY + catalogue.ANSWER) is None
    assert run(catalogue.ANSWER, new_cell=True) is None  # retyped in a new cell below
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert f"The answer cell of {variable} saved in {name} uses PyTorch's schedulers" in said[0], said[0]
    save_answer_cell(name, variable, "%matplotlib inline\n" + catalogue.REPLAY + catalogue.ANSWER)  # R23h W1
    assert len(failures(run, tests)) == len(tests)  # a magic line, run as Python by the grader, hides nothing
    assert run(catalogue.ANSWER + catalogue.REPLAY) is None  # after the answer, run and saved: graded whole
    assert failures(run, tests) == []


def test_a_stale_copy_beside_the_kernel_s_own_notebook_is_not_read(kernel):
    """R23h M1: JupyterLab's Duplicate left `<name>-Copy1.ipynb` holding an old replay beside the honest notebook, and
    every visible cell failed naming the copy as "the one graded". The kernel's own notebook (`__session__`, as
    ipykernel sets it from JPY_SESSION_NAME) is read alone when it is known; without it, every notebook is."""
    name, variable, catalogue = READINGS["02_ordered_schedules"]
    run, tests = kernel("02_ordered_schedules")
    save_answer_cell(name, variable, catalogue.ANSWER)
    shutil.copy(name, name.replace(".ipynb", "-Copy1.ipynb"))
    save_answer_cell(name.replace(".ipynb", "-Copy1.ipynb"), variable, catalogue.REPLAY + catalogue.ANSWER)
    assert run(catalogue.ANSWER) is None
    assert len(failures(run, tests)) == len(tests)  # Jupyter names no notebook: each is read
    assert run(f"__session__ = {str(Path.cwd() / name)!r}") is None
    assert failures(run, tests) == []


def test_the_saved_answer_cell_is_never_read_outside_a_kernel(tmp_path, monkeypatch):
    """The trusted verdicts' process (no IPython shell) leaves the grade to what the answer's process does, saved cell
    or not (the grading kernel reads it, but its verdicts are withheld)."""
    from lrcourse.checking.answer_cell_schedulers import expect_no_scheduler_in_saved_answer_cell

    name, variable, catalogue = READINGS["02_ordered_schedules"]
    shutil.copy(ROOT / "notebooks" / "02_ordered_schedules" / name, tmp_path)
    monkeypatch.chdir(tmp_path)
    save_answer_cell(name, variable, catalogue.REPLAY + catalogue.ANSWER)
    expect_no_scheduler_in_saved_answer_cell(variable)  # no shell here: nothing read, nothing raised
