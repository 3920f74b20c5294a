"""Claims of chapters 1-4 that are not checked next to the prose, properties of the committed solutions
a student sees: no stray object reprs, every figure with alt text (issue 13), and where every chapter keeps the
checks that guard its claims (issue 22; chapters 2-4 since issue 23), and 5.4's slider claim (every value it offers
runs), checked without a kernel (issue 22). The losses chapters 5 and 6 print: tests/test_printed_losses.py."""

import ast
import re

import nbformat
import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

from lrcourse import problems
from lrcourse.schedules import lr_curve, make_optimizer

from support.chapter_cells import cell_source, chapter_cells
from support.paths import ROOT

CHAPTERS_1_TO_4 = sorted((ROOT / "solutions").glob("0[1-4]*/*.ipynb"))
ALL_SOLUTIONS = sorted((ROOT / "solutions").glob("*/*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS_1_TO_4, ids=lambda p: p.parent.name)
def test_no_stray_reprs_in_the_outputs(path):
    for cell in nbformat.read(path, as_version=4).cells:
        for output in getattr(cell, "outputs", []):
            text = output.get("data", {}).get("text/plain", "") if output.output_type == "execute_result" else ""
            assert not re.search(r"<[\w.]+ (object )?at 0x[0-9a-f]+>", text), f"{cell.id}: {text}"


@pytest.mark.parametrize("path", ALL_SOLUTIONS, ids=lambda p: p.parent.name)
def test_every_figure_in_the_solutions_has_alt_text(path):
    figures = 0
    for cell in nbformat.read(path, as_version=4).cells:
        for output in getattr(cell, "outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                figures += 1
                match = re.search(r'<img[^>]* alt="([^"]+)"', data.get("text/html", ""))
                assert match and len(match.group(1)) > 20, f"{path.parent.name} cell {cell.id}: figure without alt text"
    assert figures


@pytest.mark.parametrize("path", sorted((ROOT / "source").glob("0[23]*/*.ipynb")), ids=lambda p: p.parent.name)
def test_setup_cells_do_not_import_the_checker(path):
    setup = next(c for c in nbformat.read(path, as_version=4).cells if c.id == "setup")
    assert "lrcourse.checking" not in setup.source


# Every chapter checks its claims in collapsed cells.
CHECKED_IN_COLLAPSED_CELLS = sorted((ROOT / "source").glob("*/*.ipynb"))


def collapsed(cell) -> bool:
    return bool(cell.metadata.get("jupyter", {}).get("source_hidden"))


@pytest.mark.parametrize("path", CHECKED_IN_COLLAPSED_CELLS, ids=lambda p: p.parent.name)
def test_asserts_sit_in_collapsed_check_cells(path):
    """The lesson reads as a lesson: an assert that guards a claim sits in a collapsed cell, and `*-check` names
    exactly those cells. A comparison that is the lesson (1.1's SGD against the steps by hand, 6.5's logged rates
    against a dry run) is printed in sight; its assert is collapsed."""
    for cell in nbformat.read(path, as_version=4).cells:
        assert cell.id.endswith("-check") == collapsed(cell), f"{cell.id}: `-check` names the collapsed cells"
        if cell.cell_type == "code" and "nbgrader" not in cell.metadata and not collapsed(cell):
            assert not re.search(r"^\s*assert\b", cell.source, re.MULTILINE), f"{cell.id}: an assert in a lesson cell"


@pytest.mark.parametrize("path", CHECKED_IN_COLLAPSED_CELLS, ids=lambda p: p.parent.name)
def test_one_collapsed_check_cell_per_section(path):
    """A section (a `## ` heading) hides at most one cell: the check of its claims, after them."""
    section, checks = "before the first section", {}
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            section = cell.source.splitlines()[0]
        if collapsed(cell):
            checks.setdefault(section, []).append(cell.id)
    assert checks and {name: ids for name, ids in checks.items() if len(ids) > 1} == {}


def assigned(source: str, name: str):
    """The literal value a cell assigns to `name` at its top level (`VALUES = (1, 3, ...)`)."""
    [value] = [
        ast.literal_eval(node.value)
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]
    ]
    return value


def test_ch5_every_value_the_slider_offers_steps_through_a_whole_run():
    """5.4's panel shows any schedule at any value of its main-argument slider (VALUES): each schedule is built from
    `slider_value`, as the panel builds it, and stepped as `run` steps it through a whole run (ReduceLROnPlateau
    fed a loss that never improves: every reduction), every rate within [0, LR]. Nothing is trained."""
    path = ROOT / "source" / "05_training" / "training.ipynb"
    chapter = chapter_cells(path, ["setup", "data", "run"])
    [slider] = [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.id == "slider"]
    definitions = [node for node in ast.parse(slider).body if isinstance(node, ast.FunctionDef)]
    exec(compile(ast.Module(definitions, type_ignores=[]), "<slider>", "exec"), chapter)
    values = assigned(slider, "VALUES")
    assert "SelectionSlider(options=VALUES" in slider, "the main argument's slider offers VALUES"
    lr, schedules = chapter["LR"], chapter["ARGUMENTS"]
    assert (min(values), max(values)) == (1, chapter["EPOCHS"]) and len(schedules) == 6
    assert all(default in values for _, default, _ in list(schedules.values())[1:]), "each default is a position"
    for name, (_, _, per_step) in schedules.items():
        for value in values:
            optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=lr)
            scheduler = chapter["make_schedule"](name, optimizer, chapter["slider_value"](name, value))
            optimizer.step()  # once, so PyTorch sees the right order; the rates depend on the scheduler's steps only
            rates = []
            for _ in range(chapter["TOTAL_STEPS"] if per_step else chapter["EPOCHS"]):
                rates.append(optimizer.param_groups[0]["lr"])
                scheduler.step(1.0) if name == "ReduceLROnPlateau" else scheduler.step()
            assert all(0 <= rate <= lr * (1 + 1e-12) for rate in rates), (name, value)


def test_ch1_noise_floor_is_the_limit_of_the_exact_expectation_and_small_rate_proportional():
    for lr in [0.02, 0.5, 1.5]:
        exact = problems.expected_noisy_loss(np.full(5000, lr), curvature=1.0, noise=1.0, w0=3.0)
        assert exact[-1] == pytest.approx(problems.noise_floor(lr), rel=1e-9)
    assert problems.noise_floor(0.01) == pytest.approx(0.01 / 4, rel=0.01)  # lr a << 2
    assert problems.noise_floor(1.0) == pytest.approx(2 * 1.0 / 4)  # not proportional there


@pytest.mark.parametrize(
    "make",
    [
        lambda opt: lr_scheduler.StepLR(opt, step_size=2, gamma=0.5),
        lambda opt: lr_scheduler.MultiStepLR(opt, [2, 4], gamma=0.5),
        lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.5),
        lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=6),
    ],
    ids=["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR"],
)
def test_ch2_the_four_schedules_are_chainable_a_hand_edit_carries_over(make):
    plain, edited = make_optimizer(0.1), make_optimizer(0.1)
    s_plain, s_edited = make(plain), make(edited)
    plain.step()
    s_plain.step()
    edited.step()
    s_edited.step()
    edited.param_groups[0]["lr"] = plain.param_groups[0]["lr"] * 3
    for _ in range(3):
        plain.step()
        s_plain.step()
        edited.step()
        s_edited.step()
    assert edited.param_groups[0]["lr"] != pytest.approx(plain.param_groups[0]["lr"])


