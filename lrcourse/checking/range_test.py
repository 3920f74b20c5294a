"""Chapter 6's exercise, the learning-rate range test: the observer runs the student's `lr_range_test` on a
model and optimizer that have trained for an epoch (`lrcourse.fixtures`) and records the rates each step used
and the state before and after; the judges compare with the grader's reference (`expected`). PyTorch's
schedulers are allowed: the answer cell is marked `uses_schedulers` (`lrcourse.cells`), so the grader's process
for it keeps torch.optim.lr_scheduler, as the learner's kernel does."""

from __future__ import annotations

import math
import numbers

from lrcourse import wire
from lrcourse.checking.expect import answer_raised, close, expect
from lrcourse.checking.expected import ExpectedValues
from lrcourse.checking.guard import TRAINING_SECONDS, Guard
from lrcourse.checking.observe import observe, observer, target_name
from lrcourse.checking.range_groups import as_sent, group_settings, settings_change
from lrcourse.checking.range_steps import optimizer_steps
from lrcourse.checking.range_stop import (
    count_hint,
    listed_rates_problem,
    own_stop,
    planned_rate,
    steps_hint,
    stop_threshold,
    stops,
)
from lrcourse.checking.range_tried import forward_passes
from lrcourse.fixtures import HEAD_BY_HAND, range_fixture, state_vector
from lrcourse.tolerances import DIVERGING_LOSS_RTOL, LOSS_ATOL, LOSS_RTOL, STATE_RTOL
from lrcourse.training import one_thread

RANGE_KEYS = ("lrs", "losses", "suggestion")


@observer("range_test", seconds=TRAINING_SECONDS)
def observe_range_test(range_test, payload: dict) -> dict:
    """Run the student's `lr_range_test` on a model and optimizer that have trained for an epoch; record what
    it returns, the rates of each test step of the optimizers with a gradient to apply (`range_steps`), how many
    steps optimizers without one took (a dry run's), how many forward passes the model made in all and after the
    last judged step (`range_tried`: whether the stop's own rate was tried, its step untaken), and the weights,
    optimizer state and rates before and after."""
    observation = {
        "value": wire.encode(None),
        "states": [],
        "timeout": False,
        "error": None,
        "seconds": TRAINING_SECONDS,
    }
    with one_thread():
        model, optimizer, batches = range_fixture(payload)
        before = {
            "weights": state_vector(model, optimizer),
            "lrs": [g["lr"] for g in optimizer.param_groups],
            "settings": group_settings(optimizer),
        }
        arguments = [payload[key] for key in ("start_lr", "end_lr", "num_steps", "beta", "diverge")]
        with forward_passes() as passes, optimizer_steps(optimizer, passes.step_ended) as (used, others):
            Guard(observation["seconds"]).record(observation, range_test, model, optimizer, batches, *arguments)
        after = {
            "weights": state_vector(model, optimizer),
            "lrs": [g["lr"] for g in optimizer.param_groups],
            "settings": group_settings(optimizer),
        }
    observation["states"] = [
        wire.encode(
            {
                "used": used[:100_000],
                "others": others[0],
                "tried": passes.count,
                "after_last_step": passes.since_step,
                "before": before,
                "after": after,
            }
        )
    ]
    return observation


def _observe_range(
    range_test,
    optimizer="Adam",
    start_lr=1e-5,
    end_lr=1.0,
    num_steps=60,
    beta=0.98,
    diverge=4.0,
    batch_size=128,
    seed=2,
    head_ratio=None,
    moved_by="StepLR",
):
    payload = {
        "optimizer": optimizer,
        "lr": 0.003,
        "start_lr": start_lr,
        "end_lr": end_lr,
        "num_steps": num_steps,
        "beta": beta,
        "diverge": diverge,
        "batch_size": batch_size,
        "seed": seed,
        "head_ratio": head_ratio,
    }
    if moved_by != "StepLR":  # absent: a StepLR's (the visible cases' keys in expected_visible.json stay as they were)
        payload["moved_by"] = moved_by
    groups = _groups_text(payload["lr"], head_ratio, moved_by)
    call = (
        f"lr_range_test(model, {optimizer} optimizer with {groups}, batches of {batch_size}, "
        f"start_lr={start_lr}, end_lr={end_lr}, num_steps={num_steps}, beta={beta}, diverge={diverge})"
    )
    observation = observe(range_test, "range_test", payload, "lr_range_test")
    expect(not observation["timeout"], f"{call} did not finish within {observation['seconds']:.0f} s")
    if observation["error"] is not None:
        error = observation["error"]
        raise answer_raised(target_name(range_test), error, f"{call} raised {type(error).__name__}: {error}")
    result = observation["value"]
    expect(
        isinstance(result, dict) and set(RANGE_KEYS) <= set(result),
        f"{call} must return a dict with the keys {list(RANGE_KEYS)}; it returned {type(result).__name__}",
    )
    for key in ("lrs", "losses"):
        expect(
            isinstance(result[key], (list, tuple)) and all(isinstance(v, numbers.Real) for v in result[key]),
            f"{call}: result[{key!r}] must be a list of numbers",
        )
    state = (observation.get("states") or [{}])[0]
    state = state if isinstance(state, dict) else {}
    used = state.get("used", [])
    state["used_groups"] = [rates if isinstance(rates, list) else [rates] for rates in used]
    state["used"] = [rates[0] if rates else None for rates in state["used_groups"]]
    return payload, call, result, state


