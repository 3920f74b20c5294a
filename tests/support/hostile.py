"""Hostile submissions: in-kernel tricks that try to raise a score without a correct answer.

Each `Attack` is a chapter-2 submission: its answer cell (a wrong class that never decays, or a correct
one) plus whatever else it does to the notebook. Under `lrcourse grade` the verdict is decided outside the
student's kernel, so an attack with the wrong class must score no more than the same wrong class submitted
honestly, and one with a correct class keeps full marks. `test_hostile.py` grades them all in one run,
between honest students, with the submissions of `REFUSED` (hostile names, links and special files anywhere in
a submission, notebooks costly to read), which `lrcourse grade` refuses before nbgrader sees them, and
`MEMORY_FLOOD`, one message of many frames that ZeroMQ holds whole in the worker, which ends that worker at its
memory cap (`WORKER_MEMORY_MB`, set for the class) and fails that student with the reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from lrcourse import cells

from support.course import solution_answers
from support.hostile_cells import DEEP_FOLDERS, MULTI_FRAME_FLOOD, PRINT_FLOOD, RAW_STREAM_FLOOD

CHAPTER = "02_ordered_schedules"
ANSWER_CELL = "my_step_lr"
SOLUTION = solution_answers(CHAPTER)  # every answer cell of the chapter, as the instructor wrote it

NEVER_DECAYS = """
class MyStepLR:
    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer = optimizer
        self.last_epoch = 0

    def step(self):
        self.last_epoch += 1

    def get_last_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]
"""
CORRECT = SOLUTION[ANSWER_CELL]


def answers(answer: str) -> dict[str, str]:
    """A submission's answer cells: the chapter's other answers right, this one as given."""
    return {**SOLUTION, ANSWER_CELL: answer}


@dataclass(frozen=True)
class Attack:
    name: str
    answer: str  # the answer cell's source
    correct: bool = False  # True: the class itself is right, so full marks must stay
    extra_cells: tuple = ()  # code cells inserted right after the answer cell
    mutate: Callable | None = field(default=None, compare=False)  # changes to the notebook, in place


def _test_cells(notebook):
    return [c for c in notebook.cells if cells.is_test(c)]


def delete_test_cells(notebook):
    hidden = {id(c) for c in _test_cells(notebook)}
    notebook.cells = [c for c in notebook.cells if id(c) not in hidden]


def duplicate_answer_after_tests(notebook):
    """A second, correct-looking answer cell (same grade_id) placed after the test cells."""
    import copy

    answer = next(c for c in notebook.cells if c.get("id") == ANSWER_CELL)
    twin = copy.deepcopy(answer)
    twin["id"] = "twin"
    twin.source = NEVER_DECAYS
    notebook.cells.append(twin)


def ungrade_test_cells(notebook):
    """nbgrader metadata edited: test cells claim to be ungraded, with 0 points and a new checksum."""
    for cell in _test_cells(notebook):
        cell.metadata["nbgrader"].update(grade=False, points=0, checksum="0" * 32)


def tests_as_markdown(notebook):
    for cell in _test_cells(notebook):
        cell.cell_type = "markdown"
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


PATCH_CHECKER = "import lrcourse.checking\nlrcourse.checking.check_step_lr = lambda *a, **k: None\n"
SWAP_MODULE = """
import sys, types
import lrcourse
fake = types.ModuleType("lrcourse.checking")
fake.StepLRCase = lambda *a, **k: None
fake.check_step_lr = lambda *a, **k: None
fake.passed = print
sys.modules["lrcourse.checking"] = fake
lrcourse.checking = fake
"""
IMPORT_HOOK = """
import builtins, types
_real_import = builtins.__import__
_fake = types.SimpleNamespace(StepLRCase=lambda *a, **k: None, check_step_lr=lambda *a, **k: None, passed=print)
def _hook(name, *args, **kwargs):
    return _fake if name == "lrcourse.checking" else _real_import(name, *args, **kwargs)
builtins.__import__ = _hook
"""
SWALLOW_BY_AST = """
import ast
class _Swallow(ast.NodeTransformer):
    def visit_Module(self, node):
        handler = ast.ExceptHandler(type=ast.Name("BaseException", ast.Load()), name=None, body=[ast.Pass()])
        node.body = [ast.Try(body=node.body or [ast.Pass()], handlers=[handler], orelse=[], finalbody=[])]
        return ast.fix_missing_locations(node)
