"""lrcourse.checking and lrcourse.pytorch_trajectories in one process, as in a notebook's kernel (fast): the guard,
the reference, the messages."""

import pytest
import torch

from lrcourse import checking
from lrcourse.checking import PlateauCase, StepLRCase, check_plateau, check_step_lr
from lrcourse.checking.scheduler_cases import state_labels
from lrcourse.pytorch_trajectories import reference_trajectories

import catalogue


def load(answer, name):
    namespace = {}
    exec(compile(answer.source, answer.name, "exec"), namespace)
    return namespace[name]


STEP_CASES = [StepLRCase([0.1, 0.01], 3, 0.5, 12), StepLRCase([1.0], 2, steps=10)]


def test_the_reference_is_pytorchs_own_trajectory_with_hand_edits():
    [result] = reference_trajectories([StepLRCase([1.0], 2, 0.5, 4, edits={3: {0: 0.3}}).request()])
    assert [state["lrs"] for state in result["states"]] == [[1.0], [1.0], [0.5], [0.3], [0.15]]
    # chainable: step 3 is no decay step, and StepLR keeps (and reports) the rate set by hand before it
    assert [state["get_last_lr"] for state in result["states"]] == [[1.0], [1.0], [0.5], [0.3], [0.15]]


def test_a_correct_class_passes():
    check_step_lr(load(catalogue.STEP_CORRECT[0], "MyStepLR"), STEP_CASES)


def test_a_wrong_class_fails_with_the_step_and_both_rates():
    wrong = load(next(a for a in catalogue.STEP_WRONG if a.name == "decays_one_step_early"), "MyStepLR")
    with pytest.raises(checking.CheckFailed) as failure:
        check_step_lr(wrong, STEP_CASES)
    assert "after step number 2" in str(failure.value) and "PyTorch's is 0.1" in str(failure.value)


def test_output_and_warnings_of_student_code_are_captured(capsys):
    noisy = load(next(a for a in catalogue.STEP_CORRECT if a.name == "prints_and_warns"), "MyStepLR")
    check_step_lr(noisy, STEP_CASES)
    captured = capsys.readouterr()
    assert captured.err == "" and "epoch" not in captured.out


@pytest.mark.parametrize("answer", catalogue.STEP_FORBIDDEN, ids=lambda a: a.name)
def test_any_use_of_torch_schedulers_fails(answer):
    with pytest.raises(checking.CheckFailed, match="earns no marks|no use of torch.optim.lr_scheduler"):
        check_step_lr(load(answer, "MyStepLR"), STEP_CASES)


def test_an_endless_loop_is_cut_within_the_budget():
    hangs = load(catalogue.STEP_BROKEN[2], "MyStepLR")
    with pytest.raises(checking.CheckFailed, match="did not finish"):
        check_step_lr(hangs, STEP_CASES[:1], seconds_per_case=0.5)


def test_only_the_compared_behaviour_is_graded():
    answer = next(a for a in catalogue.STEP_WRONG if a.name == "get_last_lr_tuple")
    check_step_lr(load(answer, "MyStepLR"), STEP_CASES, compare=["lrs", "last_epoch"])
    with pytest.raises(checking.CheckFailed, match="must return a list"):
        check_step_lr(load(answer, "MyStepLR"), STEP_CASES, compare=["get_last_lr"])


def test_a_case_pytorch_refuses_is_checked_as_it_refuses_it():
    """The checker still compares refusals when a case asks (chapter 3 no longer grades which arguments raise)."""
    check_plateau(load(catalogue.PLATEAU_CORRECT[0], "MyReduceLROnPlateau"), [PlateauCase([0.1], [], {"factor": 2.0})])
    lax = load(next(a for a in catalogue.PLATEAU_CHOICES if a.name == "no_factor_check"), "MyReduceLROnPlateau")
    with pytest.raises(checking.CheckFailed, match="PyTorch raises ValueError"):
        check_plateau(lax, [PlateauCase([0.1], [], {"factor": 2.0})])


