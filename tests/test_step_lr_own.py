"""Chapter 2's MyStepLR judged against its own decays (lrcourse/checking/step_lr_own.py): one slip, one cell."""

from dataclasses import replace

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
    allows: the cadence rule (changes evenly spaced, never at every step where step_size > 1; since R23t at any
    period) fails it in the cells that judge the class by its own rule, the last_epoch cell included; a decay one
    step late keeps the cadence, and a class that never changes a rate keeps its counter's point."""
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


def test_a_wrong_period_costs_the_one_group_cell_only():
    """R23t item 2: a counter reset one step late (decays every step_size + 1 steps) did everything else right and
    scored 0 of 6, as the cells that judge the class by its own rule asked for decays exactly step_size apart. They
    now ask for a StepLR's kind at any period: evenly spaced, not at every step where step_size > 1, and never
    2 * step_size steps in a row without one. A MultiStepLR (uneven decays) still passes none of them."""
    case = StepLRCase(lrs=[0.1, 0.01], step_size=3, gamma=0.5, steps=12, edits={5: {1: 0.5}})
    late = load(next(a for a in catalogue.STEP_WRONG if a.name == "my_step_lr_period_one_late"), "MyStepLR")
    checking.check_step_lr_groups(late, [case])
    checking.check_step_lr_hand_edit(late, [case], reports=True)
    checking.check_step_lr_reports(late, [case])
    checking.check_step_lr_counter(late, [case])
    with pytest.raises(checking.CheckFailed, match="PyTorch's is"):
        check_step_lr(late, [case], compare=["lrs"])
    doubling = load(next(a for a in catalogue.STEP_WRONG if a.name == "milestones_doubling"), "MyStepLR")
    judges = (checking.check_step_lr_groups, checking.check_step_lr_hand_edit, checking.check_step_lr_reports)
    for judge in (*judges, checking.check_step_lr_counter):
        with pytest.raises(checking.CheckFailed, match=r"changes the rate after steps 3, 6, 12: a StepLR"):
            judge(doubling, [case])


def test_a_class_that_stops_decaying_is_no_step_lr():
    """Two decays step_size apart and then none: evenly spaced, but 2 * step_size steps in a row without a change
    are more than any StepLR of a period its own decays show allows."""
    source = next(a for a in catalogue.STEP_CORRECT if a.name == "chainable").source
    stops = source.replace("if self.last_epoch % self.step_size == 0:", "if self.last_epoch in (2, 4):")
    assert stops != source
    namespace: dict = {}
    exec(stops, namespace)
    case = StepLRCase(lrs=[0.1], step_size=2, gamma=0.5, steps=8)
    checking.check_step_lr_groups(namespace["MyStepLR"], [replace(case, steps=7)])  # 3 quiet steps: < 2 * 2
    for judge in (checking.check_step_lr_groups, checking.check_step_lr_hand_edit, checking.check_step_lr_reports):
        with pytest.raises(checking.CheckFailed, match="Here 4 steps in a row pass without one"):
            judge(namespace["MyStepLR"], [case])
