"""Chapter 7's decay cell far past the schedule's end (issue 24, R24u, R24v, R24w, R24x): its steps there are spaced no
wider than the shortest phase (40 steps each), so a factor that brings back any whole phase, alone or with others, at
a step up to 5,000 is asked while it differs from PyTorch's rate (R24w: on (3, 6, 100) a warm-up or stable phase of 3
or 6 steps came back between the steps asked every 100); they stop at 5,000 so that a factor whose time grows with the
step runs within the CPU budget (R24x), but for three steps past it, 6,000, 8,200 and 10,000, which catch what breaks
only past 5,000 (R24y: a cycle of 10,000 or 8,192 steps, a table of 10,000), and correct factors still pass. The
proofs count the steps the cell judges: those after the peak (41 on), then the far ones. No finite set of steps
catches a restart with every period (R24z: one every 7,000 steps passes), so the exercise text states the range the
steps cover, and the last tests hold it to the cell. In this process, fast: the grading itself is
tests/test_grading_fidelity.py::TestPractice."""

from __future__ import annotations

import math
import re

import nbformat
import numpy as np
import pytest
import torch

from lrcourse.build import ROOT
from lrcourse.checking import CheckFailed, check_wsd
from lrcourse.checking.expect import close
from lrcourse.checking.expected import ExpectedValues
from lrcourse.checking.wsd_observer import run_rates, scheduled
from lrcourse.tolerances import RATE_ATOL, WSD_RTOL

from catalogue.wsd import WSD_CORRECT, WSD_REFERENCE, wsd_variant
from catalogue.wsd_restarts import PAST_5000, PHASE_RESTARTS
from catalogue.wsd_slow import REPLAYING

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


def asked_and_wanted(call: dict | None = None):
    """The steps the far-past call (or `call`) judges (phases=("decay",): each after the peak to 2 * total, then
    `after`), PyTorch's rates and the call."""
    call = call or far_past_call()
    warmup, stable, decay, start, lr = (call[key] for key in ("warmup", "stable", "decay", "start_factor", "lr"))
    total, after = warmup + stable + decay, list(call["after"])
    payload = {"warmup": warmup, "stable": stable, "decay": decay, "start_factor": start, "lr": lr}
    want = ExpectedValues().reference_wsd(payload | {"steps": max(after) + 1})["lrs"]
    return [*range(warmup + 1, 2 * total + 1), *after], want, call


def dense_end(call: dict) -> int:
    """The last far step asked before a gap wider than the shortest phase: up to there no phase fits between two."""
    after, gap = call["after"], min(call[key] for key in ("warmup", "stable", "decay"))
    return next((step for step, following in zip(after, after[1:]) if following - step > gap), after[-1])


def without_the_tail(call: dict) -> dict:
    """The call with its far steps up to `dense_end` only (the case before R24y's tail)."""
    return call | {"after": [step for step in call["after"] if step <= dense_end(call)]}


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
    assert n == dense_end(call) == 5_000, n
    assert f"up to {n:,} steps" in decay_cell(), f"the cell's comment should state {n:,}"


# R24w: the phases a restart brings back (the first and the one after the last: 0 warm-up, 1 stable, 2 decay, 3 the end)
# and the comment's words for the largest period it catches (the step a restart returns at, P or P + 40 or P + 80, no
# later than 5,000)
WHOLE = "the whole schedule, of its warm-up, or of warm-up and stable with a period up to 5,000"
RESTARTS = {
    "whole schedule": ((0, 3), WHOLE),
    "warm-up": ((0, 1), WHOLE),
    "warm-up and stable": ((0, 2), WHOLE),
    "stable": ((1, 2), "of the stable phase (alone or with the decay) up to 4,960"),
    "stable and decay": ((1, 3), "of the stable phase (alone or with the decay) up to 4,960"),
    "decay": ((2, 3), "of the decay alone up to 4,920"),
}
# at every multiple of the period (`step % period` in the phases' steps) or every period after the phases began: the
# same when they begin at step 0
FORMS = [(name, "at multiples") for name in RESTARTS] + [
    (name, "after they began") for name in ("stable", "stable and decay", "decay")
]


def restarted_steps(steps: np.ndarray, period: int, begin: int, end: int, form: str) -> np.ndarray:
    """The step of the reference schedule whose rate a factor restarting the steps `begin` to `end` every `period`
    steps gives at each of `steps`."""
    back = (
        steps % period if form == "at multiples" else np.where(steps < begin, steps, begin + (steps - begin) % period)
    )
    return np.where((begin <= back) & (back < end), back, steps)


