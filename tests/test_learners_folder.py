"""An answer cell that takes its values from the learner's folder fails a visible cell, naming the module or the
file and the mend (issue 23, R23o W3): the grader runs the saved notebook alone, with no file of that folder beside
it, so `import answer_mod` or `open("g.txt")` in the answer cell passed every visible cell and scored 0. Read by
class, not by a list of functions: an import whose module `find_spec` finds in the folder, and the files the cell
opened in the folder (Python's "open" audit event, `lrcourse.files_read`). Honest answers (numpy, math, torch,
lrcourse imported; a file read after the answer is whole; a file written) pass. A real IPython shell runs the
chapter's setup, context and test cells; `lrcourse grade` grades the catalogue's answers with their files beside."""

from __future__ import annotations

import inspect
import json
import sys
from types import SimpleNamespace

import pytest

from catalogue import step_lr_reading
from support.course import make_course, scores, solution_answers
from support.gradedclass import lrcourse, student_name, submit_answer
from support.saved_cells import failures, save_answer_cell, start_reading_kernel

ANSWER, RIGHT, CHAPTER = step_lr_reading.ANSWER, step_lr_reading.RIGHT, step_lr_reading.CHAPTER
CATALOGUED = {answer.name: answer for answer in step_lr_reading.STEP_READING_WRONG if answer.beside or answer.scratch}
BESIDE = {  # what the learner's folder holds in these tests
    "answer_mod.py": f"ANSWER = {RIGHT!r}\n",
    "answer_ext.py": f"def load_ipython_extension(ipython):\n    ipython.user_ns['inferred_step_lr'] = {RIGHT!r}\n",
    "g.txt": "0.7",
    "g.json": json.dumps(RIGHT),
}
GAMMA_FROM = 'inferred_step_lr = {{"step_size": 5, "gamma": {}, "hand_set_rate": 0.25}}\n'
READS = {  # answer cell: the file it reads before the answer is whole
    "open": (GAMMA_FROM.format('float(open("g.txt").read())'), "g.txt"),
    "Path.read_text": ("from pathlib import Path\n" + GAMMA_FROM.format('float(Path("g.txt").read_text())'), "g.txt"),
    "json.load": ('import json\nwith open("g.json") as f:\n    inferred_step_lr = json.load(f)\n', "g.json"),
    "np.load": ("import numpy as np\ng = float(np.load('g.npy'))\n" + GAMMA_FROM.format("g"), "g.npy"),
    "torch.load": ("import torch\n" + GAMMA_FROM.format("float(torch.load('g.pt'))"), "g.pt"),
    "a function of the cell": (
        "def gamma():\n    return float(open('g.txt').read())\n\n" + GAMMA_FROM.format("gamma()"),
        "g.txt",
    ),
}
IMPORTS = {  # answer cell: the module of the folder it loads
    "import": ("import answer_mod\ninferred_step_lr = answer_mod.ANSWER\n", "answer_mod"),
    "from import": ("from answer_mod import ANSWER as inferred_step_lr\n", "answer_mod"),
    "%load_ext": ("%load_ext answer_ext\n" + ANSWER, "answer_ext"),
    "%reload_ext after": (ANSWER + "%reload_ext answer_ext\n", "answer_ext"),
}
HONEST = {
    "the catalogue's right answer": ANSWER,
    "modules the grader has": "import math\nimport numpy as np\nimport torch\nimport lrcourse\n"
    + GAMMA_FROM.format("float(np.float64(math.sqrt(0.49)))"),
    "a file written after": "import json\n"
    + ANSWER
    + "with open('mine.json', 'w') as f:\n    json.dump(inferred_step_lr, f)\n",
    "a file read after the answer": ANSWER + "print(open('g.txt').read())\n",
    "a NameError after the answer (the kernel's failure handler reads the notebook)": ANSWER + "print(undefined)\n",
    "eval and globals() after the answer, vars(obj), an attribute named eval": ANSWER
    + "import types\n\nprint(eval('1 + 1'), len(globals()), vars(types.SimpleNamespace(a=1)))\n"
    + "types.SimpleNamespace(eval=print).eval()\n",
    "a helper using globals(), defined before the answer, called after it (R23r W1)": "def show():\n"
    + "    print(len(globals()))\n\n\n"
    + ANSWER
    + "show()\n",
    "a thread reading a file after the answer (R23r W2)": ANSWER
    + "import threading\nthread = threading.Thread(target=lambda: print(open('g.txt').read()))\n"
    + "thread.start()\nthread.join()\n",
}


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """The chapter's notebook in a real IPython shell working in `tmp_path`, which holds the files of BESIDE; the folder
    first on the import path, as a kernel's is."""
    import sys

    import numpy as np
    import torch
    from IPython.core.interactiveshell import InteractiveShell

    for name, text in BESIDE.items():
        (tmp_path / name).write_text(text)
    np.save(tmp_path / "g.npy", np.float64(0.7))
    torch.save(0.7, tmp_path / "g.pt")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield start_reading_kernel(tmp_path, monkeypatch, CHAPTER, "ordered_schedules.ipynb", "inferred_step_lr")
    InteractiveShell.clear_instance()
    for module in ("answer_mod", "answer_ext"):  # the next test's folder has its own
        sys.modules.pop(module, None)


