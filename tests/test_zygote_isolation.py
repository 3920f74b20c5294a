"""One worker's answer processes serve many students in turn: nothing one student's answer does reaches the
next. Attacks on the shared zygote (writing its memory, stopping or killing it, leaving processes behind
that kill its new children, shared memory that outlives the process, files the sweep cannot delete), each
followed by honest students judged by the same worker's zygote."""

from __future__ import annotations

import pytest

from lrcourse.grading.autograde import verdicts
from lrcourse.grading.exercise import load_exercise
from lrcourse.grading.sandbox.limits import Limits
from lrcourse.grading.sandbox.zygote import ZygoteFault

from support import hostile
from support.course import make_course

WRITE_ZYGOTE_MEMORY = (
    hostile.find_zygotes("answer_zygote")
    + """
import sys, ctypes, struct
_z = sys.modules["__main__"]
_f = _z.Child.__dict__["handle"]
_off = ctypes.string_at(id(_f), 128).find(struct.pack("<Q", id(_f.__code__)))
for _pid in _zygotes():
    try:
        _fd = os.open(f"/proc/{_pid}/mem", os.O_RDWR)
        os.pwrite(_fd, struct.pack("<Q", id(_z._argument.__code__)), id(_f) + _off)
        os.close(_fd)
    except Exception:
        pass
"""
)
STOP_ZYGOTE = hostile.stop_zygotes("answer_zygote")
HAUNT_LATER_CHILDREN = hostile.HAUNT_LATER_PROCESSES
HOLD_SHARED_MEMORY = """
import ctypes
_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmat.restype = ctypes.c_void_p
_size = 2700 << 20  # System V shared memory outlives its process: charged to the sandbox, unless it dies with it
_id = _libc.shmget(0x4c52, _size, 0o1000 | 0o666)
if _id >= 0:
    _address = _libc.shmat(_id, None, 0)
    if _address not in (None, ctypes.c_void_p(-1).value):
        ctypes.memset(_address, 1, _size)
"""
PROTECTED_LEFTOVERS = """
import os
os.makedirs("/tmp/keep", exist_ok=True)
open("/tmp/keep/fill", "wb").write(b"x" * (200 << 20))
os.chmod("/tmp/keep", 0o555)  # the zygote's sweep (the same user) cannot delete inside a read-only folder
"""
UNMOUNT_PRIVATE_TMP = """
import ctypes, os
_libc = ctypes.CDLL(None, use_errno=True)
_libc.umount2(b"/tmp", 2)  # to reach the sandbox's own /tmp below
_libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, b"size=4096m")  # or to lay a larger one over it
os.makedirs("/tmp/keep", exist_ok=True)
open("/tmp/keep/fill", "wb").write(b"x" * (200 << 20))
os.chmod("/tmp/keep", 0o555)
"""
ATTACKS = {
    "write-zygote-memory": WRITE_ZYGOTE_MEMORY,
    "unmount-private-tmp": UNMOUNT_PRIVATE_TMP,
    "stop-zygote": STOP_ZYGOTE,
    "haunt": HAUNT_LATER_CHILDREN,
    "hold-shared-memory": HOLD_SHARED_MEMORY,
    "protected-leftovers": PROTECTED_LEFTOVERS,
}


@pytest.fixture(scope="module")
def chapter2(tmp_path_factory):
    from lrcourse.gradebook_db import gradebook

    course = make_course(tmp_path_factory.mktemp("zygote"), [hostile.CHAPTER])
    with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        exercise = load_exercise(course, hostile.CHAPTER, book)
    judge = verdicts.Judge(Limits())
    yield judge, exercise
    judge.close()


