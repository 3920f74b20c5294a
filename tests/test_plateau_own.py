"""Chapter 3's MyReduceLROnPlateau judged at its own patience (lrcourse/checking/plateau_own.py): the cooldown and
groups cells charge a patience slip to the patience cell only."""

from dataclasses import replace

import pytest

from lrcourse import checking
from lrcourse.checking import PlateauCase, check_plateau
from lrcourse.pytorch_trajectories import reference_trajectories

import catalogue
from catalogue.plateau import plateau_variant
from support.chapter_cells import cell_source


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


def test_the_min_lr_eps_cell_judges_where_the_rates_settle_whenever_the_reductions_come(monkeypatch):
    """issue 23 (R23y item 1): the min_lr/eps cell compares the rates after the last step only, so each of its runs
    must be long enough to reach the same last rates at any patience the own-patience search accepts (-1 to twice
    the stated one plus two) and with a cooldown one epoch longer: a timing slip is then charged to the patience and
    cooldown cells, not to this one (its runs were 4-16 metrics long, and a class one epoch late lost it)."""
    recorded = []
    monkeypatch.setattr(checking, "check_plateau", lambda cls, cases, compare, **kw: recorded.append((cases, compare)))
    monkeypatch.setattr(checking, "passed", lambda text: None)
    exec(
        cell_source("03_adaptive_schedules/adaptive_schedules.ipynb", "test_plateau_min_lr_eps"),
        {"MyReduceLROnPlateau": None},
    )
    cases = [case for cases, compare in recorded for case in cases]
    assert len(cases) == 15 and all(compare == ["settled lrs"] for _, compare in recorded)
    for case in cases:
        patience, cooldown = case.kwargs["patience"], case.kwargs.get("cooldown", 0)
        timings = [
            {"patience": p, "cooldown": c} for p in range(-1, 2 * patience + 3) for c in (cooldown, cooldown + 1)
        ]
        runs = [replace(case, kwargs={**case.kwargs, **timing}).request() for timing in timings]
        last = [trajectory["states"][-1]["lrs"] for trajectory in reference_trajectories([case.request(), *runs])]
        assert all(rates == last[0] for rates in last[1:]), (case, last)