def run_saved(run, tmp_path, cell: str):
    """`cell` typed in the answer cell, saved and run, as a learner does (a magic line included); only a NameError
    after its answer raised."""
    save_answer_cell(tmp_path / "ordered_schedules.ipynb", "inferred_step_lr", cell)
    raised = run(cell, new_cell=True)
    assert raised is None or ("print(undefined)" in cell and isinstance(raised, NameError)), (cell, raised)
    assert run(f"assert inferred_step_lr == {RIGHT!r}", new_cell=True) is None  # the kernel's answer: right


@pytest.mark.parametrize("name", CATALOGUED)
def test_a_catalogued_answer_from_the_folder_fails_every_visible_cell(kernel, tmp_path, name):
    """R23o W3: the catalogue's answers from a module and from a file beside the notebook (0 / 3 in the grade,
    `test_the_grader_has_no_file_of_the_learners_folder`) passed every visible cell; R23q W3: so did those that find
    a scratch cell's name, or the module it imported, by a string."""
    run, tests = kernel
    answer = CATALOGUED[name]
    for file, text in answer.beside:
        (tmp_path / file).write_text(text)
    if answer.scratch:
        assert run(answer.scratch, new_cell=True) is None
    run_saved(run, tmp_path, answer.source)
    said = failures(run, tests)
    assert len(said) == len(tests), said
    file = answer.beside[0][0] if answer.beside and not answer.scratch else "a lookup by a string"
    assert (file.removesuffix(".py") if file.endswith(".py") else file) in said[0], said[0]
    assert ("The grader runs" if answer.scratch else "The grader has only your notebook") in said[0], said[0]
    assert "scores 0" in said[0], said[0]


@pytest.mark.parametrize("cell, file", READS.values(), ids=READS)
def test_an_answer_that_reads_a_file_of_the_folder_fails_naming_it(kernel, tmp_path, cell, file):
    run, tests = kernel
    run_saved(run, tmp_path, cell)
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert f"reads {file}, a file of your folder" in said[0], said[0]
    assert "Put the values in the cell" in said[0], said[0]


@pytest.mark.parametrize("cell, module", IMPORTS.values(), ids=IMPORTS)
def test_an_answer_that_loads_a_module_of_the_folder_fails_naming_it(kernel, tmp_path, cell, module):
    run, tests = kernel
    run_saved(run, tmp_path, cell)
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert f"imports {module}, a module of your folder" in said[0], said[0]


@pytest.mark.parametrize("cell", HONEST.values(), ids=HONEST)
def test_an_honest_answer_passes(kernel, tmp_path, cell):
    run, tests = kernel
    run_saved(run, tmp_path, cell)
    assert failures(run, tests) == []


def test_which_imports_are_read(tmp_path):
    from lrcourse.checking.learners_folder import local_modules, modules_imported  # here: the slow test runs on main's

    cell = "import a.b, c as d\nfrom e.f import g\nfrom . import h\nget_ipython().run_line_magic('load_ext', 'i')\n"
    assert modules_imported(cell) == ["a", "c", "e", "i"]
    assert local_modules("import math, numpy, torch, lrcourse\n", str(tmp_path)) == []
    assert local_modules("import json, numpy, torch\n", "/") == []  # a folder holding the environment: the grader's too