def test_a_case_on_a_rounding_boundary_is_rejected_as_a_test_fault():
    # 1.0 - 0.3 == 0.7, but 1.0 - 0.7 > 0.3: `a < best - t` and `best - a > t` disagree on this metric
    on_boundary = PlateauCase([0.1], [1.0, 0.7], {"threshold": 0.3, "threshold_mode": "abs", "patience": 5})
    with pytest.raises(RuntimeError, match="fault in the test"):
        check_plateau(load(catalogue.PLATEAU_CORRECT[0], "MyReduceLROnPlateau"), [on_boundary])


def test_an_exact_tie_is_tested_not_rejected():
    """0.75 against 1.0 - 0.25 is computed exactly by every formulation: a tie, not an improvement."""
    tie = PlateauCase([0.1], [1.0, 0.75, 0.75], {"threshold": 0.25, "threshold_mode": "abs", "patience": 5})
    check_plateau(load(catalogue.PLATEAU_CORRECT[0], "MyReduceLROnPlateau"), [tie])
    check_plateau(
        load(next(a for a in catalogue.PLATEAU_CORRECT if a.name == "subtraction_forms"), "MyReduceLROnPlateau"), [tie]
    )
    lax = load(
        next(a for a in catalogue.PLATEAU_WRONG if a.name == "abs_tie_counts_as_improvement"), "MyReduceLROnPlateau"
    )
    with pytest.raises(checking.CheckFailed, match="after step number 2"):
        check_plateau(lax, [tie])


def test_get_last_lr_is_recorded_right_after_a_hand_edit():
    """A state right after the hand edit (after_edits): PyTorch's get_last_lr() still reports the last step's rate."""
    case = StepLRCase(lrs=[0.1], step_size=2, gamma=0.5, steps=3, edits={2: {0: 0.3}, 4: {0: 0.9}}, after_edits=True)
    check_step_lr(load(catalogue.STEP_CORRECT[0], "MyStepLR"), [case])
    # no longer graded (chapter 2 and 3 leave get_last_lr() between a hand edit and the next step() out), but the
    # checker still tells the difference when a case asks for that state
    reads_groups = load(next(a for a in catalogue.STEP_CORRECT if a.name == "get_last_lr_reads_groups"), "MyStepLR")
    with pytest.raises(checking.CheckFailed, match="after the hand edit just before step number 2"):
        check_step_lr(reads_groups, [case], compare=["get_last_lr"])
    closed_form = load(next(a for a in catalogue.STEP_WRONG if a.name == "closed_form"), "MyStepLR")
    with pytest.raises(checking.CheckFailed, match="after step number 2"):
        check_step_lr(closed_form, [case], compare=["lrs"])


def test_each_state_the_reference_records_has_its_label():
    """One walk orders both: the reference's states and their labels (an edit after the last step included)."""
    case = StepLRCase(lrs=[0.1], step_size=2, gamma=0.5, steps=3, edits={2: {0: 0.3}, 4: {0: 0.9}}, after_edits=True)
    [result] = reference_trajectories([case.request()])
    labels = state_labels(case)
    assert [steps for _, steps in labels] == [0, 1, 1, 2, 3, 3] and len(result["states"]) == len(labels)
    assert labels[2][0] == "after the hand edit just before step number 2 (before that step)"
    assert result["states"][2]["lrs"] == [0.3] and result["states"][-1]["lrs"] == [0.9]


def test_expect_close_messages():
    checking.expect_close([0.1, 0.2], [0.1, 0.2], "two rates")
    with pytest.raises(checking.CheckFailed, match="two rates: expected"):
        checking.expect_close([0.1, 0.3], [0.1, 0.2], "two rates")


def test_preview_prints_problems_instead_of_raising(capsys):
    hangs = load(catalogue.STEP_BROKEN[2], "MyStepLR")
    checking.preview(hangs, torch.optim.lr_scheduler.StepLR, epochs=3, step_size=1, seconds=0.5)
    assert "did not finish" in capsys.readouterr().out