def _groups_text(lr: float, head_ratio, moved_by: str) -> str:
    """The optimizer's groups as a message shows them: their rates before the test, then how they got there (the
    fixture halves the constructor's rates after its training epoch: lrcourse.fixtures.range_fixture)."""
    halved = {
        "hand": "halved by hand: no initial_lr",
        HEAD_BY_HAND: (
            "halved by a StepLR, which left each group's constructor rate as its initial_lr, then the output layer's "
            "rate alone halved again by hand"
        ),
    }.get(moved_by, "halved by a StepLR, which left each group's constructor rate as its initial_lr")
    if not head_ratio:
        return f"one group (rate {lr / 2}; constructed with lr={lr}, {halved})"
    now = head_ratio / 2 if moved_by == HEAD_BY_HAND else head_ratio
    return (
        f"two groups (the hidden layer's rate {lr / 2}, the output layer's {now} x it; constructed with lr={lr}, "
        f"the output layer at {head_ratio} x it, {halved})"
    )


def _test_ran(call: str, state: dict) -> None:
    """The answer ran a test: two optimizer steps or more, the first group's rate moving (what the groups and
    restore points are given for; an answer that does nothing keeps ratios and state trivially)."""
    first = [rates[0] if rates else None for rates in state.get("used_groups", [])]
    expect(
        len(first) >= 2 and len(set(first)) > 1,
        f"{call}: the optimizer made {len(first)} steps at the rates {first[:3]}; the test should step it at "
        "rates growing from start_lr",
    )


