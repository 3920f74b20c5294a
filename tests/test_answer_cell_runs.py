"""A data answer is whole after the last statement of its cell that may change it (`answer_cell_runs.up_to_the_answer`,
issue 23, R23s W5): `x = {}` then `fill(x)` reading g.json, or a thread closing over x, was dated "after the answer",
so the read passed every visible cell (the grade: FileNotFoundError with the answer `{}`, 0 / 3). A statement handing
the answer to a call, or calling a holder of it (`t.start()` of a thread built on it), may change it; printing it,
handing on its items or `**answer`, comparing it do not: a self-test after the answer stays after it. Unit tests on
the statements counted, and the W5 cells and an honest self-test in a real IPython shell."""

from __future__ import annotations

import ast
import json

import pytest

from lrcourse.checking.answer_cell_runs import up_to_the_answer

from catalogue import step_lr_reading
from support.saved_cells import failures, save_answer_cell, start_reading_kernel

ANSWER, RIGHT, CHAPTER, DATA = (
    step_lr_reading.ANSWER,
    step_lr_reading.RIGHT,
    step_lr_reading.CHAPTER,
    "inferred_step_lr",
)
FILLED_AFTER = {  # R23s W5 (the first two) and the ways around the first fix: every line counts
    "a helper filling it": "import json\ninferred_step_lr = {}\n\n\ndef fill(d):\n"
    "    d.update(json.load(open('g.json')))\n\n\nfill(inferred_step_lr)\n",
    "a thread's lambda": "import json\nimport threading\n\ninferred_step_lr = {}\nt = threading.Thread(target=lambda: "
    "inferred_step_lr.update(json.load(open('g.json'))))\nt.start()\nt.join()\n",
    "a function closing over it": "import json\n\ninferred_step_lr = {}\n\n\ndef fill():\n"
    "    inferred_step_lr.update(json.load(open('g.json')))\n\n\nfill()\n",
    "a partial holding it": "import functools\nimport json\n\ninferred_step_lr = {}\n\n\ndef fill(d):\n"
    "    d.update(json.load(open('g.json')))\n\n\ng = functools.partial(fill, inferred_step_lr)\ng()\n",
    "a thread's args": "import json\nimport threading\n\ninferred_step_lr = {}\n\n\ndef fill(d):\n"
    "    d.update(json.load(open('g.json')))\n\n\nt = threading.Thread(target=fill, args=(inferred_step_lr,))\n"
    "t.start()\nt.join()\n",
    "a helper handing it to another that fills it": "import json\ninferred_step_lr = {}\n\n\ndef fill(e):\n"
    "    e.update(json.load(open('g.json')))\n\n\ndef outer(d):\n    fill(d)\n\n\nouter(d=inferred_step_lr)\n",
    "a box a thread fills, joined after the answer is bound to it": "import json\nimport threading\n\nbox = {}\n"
    "t = threading.Thread(target=lambda: box.update(json.load(open('g.json'))))\nt.start()\ninferred_step_lr = box\n"
    "t.join()\n",
}
SELF_TESTS = {  # after the answer, changing nothing of it: not counted
    "print, then np.save of it": "print(inferred_step_lr)\nnp.save('mine.npy', inferred_step_lr)\n"
    "print(np.load('mine.npy', allow_pickle=True))\n",
    "a replay with **answer": "s = StepLR(o, **inferred_step_lr)\nprint(len(inferred_step_lr))\n",
    "a replay of the cell reading its items": "def replays(reading):\n    return StepLR(o, gamma=reading['gamma'])\n"
    "\n\nprint(replays(inferred_step_lr))\n",
    "a replay of the cell with **answer, a list unpacked before": "def replays(step_size, gamma, hand_set_rate, *a):\n"
    "    return StepLR(o, step_size, gamma)\n\n\nprint(replays(*[], **inferred_step_lr))\n",
    "its items handed on, compared": "print(f(inferred_step_lr['gamma']))\nassert inferred_step_lr == {}\n"
    "for k, v in inferred_step_lr.items():\n    print(k, v)\n",
}


def _last_line(cell: str) -> int:
    return up_to_the_answer(ast.parse(cell), DATA)[-1].end_lineno


@pytest.mark.parametrize("cell", FILLED_AFTER.values(), ids=FILLED_AFTER)
def test_a_statement_that_may_fill_the_answer_is_before_it_is_whole(cell):
    assert _last_line(cell) == len(cell.splitlines())


@pytest.mark.parametrize("after", SELF_TESTS.values(), ids=SELF_TESTS)
def test_a_self_test_after_the_answer_stays_after_it(after):
    cell = "import numpy as np\n" + ANSWER + after
    last = _last_line(cell)
    if "np.save" in after:  # handed to a call that could change it: up to that line, the read below stays after
        assert last == 1 + len(ANSWER.splitlines()) + 2
    else:
        assert last == 1 + len(ANSWER.splitlines())


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    (tmp_path / "g.json").write_text(json.dumps(RIGHT))
    yield tmp_path, start_reading_kernel(tmp_path, monkeypatch, CHAPTER, "ordered_schedules.ipynb", DATA)
    InteractiveShell.clear_instance()


@pytest.mark.parametrize("case", ["a helper filling it", "a thread's lambda", "honest"])
def test_a_file_read_filling_the_answer_after_its_line_fails_every_visible_cell(kernel, case):
    """R23s W5: both cells passed 0 / 3 visible cells failed, and were graded 0; print and np.save after the answer
    pass."""
    folder, (run, tests) = kernel
    cell = "import numpy as np\n" + ANSWER + SELF_TESTS["print, then np.save of it"] if case == "honest" else None
    cell = cell or FILLED_AFTER[case]
    save_answer_cell(folder / "ordered_schedules.ipynb", DATA, cell)
    assert run(cell, new_cell=True) is None
    assert run(f"assert inferred_step_lr == {RIGHT!r}", new_cell=True) is None
    said = failures(run, tests)
    if case == "honest":
        assert said == []
    else:
        assert len(said) == len(tests) > 1, said
        assert "g.json" in said[0], said[0]