@pytest.mark.slow
@pytest.mark.parametrize("attack", list(ATTACKS))
def test_the_students_after_an_attack_keep_full_marks(chapter2, attack):
    judge, exercise = chapter2
    full = sum(test.points for test in exercise.tests)
    attacker = judge.decide(exercise, list(hostile.answers(ATTACKS[attack] + hostile.CORRECT).items()))
    assert attacker.score <= full
    for _ in range(3):
        try:
            honest = judge.decide(exercise, list(hostile.SOLUTION.items()))
        except ZygoteFault:  # the worker retries once with a fresh zygote, as worker.py does
            honest = judge.decide(exercise, list(hostile.SOLUTION.items()))
        assert honest.score == full, {name: v.message for name, v in honest.cells.items()}


@pytest.mark.slow
def test_an_ipython_shell_alive_in_the_graders_process_changes_no_verdict(chapter2):
    """CI of stop 48: a test that left an IPython shell in the suite's process made this judge's visible verdicts
    read the notebooks of the shell's folder (the checks took it for a learner's kernel), and honest students lost
    the reading's visible point. The trusted verdicts' test cells run in the judge's namespace, never a shell's."""
    from IPython.core.interactiveshell import InteractiveShell

    judge, exercise = chapter2
    full = sum(test.points for test in exercise.tests)
    InteractiveShell.instance()
    try:
        honest = judge.decide(exercise, list(hostile.SOLUTION.items()))
    finally:
        InteractiveShell.clear_instance()
    assert honest.score == full, {name: v.message for name, v in honest.cells.items()}
    assert all(v.visible_score in (None, v.points) for v in honest.cells.values()), honest.cells


@pytest.mark.slow
def test_the_graders_reference_solutions_and_pytorchs_schedulers_are_empty_in_the_answers_process(chapter2):
    """An answer that could import the grader's reference loops (the training exercises' answers) or PyTorch's
    scheduler source could replay the expected values: in the answers' sandbox both files are empty."""
    judge, exercise = chapter2
    probe = """
import importlib.util, torch
try:
    from lrcourse.grading import references
    reachable = hasattr(references, "reference_fit_steps")
except ImportError:
    reachable = False
try:
    reachable = reachable or "def reference_fit_steps" in open(GRADER_FILE).read()
except OSError:
    pass
source = open(importlib.util.find_spec("torch.optim.lr_scheduler").origin).read()
hidden = not reachable and "class StepLR(LRScheduler)" not in source
if not hidden:
    MyStepLR = None  # the answer loses its marks if either file could be read
"""
    from lrcourse.checking.expected import GRADER_REFERENCES

    assert GRADER_REFERENCES.exists()  # the grader's side has them...
    probe = f"GRADER_FILE = {str(GRADER_REFERENCES)!r}\n" + probe
    answers = {**hostile.SOLUTION, "my_step_lr": hostile.SOLUTION["my_step_lr"] + "\n" + probe}
    verdict = judge.decide(exercise, list(answers.items()))
    assert verdict.cells["test_my_step_lr_one_group"].trusted_score > 0, verdict.cells["test_my_step_lr_one_group"]


@pytest.mark.slow
def test_an_answer_slow_on_purpose_is_graded_as_far_as_its_time_budget_goes(chapter2):
    """Each request answered just inside its deadline would hold the worker for minutes with full marks; within
    a budget of 12 s the answer is stopped, the cells left are scored 0 with the reason, and the next student
    is judged as before."""
    import time

    judge, exercise = chapter2
    full = sum(test.points for test in exercise.tests)
    judge.ready(exercise)  # as a worker does before a student's budget starts
    start = time.monotonic()
    slow = judge.decide(exercise, list(hostile.answers(hostile.SLOW_ON_PURPOSE).items()), start + 12, "budget")
    elapsed = time.monotonic() - start
    assert 11 < elapsed < 18, elapsed
    assert slow.out_of_time and slow.score < full, {name: v.message for name, v in slow.cells.items()}
    assert all("your budget ran out" in slow.cells[name].message for name in slow.out_of_time)
    honest = judge.decide(exercise, list(hostile.SOLUTION.items()), time.monotonic() + 300, "budget")
    assert honest.score == full and not honest.out_of_time