get_ipython().ast_transformers.append(_Swallow())
"""
SWALLOW_BY_CUSTOM_EXC = """
get_ipython().set_custom_exc((BaseException,), lambda shell, etype, evalue, tb, tb_offset=None: None)
"""
FAKE_PASS_PRINTS = """
import sys
sys.excepthook = lambda *a: None
"""
ORACLE_REFERENCE = '''
import sys
from lrcourse.pytorch_trajectories import trajectory

class MyStepLR:
    """Replays PyTorch's trajectory from the course's own reference, with the profiler switched off."""
    def __init__(self, optimizer, step_size, gamma=0.1):
        sys.setprofile(None)
        self.optimizer, self.last_epoch = optimizer, 0
        self.case = {"scheduler": "StepLR", "lrs": [g["lr"] for g in optimizer.param_groups],
                     "kwargs": {"step_size": step_size, "gamma": gamma}}

    def step(self):
        sys.setprofile(None)
        self.last_epoch += 1
        state = trajectory({**self.case, "steps": self.last_epoch})["states"][-1]
        for group, lr in zip(self.optimizer.param_groups, state["lrs"]):
            group["lr"] = lr

    def get_last_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]
'''
ORACLE_HIDDEN_TORCH = '''
import sys
_torch = __import__("torch")
_module = getattr(_torch.optim, "lr_" + "scheduler")

class MyStepLR:
    """Delegates to a throwaway PyTorch StepLR reached by a computed name, profiler off."""
    def __init__(self, optimizer, step_size, gamma=0.1):
        sys.setprofile(None)
        self.optimizer, self.last_epoch = optimizer, 0
        self.step_size, self.gamma = step_size, gamma
        self.lrs0 = [g["lr"] for g in optimizer.param_groups]

    def step(self):
        sys.setprofile(None)
        self.last_epoch += 1
        for group, lr0 in zip(self.optimizer.param_groups, self.lrs0):
            dummy = _torch.optim.SGD([_torch.nn.Parameter(_torch.zeros(1))], lr=lr0)
            inner = getattr(_module, "Step" + "LR")(dummy, self.step_size, self.gamma)
            for _ in range(self.last_epoch):
                dummy.step(); inner.step()
            group["lr"] = dummy.param_groups[0]["lr"]

    def get_last_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]
'''
KILL_GRADER_HELPERS = """
import os, signal
for pid in os.listdir("/proc"):
    try:
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
    except Exception:
        continue
    if b"lrcourse.grading.sandbox.answer_zygote" in cmdline:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except Exception:
            pass
"""

FLOODS = ("print-flood-correct", "raw-stream-flood-correct")
MEMORY_FLOOD = Attack("multi-frame-flood", CORRECT, correct=True, extra_cells=(MULTI_FRAME_FLOOD,))
WORKER_MEMORY_MB = 768  # the class's worker cap: above an honest worker's VmData (568 MB measured on chapter 6's solution), below 600 MB more
SLOW_ON_PURPOSE = (
    CORRECT
    + """
import signal as _signal, time as _time
_init = MyStepLR.__init__
def _slow_init(self, *args, **kwargs):
    if type(get_ipython()).__name__ != "ZMQInteractiveShell":  # the grader's answers process: slow on purpose
        _signal.setitimer(_signal.ITIMER_REAL, 0)  # the checker's alarm for this call, disarmed
        _time.sleep(7.5)  # just inside the grader's deadline for one request (3 s + 5 s)
    _init(self, *args, **kwargs)