def _rate_hint(value, want: float, head_ratio=None) -> str:
    """Why the first group's rate is off by the fixture's factor of 2 (its rate is half its constructor's, a StepLR
    having halved it): scaled from the constructor's rate, or from an `initial_lr` a LambdaLR multiplies; or, with two
    groups, by 1 / the head's ratio: ratios taken against the output layer's rate (issue 23, R23c)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return ""
    if head_ratio and close(value, want / head_ratio):
        return (
            f". That is lr / {head_ratio}, the output layer's ratio to the first group: the ratios were taken against "
            "another group's rate (the last group's, as fastai's slice(lr / 100, lr) has it, or the largest). Here "
            "the first group uses lr itself, and every other group lr x its rate / the first group's rate"
        )
    if close(value, want / 2):
        return (
            ". Half the rate: the optimizer's rate before the test is half its constructor's (optimizer.defaults), "
            "so scale from param_groups[0]['lr']"
        )
    if close(value, want * 2):
        return (
            ". Twice the rate: a StepLR halved the optimizer's rate and left initial_lr at the constructor's, "
            "which a LambdaLR multiplies instead of the current rate"
        )
    return ""


def _count(value) -> int:
    """A count of forward passes from the observation; -1 (unknown: as if no pass was seen) if it is not one."""
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def check_range_rates(range_test, **config) -> None:
    """The rates tried grow exponentially from start_lr to end_lr, one per optimizer step taken, and the result
    lists them for the steps it records: the first group's, with two groups too (the groups' cell judges only their
    ratio; issue 23, R23c); one per smoothed loss or more, up to one per step taken plus the stop's own step taken
    or not, and never the rate of a step whose loss the model never computed (`listed_rates_problem`, rv9's finding
    2, rv11's finding 1). Where the test stops, and where its record ends, is the losses' point (one mistake, one point: issue 23,
    R23b; rv57 W1): a record cut at the stop after every step was taken lists the right rates."""
    payload, call, result, state = _observe_range(range_test, **config)
    used = state.get("used", [])
    which = "the first group's lr" if payload["head_ratio"] else "lr"
    expect(
        len(used) >= 2,
        f"{call}: optimizers with a gradient to apply (to the model's parameters or a copy's) were stepped "
        f"{len(used)} times in all"
        + (
            f" (optimizers without one, such as a dry run's, {state.get('others')} times)"
            if state.get("others")
            else ""
        )
        + "; a range test steps one at every step: the given optimizer, or a deep copy of it made together with the "
        "model's, copy.deepcopy((model, optimizer)) (copied apart, the optimizer's copy steps copies of the weights "
        "that the model's copy does not compute with)",
    )
    for step, value in enumerate(used):
        want = planned_rate(payload, step)
        expect(
            close(value, want),
            f"{call}: optimizer step {step} used {which} {value!r}; expected start_lr * "
            f"(end_lr / start_lr) ** ({step} / (num_steps - 1)) = {want!r}"
            + _rate_hint(value, want, payload.get("head_ratio")),
        )
    tried, after = (_count(state.get(key)) for key in ("tried", "after_last_step"))  # the model's passes (rv11 #1)
    problem = listed_rates_problem(payload, list(result["lrs"]), list(result["losses"]), len(used), tried, after)
    expect(not problem, f"{call}: {problem}")


def check_range_groups(range_test, **config) -> None:
    """Several parameter groups keep the ratio between their rates: at every step the test took, every group's
    rate is the first group's times its rate before the test over the first group's. Only the ratio is charged
    here: the first group's rates are the rates' point, the stop the losses' (issue 23, R23b)."""
    payload, call, _, state = _observe_range(range_test, **config)
    first_step = ExpectedValues().reference_range_test(payload)["group_lrs"][0]  # the groups' rates at step 0
    ratios = [rate / first_step[0] for rate in first_step]
    used = state.get("used_groups", [])
    _test_ran(call, state)
    for step, mine in enumerate(used):
        want = [mine[0] * ratio for ratio in ratios] if mine else ratios
        expect(
            len(mine) == len(ratios) and all(close(a, b) for a, b in zip(mine, want)),
            f"{call}: optimizer step {step} used the rates {mine} (one per group); expected {want}. Every group "
            "keeps its ratio to the first group's rate as it was before the test: group g gets lr * (its rate "
            "before the test / the first group's rate before the test). Record those ratios before changing any "
            "rate." + _initial_lr_hint(payload, mine),
        )


def _initial_lr_hint(payload: dict, mine) -> str:
    """Why the groups ran at the ratio of their constructor's rates, where the head's rate was moved apart after the
    StepLR: ratios taken from `initial_lr`, or a LambdaLR multiplying it (issue 23, R23a)."""
    ratio = payload.get("head_ratio")
    if payload.get("moved_by") != HEAD_BY_HAND or not ratio or len(mine) != 2:
        return ""
    if not isinstance(mine[0], numbers.Real) or not close(mine[1], mine[0] * ratio):
        return ""
    return (
        f" Yours kept {ratio}, the ratio of the groups' initial_lr (their constructor's rates), not the ratio of their "
        f"rates before the test, {ratio / 2}: read the ratios from each group's 'lr', not its 'initial_lr'; a LambdaLR, "
        "which multiplies initial_lr, needs each group's initial_lr set to its current rate first, or one lambda per "
        "group dividing by it"
    )


def range_loss_rtol(losses: list[float], step: int) -> float:
    """The tolerance of a range test's smoothed loss at `step`: a trained loss's up to the lowest one, a diverging
    run's after it, where another CPU's last bits grow at every step (lrcourse/tolerances.py)."""
    return LOSS_RTOL if step <= losses.index(min(losses)) else DIVERGING_LOSS_RTOL


def same_state(mine, want: list[list[float]]) -> bool:
    """Two fingerprints of trained float32 state (`fixtures.state_vector`) agree: each sum within STATE_RTOL of
    the tensor's magnitude (a sum of values of both signs can move by more than its own size between two CPUs,
    but only by about 1e-7 of its magnitude; lrcourse/tolerances.py says what a step of the test moves)."""

    def pair(entry) -> bool:
        return (
            isinstance(entry, list)
            and len(entry) == 2
            and all(isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x) for x in entry)
        )

    def agree(mine_pair, want_pair) -> bool:
        (total, magnitude), (want_total, want_magnitude) = mine_pair, want_pair
        return abs(total - want_total) <= STATE_RTOL * want_magnitude + LOSS_ATOL and math.isclose(
            magnitude, want_magnitude, rel_tol=STATE_RTOL, abs_tol=LOSS_ATOL
        )

    return isinstance(mine, list) and len(mine) == len(want) and all(map(pair, mine)) and all(map(agree, mine, want))