def test_the_audit_hook_is_a_plain_function_that_records_the_opens(tmp_path, monkeypatch):
    """R23q N2: Python calls the hook on every audit event (hundreds per redraw of chapter 6's sliders): it is a plain
    function that passes only "open" on (a bound method called with every event cost about 13 times as much), and it
    still records a read of the folder's file by the code that opened it, and no other event or a write."""
    from lrcourse import files_read

    hooks = []
    monkeypatch.setattr(sys, "addaudithook", hooks.append)
    shell = SimpleNamespace(user_ns={"_dh": [str(tmp_path)]}, events=SimpleNamespace(register=lambda *_: None))
    files_read.record_files_read(shell)
    (hook,) = hooks
    assert inspect.isfunction(hook), hook
    shell.lrcourse_files_read.before_cell()
    hook("builtins.id", (1,))
    hook("open", (str(tmp_path / "g.txt"), "r", 0))
    hook("open", (str(tmp_path / "out.txt"), "w", 0))
    ((path, line, code),) = shell.lrcourse_files_read.running
    assert path == str(tmp_path / "g.txt") and line is None
    assert test_the_audit_hook_is_a_plain_function_that_records_the_opens.__code__ in code  # the opener's code


@pytest.mark.parametrize("tried", [False, True])
def test_a_function_answer_that_reads_a_file_of_the_folder_fails(tmp_path, monkeypatch, tried):
    """Chapter 4's right reader, called through a function that reads a file of the folder first: the grader calls it
    without the file (FileNotFoundError, 0 points). The check reads what the function's code opened when called here:
    every visible cell after the first call fails (every one, where the learner tried it in a scratch cell)."""
    from IPython.core.interactiveshell import InteractiveShell

    chapter, variable = "04_custom_schedules", "recipe_from_rates"
    (tmp_path / "notes.txt").write_text("the rates of chapter 4")
    solved = solution_answers(chapter)[variable].replace("def recipe_from_rates(", "def solved(")
    cell = solved + "\n\ndef recipe_from_rates(rates):\n    open('notes.txt').read()\n    return solved(rates)\n"
    try:
        run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, "custom_schedules.ipynb", variable)
        save_answer_cell(tmp_path / "custom_schedules.ipynb", variable, cell)
        assert run(cell, new_cell=True) is None
        if tried:
            assert run("try:\n    recipe_from_rates([0.1, 0.1])\nexcept IndexError:\n    pass", new_cell=True) is None
        said = failures(run, tests)
        assert len(said) == len(tests) - (0 if tried else 1) and len(tests) > 1, said
        assert "recipe_from_rates reads notes.txt, a file of your folder" in said[0], said[0]
        assert "The grader has only your notebook" in said[0], said[0]
        save_answer_cell(tmp_path / "custom_schedules.ipynb", variable, solution_answers(chapter)[variable])
        assert run(solution_answers(chapter)[variable], new_cell=True) is None  # redefined: its own code reads none
        assert failures(run, tests) == []
    finally:
        InteractiveShell.clear_instance()


@pytest.mark.slow
def test_the_grader_has_no_file_of_the_learners_folder(tmp_path):
    """The catalogue's answers from the folder, submitted with the data files beside the notebook: `lrcourse grade`
    gives each 0 / 3 (the grader has the notebook alone), and the right answer, files beside it too, 3 / 3. (A `.py`
    beside the notebook is not graded at all: the intake refuses the submission, naming it.)"""
    course = make_course(tmp_path, [CHAPTER])
    right = step_lr_reading.STEP_READING_CORRECT[0]
    for answer in (*CATALOGUED.values(), right):
        notebook = submit_answer(course, student_name(answer), answer)
        for file, text in BESIDE.items():
            if not file.endswith(".py"):
                (notebook.parent / file).write_text(text)
    run = lrcourse(course, "grade", CHAPTER, "--workers", "1", timeout=1800)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    graded = scores(course, CHAPTER)
    for answer in (*CATALOGUED.values(), right):
        cells = graded[student_name(answer)]
        got = sum(cells[cell][0] for cell in answer.cells)
        assert got == (3 if answer is right else 0), (answer.name, cells)


SELF_TEST = "\n\nprint(len(json.load(open('case.json'))))\n"
FUNCTION_CELLS = {  # chapter 4's answer cell, the solution's `def` in it: (cell, the message's start, or "" honest)
    "a self-test reading notes.txt after the def": ("{solved}\nprint(open('notes.txt').read())\n", ""),
    "a self-test on a saved case after the def": ("import json\n\n{solved}" + SELF_TEST, ""),
    "reads at call": (
        "{renamed}\n\ndef recipe_from_rates(rates):\n    open('notes.txt').read()\n    return solved(rates)\n",
        "recipe_from_rates reads notes.txt, a file of your folder",
    ),
    "reads in a nested function at call": (
        "{renamed}\n\ndef recipe_from_rates(rates):\n    def notes():\n        return open('notes.txt').read()\n\n"
        "    notes()\n    return solved(rates)\n",
        "recipe_from_rates reads notes.txt, a file of your folder",
    ),
    "import inside body": (
        "def recipe_from_rates(rates):\n    import answer_mod\n\n    return answer_mod.recipe_from_rates(rates)\n",
        "imports answer_mod, a module of your folder",
    ),
    "reads in a default argument": (
        "{renamed}\n\ndef recipe_from_rates(rates, _notes=open('notes.txt').read()):\n    return solved(rates)\n",
        "The cell that defines recipe_from_rates reads notes.txt, a file of your folder",
    ),
}


