"""One answer, one verdict in the kernel and in the grade, after attacker R23p (issue 23): a plain-data answer cell
that reads a scratch cell's name, a returned value that is callable, a returned value read outside the guard, the reply
envelopes the kernel measures an answer in, and what the kernel says of an answer the grader cannot read."""

import pytest
import torch

from lrcourse import checking

from support.answer_process import graders_namespace
from support.saved_cells import learners_run


def _recipe_answer(key: str, value):
    """A right recipe (lr=0.1, warmup 1, start_factor 0.5, step_size 2, gamma 0.5) with `key` given as `value`."""
    right = {"lr": 0.1, "warmup_epochs": 1, "start_factor": 0.5, "step_size": 2, "gamma": 0.5}
    return right | {key: value}


def _plateau(**given) -> dict:
    right = {"factor": 0.5, "patience": 1, "cooldown": 0, "threshold_mode": "rel", "threshold_range": (0.0, 0.1)}
    return right | given


def test_a_data_answer_that_reads_a_scratch_cells_name_fails_in_the_kernel_with_the_missing_names(
    tmp_path, monkeypatch
):
    """R23p: `inferred_step_lr = {..., "gamma": ratios[5], ...}` with `ratios` from a scratch cell passed in the kernel
    and scored 0 in the grade (the answer cell run alone: NameError). The kernel's form check finds the cell that last
    assigned the name (IPython's history) and names what it reads that neither it nor the setup defines; a scratch cell
    below the answer that assigns it again is told the answer cell is graded on its own. A real IPython shell."""
    import shutil

    from IPython.core.interactiveshell import InteractiveShell

    from lrcourse.build import ROOT
    from lrcourse.checking.step_lr_reading import check_step_reading

    shutil.copy(ROOT / "notebooks" / "02_ordered_schedules" / "ordered_schedules.ipynb", tmp_path)
    monkeypatch.chdir(tmp_path)  # the kernel's working folder holds the chapter's notebook (its context cells)
    shell = InteractiveShell.instance()
    run = learners_run(shell, tmp_path / "ordered_schedules.ipynb")  # kept in `In`; an answer typed in its cell, saved

    try:
        run("ratios = [0.7] * 9")  # a scratch cell
        run('inferred_step_lr = {"step_size": 5, "gamma": ratios[5], "hand_set_rate": 0.25}')
        with pytest.raises(
            checking.CheckFailed, match="assigned inferred_step_lr uses ratios, which that cell does not"
        ):
            check_step_reading(shell.user_ns["inferred_step_lr"], "gamma", 0.7, "")
        # the context's names are the answer cell's to use, and its own
        run("logged_rates = [0.4] * 5 + [0.28] * 5")  # as the chapter's context cell binds it
        run("g = logged_rates[5] / logged_rates[4]\ninferred_step_lr = dict(step_size=5, gamma=g, hand_set_rate=0.25)")
        check_step_reading(shell.user_ns["inferred_step_lr"], "gamma", 0.7, "")
        run("inferred_step_lr = dict(inferred_step_lr, gamma=ratios[5])", new_cell=True)  # a scratch cell below it
        with pytest.raises(
            checking.CheckFailed, match="a scratch cell below it that assigns inferred_step_lr again is not"
        ):
            check_step_reading(shell.user_ns["inferred_step_lr"], "gamma", 0.7, "")
    finally:
        InteractiveShell.clear_instance()


def test_chapter_3s_diagnosis_that_reads_a_scratch_cells_name_fails_in_the_kernel(tmp_path, monkeypatch):
    """The same for chapter 3's `diagnosed_loops` (a plain-data answer whose form check_diagnosis_form reads): an
    answer cell that reads a scratch cell's name fails in the kernel with it, as the grader runs the cell alone."""
    import shutil

    from IPython.core.interactiveshell import InteractiveShell

    from lrcourse.build import ROOT
    from lrcourse.checking.plateau_reading import check_diagnosis_form

    shutil.copy(ROOT / "notebooks" / "03_adaptive_schedules" / "adaptive_schedules.ipynb", tmp_path)
    monkeypatch.chdir(tmp_path)
    shell = InteractiveShell.instance()
    run = learners_run(shell, tmp_path / "adaptive_schedules.ipynb")
    try:
        run('late = "one epoch late"')  # a scratch cell
        run('diagnosed_loops = {"A": "correct", "B": "training loss", "C": late, "D": "accuracy"}')
        with pytest.raises(checking.CheckFailed, match="assigned diagnosed_loops uses late, which that cell does not"):
            check_diagnosis_form(shell.user_ns["diagnosed_loops"])
    finally:
        InteractiveShell.clear_instance()


