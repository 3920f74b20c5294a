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
