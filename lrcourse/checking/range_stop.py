"""Chapter 6's range test: where it stops and what its record lists. The losses' cell charges the stop (how many
smoothed losses are listed, how many optimizer steps were taken); the rates' cell charges only a record whose rates
are not those of the steps it tried (one mistake, one point: issue 23, R23b; review rv57's W1: an answer that took
every step and then cut its record at the stop lost both points, below one that never stopped). A step was tried
when the model computed the loss its rate is paired with (at the step's start, from the weights before its update):
the stop's own step, its `optimizer.step()` not run, was; the step after the stop never was. The observer watches for a forward pass of the model after the last optimizer step to tell the two
apart (`range_tried`; review rv9's finding 2: counts of rates, losses and steps alone judged twins that differ only in
taking the stop's step apart; rv11's finding 1: so did a count of passes, once an answer made more than one per step).
That rests on an observation in the student's process and stays lenient by one rate where a pass after the last step
is not the stop's loss, or where passes are hidden (`listed_rates_problem`)."""

from __future__ import annotations

import math

from lrcourse.checking.expect import close


def stops(diverge: float, losses: list[float]) -> bool:
    """The last of the smoothed losses is a stop: above diverge x the lowest before it."""
    return len(losses) > 1 and losses[-1] > diverge * min(losses[:-1])


def planned_rate(payload: dict, step: int) -> float:
    """The test's rate at `step` (from 0): start_lr * (end_lr / start_lr) ** (step / (num_steps - 1))."""
    start, end, steps = payload["start_lr"], payload["end_lr"], payload["num_steps"]
    return start * (end / start) ** (step / (steps - 1))


def listed_rates_problem(
    payload: dict, lrs: list[float], losses: list[float], taken: int, tried: int, tried_after: int
) -> str:
    """What is wrong with `result['lrs']` as the record of the steps the answer tried ("" if nothing): the first
    group's rate of each step recorded, in order (step i's rate at index i); one rate per smoothed loss listed, or
    more, up to one per optimizer step taken (`taken`) plus the stop's own step, which may be recorded untaken
    (R23P2 M1), and never more than num_steps. That one rate more is allowed only if the model computed a loss after
    its last step taken (`tried_after`: its forward passes since then, `range_tried`), in any grad mode: the stop's
    loss, its step not taken. So the stop's step is free taken or not, and an answer and its twin that differ only in
    it are judged alike (rv27c W1, W2; rv8 W1; rv9's finding 2), while the rate of the step after a stop whose step
    was taken, never tried, is charged (rv67 W1), as is a rate listed after the loop with no step behind it, with any
    number of passes before each step (an evaluation pass, gradient accumulation's micro-batches: rv11's finding 1).

    Lenient, as the README's security model says: a pass after the last step that computes no stop's loss (an
    evaluation pass after `optimizer.step()`, one dummy `model(inputs)` after the loop) allows that one rate more; so
    do passes the observer did not see (`tried`, all the passes, fewer than the steps taken: the model's output
    computed by hand from its weights, or the hooks cleared or patched), where only the steps taken are known tried.
    Two rates more than the steps taken are charged whatever the passes. Where the record ends, and whether the loop
    went on stepping after it, is the stop's point, the losses' cell's: not charged here."""
    count, steps = len(lrs), payload["num_steps"]
    for step, value in enumerate(lrs[:steps]):
        want = planned_rate(payload, step)
        if not close(value, want):
            return (
                f"result['lrs'][{step}] is {value!r}; step {step} used the rate {want!r}: list, for every step "
                "recorded, the first group's rate at that step, beside its smoothed loss"
            )
    unseen = tried < taken  # the passes were not seen: each step taken was tried, and perhaps one more
    stops_untaken = unseen or tried_after != 0  # a loss computed after the last step taken: the stop's, untaken
    if count > min(steps, taken + stops_untaken):  # the message names no observation an answer could fake (rv13 M1)
        return (
            f"result['lrs'] lists {count} rates, but the optimizer was stepped {taken} times"
            ": list the rates of the steps taken (the rate of the step whose smoothed loss stops the test may be "
            "listed even if that step's optimizer.step() did not run: the record pairs each step's rate with the loss "
            "computed at its start; not the rate of the step after it), not rates planned and never tried"
        )
    if count != len(losses) and not (count > len(losses) and count in (taken, taken + 1)):
        return (
            f"result['lrs'] lists {count} rates for the {len(losses)} smoothed losses in result['losses'] (the "
            f"optimizer was stepped {taken} times): record the rate of each step with its smoothed loss, one rate "
            "per loss"
        )
    return ""


