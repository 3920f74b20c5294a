"""Chapter 7's decay cell far past the schedule's end (issue 24, R24u, R24v): its steps there are spaced no wider than
the run of steps above 0 that a restart brings back, of the whole schedule (109 steps) or of its decay alone (100), so a
factor that starts either again with any period up to the cell's stated bound is asked while it is above 0, and correct
factors still pass. In this process, fast: the
grading itself is tests/test_grading_fidelity.py::TestPractice."""

from __future__ import annotations

import math

import nbformat
import numpy as np
import pytest
import torch

from lrcourse.build import ROOT
from lrcourse.checking import CheckFailed, check_wsd
from lrcourse.checking.expect import close
from lrcourse.checking.expected import ExpectedValues
from lrcourse.tolerances import WSD_RTOL

from catalogue.wsd import WSD_CORRECT, WSD_REFERENCE, wsd_variant

DECAY_CELL = "test_wsd_decay"
# R24u's closed form: the warm-up's line held at 1 after the peak, times the decay's parabola held at 1 before it
MIN_MAX = """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    def factor(step):
        warm = start_factor + (1 - start_factor) * min(step, warmup_steps) / warmup_steps
        t = min(max(step - warmup_steps - stable_steps, 0), decay_steps)
        return warm * (1 - t / decay_steps) ** 2
    return factor
"""


def decay_cell() -> str:
    cells = nbformat.read(ROOT / "source/07_practice/practice.ipynb", 4).cells
    return next(cell.source for cell in cells if cell.get("id") == DECAY_CELL)


def far_past_call() -> dict:
    """The arguments of the decay cell's (hidden tests included) check_wsd call with steps far past the end."""
    calls = []
    source = decay_cell().replace("from lrcourse.checking import check_wsd, passed", "")
    exec(source, {"check_wsd": lambda factor, **kwargs: calls.append(kwargs), "passed": print, "wsd_factor": None})
    [call] = [call for call in calls if call.get("after")]
    return call


def answer(source: str):
    namespace = {"math": math, "np": np, "torch": torch}
    exec(source, namespace)
    return namespace["wsd_factor"]


def restarting(period: str):
    """The reference factor, started again every `period` steps (an expression of `total` or a number)."""
    return answer(wsd_variant("    def factor(step):\n", f"    def factor(step):\n        step %= {period}\n"))


def restarting_decay(period: str):
    """The reference factor whose decay alone starts again every `period` steps (R24v's factor: 6/6 on the old case)."""
    return answer(
        wsd_variant(
            "return max(0.0, (total - step) / decay_steps) ** 2",
            f"t = (step - warmup_steps - stable_steps) % {period}\n"
            "        return max(0.0, (decay_steps - t) / decay_steps) ** 2",
        )
    )


def asked_and_wanted():
    """The steps the far-past call asks (each of 0 to 2 * total, then `after`), PyTorch's rates and the call."""
    call = far_past_call()
    warmup, stable, decay, start, lr = (call[key] for key in ("warmup", "stable", "decay", "start_factor", "lr"))
    total, after = warmup + stable + decay, list(call["after"])
    payload = {"warmup": warmup, "stable": stable, "decay": decay, "start_factor": start, "lr": lr}
    want = ExpectedValues().reference_wsd(payload | {"steps": max(after) + 1})["lrs"]
    return [*range(2 * total + 1), *after], want, call


def first_escaping(rate, asked, want, periods) -> int:
    """The first period whose restarted rate(step, period) matches PyTorch's at every step asked."""
    return next(p for p in periods if all(close(rate(step, p), want[step], WSD_RTOL) for step in asked))


def test_every_restart_period_up_to_the_stated_n_is_asked_while_above_zero():
    """For every period P, the reference factor restarted every P steps differs from PyTorch's rate at one of the
    steps the cell asks, up to the N its comment states; at N + 1 it no longer does, so the comment is exact."""
    asked, want, call = asked_and_wanted()
    warmup, stable, decay, start, lr = (call[key] for key in ("warmup", "stable", "decay", "start_factor", "lr"))
    factor = answer(WSD_REFERENCE)(warmup, stable, decay, start)
    assert all(close(lr * factor(step), want[step], WSD_RTOL) for step in asked)

    n = first_escaping(lambda step, period: lr * factor(step % period), asked, want, range(1, 20_001)) - 1
    assert n == max(asked) >= 10_000, n
    assert f"up to {n:,} steps" in decay_cell(), f"the cell's comment should state {n:,}"


def test_every_decay_restart_period_up_to_the_stated_bound_is_asked_while_above_zero():
    """R24v: the decay alone started again every P steps (from step W + S + P, 100 steps above 0) differs from PyTorch's
    rate at one of the steps asked for every P up to the bound the comment states, and not at the bound + 1: the last
    restart met is the one whose 100 steps hold 10,000. On the old case (3, 100, 6) it came back for 6 steps only and
    8,287 of the periods up to 10,000 escaped."""
    asked, want, call = asked_and_wanted()
    warmup, stable, decay, start, lr = (call[key] for key in ("warmup", "stable", "decay", "start_factor", "lr"))
    factor, peak_end = answer(WSD_REFERENCE)(warmup, stable, decay, start), warmup + stable

    def rate(step: int, period: int) -> float:
        return lr * factor(step if step < peak_end else peak_end + (step - peak_end) % period)

    bound = first_escaping(rate, asked, want, range(1, 20_001)) - 1
    assert bound == max(asked) - peak_end == 9_991, bound
    assert decay >= 100 and f"its decay alone ({decay} steps above 0" in decay_cell()
    assert f"with a period up to {bound:,} steps" in decay_cell(), f"the cell's comment should state {bound:,}"
    # the answer written so, checked for real: caught at the bound, passing one step past it
    check_wsd(restarting_decay(str(bound + 1)), **call)
    with pytest.raises(CheckFailed, match=r"step\(s\) after the schedule's last step \(108\)"):
        check_wsd(restarting_decay(str(bound)), **call)


@pytest.mark.parametrize("period", ["600", "1500", "3000", "7 * total", "8 * total", "10_000"])
def test_the_cell_catches_the_restarts_r24u_found_escaping(period):
    with pytest.raises(CheckFailed, match=r"step\(s\) after the schedule's last step \(108\)"):
        check_wsd(restarting(period), **far_past_call())


@pytest.mark.parametrize("period", ["1000", "1500", "(7 * total)", "9_000"])
def test_the_cell_catches_the_decay_restarts_r24v_found_escaping(period):
    with pytest.raises(CheckFailed, match=r"step\(s\) after the schedule's last step \(108\)"):
        check_wsd(restarting_decay(period), **far_past_call())


@pytest.mark.parametrize(
    "source",
    [WSD_REFERENCE, MIN_MAX, *(a.source for a in WSD_CORRECT)],
    ids=["solution", "min_max", *(a.name for a in WSD_CORRECT)],
)
def test_correct_factors_pass_far_past_the_end(source):
    check_wsd(answer(source), **far_past_call())


def test_the_far_past_run_is_no_longer_than_the_runs_the_budget_was_set_for():
    """The observer's 5 s of CPU time was set for the course's longest run, 541 steps (2 * 270 + 1: a factor of 7.5 ms
    a call fits, tests/test_wsd_resume_budget.py); the far-past run's steps and the steps after it stay within that."""
    call = far_past_call()
    total = call["warmup"] + call["stable"] + call["decay"]
    assert 2 * total + 1 + len(call["after"]) <= 541
