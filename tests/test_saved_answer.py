"""The reading exercises' visible checks read the answer cell as the grader will see it, the one saved in the
notebook (lrcourse.checking.saved_answer), for the scheduler check and the self-contained check alike (issue 23,
R23h): a cell the kernel ran since, below the answer cell, is not the one graded. Where the saved cell cannot be read,
or does not bind the answer, the check says so (save and rerun) rather than pass. A real IPython shell, as in a
learner's kernel, running the chapter's own setup and test cells."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
import torch.optim.lr_scheduler

from lrcourse.checking import CheckFailed, saved_answer
from lrcourse.checking.answer_cell_schedulers import schedulers_named, unfollowed
from lrcourse.checking.self_contained import names_read_not_bound, names_used_but_not_defined

from catalogue import plateau_reading, step_lr_reading
from support.saved_cells import failures, save_answer_cell, start_reading_kernel

LOOPS_ANSWER = 'diagnosed_loops = {"A": "training loss", "B": "one epoch late", "C": "accuracy", "D": "correct"}\n'
READINGS = {  # the answer's name: (its chapter, its notebook, a right answer cell)
    "inferred_step_lr": ("02_ordered_schedules", "ordered_schedules.ipynb", step_lr_reading.ANSWER),
    "inferred_plateau_arguments": ("03_adaptive_schedules", "adaptive_schedules.ipynb", plateau_reading.ANSWER),
    "diagnosed_loops": ("03_adaptive_schedules", "adaptive_schedules.ipynb", LOOPS_ANSWER),
}


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """`start(variable)`: the reading's chapter in a real IPython shell (`support.saved_cells.start_reading_kernel`):
    its `run(cell, new_cell=False)` and the visible test cells of the exercise."""
    from IPython.core.interactiveshell import InteractiveShell

    def start(variable):
        chapter, notebook, _ = READINGS[variable]
        return start_reading_kernel(tmp_path, monkeypatch, chapter, notebook, variable)

    yield start
    InteractiveShell.clear_instance()


@pytest.fixture
def within_seconds():
    """`failures` of the test cells, each wait past 20 s stopped with an error (a blocked `open`: the timer repeats, as
    one cell may block more than once)."""

    def too_long(*_):
        raise TimeoutError("the visible test cell blocked")

    previous = signal.signal(signal.SIGALRM, too_long)

    def run_within(run, tests):
        signal.setitimer(signal.ITIMER_REAL, 20, 20)
        try:
            return failures(run, tests)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    yield run_within
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("variable", READINGS)
def test_a_scratch_name_in_the_saved_answer_cell_fails_though_the_answer_was_retyped_below(kernel, variable):
    """R23h: the answer cell built from a scratch cell's name, run and saved, then the answer retyped in a new cell
    below: the history's cell stood on its own, every visible cell passed, and the saved answer cell, the one graded,
    stopped on a NameError (0)."""
    _, notebook, answer = READINGS[variable]
    run, tests = kernel(variable)
    assert run(answer.replace(f"{variable} = ", "scratch_answer = ", 1)) is None  # a scratch cell
    assert run(f"{variable} = scratch_answer\n") is None  # the answer cell, saved
    assert run(answer, new_cell=True) is None  # retyped below
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert (
        f"The answer cell of {variable} saved in {notebook} uses scratch_answer, which neither that cell nor an answer cell"
        in said[0]
    )
    assert "save the notebook" in said[0]
    assert run(answer) is None  # written in the answer cell and saved: graded whole
    assert failures(run, tests) == []


@pytest.mark.parametrize("variable", READINGS)
def test_the_stub_saved_and_the_answer_in_a_new_cell_below_fails_saying_to_save(kernel, variable):
    """R23h (older): the answer cell saved as released (its stub raises NotImplementedError) and the answer typed in a
    new cell below: every visible cell passed, and the grade, which runs the answer cell, gave 0. Not yet saved looks
    the same from the kernel: the message says both."""
    _, notebook, answer = READINGS[variable]
    run, tests = kernel(variable)
    assert run(answer, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert f"The answer cell of {variable} saved in {notebook} does not assign {variable}" in said[0]
    assert "or not yet saved, is not graded" in said[0] and "save the notebook" in said[0]
    assert run(answer) is None
    assert failures(run, tests) == []


def test_a_fifo_named_like_a_notebook_neither_blocks_nor_passes_as_the_saved_cell(kernel, within_seconds, tmp_path):
    """R23h N: `open` on a FIFO named `*.ipynb` in the learner's folder blocked the visible cell for good. It is
    skipped beside the chapter's notebook, and named, not read, when it is the kernel's own."""
    _, _, answer = READINGS["inferred_step_lr"]
    run, tests = kernel("inferred_step_lr")
    os.mkfifo(tmp_path / "zz.ipynb")
    assert run(answer) is None
    assert within_seconds(run, tests) == []
    assert run(f"__session__ = {str(tmp_path / 'zz.ipynb')!r}") is None
    said = within_seconds(run, tests)
    assert len(said) == len(tests), said
    assert "found no saved notebook holding the answer cell of inferred_step_lr" in said[0]
    assert "zz.ipynb is not a regular file" in said[0] and "save the notebook" in said[0]


def test_the_notebook_is_read_in_the_kernels_first_folder_after_a_cd(kernel, tmp_path):
    """R23h N: after `%cd` elsewhere the working folder held no notebook and the saved replay went unread (pass, 0)."""
    _, notebook, answer = READINGS["inferred_step_lr"]
    run, tests = kernel("inferred_step_lr")
    assert run(step_lr_reading.REPLAY + answer) is None  # the answer cell, saved
    (tmp_path / "elsewhere").mkdir()
    assert run(f"%cd {tmp_path / 'elsewhere'}") is None
    assert run(answer, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert f"saved in {notebook} uses PyTorch's schedulers (StepLR, lr_scheduler)" in said[0], said[0]


def test_a_link_is_followed_only_to_a_file_in_the_same_folder(kernel, tmp_path):
    """A notebook linked from elsewhere is not the folder's (and may be any file the kernel can read): named, not read.
    A link between two files of the folder is followed."""
    _, notebook, answer = READINGS["inferred_step_lr"]
    run, tests = kernel("inferred_step_lr")
    assert run(answer) is None
    (tmp_path / "elsewhere").mkdir()
    shutil.move(tmp_path / notebook, tmp_path / "elsewhere" / notebook)
    os.symlink(tmp_path / "elsewhere" / notebook, tmp_path / notebook)
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert f"{notebook} is a link out of its folder" in said[0]
    os.remove(tmp_path / notebook)
    shutil.move(tmp_path / "elsewhere" / notebook, tmp_path / "saved.json")
    os.symlink("saved.json", tmp_path / notebook)
    assert failures(run, tests) == []


def test_a_notebook_past_the_size_cap_is_named_not_read(kernel, monkeypatch):
    """A notebook is read whole, so one past MAX_BYTES (the grader's 50 MB) is named, not read."""
    _, notebook, answer = READINGS["inferred_step_lr"]
    run, tests = kernel("inferred_step_lr")
    assert run(answer) is None
    monkeypatch.setattr(saved_answer, "MAX_BYTES", Path(notebook).stat().st_size - 1)
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert f"{notebook} is not a regular file of at most" in said[0]


def test_one_reading_of_the_names_a_cell_takes_from_outside_it():
    """The scheduler check's names read from the kernel and the self-contained check's names the cell does not define
    were two near-copies that differed on a global a function of the cell assigns (R23g): one function now. Such a
    global is read from outside (the function may not have run: graded, NameError), and the self-contained check leaves
    out the builtins, which the grader's process has too."""
    cell = "def fill():\n    global part\n    part = 5\nx = {'step_size': part, 'gamma': max(0.5, g)}\n"
    assert names_read_not_bound(cell) == {"max", "g", "part"}
    assert names_used_but_not_defined(cell) == {"g", "part"}
    own = "def drop(scheduler):\n    return scheduler\nscheduler_x = 2\nx = [drop(scheduler_x), len([])]\n"
    assert names_read_not_bound(own) == {"len"} and names_used_but_not_defined(own) == set()
    kernel = {"S": torch.optim.lr_scheduler.StepLR}  # a scratch cell's; the cell's function that rebinds S never ran
    assert schedulers_named("def fill():\n    global S\n    S = 1\nx = S(o, 5)\n", "x", kernel) == ["S"]


@pytest.mark.parametrize(
    "before",
    [
        'getattr(globals()["lr_" + "scheduler"], "Step" + "LR")(make_optimizer(0.4), 5)\n',
        'exec("lr_" + "scheduler.StepLR(make_optimizer(0.4), 5)")\n',
        "def fill():\n    global S\n    S = 5\nfill()\n",
        'getattr(getattr(torch.optim, "lr_" + "scheduler"), "Step" + "LR")(make_optimizer(0.4), 5)\n',  # R23j M3
    ],
)
def test_code_the_check_cannot_follow_before_the_answer_earns_a_note_not_a_silent_pass(kernel, capsys, before):
    """R23g: a replay through `globals()[...]`, `exec` or a function's `global` passed every visible cell, and graded 0
    where it builds a scheduler. The check cannot tell what they run: it says so beside its pass. After the answer,
    or in a scratch cell, they cost nothing and earn no note."""
    _, _, answer = READINGS["inferred_step_lr"]
    run, tests = kernel("inferred_step_lr")
    assert run(before + answer) is None
    capsys.readouterr()
    said = failures(run, tests)
    if "globals()" in before or "exec(" in before:  # refused by name since R23q W3 (checking.hidden_lookups)
        assert len(said) == len(tests) and all("globals()" in one or "exec()" in one for one in said), said
        return
    assert said == []
    shown = capsys.readouterr().out
    assert shown.count("Note: the answer cell of inferred_step_lr uses ") == len(tests), shown
    assert "which this check cannot follow" in shown
    assert run(answer + before) is None
    capsys.readouterr()
    assert failures(run, tests) == []
    assert "Note:" not in capsys.readouterr().out


def test_a_saved_cell_that_does_not_compile_fails_with_that_reason_not_a_crash():
    """A saved answer cell the grader cannot compile (a syntax error, unary minus nested 200,000 deep: MemoryError from
    the parser) scores 0: the check says the cell does not run, rather than raising out of itself."""
    for text in ("inferred_step_lr = {\n", "inferred_step_lr = " + "-" * 200_000 + "1\n"):
        with pytest.raises(CheckFailed, match="saved in nb.ipynb does not run: (SyntaxError|MemoryError)"):
            saved_answer.expect_binds(saved_answer.SavedCell("nb.ipynb", text), "inferred_step_lr")
    deep = "inferred_step_lr = " + "-" * 100_000 + "1\n"  # R23n N2: the text readers raised MemoryError too
    assert not saved_answer.assigns(deep, "inferred_step_lr") and not saved_answer.imports(deep, "inferred_step_lr")
    assert saved_answer.magic_calls(deep) == [] and saved_answer.grade_changing_magics(deep, "inferred_step_lr") == []
    above = [
        {"cell_type": "code", "source": text, "metadata": {"nbgrader": {"solution": True, "grade_id": grade_id}}}
        for grade_id, text in (("other", deep.replace("inferred", "other")), ("inferred_step_lr", deep))
    ]
    assert saved_answer.graded_cell(above, "inferred_step_lr", "nb.ipynb")[0].source == deep


@pytest.mark.parametrize("variable", READINGS)
@pytest.mark.parametrize("saved", ["draft", "string"])
def test_the_saved_answer_cell_must_be_the_cell_that_last_assigned_the_answer(kernel, variable, saved):
    """R23j M1: a draft saved in the answer cell and the answer run in a cell below it, or a string saved there and
    the cell then edited to the answer and run, not saved: every visible cell passed, judging the kernel's value, and
    the grader, which runs the saved cell, gave 0 (or 1 of 3). The saved cell is compared with the one that ran."""
    _, notebook, answer = READINGS[variable]
    run, tests = kernel(variable)
    text = f"{variable} = {{}}\n" if saved == "draft" else f"{variable} = '5, 0.7, 0.25'\n"  # the report's
    assert run(text) is None  # typed in the answer cell, run and saved
    assert run(answer, new_cell=True) is None  # the answer run below it, or typed over it and not saved
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert f"The answer cell of {variable} saved in {notebook} is not the cell that last assigned {variable}" in said[0]
    assert "Run the answer cell, then save the notebook" in said[0]
    assert run(answer) is None  # run in the answer cell and saved
    assert failures(run, tests) == []


def test_a_saved_answer_cell_that_raised_and_the_answer_run_below_fails(kernel):
    """R23j M1 (b): `{"step_size": logged_rates.index(0.3), ...}` saved, which raised ValueError when run, and the
    right answer in a cell below: every visible cell passed, and the grade was 0 of 3."""
    _, notebook, answer = READINGS["inferred_step_lr"]
    run, tests = kernel("inferred_step_lr")
    assert run(answer.replace('"step_size": 5', '"step_size": logged_rates.index(0.3)')) is not None  # saved
    assert run(answer, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert f"saved in {notebook} is not the cell that last assigned inferred_step_lr" in said[0]


def test_the_checks_count_what_the_answer_cells_above_bind_as_the_grader_does(kernel):
    """R23j M2: the grader runs every answer cell of the notebook in order, in one process (grading.autograde.remote),
    so both answers written in (a)'s answer cell, (b)'s left as released, scored 4 of 4, and so did (b)'s cell reading
    a name (a)'s binds; the visible cells said "scores 0". A name only a later answer cell binds is still missing."""
    _, notebook, answer = READINGS["inferred_plateau_arguments"]
    run, tests = kernel("diagnosed_loops")
    both = answer + LOOPS_ANSWER
    save_answer_cell(notebook, "inferred_plateau_arguments", both)
    assert run(both, new_cell=True) is None
    assert failures(run, tests) == []
    order = 'loop_order = ["training loss", "one epoch late", "accuracy", "correct"]\n'
    save_answer_cell(notebook, "inferred_plateau_arguments", answer + order)
    assert run(answer + order, new_cell=True) is None
    assert run('diagnosed_loops = dict(zip("ABCD", loop_order))\n') is None  # (b)'s answer cell, saved
    assert failures(run, tests) == []
    save_answer_cell(notebook, "inferred_plateau_arguments", answer)  # loop_order in no answer cell above
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert "The cell that last assigned diagnosed_loops uses loop_order, which that cell does not define" in said[0]


def test_a_saved_cell_that_binds_the_answer_unseen_is_not_said_to_score_0():
    """R23j N1: `globals()["inferred_step_lr"] = {...}` was graded 3 of 3 and told "it scores 0": the check reads the
    text, and says only that."""
    cell = saved_answer.SavedCell("nb.ipynb", 'globals()["inferred_step_lr"] = {"step_size": 5}\n')
    with pytest.raises(
        CheckFailed, match="does not assign inferred_step_lr by name .this check reads the cell's text"
    ) as failed:
        saved_answer.expect_binds(cell, "inferred_step_lr")
    assert "scores 0" not in str(failed.value)


def test_getattr_with_a_computed_name_is_unfollowed_and_with_a_constant_one_is_read():
    """R23j M3: `getattr(getattr(torch.optim, "lr_" + "scheduler"), "Step" + "LR")(...)` before the answer passed with no
    note and was graded 0. A constant name is read as the attribute it names."""
    assert unfollowed('S = getattr(torch.optim, "lr_" + "scheduler")\nx = 1\n', "x") == ["getattr"]
    assert unfollowed('S = getattr(torch.optim, "lr_scheduler")\nx = 1\n', "x") == []
    assert schedulers_named('S = getattr(torch.optim, "lr_scheduler")\nx = 1\n', "x", {}) == ["lr_scheduler"]


@pytest.mark.parametrize("variable", READINGS)
def test_a_check_reads_the_saved_notebook_once(kernel, monkeypatch, variable):
    """R23j N3: each visible test cell read and parsed the saved notebook four times (9 s for a 45 MB notebook)."""
    _, _, answer = READINGS[variable]
    run, tests = kernel(variable)
    assert run(answer) is None
    reads = []
    real = saved_answer.read_notebook
    monkeypatch.setattr(saved_answer, "read_notebook", lambda path: reads.append(path) or real(path))
    assert failures(run, tests[:1]) == []
    assert len(reads) == 1, reads


def test_an_answer_cell_whose_last_run_raised_before_the_answer_fails_every_test_cell(kernel):
    """R23j M1 (b'): the right answer run, then its cell edited to one that raised ValueError, run and saved: the saved
    cell is the one that last assigned the name, and every visible cell passed on the earlier cell's value (graded 0).
    The shell's record of that cell's error (`kernel_messages.FailedAnswers.raised`) names its run, for every test
    cell. An error after the answer is whole costs the grade nothing, and passes."""
    _, notebook, answer = READINGS["inferred_step_lr"]
    run, tests = kernel("inferred_step_lr")
    assert run(answer) is None
    assert run(answer.replace('"step_size": 5', '"step_size": logged_rates.index(0.3)')) is not None  # and saved
    said = failures(run, tests)
    assert len(said) == len(tests), said
    for message in said:
        assert f"The answer cell of inferred_step_lr saved in {notebook} stopped with ValueError when it last ran" in (
            message
        )
    assert run(answer + "logged_rates.index(0.3)\n") is not None  # after the answer: graded whole
    assert failures(run, tests) == []
    assert run(answer) is None
    assert failures(run, tests) == []


def test_the_stub_left_above_the_answer_fails_and_below_it_passes(kernel):
    """R23l M1: the answer run, then pasted into the answer cell below the released stub, run and saved: the stub's
    error, drawn by the course's one-line handler, set no `sys.last_value`, so every visible cell passed on the earlier
    value and the grade was 0 of 3. The shell's own record of each cell's error (`FailedAnswers.raised`) names it; an
    error shown since in a scratch cell no longer hides it. The stub below the answer costs the grade nothing."""
    _, notebook, answer = READINGS["inferred_step_lr"]
    run, tests = kernel("inferred_step_lr")
    assert run(answer, new_cell=True) is None  # tried in a scratch cell: the value bound earlier
    stub = "# YOUR CODE HERE\nraise NotImplementedError()\n"
    assert isinstance(run(stub + answer), NotImplementedError)  # saved
    said = failures(run, tests)
    assert len(said) == len(tests), said
    for message in said:
        assert f"saved in {notebook} stopped with NotImplementedError when it last ran" in message
    assert run(answer + stub) is not None  # the stub below the answer: graded whole
    assert failures(run, tests) == []
    assert run(answer.replace('"step_size": 5', '"step_size": logged_rates.index(0.3)')) is not None  # and saved
    for scratch in ("1/0\n", "import no_such_module_here\n"):
        assert run(scratch, new_cell=True) is not None  # another error shown since
        said = failures(run, tests)
        assert len(said) == len(tests), said
        assert "stopped with ValueError when it last ran" in said[0]
    assert run(answer) is None
    assert failures(run, tests) == []


def test_a_comment_or_a_new_layout_saved_after_the_run_is_the_same_cell(kernel, tmp_path):
    """R23l N1: a comment added to the answer cell after its run, or the dict laid out black-style, and saved: every
    visible cell said the saved cell was not the one that ran. The cells are compared as code; a changed value is
    still another cell."""
    _, notebook, answer = READINGS["inferred_step_lr"]
    run, tests = kernel("inferred_step_lr")
    assert run(answer) is None
    for text in (answer + "# read off the log above\n", answer.replace("{", "{\n    ").replace(", ", ",\n    ")):
        save_answer_cell(tmp_path / notebook, "inferred_step_lr", text)
        assert failures(run, tests) == [], text
    save_answer_cell(tmp_path / notebook, "inferred_step_lr", answer.replace('"step_size": 5', '"step_size": 6'))
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert "is not the cell that last assigned inferred_step_lr" in said[0]


def test_operators_attrgetter_and_methodcaller_before_the_answer_are_unfollowed():
    """R23l N3: `operator.attrgetter("lr_scheduler.Step" + "LR")(torch.optim)(...)` before the answer got no note."""
    cell = 'S = operator.attrgetter("lr_scheduler.Step" + "LR")(torch.optim)\nx = 1\n'
    assert unfollowed(cell, "x") == ["attrgetter"]
    assert unfollowed('m = methodcaller("step")\nx = 1\n', "x") == ["methodcaller"]
    assert unfollowed('x = 1\nS = operator.attrgetter("a")\n', "x") == []


def test_a_scratch_cell_magic_that_reran_the_answer_is_named_not_the_answer_cell(kernel):
    """R23l N2: `%%time` over the answer in a scratch cell blamed the answer cell ("Remove the magics from the answer
    cell"), which has none. The message names the input that last assigned it; rerunning the answer cell clears it."""
    _, _, answer = READINGS["inferred_step_lr"]
    run, tests = kernel("inferred_step_lr")
    assert run(answer) is None
    assert run("%%time\n" + answer, new_cell=True) is None
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert "The cell that last assigned inferred_step_lr in this kernel (In[" in said[0]
    assert "run the answer cell again" in said[0]
    assert run(answer) is None
    assert failures(run, tests) == []