FORMULAS = {  # section 2.2-2.5's closed forms, from the rate the scheduler starts at (eta0) and the epoch e
    "StepLR": (lambda opt: lr_scheduler.StepLR(opt, step_size=2, gamma=0.5), lambda eta0, e: eta0 * 0.5 ** (e // 2)),
    "MultiStepLR": (
        lambda opt: lr_scheduler.MultiStepLR(opt, [2, 5], gamma=0.5),
        lambda eta0, e: eta0 * 0.5 ** sum(m <= e for m in (2, 5)),
    ),
    "ExponentialLR": (lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.8), lambda eta0, e: eta0 * 0.8**e),
    "CosineAnnealingLR": (
        lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=4),
        lambda eta0, e: eta0 * (1 + np.cos(np.pi * e / 4)) / 2,
    ),
}


@pytest.mark.parametrize("name", FORMULAS)
def test_ch2_the_formulas_hold_while_initial_lr_is_the_starting_rate(name):
    """Ch2 2.6 (R23t item 4): a scheduler alone on its optimizer follows its formula from eta0 for two T_max; created
    after a StepLR took 0.1 to 0.025 (so it inherits initial_lr 0.1), StepLR, MultiStepLR and ExponentialLR still
    follow theirs from 0.025, while CosineAnnealingLR does up to T_max only, then climbs back to 0.1, not 0.025."""
    make, formula = FORMULAS[name]

    def rates(optimizer, steps=8):
        scheduler, used = make(optimizer), [optimizer.param_groups[0]["lr"]]
        for _ in range(steps):
            optimizer.step()
            scheduler.step()
            used.append(optimizer.param_groups[0]["lr"])
        return np.array(used)

    epochs = np.arange(9)
    assert np.allclose(rates(make_optimizer(0.025)), [formula(0.025, e) for e in epochs], rtol=1e-9, atol=1e-15)
    after = make_optimizer(0.1)
    first = lr_scheduler.StepLR(after, step_size=1, gamma=0.5)
    for _ in range(2):
        after.step()
        first.step()
    assert after.param_groups[0]["lr"] == 0.025 and after.param_groups[0]["initial_lr"] == 0.1
    inherited, own = rates(after), np.array([formula(0.025, e) for e in epochs])
    if name != "CosineAnnealingLR":
        assert np.allclose(inherited, own, rtol=1e-9, atol=1e-15)
    else:
        assert np.allclose(inherited[:5], own[:5], rtol=1e-9, atol=1e-15)  # up to T_max = 4
        assert inherited[-1] == pytest.approx(0.1) and own[-1] == pytest.approx(0.025)
    text = " ".join(cell_source("02_ordered_schedules/ordered_schedules.ipynb", "chainable-md").split())
    assert "**and** the group's `initial_lr` is the rate it started from" in text
    assert "so it climbs back to the inherited rate, not to its own $\\eta_0$" in text