MyStepLR.__init__ = _slow_init
"""
)

# Its message crosses to the grader holding a lone surrogate, text no UTF-8 file can hold: it once left the class
# report empty and stopped the exports of the whole class
SURROGATE_MESSAGE = NEVER_DECAYS.replace(
    "        self.last_epoch += 1", "        raise ValueError('no file can hold this: \\udcff\\ud800')"
)
ATTACKS = [
    Attack("print-flood-correct", CORRECT, correct=True, extra_cells=(PRINT_FLOOD,)),
    Attack("raw-stream-flood-correct", CORRECT, correct=True, extra_cells=(RAW_STREAM_FLOOD,)),
    Attack("patch-checker", PATCH_CHECKER + NEVER_DECAYS),
    Attack("swap-checker-module", SWAP_MODULE + NEVER_DECAYS),
    Attack("import-hook", IMPORT_HOOK + NEVER_DECAYS),
    Attack("swallow-by-ast-transformer", SWALLOW_BY_AST + NEVER_DECAYS),
    Attack("swallow-by-custom-exc", SWALLOW_BY_CUSTOM_EXC + NEVER_DECAYS),
    Attack("excepthook", FAKE_PASS_PRINTS + NEVER_DECAYS),
    Attack("oracle-course-reference", ORACLE_REFERENCE),
    Attack("oracle-hidden-torch", ORACLE_HIDDEN_TORCH),
    Attack("kill-grader-helpers", NEVER_DECAYS, extra_cells=(KILL_GRADER_HELPERS,)),
    Attack("kill-grader-helpers-correct", CORRECT, correct=True, extra_cells=(KILL_GRADER_HELPERS,)),
    Attack("delete-test-cells", NEVER_DECAYS, mutate=delete_test_cells),
    Attack("delete-test-cells-correct", CORRECT, correct=True, mutate=delete_test_cells),
    Attack("ungrade-test-cells", NEVER_DECAYS, mutate=ungrade_test_cells),
    Attack("test-cells-as-markdown", NEVER_DECAYS, mutate=tests_as_markdown),
    Attack("second-answer-cell-after-tests", CORRECT, mutate=duplicate_answer_after_tests),
    Attack("exit-in-a-later-cell", NEVER_DECAYS, extra_cells=("import os\nos._exit(0)\n",)),
    Attack("exit-in-a-later-cell-correct", CORRECT, correct=True, extra_cells=("import os\nos._exit(0)\n",)),
    Attack("sys-exit-after-the-class-correct", CORRECT + "\nimport sys\nsys.exit(0)\n", correct=True),
    Attack("deep-folders-correct", CORRECT, correct=True, extra_cells=(DEEP_FOLDERS,)),
    Attack("patch-checker-correct", PATCH_CHECKER + CORRECT, correct=True),
    Attack("lone-surrogate-in-its-message", SURROGATE_MESSAGE),
    Attack("mallory", PATCH_CHECKER + NEVER_DECAYS),  # GLOB_TARGET: folders below name it as a glob
]


# --------------------------------------------------------------------------------------------
# Attacks on a zygote shared by the students a worker grades (its kernels', or its answers')
# --------------------------------------------------------------------------------------------
def find_zygotes(marker: str) -> str:
    """Source that defines `_zygotes()`: the processes whose command line holds `marker`, seen through /proc."""
    return f"""
import json
import os
def _zygotes():
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and int(name) != os.getpid() and {marker.encode()!r} in open(f"/proc/{{name}}/cmdline", "rb").read():
                yield int(name)
        except Exception:
            pass
"""


def stop_zygotes(marker: str) -> str:
    """Stop, then kill, every zygote in sight and the parent."""
    return (
        find_zygotes(marker)
        + """
import signal
for _pid in list(_zygotes()) + [os.getppid()]:
    for _signal in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(_pid, _signal)
        except Exception:
            pass
"""
    )


HAUNT_LATER_PROCESSES = """
import subprocess
_script = ('while true; do for f in /proc/[0-9]*/cmdline; do p=${f#/proc/}; p=${p%/cmdline}; '
           '[ "$p" != "$$" ] && kill -9 $p 2>/dev/null; done; sleep 0.05; done')