def test_a_negative_max_rel_tie_is_an_exact_tie():
    """'rel' in 'max' with best = -2.0, threshold 0.25: -2.5 is exactly best * (1 + threshold), in floating point too."""
    case = PlateauCase(
        [0.1], [-2.0, -2.5, -2.5, -1.0, -1.25, -0.5], {"mode": "max", "threshold": 0.25, "patience": 100}
    )
    [result] = reference_trajectories([case.request()])
    assert not result["ambiguous_steps"]
    assert [(s["best"], s["num_bad_epochs"]) for s in result["states"]] == [
        (-float("inf"), 0),
        (-2.0, 0),
        (-2.0, 1),
        (-2.0, 2),
        (-1.0, 0),
        (-1.0, 1),
        (-0.5, 0),
    ]
    for answer in catalogue.PLATEAU_CORRECT:
        check_plateau(load(answer, "MyReduceLROnPlateau"), [case])
    divides = load(
        next(a for a in catalogue.PLATEAU_WRONG if a.name == "max_rel_divides_by_one_minus_threshold"),
        "MyReduceLROnPlateau",
    )
    with pytest.raises(
        checking.CheckFailed, match="after step number 2, the attribute `best` is -2.5, PyTorch's is -2.0"
    ):
        check_plateau(divides, [case])


@pytest.mark.parametrize("as_tensor", [True, "0-d", "0-d reused"])
def test_tensor_metrics_of_every_kind(as_tensor):
    case = PlateauCase([0.1], [2.0, 1.0, 1.5, 1.5, 1.5, 0.5], {"patience": 1, "factor": 0.5}, as_tensor=as_tensor)
    for answer in catalogue.PLATEAU_CORRECT:
        check_plateau(load(answer, "MyReduceLROnPlateau"), [case])
    view = load(
        next(a for a in catalogue.PLATEAU_WRONG if a.name == "tensor_metric_kept_as_view"), "MyReduceLROnPlateau"
    )
    if as_tensor == "0-d reused":
        with pytest.raises(checking.CheckFailed, match="updates in place"):
            check_plateau(view, [case])
    else:
        check_plateau(view, [case])


def test_a_list_returned_by_get_last_lr_never_changes():
    in_place = load(next(a for a in catalogue.STEP_WRONG if a.name == "get_last_lr_list_updated_in_place"), "MyStepLR")
    check_step_lr(in_place, STEP_CASES, compare=["lrs", "last_epoch"])
    with pytest.raises(
        AssertionError, match="returned right after construction held .0.1, 0.01.; .* that same list object"
    ):
        check_step_lr(in_place, STEP_CASES, compare=["get_last_lr"])


@pytest.mark.parametrize("answer", catalogue.EARLY_FORBIDDEN, ids=lambda a: a.name)
def test_chapter_4s_recipe_must_not_be_searched_with_torch_schedulers(answer):
    import numpy as np
    from torch.optim import lr_scheduler

    from lrcourse.schedules import lr_curve

    namespace = {"lr_scheduler": lr_scheduler, "lr_curve": lr_curve, "np": np}
    exec(compile(answer.source, answer.name, "exec"), namespace)
    with pytest.raises(
        checking.CheckFailed, match="uses torch.optim.lr_scheduler .it ran .*SequentialLR.*earns no marks"
    ):
        checking.check_recipe(
            namespace["recipe_from_rates"], lr=0.1, warmup=3, start_factor=0.5, step_size=2, gamma=0.5
        )