def comment() -> str:
    """The decay cell's far-past comment as one line."""
    lines = decay_cell().split("# far past the end")[1].split("\ncheck_wsd")[0]
    return re.sub(r"\s*\n# ", " ", lines)


def restart_judges(phases: str, form: str, call: dict):
    """For the reference factor with `phases` restarted every P steps (`form`): caught(P), whether a step `call`
    judges shows it, differs(P, up_to), whether it differs from the reference at a step up to `up_to`, and the step
    the phases begin at."""
    asked, want, call = asked_and_wanted(call)
    lengths = [call[key] for key in ("warmup", "stable", "decay")]
    (first, stop), _ = RESTARTS[phases]
    begin, end, lr = sum(lengths[:first]), sum(lengths[:stop]), call["lr"]
    factor = answer(WSD_REFERENCE)(*lengths, call["start_factor"])
    reference, asked = np.array([factor(step) for step in range(2 * max(asked) + 1)]), np.array(asked)
    want = np.array([want[step] for step in asked])
    assert closes(lr * reference[asked], want).all()

    def caught(period: int) -> bool:
        return not closes(lr * reference[restarted_steps(asked, period, begin, end, form)], want).all()

    def differs(period: int, up_to: int) -> bool:
        steps = np.arange(up_to + 1)
        return bool((reference[restarted_steps(steps, period, begin, end, form)] != reference[steps]).any())

    return caught, differs, begin


@pytest.mark.parametrize(("phases", "form"), FORMS)
def test_a_restart_of_any_phases_is_caught_when_it_differs_by_step_5_000(phases, form):
    """R24w: for every period P up to 5,000 (the last of the every-40th steps), the reference factor with these phases
    started again every P steps is caught (differs from PyTorch's rate at a step judged) when it differs from it at
    some step up to 5,000, and is caught only where it differs. On those steps alone the first period it escapes at
    while differing is the comment's bound + 1 (the tail past 5,000, R24y, can only add to what is caught). On the
    old case (3, 6, 100) 8,991 warm-up and 8,294 stable periods up to 10,000 escaped (their 3 or 6 steps fell between
    the steps asked)."""
    call, words = far_past_call(), RESTARTS[phases][1]
    last, far = dense_end(call), max(call["after"])
    caught, differs, begin = restart_judges(phases, form, call)
    assert [p for p in range(1, last + 1) if not caught(p) and differs(p, last)] == []
    assert [p for p in range(1, far + 1) if caught(p) and not differs(p, far)] == []

    caught_before_the_tail, differs, _ = restart_judges(phases, form, without_the_tail(call))
    bound = next(p for p in range(1, 2 * last) if not caught_before_the_tail(p) and differs(p, 2 * last)) - 1
    assert bound == last - begin, bound
    assert words.endswith(f"up to {bound:,}") and words in comment(), comment()


def test_past_5_000_a_restart_of_the_whole_schedule_is_caught_at_the_periods_the_comment_states():
    """R24y: each step of the tail catches the whole schedule restarted with any of the `total` periods up to it
    (back at most total - 1 steps before it, still above 0), and no other period past 5,000; the comment says which."""
    call = far_past_call()
    total, last = sum(call[key] for key in ("warmup", "stable", "decay")), dense_end(call)
    tail = [step for step in call["after"] if step > last]
    caught, _, _ = restart_judges("whole schedule", "at multiples", call)
    windows = {period for step in tail for period in range(step - total + 1, step + 1)}
    assert {p for p in range(last + 1, max(tail) + 1) if caught(p)} == windows
    words = ", ".join(f"{step - total + 1:,} to {step:,}" for step in tail)
    assert tail == [6_000, 8_200, 10_000] and f"({words})" in comment(), comment()


@pytest.mark.parametrize("wrong", PAST_5000, ids=lambda a: a.name)
def test_the_tail_catches_what_breaks_only_past_5_000(wrong):
    """R24y: a cycle of 10,000 or 8,192 steps and a table of 10,000 steps' rates pass every step up to 5,000 (6/6
    before the tail) and fail at a step of the tail."""
    call = far_past_call()
    check_wsd(answer(wrong.source), **without_the_tail(call))
    with pytest.raises(CheckFailed, match=r"at step (6000|8200|10000), \d+ step\(s\) after the schedule's last step"):
        check_wsd(answer(wrong.source), **call)