def test_ch2_milestones_in_any_order_work_but_the_docs_require_increasing():
    assert "increasing" in lr_scheduler.MultiStepLR.__doc__
    assert np.allclose(
        lr_curve(lambda o: lr_scheduler.MultiStepLR(o, [5, 3], 0.5), 7, 1.0),
        lr_curve(lambda o: lr_scheduler.MultiStepLR(o, [3, 5], 0.5), 7, 1.0),
    )


def test_ch3_a_reduction_equal_to_eps_is_skipped():
    optimizer = make_optimizer(1.0)
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5, eps=0.5)
    for metric in [1.0, 1.0, 1.0]:
        optimizer.step()
        scheduler.step(metric)
    assert optimizer.param_groups[0]["lr"] == 1.0


def test_ch3_the_prediction_s_drops_are_where_its_hidden_message_and_solution_say():
    """The ungraded prediction of 3.1: PyTorch drops the rate after steps 4 and 7, as the solution and the hidden
    message say. Checked here, not in the release, where the list would give the answer away (R23f N2, R23g M2)."""
    optimizer = make_optimizer(1.0)
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=1, factor=0.5, threshold=0.0, cooldown=1)
    drops = []
    for step, metric in enumerate([1.0, 0.8, 0.8, 0.9, 0.7, 0.7, 0.7, 0.7, 0.7, 0.6], start=1):
        before = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step(metric)
        drops += [step] if optimizer.param_groups[0]["lr"] < before else []
    assert drops == [4, 7]
    notebook = "03_adaptive_schedules/adaptive_schedules.ipynb"
    assert "predicted_drop_steps = [4, 7]" in cell_source(notebook, "predicted_drop_steps")
    assert "if list(predicted_drop_steps) != [4, 7]:" in cell_source(notebook, "test_predict_drop_steps")