def test_chapter_4s_recipe_check_names_the_argument_read_wrong():
    def off_by_one(rates):
        return {"lr": rates[3], "warmup_epochs": 2, "start_factor": rates[0] / rates[3], "step_size": 2, "gamma": 0.5}

    checking.check_recipe(off_by_one, lr=0.1, warmup=3, start_factor=0.5, step_size=2, gamma=0.5, keys=("lr",))
    with pytest.raises(checking.CheckFailed, match="your warmup_epochs is 2, the log was made with 3"):
        checking.check_recipe(off_by_one, lr=0.1, warmup=3, start_factor=0.5, step_size=2, gamma=0.5)
    with pytest.raises(checking.CheckFailed, match="return a dict"):
        checking.check_recipe(lambda rates: [0.1, 3], lr=0.1, warmup=3, start_factor=0.5, step_size=2, gamma=0.5)


def _wrong(catalogue_list, name, class_name):
    return load(next(a for a in catalogue_list if a.name == name), class_name)


def test_get_last_lr_is_renewed_at_a_step_that_does_not_decay():
    """PyTorch renews _last_lr at every step(): a hand edit before a step that does not decay is reported as it is."""
    case = StepLRCase(lrs=[0.1, 0.2], step_size=3, gamma=0.5, steps=6, edits={2: {0: 0.7}})
    [result] = reference_trajectories([case.request()])
    assert result["states"][2]["get_last_lr"] == [0.7, 0.2]
    check_step_lr(load(catalogue.STEP_CORRECT[0], "MyStepLR"), [case], compare=["get_last_lr values"])
    stale = _wrong(catalogue.STEP_WRONG, "get_last_lr_renewed_only_at_decays", "MyStepLR")
    with pytest.raises(
        checking.CheckFailed,
        match=r"after step number 2, get_last_lr\(\) returned \[0.1, 0.2\], PyTorch's returns \[0.7, 0.2\]",
    ):
        check_step_lr(stale, [case], compare=["get_last_lr values"])
    # the values only: a tuple with the right values passes here (its form is graded in the get_last_lr cell)
    check_step_lr(_wrong(catalogue.STEP_WRONG, "get_last_lr_tuple", "MyStepLR"), [case], compare=["get_last_lr values"])


def test_counters_are_ints_compared_exactly_and_printed_as_ints():
    [result] = reference_trajectories([StepLRCase([0.1], 2, steps=3).request()])
    assert [type(s["last_epoch"]) for s in result["states"]] == [int] * 4
    floats = _wrong(catalogue.STEP_WRONG, "last_epoch_float", "MyStepLR")
    with pytest.raises(checking.CheckFailed, match=r"`last_epoch` is 1.0 \(float\), PyTorch's is the int 1:"):
        check_step_lr(floats, [StepLRCase([0.1], 2, steps=3)], compare=["last_epoch"])
    short = _wrong(catalogue.PLATEAU_WRONG, "cooldown_one_epoch_short", "MyReduceLROnPlateau")
    with pytest.raises(checking.CheckFailed, match=r"`cooldown_counter` is 1, PyTorch's is 2\b(?!\.0)"):
        check_plateau(
            short,
            [PlateauCase([1.0], [1.0] * 8, {"patience": 1, "cooldown": 2, "factor": 0.5})],
            compare=["cooldown_counter"],
        )


@pytest.mark.parametrize(
    "lrs, kwargs, rates",
    [
        (
            [0.01, 1.0],
            {"min_lr": 0.1},
            [[0.01, 1.0], [0.01, 0.5], [0.01, 0.25], [0.01, 0.125]],
        ),  # never raised to the floor
        ([1.0], {"min_lr": 0.75, "eps": 0.375}, [[1.0]] * 4),  # the floored reduction 0.25 is not > eps
        ([1.0, 0.2], {"factor": 0.0, "min_lr": [0.1, 0.0]}, [[1.0, 0.2]] + [[0.1, 0.0]] * 3),
        ([1.0, 0.2], {"factor": -0.5, "min_lr": [0.1, 0.0]}, [[1.0, 0.2]] + [[0.1, 0.0]] * 3),
    ],
)
def test_min_lr_and_eps_as_pytorch_applies_them(lrs, kwargs, rates):
    case = PlateauCase(lrs, [1.0] * 4, {"patience": 0, "factor": 0.5} | kwargs)
    [result] = reference_trajectories([case.request()])
    assert [s["lrs"] for s in result["states"][1:]] == rates and not result["ambiguous_steps"]
    for answer in catalogue.PLATEAU_CORRECT:
        check_plateau(load(answer, "MyReduceLROnPlateau"), [case])