def check_range_losses(range_test, **config) -> None:
    """The smoothed, bias-corrected losses of the run, and the stop once they exceed diverge x the lowest: as many
    losses listed, and as many optimizer steps taken, as the reference's (an answer that records the right losses
    but steps once more after the stop has damaged weights it must put back; issue 23, R23d)."""
    payload, call, result, state = _observe_range(range_test, **config)
    expected = ExpectedValues().reference_range_test(payload)["losses"]
    mine = list(result["losses"])
    for step, (value, want) in enumerate(zip(mine, expected)):
        expect(
            math.isclose(value, want, rel_tol=range_loss_rtol(expected, step)),
            f"{call}: result['losses'][{step}] is {value!r}; expected {want!r} (average = beta * average + "
            "(1 - beta) * loss, divided by 1 - beta ** (step + 1))",
        )
    threshold = stop_threshold(payload["diverge"], expected)
    steps = len(state.get("used", []))  # the stop's own step taken or not (either is right: R23P2 M1), no other
    went_on = f" The optimizer was stepped {steps} times: the loop went on after the record ended; stop both there."
    expect(
        len(mine) == len(expected),
        f"{call}: result['losses'] has {len(mine)} values; the run should stop after "
        f"{len(expected)} steps (the first smoothed loss above diverge x the lowest "
        "so far is recorded, then the loop stops at once)."
        + count_hint(payload, len(mine), len(expected))
        + own_stop(payload["diverge"], mine, len(expected), steps)
        + threshold
        + (went_on if steps > len(mine) + 1 else ""),
    )
    expect(
        steps == len(expected) or (steps == len(expected) - 1 and stops(payload["diverge"], expected)),
        f"{call}: the optimizer was stepped {steps} times; the run should stop after {len(expected)} steps, right "
        "after recording the first smoothed loss above diverge x the lowest so far (its own step taken or not), "
        "with no further step." + steps_hint(payload, steps, len(mine), len(expected)) + threshold,
    )


def check_range_restores(range_test, **config) -> None:
    """The model's weights, the optimizer's state and its rates are as they were before the test."""
    payload, call, _, state = _observe_range(range_test, **config)
    _test_ran(call, state)
    after = state.get("after") or {}
    with one_thread():  # "before" as the judge builds it, not as the student's process reports it
        model, optimizer, _ = range_fixture(payload)
        before = {
            "weights": state_vector(model, optimizer),
            "lrs": [g["lr"] for g in optimizer.param_groups],
            "settings": group_settings(optimizer),
        }
    expect(
        same_state(after.get("weights"), before["weights"]),
        f"{call}: the model's weights or the optimizer's state changed; save both state_dicts (deep copies) "
        "before the test and load them afterwards",
    )
    expect(
        before.get("lrs") == after.get("lrs"),
        f"{call}: the optimizer's rates were {before.get('lrs')} before and {after.get('lrs')} after; restore them",
    )
    change = settings_change(as_sent(before["settings"]), after.get("settings"))
    expect(
        change is None,
        f"{call}: {change}; a scheduler created on the optimizer adds `initial_lr`, which a later LambdaLR, "
        "warm-restart or SequentialLR would start from and closed-form schedulers take as their base_lrs, and a "
        "momentum, betas or weight_decay left changed steers every later step: load the optimizer's saved "
        "state_dict() afterwards, which puts back every group as it was",
    )


def check_range_suggestion(range_test, **config) -> None:
    """The suggestion: the rate of the lowest smoothed loss, divided by ten."""
    payload, call, result, _ = _observe_range(range_test, **config)
    want = ExpectedValues().reference_range_test(payload)["suggestion"]
    expect(
        isinstance(result["suggestion"], numbers.Real) and close(result["suggestion"], want),
        f"{call}: result['suggestion'] is {result['suggestion']!r}; expected {want!r}, the rate of the lowest "
        "smoothed loss divided by 10",
    )