def closes(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """`close` (lrcourse.checking.expect) at every step: math.isclose within WSD_RTOL and RATE_ATOL."""
    return np.abs(got - want) <= np.maximum(WSD_RTOL * np.maximum(np.abs(got), np.abs(want)), RATE_ATOL)


def test_the_decay_restarted_at_the_bound_is_caught_and_one_step_past_it_passes():
    """R24v's decay alone started again every P steps, checked for real: caught at the comment's bound, passing one
    period past it (its return at step W + S + P lies past 5,000)."""
    call = far_past_call()
    bound = dense_end(call) - call["warmup"] - call["stable"]
    assert f"of the decay alone up to {bound:,}" in comment()
    check_wsd(restarting_decay(str(bound + 1)), **call)
    with pytest.raises(CheckFailed, match=r"step\(s\) after the schedule's last step \(119\)"):
        check_wsd(restarting_decay(str(bound)), **call)


@pytest.mark.parametrize("period", ["600", "1500", "3000", "7 * total", "8 * total", "5_000"])
def test_the_cell_catches_the_restarts_r24u_found_escaping(period):
    with pytest.raises(CheckFailed, match=r"step\(s\) after the schedule's last step \(119\)"):
        check_wsd(restarting(period), **far_past_call())


@pytest.mark.parametrize("period", ["1000", "1500", "(7 * total)", "4_500"])
def test_the_cell_catches_the_decay_restarts_r24v_found_escaping(period):
    with pytest.raises(CheckFailed, match=r"step\(s\) after the schedule's last step \(119\)"):
        check_wsd(restarting_decay(period), **far_past_call())


@pytest.mark.parametrize(
    "source",
    [WSD_REFERENCE, MIN_MAX, *(a.source for a in WSD_CORRECT)],
    ids=["solution", "min_max", *(a.name for a in WSD_CORRECT)],
)
def test_correct_factors_pass_far_past_the_end(source):
    check_wsd(answer(source), **far_past_call())


# the far-past case before R24w's change, (3, 6, 100): every step to 218, then every 100th from 300 to 10,000
OLD_CASE = {"warmup": 3, "stable": 6, "decay": 100, "after": [*range(300, 10_001, 100)]}


def steps_called(call: dict) -> list[int]:
    """The steps the observer's LambdaLR calls the factor at in the run of `call` (wsd_observer.run_rates): each step
    of the run, 0 to 2 * total then `after`, and the one after its last (the last scheduler.step())."""
    called = []

    def factor(step: int) -> float:
        called.append(step)
        return 1.0

    total = call["warmup"] + call["stable"] + call["decay"]
    run_rates(*scheduled(factor, 0.1), [*range(2 * total + 1), *call["after"]])
    return called


def test_the_far_past_run_costs_a_replaying_factor_no_more_than_the_old_case():
    """R24x, R24y: a factor whose time grows with the step (REPLAYING) costs the sum of the steps it is called at. The
    old case's, 538,572, cost REPLAYING 2.1-2.4 s of the 5 s of CPU time; every 40th step from 280 to 10,000
    (1,293,081) cost it 5.5-6.0 s, and it failed; every 40th to 5,000 (350,701) 1.4-1.7 s; with the tail 6,000, 8,200
    and 10,000 (379,901: 8 % more, as the comment says) 1.5-1.7 s at a load of 5-7 on 2 cores."""
    cost, before_the_tail = (sum(steps_called(call)) for call in (far_past_call(), without_the_tail(far_past_call())))
    assert (cost, before_the_tail) == (379_901, 350_701)
    assert cost <= sum(steps_called(OLD_CASE)) == 538_572
    assert f"({round(100 * (cost / before_the_tail - 1))} % more of that factor's work)" in comment(), comment()


def test_a_correct_factor_replaying_the_schedule_on_every_call_runs_within_the_budget():
    """R24x: REPLAYING is right, so it passes the far-past case, within the 5 s of CPU time (it failed it at 10,000)."""
    check_wsd(answer(REPLAYING), **far_past_call())


def test_the_far_past_run_is_no_longer_than_the_runs_the_budget_was_set_for():
    """The observer's 5 s of CPU time was set for the course's longest run, 541 steps (2 * 270 + 1: a factor of 7.5 ms
    a call fits, tests/test_wsd_resume_budget.py); the far-past run's steps and the steps after it stay within that."""
    call = far_past_call()
    total = call["warmup"] + call["stable"] + call["decay"]
    assert 2 * total + 1 + len(call["after"]) <= 541


@pytest.mark.parametrize("restart", PHASE_RESTARTS, ids=lambda a: a.name)
def test_the_cell_catches_the_phase_restarts_r24w_found_escaping(restart):
    """R24w's warm-up, stable phase, or both, started again (6/6 on the old case: 3, 6 or 9 steps between those), and
    R24x's pieces of a phase back every 1,000 steps, each covering 20 past a multiple of 40 (6/6 on every 40th step
    from 280)."""
    with pytest.raises(CheckFailed, match=r"step\(s\) after the schedule's last step \(119\)"):
        check_wsd(answer(restart.source), **far_past_call())


def test_the_first_half_of_a_phase_brought_back_escapes_as_the_comment_says():
    """R24x: no grid of every 40th step catches every piece shorter than 40 steps; the comment names the one that
    escapes, so it must escape: the stable phase's first half (steps 40 to 59) back every 1,000 steps."""
    assert "the first half of the stable phase or of the decay falls between the steps asked and escapes" in comment()
    check_wsd(
        answer(
            wsd_variant(
                "    def factor(step):\n",
                "    def factor(step):\n"
                "        if step >= total and warmup_steps <= step % 1000 < warmup_steps + stable_steps // 2:\n"
                "            return 1.0\n",
            )
        ),
        **far_past_call(),
    )


def exercise_text() -> str:
    """The exercise's text (cell ex-md) as one line."""
    cells = nbformat.read(ROOT / "source/07_practice/practice.ipynb", 4).cells
    return " ".join(next(cell.source for cell in cells if cell.get("id") == "ex-md").split())


def test_the_exercise_text_and_the_hint_state_the_range_the_far_past_steps_cover():
    """R24z: no finite set of steps catches a restart with every period, so the text no longer says the decay test asks
    every step past the end: it states the range the cell covers, dense to `dense_end`, then the few steps to the last
    one, and the hint names the last; and what may escape (R23m N2): past `dense_end`, or below it a run of wrong
    steps shorter than the widest gap between two steps asked (the first half of a phase brought back: above)."""
    call = far_past_call()
    last, far = dense_end(call), max(call["after"])
    tail = [step for step in call["after"] if step > last]
    dense = [step for step in call["after"] if step <= last]
    widest = max(following - step for step, following in zip(dense, dense[1:]))  # a run this long meets a step asked
    text = exercise_text()
    assert "through zero and past the end, is PyTorch's" not in text
    assert (
        f"up to step {far:,} of the run (up to step {last:,} close enough together that a phase of that schedule "
        f"brought back whole shows, past it {['one', 'two', 'three'][len(tail) - 1]} steps only). So a rate wrong only "
        f"past step {last:,}, or wrong below it for fewer than {widest} steps in a row, may go unseen" in text
    ), text  # R23m N2: below it, a run of wrong steps shorter than the widest gap may fall between two steps asked
    assert "however far" not in call["hint"] and call["hint"].endswith(f"up to {far:,}")


def test_a_restart_every_7_000_steps_passes_and_is_wrong_only_past_the_stated_range():
    """R24z's restart of the whole schedule every 7,000 steps (6/6, graded for real): at PyTorch's rates at every step
    up to the 5,000 the text states, back in the warm-up at 7,000 to 7,119, between the tail's 6,000 and 8,200, so it
    passes. It is not catalogued (tests/catalogue/wsd_restarts.py says why)."""
    call = far_past_call()
    last = dense_end(call)
    assert f"up to step {last:,} close enough together" in exercise_text()
    lengths = [call[key] for key in ("warmup", "stable", "decay")]
    factor = answer(WSD_REFERENCE)(*lengths, call["start_factor"])
    total = sum(lengths)
    assert all(factor(step % 7_000) == factor(step) for step in range(last + 1))
    wrong = [step for step in range(2 * 7_000) if factor(step % 7_000) != factor(step)]
    assert wrong == list(range(7_000, 7_000 + total)) and not set(wrong) & set(call["after"])
    check_wsd(restarting("7_000"), **call)