def plateau_log(metrics, **kwargs):
    """The rate each epoch started with, under a ReduceLROnPlateau stepped once per epoch with `metrics`."""
    optimizer = make_optimizer(0.01)
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, **kwargs)
    rates = []
    for metric in metrics:
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step(metric)
    return rates


def test_ch3_each_loop_log_is_its_loops_replay_and_which_arguments_it_needs():
    """Exercise 3.4(b): each log is what its loop writes; a replay that leaves out the threshold or the cooldown
    (their defaults instead), or runs in the wrong mode ("max"), finds no log for some loop; a replay that leaves out
    the mode finds every log (the default "min" is the scheduler's own), as the text says."""
    from lrcourse.plateau_logs import LOOPS

    args = {"factor": 0.5, "patience": 2, "cooldown": 2, "threshold": 0.01, "mode": "min"}
    val, train, accuracy = LOOPS["val_loss"], LOOPS["train_loss"], LOOPS["val_accuracy"]
    feeds = {"D": val, "B": [float("inf")] + val[:-1], "A": train, "C": accuracy}  # correct, late, training, accuracy
    assert {log: plateau_log(feed, **args) for log, feed in feeds.items()} == LOOPS["rates"]
    logs = list(LOOPS["rates"].values())
    assert all(rates[-1] < rates[0] for rates in logs)  # every loop reduces: none is told by a flat log

    def finds_every_log(**replay_args):
        return all(plateau_log(feed, **replay_args) in logs for feed in feeds.values())

    for left_out in ("threshold", "cooldown"):
        assert not finds_every_log(**{key: value for key, value in args.items() if key != left_out}), left_out
    assert not finds_every_log(**args | {"mode": "max"})
    without_mode = {key: value for key, value in args.items() if key != "mode"}
    assert {log: plateau_log(feed, **without_mode) for log, feed in feeds.items()} == LOOPS["rates"]
    text = cell_source("03_adaptive_schedules/adaptive_schedules.ipynb", "loops-md")
    assert "leaving the mode out is harmless" in " ".join(text.split())


def test_ch2_written_initial_lr_rubric_the_jump_and_every_fix_it_names():
    """Ch2's written_initial_lr: after 40 epochs of StepLR(10, 0.5) from 0.1, LambdaLR(1 - e / 10) uses 0.1 ... 0.01;
    each fix the rubric accepts goes linearly from 0.00625 to 0; SequentialLR with the same LambdaLR jumps too."""
    import warnings

    def after_step_lr():
        optimizer = make_optimizer(0.1)
        first = lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
        for _ in range(40):
            optimizer.step()
            first.step()
        return optimizer, first

    def rates(make, epochs=10):
        optimizer, first = after_step_lr()
        scheduler = make(optimizer, first)
        used = [optimizer.param_groups[0]["lr"]]  # epoch 41's rate, then the rate after each of 10 steps
        for _ in range(epochs):
            optimizer.step()
            scheduler.step()
            used.append(optimizer.param_groups[0]["lr"])
        return used

    linear = lambda e: 1 - e / 10  # noqa: E731
    assert np.allclose(rates(lambda o, _: lr_scheduler.LambdaLR(o, linear))[:10], 0.1 * (1 - np.arange(10) / 10))

    def without_initial_lr(optimizer, _):
        for group in optimizer.param_groups:
            del group["initial_lr"]
        return lr_scheduler.LambdaLR(optimizer, linear)

    meant = 0.00625 * (1 - np.arange(11) / 10)
    for fix in [
        lambda o, _: lr_scheduler.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=10),
        lambda o, _: lr_scheduler.PolynomialLR(o, total_iters=10, power=1.0),
        lambda o, _: lr_scheduler.MultiplicativeLR(o, lambda e: (10 - e) / (11 - e)),
        lambda o, _: lr_scheduler.LambdaLR(o, lambda e: 0.0625 * (1 - e / 10)),
        without_initial_lr,
    ]:
        assert np.allclose(rates(fix), meant, rtol=1e-9, atol=1e-15)
    optimizer, first = (
        after_step_lr()
    )  # R23g: the MultiplicativeLR the rubric credits fails at an 11th step, as it says
    multiplicative = lr_scheduler.MultiplicativeLR(optimizer, lambda e: (10 - e) / (11 - e))
    for _ in range(10):
        optimizer.step()
        multiplicative.step()
    with pytest.raises(ZeroDivisionError):
        multiplicative.step()
    rubric = " ".join(cell_source("02_ordered_schedules/ordered_schedules.ipynb", "written_initial_lr").split())
    assert "raises `ZeroDivisionError` at an 11th `step()`" in rubric
    optimizer = make_optimizer(0.1)
    first = lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's own deprecation notes are not the point
        both = lr_scheduler.SequentialLR(optimizer, [first, lr_scheduler.LambdaLR(optimizer, linear)], milestones=[40])
        for _ in range(40):
            optimizer.step()
            both.step()
    assert abs(optimizer.param_groups[0]["lr"] - 0.1) < 1e-12  # not a fix: the LambdaLR's base is initial_lr