def test_a_data_answer_cell_under_a_cell_magic_fails_in_the_kernel(tmp_path, monkeypatch):
    """R23s (issue 23): `%%time` over a right `diagnosed_loops` passed every check in the kernel and scored 0 in the
    grade, where the answer cell runs with a shell whose every magic does nothing: the cell defines nothing there.
    IPython's history holds the cell as `get_ipython().run_cell_magic('time', '', body)`; the kernel finds the name
    in the body and refuses the magic. A real IPython shell."""
    import shutil

    from IPython.core.interactiveshell import InteractiveShell

    from lrcourse.build import ROOT
    from lrcourse.checking.plateau_reading import check_diagnosis_form

    body = 'diagnosed_loops = {"A": "correct", "B": "training loss", "C": "one epoch late", "D": "accuracy"}\n'
    assert "diagnosed_loops" not in graders_namespace("%%time\n" + body)
    shutil.copy(ROOT / "notebooks" / "03_adaptive_schedules" / "adaptive_schedules.ipynb", tmp_path)
    monkeypatch.chdir(tmp_path)
    shell = InteractiveShell.instance()
    run = learners_run(shell, tmp_path / "adaptive_schedules.ipynb")
    try:
        run("%%time\n" + body)
        with pytest.raises(
            checking.CheckFailed,
            match="diagnosed_loops saved in adaptive_schedules.ipynb uses an IPython magic.*Remove",
        ):
            check_diagnosis_form(shell.user_ns["diagnosed_loops"])
        run(body)  # the same answer without the magic
        check_diagnosis_form(shell.user_ns["diagnosed_loops"])
    finally:
        InteractiveShell.clear_instance()


def test_a_data_answer_that_reads_a_line_magics_value_fails_in_the_kernel(tmp_path, monkeypatch):
    """R23s: `g = %time 0.7` then `inferred_step_lr = {..., "gamma": g, ...}`: g is 0.7 in the kernel and None in the
    grade (the magic does nothing there), so the answer scored 0; the kernel read only get_ipython, which it exempted."""
    import shutil

    from IPython.core.interactiveshell import InteractiveShell

    from lrcourse.build import ROOT
    from lrcourse.checking.step_lr_reading import check_step_reading

    cell = 'g = %time 0.7\ninferred_step_lr = {"step_size": 5, "gamma": g, "hand_set_rate": 0.25}\n'
    assert graders_namespace(cell)["inferred_step_lr"]["gamma"] is None
    shutil.copy(ROOT / "notebooks" / "02_ordered_schedules" / "ordered_schedules.ipynb", tmp_path)
    monkeypatch.chdir(tmp_path)
    shell = InteractiveShell.instance()
    run = learners_run(shell, tmp_path / "ordered_schedules.ipynb")
    try:
        run(cell)
        assert shell.user_ns["inferred_step_lr"]["gamma"] == 0.7
        with pytest.raises(
            checking.CheckFailed, match="inferred_step_lr saved in ordered_schedules.ipynb uses an IPython magic"
        ):
            check_step_reading(shell.user_ns["inferred_step_lr"], "gamma", 0.7, "")
        run(cell.replace("%time ", ""))
        check_step_reading(shell.user_ns["inferred_step_lr"], "gamma", 0.7, "")
    finally:
        InteractiveShell.clear_instance()


def test_a_function_answer_under_a_cell_magic_fails_in_the_kernel():
    """R23s: a right `recipe_from_rates` under `%%time` passed in the kernel (its code is "<timed exec>", not in
    linecache, so the self-contained check saw no cell) and is undefined in the grade. The kernel finds its cell in
    IPython's history and refuses the magic."""
    from IPython.core.interactiveshell import InteractiveShell

    cell = (
        "def recipe_from_rates(rates):\n"
        '    return {"lr": 0.1, "warmup_epochs": 1, "start_factor": 0.5, "step_size": 2, "gamma": 0.5}\n'
    )
    assert "recipe_from_rates" not in graders_namespace("%%time\n" + cell)
    recipe = {"lr": 0.1, "warmup": 1, "start_factor": 0.5, "step_size": 2, "gamma": 0.5}
    shell = InteractiveShell.instance()
    try:
        shell.run_cell("%%time\n" + cell, store_history=True)
        with pytest.raises(
            checking.CheckFailed,
            match=r"last assigned recipe_from_rates in this kernel \(In\[1\]\) uses an IPython magic",
        ):
            checking.check_recipe(shell.user_ns["recipe_from_rates"], **recipe)
        shell.run_cell(cell, store_history=True)
        checking.check_recipe(shell.user_ns["recipe_from_rates"], **recipe)
    finally:
        InteractiveShell.clear_instance()