def test_only_pytorchs_own_argument_checks():
    assert reference_trajectories([PlateauCase([0.1], [], {"mode": "MIN"}).request()])[0]["error"] == "ValueError"
    for kwargs in ({"factor": 0.0}, {"factor": -0.5}, {"threshold": -0.1}):
        assert "error" not in reference_trajectories([PlateauCase([0.1], [], kwargs).request()])[0]
    lower = _wrong(catalogue.PLATEAU_CHOICES, "mode_case_insensitive", "MyReduceLROnPlateau")
    with pytest.raises(checking.CheckFailed, match="PyTorch raises ValueError .*yours raised nothing"):
        check_plateau(lower, [PlateauCase([0.1], [], {"mode": "MIN"})])
    strict = _wrong(catalogue.PLATEAU_CHOICES, "rejects_factor_not_positive", "MyReduceLROnPlateau")
    with pytest.raises(checking.CheckFailed, match="your code raised ValueError"):
        check_plateau(strict, [PlateauCase([0.1], [], {"factor": 0.0})])


def test_a_restored_state_is_compared_within_another_cpus_spread_not_a_step():
    from lrcourse.checking.range_test import same_state

    want = [[-3.6e-9, 2.0e-6], [12.5, 40.0]]  # (sum, sum of magnitudes) per tensor
    another_cpu = [[-8.6e-9, 2.0e-6], [12.5 + 40.0 * 1.2e-7, 40.0 * (1 + 1e-7)]]
    one_step = [[-3.6e-9, 2.0e-6], [12.5 + 40.0 * 5.3e-5, 40.0]]
    assert same_state(another_cpu, want)
    assert not same_state(one_step, want)
    assert not same_state([[12.5, 40.0]], want) and not same_state("restored", want)
    assert not same_state([[float("nan"), 2.0e-6], [12.5, 40.0]], want)


# --------------------------------------------------------------------------------------------
# How failures show in a learner's kernel (an IPython shell in this process, no kernel: fast)
# --------------------------------------------------------------------------------------------
WRONG_STEP_LR = """
class MyStepLR:
    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer, self.step_size, self.gamma, self.last_epoch = optimizer, step_size, gamma, 0
    def step(self):
        self.last_epoch += 1
        if self.last_epoch % self.step_size == self.step_size - 1:  # one step early
            for group in self.optimizer.param_groups:
                group["lr"] *= self.gamma
"""
STUB_STEP_LR = """
class MyStepLR:
    def __init__(self, optimizer, step_size, gamma=0.1):
        # YOUR CODE HERE
        raise NotImplementedError()
"""
PREDICTION_TEST = "from lrcourse.checking import expect\nexpect(isinstance(predicted_w2, float), 'a number')"
CHECK_CELL = """from lrcourse.checking import StepLRCase, check_step_lr
check_step_lr(MyStepLR, [StepLRCase(lrs=[0.1], step_size=3, gamma=0.5, steps=10)], compare=["lrs"])"""


@pytest.fixture
def ipython(tmp_path, monkeypatch):
    """A fresh IPython shell with the course's display of unanswered exercises, in a folder whose notebook has
    one test cell reading `predicted_w2` (as a chapter's folder does)."""
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    from lrcourse import kernel_messages

    test_cell = nbformat.v4.new_code_cell(PREDICTION_TEST)
    test_cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "test_predict_w2", "points": 1}
    nbformat.write(nbformat.v4.new_notebook(cells=[test_cell]), tmp_path / "chapter.ipynb")
    monkeypatch.chdir(tmp_path)
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    kernel_messages.show_unanswered_briefly()
    yield shell
    InteractiveShell.clear_instance()