for _ in range(5):  # meant to kill every process the zygote starts for later students
    subprocess.Popen(["/bin/sh", "-c", _script], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"""


# --------------------------------------------------------------------------------------------
# Submissions `lrcourse grade` refuses before nbgrader sees them (intake): names, links and special files
# anywhere (nbgrader would copy a link's target, or hang on a FIFO), notebooks costly to read. Each fails that student with its reason; the class is graded.
# --------------------------------------------------------------------------------------------
GLOB_TARGET = "mallory"  # a wrong class with a patched checker, graded; the folders below name it as a glob


@dataclass(frozen=True)
class Refused:
    name: str  # the folder in submitted/: the student id it claims
    reason: str  # what the failure's reason says
    make: Callable | None = field(default=None, compare=False)  # (course, submitted notebook) -> the hostile part

    @property
    def answer(self) -> str:
        """Through a glob, the patched wrong class would have scored full marks; the others are right."""
        return PATCH_CHECKER + NEVER_DECAYS if self.name.startswith(GLOB_TARGET) else CORRECT


def link_to_the_solution(course, notebook):
    (notebook.parent / "solution.ipynb").symlink_to(course / "source" / CHAPTER / notebook.name)


def fifo(course, notebook):
    os.mkfifo(notebook.parent / "data.csv")


def digits_as_timestamp(course, notebook):  # F15: nbgrader's parse_utc raised OverflowError (a vague failure)
    (notebook.parent / "timestamp.txt").write_text("9" * 30)


def fifo_as_timestamp(course, notebook):  # nbgrader opens timestamp.txt itself
    os.mkfifo(notebook.parent / "timestamp.txt")


def hard_link_to_the_solution(course, notebook):
    os.link(course / "source" / CHAPTER / notebook.name, notebook.parent / "notes.txt")


def stray_link_to_the_solution(course, notebook):
    (notebook.parent / "solution.md").symlink_to(course / "source" / CHAPTER / notebook.name)


def link_to_the_gradebook(course, notebook):  # the whole class's scores and ids (issue 20, attack 4)
    (notebook.parent / "gradebook.db").symlink_to(course / "gradebook.db")


def link_to_a_password_file(course, notebook):  # a file of the instructor's holding the database's password
    secret = course / "db_password.txt"
    secret.write_text("hunter2\n")
    secret.chmod(0o600)
    (notebook.parent / "notes.txt").symlink_to(secret)


def link_under_a_glob_named_folder(course, notebook):  # would escape nbgrader's ignore list, a glob
    (notebook.parent / "sub[a]").mkdir()
    (notebook.parent / "sub[a]" / "leak").symlink_to(course / "source" / CHAPTER / notebook.name)


def nested_deeply(course, notebook):
    text = notebook.read_text().replace('"metadata": {', '"metadata": {"x": ' + "[" * 100_000 + "]" * 100_000 + ",", 1)
    notebook.write_text(text)


def twenty_thousand_cells(course, notebook):
    # Ten counted values a cell: 200,000, far under the JSON value cap, so the cell cap is what refuses it.
    cell = '{"cell_type": "markdown", "id": "c", "metadata": {}, "source": ""}, '
    notebook.write_text(notebook.read_text().replace('"cells": [', '"cells": [' + cell * 20_000, 1))


def lone_surrogate_in_a_written_answer(course, notebook):  # F6: autograde could not write it back, no feedback
    raw = json.loads(notebook.read_text())
    raw["cells"].append({"cell_type": "markdown", "id": "sur", "metadata": {}, "source": "my answer \ud800"})
    notebook.write_text(json.dumps(raw))  # ensure_ascii: the surrogate as the escape \ud800


def unknown_cell_type(course, notebook):  # jsonschema's message repeated the cell whole in the reason
    raw = json.loads(notebook.read_text())
    raw["cells"].append({"cell_type": "bogus", "metadata": {}, "source": "x" * 200_000})
    notebook.write_text(json.dumps(raw))


STUDENT_ID = "student id"
REFUSED = [
    Refused(GLOB_TARGET + "*", STUDENT_ID),
    Refused(GLOB_TARGET + " ", STUDENT_ID),
    Refused("evil,14", STUDENT_ID),
    Refused("evil\nalice", STUDENT_ID),
    Refused("\x1b[2K\r  aa-honest-correct  graded  14 of 14", STUDENT_ID),  # a forged row, unescaped
    Refused("=HYPERLINK(1)", STUDENT_ID),
    Refused("evil;=HYPERLINK(1)", STUDENT_ID),  # a cell of its own where `;` separates a spreadsheet's cells
    Refused("link-to-the-solution", "solution.ipynb is a symbolic link", link_to_the_solution),
    Refused("fifo-in-submission", "data.csv is a FIFO", fifo),
    Refused("fifo-as-timestamp", "timestamp.txt is not a plain file", fifo_as_timestamp),
    Refused("digits-as-timestamp", "timestamp.txt is not a time", digits_as_timestamp),
    Refused("hard-link-to-the-solution", "notes.txt is a hard link", hard_link_to_the_solution),
    Refused("stray-link-to-the-solution", "solution.md is a symbolic link", stray_link_to_the_solution),
    Refused("link-to-the-gradebook", "gradebook.db is a symbolic link", link_to_the_gradebook),
    Refused("link-to-a-password-file", "notes.txt is a symbolic link", link_to_a_password_file),
    Refused("link-under-a-glob", "sub[a]/leak is a symbolic link", link_under_a_glob_named_folder),
    Refused("nested-deeply", "nested more than 64 levels", nested_deeply),
    Refused("twenty-thousand-cells", "more than 1000", twenty_thousand_cells),
    Refused("unknown-cell-type", "must be valid exactly by one definition (0 matches found)", unknown_cell_type),
    Refused("lone-surrogate-in-markdown", "holds a lone surrogate", lone_surrogate_in_a_written_answer),
]