@pytest.mark.parametrize("cell, said_first", FUNCTION_CELLS.values(), ids=FUNCTION_CELLS)
def test_a_function_answer_is_blamed_for_its_own_reads_only(tmp_path, monkeypatch, cell, said_first):
    """R23q W2: chapter 4's solution followed, in its cell, by a self-test reading a file of the folder failed every
    visible cell ("recipe_from_rates reads notes.txt ... when called ... scores 0"), and the grade was 4 / 4: a read
    was the function's when the function's *file* was on the stack, and the cell's top-level code shares it. Now its
    code objects (and those nested in them); the cell's reads up to the `def` (a default argument) are the answer's."""
    import sys

    from IPython.core.interactiveshell import InteractiveShell

    chapter, variable = "04_custom_schedules", "recipe_from_rates"
    solved = solution_answers(chapter)[variable]
    (tmp_path / "notes.txt").write_text("the rates of chapter 4")
    (tmp_path / "case.json").write_text("[0.1, 0.2]")
    (tmp_path / "answer_mod.py").write_text("import math\n\n" + solved)
    monkeypatch.syspath_prepend(str(tmp_path))
    cell = cell.format(solved=solved, renamed=solved.replace("def recipe_from_rates(", "def solved("))
    try:
        run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, "custom_schedules.ipynb", variable)
        save_answer_cell(tmp_path / "custom_schedules.ipynb", variable, cell)
        assert run(cell, new_cell=True) is None
        assert run("try:\n    recipe_from_rates([0.1, 0.1])\nexcept IndexError:\n    pass", new_cell=True) is None
        said = failures(run, tests)
        if not said_first:
            assert said == []
        else:
            assert len(said) == len(tests) > 1, said
            assert said_first in said[0] and "The grader has only your notebook" in said[0], said[0]
    finally:
        InteractiveShell.clear_instance()
        sys.modules.pop("answer_mod", None)


def test_a_thread_an_earlier_cell_started_is_not_the_answer_cells(kernel, tmp_path):
    """R23q M1: a log watcher an earlier cell started re-reads a file of the folder; the answer, typed as literals,
    failed every visible cell ("reads train.log ... before it binds inferred_step_lr"). A thread's read is the
    cell's only when the thread started while the cell ran: the answer's own thread reading still fails."""
    run, tests = kernel
    (tmp_path / "train.log").write_text("epoch 1\n")
    watcher = (
        "import threading, time\nwatching = threading.Event()\n\ndef watch():\n    while not watching.is_set():\n"
        "        open('train.log').read()\n        time.sleep(0.002)\n\n"
        "watcher = threading.Thread(target=watch, daemon=True)\nwatcher.start()\n"
    )
    assert run(watcher, new_cell=True) is None
    try:
        run_saved(run, tmp_path, ANSWER + "import time\ntime.sleep(0.05)\n")
        assert failures(run, tests) == []
        own = (
            "from concurrent.futures import ThreadPoolExecutor\n\nwith ThreadPoolExecutor(1) as pool:\n"
            "    gamma = float(pool.submit(lambda: open('g.txt').read()).result())\n" + GAMMA_FROM.format("gamma")
        )
        run_saved(run, tmp_path, own)
        said = failures(run, tests)
        assert len(said) == len(tests) and "reads g.txt, a file of your folder" in said[0], said
    finally:
        assert run("watching.set()\nwatcher.join()", new_cell=True) is None