def test_a_returned_callable_dict_is_data_only_a_callable_name_is_not():
    """R23p: a reader returning a dict subclass with __call__ was refused in the kernel ("your answer is callable") and
    got 4/4 in the grade, where a returned value is sent as its data: only a name is sent as a callable's stand-in."""

    class Callable(dict):
        def __call__(self):
            return None

    answer = Callable(_recipe_answer("gamma", 0.5))
    checking.check_recipe(lambda rates: answer, lr=0.1, warmup=1, start_factor=0.5, step_size=2, gamma=0.5)


def test_the_kernel_reads_a_returned_value_under_the_answers_guard():
    """R23p: the kernel converted a returned value (as_sent) after the guard ended: a __float__ that loops ran
    unbounded, one that runs PyTorch's scheduler went unseen. Now both are the guard's: a timeout, and the rule."""
    import time

    class Slow(float):
        def __float__(self):
            time.sleep(20)
            return 0.5

    answer = _recipe_answer("gamma", Slow(0.5))
    start = time.monotonic()
    with pytest.raises(checking.CheckFailed, match="did not finish within 3 s"):
        checking.check_recipe(lambda rates: answer, lr=0.1, warmup=1, start_factor=0.5, step_size=2, gamma=0.5)
    assert time.monotonic() - start < 10

    class Scheduled(float):
        def __float__(self):
            optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
            torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
            return 0.5

    answer = _recipe_answer("gamma", Scheduled(0.5))
    with pytest.raises(checking.CheckFailed, match="uses torch.optim.lr_scheduler"):
        checking.check_recipe(lambda rates: answer, lr=0.1, warmup=1, start_factor=0.5, step_size=2, gamma=0.5)


def test_the_wire_lets_the_guards_stops_through_a_students_float():
    """R23p: wire.encode's numbers branch swallowed every exception of a __float__ (`except BaseException: pass`), the
    guard's own stops too: the value went opaque and the message blamed its form. The grader's stub raises ForbiddenUse,
    the guard StudentTimeout: both pass through; any other error still makes the value opaque."""
    from lrcourse import wire
    from lrcourse.checking.guard import StudentTimeout

    class ForbiddenUse(RuntimeError):  # as the grader's stub of torch.optim.lr_scheduler names it
        pass

    def number(raised):
        class Number(float):
            def __float__(self):
                raise raised

        return Number(0.5)

    for stop in (ForbiddenUse("StepLR"), StudentTimeout()):
        with pytest.raises(type(stop)):
            wire.encode(number(stop))
    assert "opaque" in wire.encode(number(ValueError("no")))


def test_an_unsendable_answer_is_a_check_failed_naming_the_answer_and_what_to_do():
    """R23p: Unsendable was an AssertionError (IPython showed the checker's frames) saying the wire's words; an opaque
    value's type showed as lrcourse.wire.Opaque. It is a CheckFailed naming the answer, and the type is the student's."""
    from lrcourse.checking.answer_forms import Unsendable, as_sent

    assert issubclass(Unsendable, checking.CheckFailed)
    with pytest.raises(Unsendable, match=r"^predicted_x cannot be sent to the grader .* make it plain data"):
        as_sent({"k": [[0] * 99_999] * 10}, "predicted_x")

    class Mine:
        pass

    with pytest.raises(checking.CheckFailed, match=r"got <.*Mine object at .*>, of type Mine: return float"):
        checking.expect_close(as_sent(Mine()), 0.5, "predicted_x")


def test_chapter_2_and_3s_messages_say_which_forms_count():
    """R23p: "gamma must be a number > 0; yours is tensor(0.7000)" did not say a tensor is not one (chapter 4's did)."""
    from lrcourse.checking.plateau_reading import check_argument
    from lrcourse.checking.step_lr_reading import check_step_reading

    right = {"step_size": 5, "gamma": 0.7, "hand_set_rate": 0.25}
    with pytest.raises(checking.CheckFailed, match=r"gamma must be a number > 0 \(an int or a float; .*a tensor"):
        check_step_reading(right | {"gamma": torch.tensor(0.7)}, "gamma", 0.7, "")
    with pytest.raises(checking.CheckFailed, match=r"step_size must be a whole number >= 1 \(such as 4, or 4.0"):
        check_step_reading(right | {"step_size": torch.tensor(5)}, "step_size", 5, "")
    with pytest.raises(checking.CheckFailed, match=r"factor must be a number between 0 and 1 \(an int or a float"):
        check_argument(_plateau(factor=torch.tensor(0.5)), "factor", 0.5, "")


def _json_values(encoded) -> int:
    """How many JSON values `encoded` (wire.encode's output) is: what wire.loads bounds (MAX_VALUES)."""
    if isinstance(encoded, dict):
        return 1 + sum(_json_values(value) for value in encoded.values())
    if isinstance(encoded, list):
        return 1 + sum(_json_values(item) for item in encoded)
    return 1