def count_hint(payload: dict, count: int, expected: int) -> str:
    """Why a range test's record ends at the wrong step: it ends late (or never), or early."""
    if count > expected:
        return (
            (" It never stopped: it ran all num_steps." if count == payload["num_steps"] else " It stopped late.")
            + f" Step {expected - 1}'s smoothed loss is above diverge x the lowest smoothed loss so far (not the "
            "first one, nor the raw loss): record it, then stop."
        )
    if count < expected:
        return (
            " It stopped early: stop only when the smoothed, bias-corrected loss exceeds diverge x the lowest "
            "smoothed loss so far, and record that step before stopping."
        )
    return ""


def steps_hint(payload: dict, taken: int, recorded: int, expected: int) -> str:
    """Why a range test took the wrong number of optimizer steps, its record (`recorded` losses) right or not."""
    if taken > expected and recorded == expected:
        return (
            f" Your record ends at the right step (result['losses'] has its {expected} values), but the optimizer "
            f"went on stepping after it{' to the end of num_steps' if taken == payload['num_steps'] else ''}: leave "
            "the loop right after recording that step (break), so that no step is taken at a rate that has already "
            "made the loss diverge."
        )
    if taken > expected and recorded < expected:
        return (
            f" Your record ends after {recorded} steps but the optimizer went on stepping: stop the loop where the "
            "record ends, right after recording the first smoothed loss above diverge x the lowest so far."
        )
    return count_hint(payload, taken, expected)


def stop_threshold(diverge: float, losses: list[float]) -> str:
    """Where the reference's losses stop, with the threshold in numbers: a stop rule that differs from the text's
    (another multiple of the lowest, a hard-coded 4) sees which threshold it should have used (issue 23, R23f)."""
    *before, last = losses
    if stops(diverge, losses):
        lowest = min(before)
        return (
            f" With diverge={diverge!r} the threshold is {diverge!r} x the lowest smoothed loss so far: the first loss "
            f"above it is result['losses'][{len(before)}] = {last:.6g}, {last / lowest:.4g} x the lowest before it "
            f"({lowest:.6g}; {diverge!r} x {lowest:.6g} = {diverge * lowest:.6g})."
        )
    return f" With diverge={diverge!r} no smoothed loss exceeds {diverge!r} x the lowest so far: the test runs all num_steps."


def own_stop(diverge: float, mine: list[float], expected: int, taken: int) -> str:
    """The threshold an answer whose record ends early used, read off its own last loss (its losses agree with the
    reference's up to there: the judge compared them first). A loop that took the stop's own step (`taken` optimizer
    steps) stopped at the right step: its record left out the stop's loss, its threshold is right (rv27c N1). One
    step fewer is either (a stop one step early, its step taken, or the right stop untaken), so it is told both; a
    loop that went on after its record is told so by the losses' cell."""
    if not 1 < len(mine) < expected or taken > expected:
        return ""
    if taken == expected:
        return (
            f" Your loop did stop at the right step (the optimizer was stepped {taken} times), but its record leaves "
            "out that step's smoothed loss: record it before testing the stop."
        )
    lowest = min(mine[:-1])
    ratio = mine[-1] / lowest if lowest > 0 else math.inf
    return (
        f" Yours stopped after result['losses'][{len(mine) - 1}] = {mine[-1]:.6g}, {ratio:.4g} x the lowest before "
        f"it: that is not above diverge={diverge!r} x the lowest"
        + (
            "; or, if your loop stopped at the next step without taking it, it left out that step's smoothed loss: "
            "record it before testing the stop."
            if taken == expected - 1
            else "."
        )
    )
