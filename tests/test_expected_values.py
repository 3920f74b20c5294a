"""The training exercises' answers (the grader's reference loops) are not in the package students install;
the visible checks work without them, from a table of their own cases that matches the references."""

from __future__ import annotations

import importlib.util
import json
import re
import sys

import pytest

from lrcourse import checking, tolerances
from lrcourse.checking.range_test import range_loss_rtol

from support import grader_scripts
from support.paths import ROOT

make_expected = grader_scripts.make_expected()  # loaded from its file: grader/ is on no import path


def test_no_reference_solution_lives_in_the_package():
    assert importlib.util.find_spec("lrcourse.grading.references") is None
    for path in (ROOT / "lrcourse").rglob("*.py"):
        text = path.read_text()
        # the loops themselves
        assert not re.search(r"def reference_(fit_steps|range_test|wsd|floor)\(payload", text), path
    assert checking.expected.GRADER_REFERENCES.is_relative_to(ROOT / "grader")


# Each field of a reference's result, compared as the checks compare it (lrcourse/tolerances.py): rates as
# rates, losses as float32 training results; lengths and the stop exactly (see the margins test below).
FIELD_TOLERANCES = {
    ("fit_steps", "lr"): (tolerances.RATE_RTOL, tolerances.RATE_ATOL),
    ("fit_steps", "loss"): (tolerances.LOSS_RTOL, tolerances.LOSS_ATOL),
    ("fit_steps", "val_loss"): (tolerances.LOSS_RTOL, tolerances.LOSS_ATOL),
    ("fit_steps", "loss_over_images"): (tolerances.LOSS_RTOL, tolerances.LOSS_ATOL),
    ("fit_steps", "images_loss"): (tolerances.LOSS_RTOL, tolerances.LOSS_ATOL),
    ("fit_steps", "images_loss_over_images"): (tolerances.LOSS_RTOL, tolerances.LOSS_ATOL),
    ("fit_steps", "images_val_loss"): (tolerances.LOSS_RTOL, tolerances.LOSS_ATOL),
    ("range_test", "lrs"): (tolerances.RATE_RTOL, tolerances.RATE_ATOL),
    ("range_test", "group_lrs"): (tolerances.RATE_RTOL, tolerances.RATE_ATOL),
    ("range_test", "suggestion"): (tolerances.RATE_RTOL, tolerances.RATE_ATOL),
    ("range_test", "losses"): None,  # a trained loss's up to the lowest, a diverging run's after it
    ("wsd", "lrs"): (tolerances.RATE_RTOL, tolerances.RATE_ATOL),
    ("floor", "lr"): (tolerances.RATE_RTOL, tolerances.RATE_ATOL),
    ("floor", "epoch"): (0.0, 0.0),  # a step count, exactly
}


def flat(value) -> list:
    return [x for item in value for x in flat(item)] if isinstance(value, list) else [value]


def same_within_tolerance(kind: str, computed: dict, expected: dict) -> list[str]:
    """The fields of `computed` that differ from `expected` by more than the checks allow."""
    wrong = []
    for field, value in expected.items():
        mine, theirs = flat(computed.get(field)), flat(value)
        bounds = FIELD_TOLERANCES[kind, field] or [(range_loss_rtol(theirs, step), 0.0) for step in range(len(theirs))]
        if isinstance(bounds, tuple):
            bounds = [bounds] * len(theirs)
        if len(mine) != len(theirs) or not all(
            tolerances.close(a, b, *bound) for a, b, bound in zip(mine, theirs, bounds)
        ):
            wrong.append(field)
    return wrong


