"""Chapter 2's MyStepLR judged against its own decays (lrcourse/checking/step_lr_own.py): one slip, one cell."""

import pytest

from lrcourse import checking
from lrcourse.checking import StepLRCase, check_step_lr

import catalogue


def load(answer, name):
    namespace = {}
    exec(compile(answer.source, answer.name, "exec"), namespace)
    return namespace[name]


def test_step_lr_judged_against_its_own_decays():
    """Chapter 2's groups, hand-edit and get_last_lr cells: a decay one step early passes them (the one-group cell
    charges it); a class that never decays, or decays by a factor other than 1 or gamma, passes none."""
    case = StepLRCase(lrs=[0.1, 0.01], step_size=2, gamma=0.5, steps=6, edits={3: {1: 0.5}})
    early = load(next(a for a in catalogue.STEP_WRONG if a.name == "decays_one_step_early_chainable"), "MyStepLR")
    checking.check_step_lr_groups(early, [case])
    checking.check_step_lr_hand_edit(early, [case], reports=True)
    checking.check_step_lr_reports(early, [case])
    with pytest.raises(checking.CheckFailed, match="PyTorch's is"):
        check_step_lr(early, [case], compare=["lrs"])
    for name, words in [("never_decays", "never multiply a rate by gamma"), ("float_division", "by 1 or by gamma")]:
        wrong = load(next(a for a in catalogue.STEP_WRONG if a.name == name), "MyStepLR")
        for judge in (checking.check_step_lr_groups, checking.check_step_lr_hand_edit, checking.check_step_lr_reports):
            with pytest.raises(checking.CheckFailed, match=words):
                judge(wrong, [case])


def test_step_lr_judged_by_its_own_cadence():
    """R23q item 3: an ExponentialLR under StepLR's name multiplies by gamma at every step, which the factor rule
    allows: the cadence rule (two changes step_size apart) fails it in the cells that judge the class by its own rule,
    the last_epoch cell included; a decay one step late keeps the cadence, and a class that never changes a rate
    keeps its counter's point."""
    case = StepLRCase(lrs=[0.1, 0.01], step_size=3, gamma=0.5, steps=9)
    exponential = load(next(a for a in catalogue.STEP_WRONG if a.name == "exponential_lr_named_step_lr"), "MyStepLR")
    judges = (checking.check_step_lr_groups, checking.check_step_lr_hand_edit, checking.check_step_lr_reports)
    for judge in (*judges, checking.check_step_lr_counter):
        with pytest.raises(checking.CheckFailed, match=r"changes the rate after steps 1, 2, 3, .*step_size=3 steps"):
            judge(exponential, [case])
    late = load(next(a for a in catalogue.STEP_WRONG if a.name == "decays_one_step_late"), "MyStepLR")
    for judge in (checking.check_step_lr_groups, checking.check_step_lr_reports, checking.check_step_lr_counter):
        judge(late, [case])
    checking.check_step_lr_counter(
        load(next(a for a in catalogue.STEP_WRONG if a.name == "never_decays"), "MyStepLR"), [case]
    )