SCRATCH = f"import importlib\nimport sys\n\nimport answer_mod\n\nscratch = {RIGHT!r}\n"  # a scratch cell's names
HIDDEN = {  # answer cell: a lookup by a string of what the scratch cell defined or imported; the message names it
    "eval": ("inferred_step_lr = eval('scratch')\n", "eval()"),
    "globals()": ("inferred_step_lr = globals()['scratch']\n", "globals()"),
    "vars()": ("inferred_step_lr = dict(vars()['scratch'])\n", "vars()"),
    "locals()": ("inferred_step_lr = locals()['scratch']\n", "locals()"),
    "exec": ("exec('from answer_mod import ANSWER')\ninferred_step_lr = ANSWER\n", "exec()"),
    "__import__ of a module imported": ("inferred_step_lr = __import__('answer_mod').ANSWER\n", "__import__()"),
    "importlib.import_module": (
        "import importlib\n\ninferred_step_lr = importlib.import_module('answer_mod').ANSWER\n",
        "importlib.import_module",
    ),
    "sys.modules": ("import sys\n\ninferred_step_lr = sys.modules['answer_mod'].ANSWER\n", "sys.modules"),
    "in a helper called before the answer": (
        "def found():\n    return globals()['scratch']\n\n\ninferred_step_lr = found()\n",
        "globals()",
    ),
}


@pytest.mark.parametrize("cell, lookup", HIDDEN.values(), ids=HIDDEN)
def test_an_answer_that_looks_a_name_up_by_a_string_fails_naming_it(kernel, tmp_path, cell, lookup):
    """R23q W3: each of these passed every visible cell (a scratch cell had defined `scratch` and imported answer_mod:
    no name the cell reads is missing, no file is opened) and scored 0 / 3 in a real grade."""
    run, tests = kernel
    assert run(SCRATCH, new_cell=True) is None
    run_saved(run, tmp_path, cell)
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert f"uses {lookup} before it binds inferred_step_lr: a lookup by a string" in said[0], said[0]
    assert "the grader runs" in said[0].lower() and "scores 0" in said[0], said[0]


@pytest.mark.parametrize("honest", [False, True])
def test_a_function_answer_that_imports_by_a_string_fails(tmp_path, monkeypatch, honest):
    """R23q W3: chapter 4's answer through `__import__` of a module a scratch cell imported (cached: no file opened
    when called) passed every visible cell. The solution with `eval` in a self-test after its `def` passes."""
    import sys

    from IPython.core.interactiveshell import InteractiveShell

    chapter, variable = "04_custom_schedules", "recipe_from_rates"
    solved = solution_answers(chapter)[variable]
    (tmp_path / "answer_mod.py").write_text("import math\n\n" + solved)
    monkeypatch.syspath_prepend(str(tmp_path))
    cell = (
        solved + "\nprint(eval('recipe_from_rates').__name__)\n"
        if honest
        else "def recipe_from_rates(rates):\n    return __import__('answer_mod').recipe_from_rates(rates)\n"
    )
    try:
        run, tests = start_reading_kernel(tmp_path, monkeypatch, chapter, "custom_schedules.ipynb", variable)
        assert run("import answer_mod", new_cell=True) is None
        save_answer_cell(tmp_path / "custom_schedules.ipynb", variable, cell)
        assert run(cell, new_cell=True) is None
        said = failures(run, tests)
        if honest:
            assert said == []
        else:
            assert len(said) == len(tests) > 1, said
            assert "uses __import__() in recipe_from_rates's definition or the cell's code above it" in said[0], said[0]
    finally:
        InteractiveShell.clear_instance()
        sys.modules.pop("answer_mod", None)


def test_a_class_answer_whose_property_reads_a_file_of_the_folder_fails(tmp_path, monkeypatch):
    """R23r M3: a property (or a staticmethod, a classmethod) of a class answer that reads a file of the folder was
    not among the class's functions, so the read passed every visible cell; the unchanged solution still passes."""
    from IPython.core.interactiveshell import InteractiveShell

    chapter, variable = "03_adaptive_schedules", "my_reduce_lr_on_plateau"
    solved = solution_answers(chapter)[variable]
    (tmp_path / "notes.txt").write_text("x")
    reading = solved.replace("self.cooldown_counter", "self._cd").replace(
        "class MyReduceLROnPlateau:\n",
        "class MyReduceLROnPlateau:\n    @property\n    def cooldown_counter(self):\n"
        "        open('notes.txt').read()\n        return self._cd\n\n",
        1,
    )
    assert reading != solved
    try:
        run, tests = start_reading_kernel(
            tmp_path, monkeypatch, chapter, "adaptive_schedules.ipynb", "MyReduceLROnPlateau"
        )
        for cell, failing in ((reading, True), (solved, False)):
            save_answer_cell(tmp_path / "adaptive_schedules.ipynb", variable, cell)
            assert run(cell, new_cell=True) is None
            said = failures(run, tests)
            assert bool(said) == failing and all("notes.txt" in one for one in said), said
    finally:
        InteractiveShell.clear_instance()
