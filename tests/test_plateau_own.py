"""Chapter 3's MyReduceLROnPlateau judged at its own patience (lrcourse/checking/plateau_own.py): the cooldown and
groups cells charge a patience slip to the patience cell only."""

import pytest

from lrcourse import checking
from lrcourse.checking import PlateauCase, check_plateau

import catalogue
from catalogue.plateau import plateau_variant


def load(answer, name):
    namespace = {}
    exec(compile(answer.source, answer.name, "exec"), namespace)
    return namespace[name]


COOLDOWN_CASES = [
    PlateauCase([1.0], [1.0] * 25, {"patience": 2, "cooldown": 3, "factor": 0.5}),
    PlateauCase([1.0], [1.0] * 12, {"patience": 0, "cooldown": 1, "factor": 0.5}),
]
COOLDOWN_STATE = ["lrs", "best", "num_bad_epochs", "cooldown_counter"]


def plateau_class(name):
    return load(next(a for a in catalogue.PLATEAU_WRONG if a.name == name), "MyReduceLROnPlateau")


def test_at_its_own_patience_a_patience_slip_is_judged_on_the_cooldown_alone():
    """issue 23 (s39): `>=` for `>` behaves as PyTorch's scheduler at patience - 1 (-1 included), so at its own
    patience it passes a cooldown comparison it fails at the stated one, and a failure says which patience it used."""
    early = plateau_class("patience_off_by_one")
    check_plateau(early, COOLDOWN_CASES, compare=COOLDOWN_STATE, patience="own")
    with pytest.raises(checking.CheckFailed):
        check_plateau(early, COOLDOWN_CASES, compare=COOLDOWN_STATE)
    check_plateau(load(catalogue.PLATEAU_CORRECT[0], "MyReduceLROnPlateau"), COOLDOWN_CASES, patience="own")
    namespace: dict = {}
    exec(
        compile(
            plateau_variant(
                "if self.num_bad_epochs > self.patience:",
                "if self.num_bad_epochs >= self.patience:",
                "self.cooldown_counter = self.cooldown\n",
                "self.cooldown_counter = 0\n",
            ),
            "both",
            "exec",
        ),
        namespace,
    )
    with pytest.raises(checking.CheckFailed) as failure:  # and a cooldown slip as well: that one is charged here
        check_plateau(namespace["MyReduceLROnPlateau"], COOLDOWN_CASES, compare=COOLDOWN_STATE, patience="own")
    assert "at patience=1, the patience your class shows on a flat run" in str(failure.value)


def test_a_class_whose_reductions_match_no_patience_is_judged_at_the_stated_one():
    """A class that never reduces, or reduces at every epoch once it has started (a counter not reset), matches no
    PyTorch patience on the flat run: the own-patience cells compare it at the stated patience and it fails them."""
    namespace: dict = {}
    exec(compile(plateau_variant("if self.num_bad_epochs > self.patience:", "if False:"), "never", "exec"), namespace)
    for wrong in (namespace["MyReduceLROnPlateau"], plateau_class("bad_epochs_not_reset_after_reduction")):
        with pytest.raises(checking.CheckFailed) as failure:
            check_plateau(wrong, COOLDOWN_CASES, compare=COOLDOWN_STATE, patience="own")
        assert "the patience your class shows" not in str(failure.value)