def test_ch4_onecycle_overwrites_momentum_and_refuses_extra_steps():
    params = [torch.nn.Parameter(torch.zeros(1))]
    sgd = torch.optim.SGD(params, lr=0.1)
    lr_scheduler.OneCycleLR(sgd, max_lr=0.1, total_steps=10)
    assert sgd.param_groups[0]["momentum"] == 0.95
    with pytest.raises(ValueError):
        lr_scheduler.OneCycleLR(torch.optim.Adagrad(params), max_lr=0.1, total_steps=2)
    scheduler = lr_scheduler.OneCycleLR(sgd, max_lr=0.1, total_steps=2)
    with pytest.raises(ValueError):
        for _ in range(3):
            sgd.step()
            scheduler.step()


def test_ch1_ch2_constructors_that_write_a_scaled_first_rate():
    """Ch1 1.4 and ch2 2.1 list the schedulers whose constructor writes a rate other than the current one."""
    from torch.optim import lr_scheduler as sched

    def created(make):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.5)
        make(opt)
        return opt.param_groups[0]["lr"]

    assert created(lambda o: sched.StepLR(o, 10)) == 0.1
    assert created(lambda o: sched.MultiplicativeLR(o, lambda e: 0.5)) == 0.1
    assert abs(created(lambda o: sched.LambdaLR(o, lambda e: 0.5)) - 0.05) < 1e-12
    assert abs(created(lambda o: sched.LinearLR(o, start_factor=0.25)) - 0.025) < 1e-12
    assert abs(created(lambda o: sched.ConstantLR(o, factor=0.5)) - 0.05) < 1e-12
    assert abs(created(lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=10)) - 0.04) < 1e-12
    assert abs(created(lambda o: sched.CyclicLR(o, base_lr=0.01, max_lr=1.0)) - 0.01) < 1e-12


def test_ch1_ch2_reduce_lr_on_plateau_is_the_scheduler_that_writes_nothing_when_created():
    """Ch1 1.4, ch2 2.1, 2.6 and the summaries: ReduceLROnPlateau's constructor leaves the rate, stores no initial_lr
    and has no base_lrs; its step() writes only when it reduces, and stepping it first does not warn."""
    import warnings

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.5)
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    assert optimizer.param_groups[0]["lr"] == 0.1 and "initial_lr" not in optimizer.param_groups[0]
    assert not hasattr(scheduler, "base_lrs")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scheduler.step(1.0)  # an improvement: nothing written, no warning although the optimizer has not stepped
    assert optimizer.param_groups[0]["lr"] == 0.1
    optimizer.param_groups[0]["lr"] = 0.4
    scheduler.step(1.0)  # a bad epoch with patience 0: reduced from the current rate
    assert optimizer.param_groups[0]["lr"] == 0.2
    for notebook, cell in [("01_learning_rate/learning_rate.ipynb", "pytorch-md"),
                           ("02_ordered_schedules/ordered_schedules.ipynb", "how-md"),
                           ("02_ordered_schedules/ordered_schedules.ipynb", "summary")]:  # fmt: skip
        assert "ReduceLROnPlateau" in cell_source(notebook, cell), (notebook, cell)