@pytest.mark.slow
@pytest.mark.cpu_sensitive
def test_the_table_holds_what_the_grader_references_compute():
    """Written on one machine, read on any: every value within the tolerance its check uses, every length equal."""
    table = json.loads(checking.expected.EXPECTED_VISIBLE.read_text())
    grader = checking.expected.grader_references()
    assert grader is not None and table, "run `python grader/make_expected.py`"
    for kind, cases in table.items():
        for key, expected in cases.items():
            computed = json.loads(json.dumps(getattr(grader, f"reference_{kind}")(json.loads(key))))
            assert set(computed) == set(expected)
            assert same_within_tolerance(kind, computed, expected) == [], (
                f"{kind} {key}: run `python grader/make_expected.py`"
            )


def test_the_comparison_tells_a_rounding_from_a_change():
    losses = {"lrs": [0.1, 0.2], "group_lrs": [[0.1], [0.2]], "losses": [2.0, 9.0], "suggestion": 0.01}
    another_cpu = {**losses, "losses": [2.0, 9.0 * (1 + 2e-4)]}  # the spread measured at a diverging step
    assert same_within_tolerance("range_test", another_cpu, losses) == []
    assert same_within_tolerance("range_test", {**losses, "losses": [2.0 * (1 + 2e-4), 9.0]}, losses) == ["losses"]
    assert same_within_tolerance("range_test", {**losses, "losses": [2.0, 9.1]}, losses) == ["losses"]
    assert same_within_tolerance("range_test", {**losses, "losses": [2.0]}, losses) == ["losses"]  # the stop moved
    assert same_within_tolerance("range_test", {**losses, "lrs": [0.1, 0.2000001]}, losses) == []
    assert same_within_tolerance("range_test", {**losses, "lrs": [0.1, 0.21]}, losses) == ["lrs"]


@pytest.mark.slow
@pytest.mark.cpu_sensitive
def test_no_case_sits_where_another_cpu_could_flip_it():
    """A range test's stop and suggestion are compared exactly, so every case's smoothed losses keep clear of the
    stop rule (diverge x the lowest) and its lowest loss clear of the next: far beyond the spread another CPU
    makes (lrcourse/tolerances.py), so the length and the suggestion are the same on every machine."""
    cases = make_expected.every_case()
    assert len(cases["range_test"]) >= 4 and cases["fit_steps"], cases  # hidden cases are in it too
    grader = checking.expected.grader_references()
    for payload in cases["range_test"]:
        stop, lowest = make_expected.flip_margins(payload, grader.reference_range_test(payload))
        assert stop > 5 * tolerances.DIVERGING_LOSS_RTOL, (payload, stop)
        assert lowest > tolerances.LOSS_RTOL, (payload, lowest)


@pytest.mark.slow
@pytest.mark.cpu_sensitive
@pytest.mark.parametrize("chapter", make_expected.CHAPTERS)
def test_the_visible_checks_pass_with_the_table_alone(chapter, monkeypatch):
    """As in a student's installation: no grader/references.py, every visible case from the table."""
    monkeypatch.setattr(checking.expected, "grader_references", lambda: None)
    make_expected.run_visible_checks(chapter)


def test_a_case_outside_the_table_says_it_is_the_graders(monkeypatch):
    monkeypatch.setattr(checking.expected, "grader_references", lambda: None)
    with pytest.raises(AssertionError, match="only on the grader's side"):
        checking.expected.ExpectedValues().reference_range_test({"seed": -1})


@pytest.mark.cpu_sensitive
def test_the_second_pass_computes_with_the_kernels_it_names():
    """`make test` runs these tests again under ATEN_CPU_CAPABILITY=default: torch must obey it, or that pass
    would only repeat the first. Under it, torch reports the capability it was told; a child told `default`
    reports DEFAULT whatever this machine has."""
    import os
    import subprocess

    import torch

    told = os.environ.get("ATEN_CPU_CAPABILITY")
    if told:
        assert torch.backends.cpu.get_cpu_capability() == told.upper()
    child = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
        env={**os.environ, "ATEN_CPU_CAPABILITY": "default"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.stdout.strip() == "DEFAULT", child.stderr[-2000:]