def _of_values(count: int):
    """A plain value whose encoding is exactly `count` JSON values (lists of zeros, then a dict of one pair: 7)."""
    from lrcourse import wire

    lists, left = [], count - 2 - 7  # the outer list; the last dict
    while left >= 2 + 2 * wire.MAX_ITEMS:
        lists.append([0] * wire.MAX_ITEMS)
        left -= 2 + 2 * wire.MAX_ITEMS
    if left % 2:  # an odd rest: one more pair in a dict (5 values)
        value = [*lists, [0] * ((left - 2 - 5) // 2), {0: 0, 1: 1}]
    else:
        value = [*lists, [0] * ((left - 2) // 2), {0: 0}]
    assert _json_values(wire.encode(value)) == count
    return value


def _grader_reads(child, request: dict) -> bool:
    """Whether the grader's side reads the answer in `child`'s reply to `request`: the reply within the wire's bounds
    and, for a call, holding the value, as RemoteAnswer takes it (a reply of `timeout` or `error` is no value: the
    grade fails the answer). A call that ran out of time says nothing of the answer's size, so it fails the test: the
    call's value is encoded under the guard's wall-clock budget, and on a loaded machine a 3 s budget once ran out on a
    value of 399,996 JSON values (0.6 s unloaded), whose small timeout reply this counted as read."""
    from lrcourse import wire

    try:
        reply = wire.loads(wire.dumps(child.handle(request)))
    except wire.Malformed:
        return False
    assert not reply.get("timeout") and reply.get("error") is None, f"the grader's side got no value: {reply}"
    return True


def test_a_call_that_ran_out_of_time_is_no_read_of_its_value():
    """The grader's side gets no value from a call that timed out: _grader_reads says so rather than count its small
    reply as the value read (the fresh-clone failure of stop 45: kernel False, grader True past the bound)."""
    import socket
    import time

    from lrcourse.grading.sandbox.answer_zygote import Child

    ours, theirs = socket.socketpair()
    child = Child(theirs)
    child.namespace.update(function=lambda: time.sleep(2) or 0.5)
    try:
        with pytest.raises(AssertionError, match="the grader's side got no value: .*'timeout': True"):
            _grader_reads(child, {"op": "call", "target": "function", "args": [], "kwargs": {}, "seconds": 0.05})
    finally:
        ours.close()
        theirs.close()


def test_the_kernel_measures_an_answer_in_the_reply_the_grader_gets():
    """R23p (r_edge2, r_edge4b): as_sent measured an answer in an envelope matching neither real reply, so right answers
    at the bound got different verdicts. A name is measured in the process's reply to "value", a returned value in its
    reply to "call" (one function each, wire.value_reply and wire.call_reply): at and past the bound, the kernel refuses
    exactly what the grader's side refuses."""
    import socket

    from lrcourse import wire
    from lrcourse.checking.answer_forms import Unsendable, as_sent, returned_as_sent
    from lrcourse.grading.sandbox.answer_zygote import Child

    ours, theirs = socket.socketpair()
    child = Child(theirs)

    def kernel_reads(convert, value) -> bool:
        try:
            convert(value)
        except Unsendable:
            return False
        return True

    try:
        for envelope, convert, request in [
            (3, as_sent, {"op": "value", "target": "answer"}),
            # a budget no loaded machine runs out of: this measures sizes, not time (_grader_reads)
            (5, returned_as_sent, {"op": "call", "target": "function", "args": [], "kwargs": {}, "seconds": 600}),
        ]:
            for count in (wire.MAX_VALUES - envelope, wire.MAX_VALUES - envelope + 1):
                value = _of_values(count)
                child.namespace.update(answer=value, function=lambda value=value: value)
                assert (
                    kernel_reads(convert, value)
                    == _grader_reads(child, request)
                    == (count + envelope <= wire.MAX_VALUES)
                )
    finally:
        ours.close()
        theirs.close()


def test_a_numpy_rate_is_a_number_to_the_test_cells_as_to_the_grader():
    """R23p: chapter 1's rate_for_noise_floor cells ask `isinstance(rate, (int, float))`: a right np.float32 rate
    scored 0 in the kernel and 2 in the grade (a decoded float). The test cells' API offers is_number, which judges
    the rate as the grader reads it: the kernel's np.float32 and the grade's float alike."""
    import numpy as np

    from lrcourse.checking.answer_forms import returned_as_sent

    rate = np.float32(1 / 3)
    assert not isinstance(rate, (int, float))  # the cell's test today
    assert checking.is_number(rate) and checking.is_number(returned_as_sent(rate))
    assert not checking.is_number(True) and not checking.is_number(torch.tensor(0.3))