def shown(shell, capsys, source: str):
    """What the cell raised and what the learner sees (colour codes removed)."""
    import re

    capsys.readouterr()
    result = shell.run_cell(source)
    return result.error_in_exec, re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out).strip()


def test_a_failed_check_shows_the_cells_line_and_its_message_not_the_checker(ipython, capsys):
    shown(ipython, capsys, WRONG_STEP_LR)
    error, text = shown(ipython, capsys, CHECK_CELL)
    assert type(error) is checking.CheckFailed and isinstance(error, AssertionError)
    assert "check_step_lr(MyStepLR" in text  # the test cell's own line
    assert f"CheckFailed: {error}".splitlines()[0] in text and "after step number 2" in text
    assert "lrcourse/checking" not in text and "schedulers.py" not in text and "_check_cases" not in text, text


def test_an_unanswered_exercise_is_one_line_where_it_is_and_in_the_tests_after_it(ipython, capsys):
    from lrcourse import kernel_messages

    error, text = shown(ipython, capsys, "# YOUR CODE HERE\nraise NotImplementedError()")
    assert type(error) is NotImplementedError and text == kernel_messages.unanswered()  # still an error: 0 marks
    error, text = shown(ipython, capsys, PREDICTION_TEST)
    assert type(error) is NameError and text == kernel_messages.undefined("predicted_w2")
    shown(ipython, capsys, "def largest_stable_lr(lr, path):\n    # YOUR CODE HERE\n    raise NotImplementedError()")
    error, text = shown(ipython, capsys, "largest_stable_lr(0.1, [])")
    assert type(error) is NotImplementedError and text == kernel_messages.unanswered("largest_stable_lr")
    shown(ipython, capsys, STUB_STEP_LR)
    error, text = shown(ipython, capsys, CHECK_CELL)
    assert isinstance(error, checking.NotAnswered) and text == kernel_messages.unanswered("MyStepLR")
    assert "your code raised NotImplementedError" in str(error)  # the grader's records keep the whole message


def test_a_test_cell_after_a_failed_answer_cell_names_that_cells_error(ipython, capsys):
    """carol's MyStepLR has a syntax error: the tests after it say so in one line, not "not answered yet"; once the
    cell runs, the record of its failure goes."""
    from lrcourse import kernel_messages

    shown(ipython, capsys, "predicted_w2 = (0.64 +")
    error, text = shown(ipython, capsys, PREDICTION_TEST)
    assert type(error) is NameError and text.startswith("answer cell failed (exercise predicted_w2)"), text
    assert "SyntaxError" in text and "(line 1)" in text and "\n" not in text
    shown(ipython, capsys, "predicted_w2 = 1 / 0")
    assert "ZeroDivisionError: division by zero" in shown(ipython, capsys, PREDICTION_TEST)[1]
    shown(ipython, capsys, "raise RuntimeError('shape mismatch\\n  got (2, 3)')\npredicted_w2 = 1")
    text = shown(ipython, capsys, PREDICTION_TEST)[1]
    assert "RuntimeError: shape mismatch;" in text and "\n" not in text, text  # one line
    shown(ipython, capsys, "predicted_w2 = 0.64")
    assert shown(ipython, capsys, PREDICTION_TEST)[0] is None
    shown(ipython, capsys, "del predicted_w2")
    error, text = shown(ipython, capsys, PREDICTION_TEST)
    assert text == kernel_messages.undefined("predicted_w2")


def test_other_errors_keep_their_traceback(ipython, capsys):
    error, text = shown(ipython, capsys, "predicted_w3 + 1")  # a name no test asks for: a typo, not an answer
    assert type(error) is NameError and "not answered" not in text and "----> 1 predicted_w3 + 1" in text
    error, text = shown(ipython, capsys, "def helper():\n    raise NotImplementedError('later')\nhelper()")
    assert type(error) is NotImplementedError and "not answered" not in text and "later" in text
