"""Exercise 6's stop, either convention (review R23P2, M1): the step whose smoothed loss stops the test taken, as
fastai's LRFinder does, or not taken (the loop stops before that step's optimizer.step()); one step fewer without
a stop is the stop's point, two fewer the rates' too; a record cut at the stop after every step was taken is the
stop's point only (review rv57, W1); a mistake and its twin that differ only in taking the stop's step score alike,
the stop's own rate allowed only after a forward pass seen after the last step (review rv9, finding 2; rv11, finding
1), and what that leaves lenient."""

import copy
import math

import pytest
import torch

from lrcourse import checking

import catalogue
from catalogue.training import RANGE_REFERENCE, STOP_BEFORE_ITS_STEP, range_variant, variant

STEP = "        loss.backward()\n        optimizer.step()\n"


def _define(source: str):
    """An answer to exercise 6, defined with the names the chapter's context cells give it."""
    namespace = {"copy": copy, "math": math, "torch": torch, "loss_fn": torch.nn.CrossEntropyLoss()}
    namespace["lr_scheduler"] = torch.optim.lr_scheduler
    exec(compile(source, "answer", "exec"), namespace)
    return namespace["lr_range_test"]


def test_a_range_test_may_stop_before_the_step_whose_loss_stops_it():
    """Its rates, losses, suggestion and restored state are the reference's; the optimizer stepped once fewer,
    at the rates listed but the last (the hidden cases' arguments)."""
    answer = _define(STOP_BEFORE_ITS_STEP)
    checking.check_range_rates(answer, end_lr=10.0)
    checking.check_range_rates(
        answer, head_ratio=3.0, optimizer="SGD", start_lr=1e-4, end_lr=10.0, num_steps=80, beta=0.9, seed=5
    )
    checking.check_range_losses(answer, end_lr=10.0)
    checking.check_range_losses(answer, end_lr=3.0, num_steps=150, diverge=2.5, seed=4)
    checking.check_range_groups(answer, head_ratio=0.1, end_lr=10.0)
    checking.check_range_restores(answer, end_lr=10.0)
    checking.check_range_suggestion(answer)


@pytest.mark.parametrize("skipped", [1, 2])
def test_fewer_steps_without_a_stop_are_still_charged(skipped):
    """A run that never stops (no smoothed loss above diverge x the lowest) must take every step: one that skips
    the last step's update lists the right rates and losses and loses the stop's point (its step count) only, one
    mistake (rv57 W1); one that skips the last two lists a rate it never tried (two past its last step) and loses
    both points."""
    taken = f"        if step < num_steps - {skipped}:\n            loss.backward()\n            optimizer.step()\n"
    answer = _define(variant(STOP_BEFORE_ITS_STEP, STEP, taken))
    if skipped == 1:
        checking.check_range_rates(answer, diverge=1e9)
    else:
        with pytest.raises(checking.CheckFailed, match="lists 60 rates, but the optimizer was stepped 58 times"):
            checking.check_range_rates(answer, diverge=1e9)
    charged = "stepped 59 times; the run should stop after 60 " if skipped == 1 else r"result\['losses'\]\[59\] is"
    with pytest.raises(checking.CheckFailed, match=charged):  # skipping two steps moves the last loss too
        checking.check_range_losses(answer, diverge=1e9)


def test_two_rates_more_than_the_steps_taken_are_still_charged():
    """Stopping before the stop's step, then listing one rate more (the next one, with its loss repeated): the
    rates lose their point (a rate never tried), the losses theirs (their count)."""
    extra = "    lrs.append(lrs[-1] * (end_lr / start_lr) ** (1 / (num_steps - 1)))\n    losses.append(losses[-1])\n"
    answer = _define(variant(STOP_BEFORE_ITS_STEP, "    model.load_state_dict", extra + "    model.load_state_dict"))
    with pytest.raises(checking.CheckFailed, match="lists 56 rates, but the optimizer was stepped 54 times"):
        checking.check_range_rates(answer, end_lr=10.0)
    with pytest.raises(checking.CheckFailed, match="result\\['losses'\\] has 56 values"):
        checking.check_range_losses(answer, end_lr=10.0)


@pytest.mark.parametrize(
    "name",
    [
        "range_runs_every_step_then_cuts_at_the_stop",
        "range_runs_every_step_recording_up_to_the_stop",
        "range_runs_every_step_then_cuts_before_the_stop",
        "range_runs_every_step",
        "range_records_the_stops_rate_not_its_loss",
        "range_records_stop_rate_not_loss_step_untaken",
    ],
)
def test_a_record_cut_or_kept_at_the_stop_loses_the_stops_point_only(name):
    """Review rv57 W1: an answer that took every step and then cut its record at the first divergence (the chapter's
    own `range_test`) lost the rates' point beside the stop's, 5 of 7, below one that never stopped (6 of 7); so did
    the stop's rate without its loss, its step not taken (rv27c W1), though its taken twin lost one point. The
    rates' cell judges the rates of the steps recorded; the losses' cell says what is wrong: steps taken after a
    record that ends right, or a record that ends early with the optimizer stepped on."""
    answer = next(a for a in catalogue.WRONG if a.name == name)
    function = _define(answer.source)
    checking.check_range_rates(function, end_lr=10.0)
    checking.check_range_rates(function, head_ratio=0.1, end_lr=10.0)
    told = {
        "range_runs_every_step_then_cuts_at_the_stop": "Your record ends at the right step .* after it to the end of",
        "range_runs_every_step_recording_up_to_the_stop": "Your record ends at the right step",
        "range_runs_every_step_then_cuts_before_the_stop": "stepped 60 times: the loop went on after the record",
        "range_runs_every_step": "has 60 values; .* It never stopped",
        "range_records_the_stops_rate_not_its_loss": "has 54 values; .* It stopped early",
        "range_records_stop_rate_not_loss_step_untaken": "has 54 values; .* It stopped early",
    }[name]
    with pytest.raises(checking.CheckFailed, match=told) as failed:
        checking.check_range_losses(function, end_lr=10.0)
    told = str(failed.value)  # rv27c N1: its stop is right; the hint must not blame its threshold alone
    if name == "range_records_the_stops_rate_not_its_loss":  # 55 steps taken: the loop reached the stop
        assert "did stop at the right step" in told and "that is not above" not in told
    if name.endswith("its_step_not_taken"):  # 54 taken, as a stop one step early would: told both
        assert "or, if your loop stopped at the next step without taking it, it left out" in told
    assert answer.failing == {"test_range_losses"} and answer.score == 6.0


@pytest.mark.parametrize(
    "name",
    [
        "range_records_the_stops_loss_not_its_rate",
        "range_records_stop_loss_not_rate_step_untaken",
        "range_lists_every_planned_rate",
        "range_lists_the_rate_after_the_stop",
        "range_lists_rate_after_stop_step_untaken",
    ],
)
def test_a_record_whose_rates_are_not_its_steps_loses_the_rates_point_only(name):
    """The rates' cell still charges a record that lists rates other than those of the steps it records: the stop's
    loss without its rate (its step taken or not: rv27c W2, the untaken twin kept every point), every rate
    planned (tried or not), or the rate of the step after the stop (its step taken or not: rv67 W1, the taken twin
    kept every point); its losses and stop are right."""
    answer = next(a for a in catalogue.WRONG if a.name == name)
    function = _define(answer.source)
    told = {
        "range_records_the_stops_loss_not_its_rate": "lists 54 rates for the 55 smoothed losses",
        "range_records_stop_loss_not_rate_step_untaken": "lists 54 rates for the 55 smoothed losses",
        "range_lists_every_planned_rate": "lists 60 rates, but the optimizer",
        "range_lists_the_rate_after_the_stop": "lists 56 rates, but the optimizer was stepped 55 times",  # rv67 W1
        "range_lists_rate_after_stop_step_untaken": "lists 56 rates, but the optimizer was stepped 54 times",
    }[name]
    with pytest.raises(checking.CheckFailed, match=told):
        checking.check_range_rates(function, end_lr=10.0)
    checking.check_range_losses(function, end_lr=10.0)
    assert answer.failing == {"test_range_rates"} and answer.score == 6.0


def test_an_early_stop_is_still_told_its_own_threshold():
    """rv27c N1 leaves the hint for a loop that did stop early: a stop at 2 x the lowest is told the ratio it used."""
    answer = next(a for a in catalogue.WRONG if a.name == "range_stop_hard_coded_2")
    with pytest.raises(
        checking.CheckFailed, match="It stopped early.* Yours stopped after .* not above diverge=4.0 x the lowest; or"
    ):
        checking.check_range_losses(_define(answer.source), end_lr=10.0)


def test_rates_logged_after_each_scheduler_step_list_one_never_tried():
    """rv67 W1: a common pattern, the first rate and then the rate read after each step (as after a
    `scheduler.step()`), lists the next step's rate at the end: one never tried, charged whether or not the test
    stops (it kept the point when the stop's step was taken)."""
    answer = _define(
        range_variant(
            "[], [], 0.0, math.inf",
            "[start_lr], [], 0.0, math.inf",
            "        lrs.append(lr)\n",
            "",
            STEP,
            STEP + "        lrs.append(start_lr * (end_lr / start_lr) ** ((step + 1) / (num_steps - 1)))\n",
        )
    )
    for config, told in [
        ({"end_lr": 10.0}, "lists 56 rates, but the optimizer was stepped 55 times"),
        ({"diverge": 1e9}, "lists 61 rates, but the optimizer was stepped 60 times"),
    ]:
        with pytest.raises(checking.CheckFailed, match=told):
            checking.check_range_rates(answer, **config)
    checking.check_range_losses(answer, end_lr=10.0)


@pytest.mark.parametrize("rule", ["smoothed > 1.25 * diverge * best", "smoothed > 1.5 * diverge * best"])
def test_a_late_stop_and_its_untaken_twin_lose_the_stops_point_only(rule):
    """rv8 W1: a loop that stops late lists its own stop's rate beside its loss; with that step not taken the rates'
    cell charged it too (5 of 7, below never stopping), its taken twin 6 of 7. Both lose the losses' cell only."""
    stop_test = "        if smoothed > diverge * best:"
    for source in (
        range_variant(stop_test, f"        if {rule}:"),
        variant(STOP_BEFORE_ITS_STEP, stop_test, f"        if {rule}:"),
    ):
        answer = _define(source)
        for config in (
            {"end_lr": 10.0},
            {"head_ratio": 0.1, "end_lr": 10.0},
            dict(head_ratio=3.0, optimizer="SGD", start_lr=1e-4, end_lr=10.0, num_steps=80, beta=0.9, seed=5),
        ):
            checking.check_range_rates(answer, **config)
        with pytest.raises(
            checking.CheckFailed, match=r"result\[.losses.\] has 150 values; the run should stop after 131"
        ):
            checking.check_range_losses(answer, end_lr=3.0, num_steps=150, diverge=2.5, seed=4)


HIDDEN_RATES = (
    {"end_lr": 10.0},
    {"head_ratio": 0.1, "end_lr": 10.0},
    dict(optimizer="SGD", start_lr=1e-4, end_lr=10.0, num_steps=80, beta=0.9, seed=5),
    dict(head_ratio=3.0, optimizer="SGD", start_lr=1e-4, end_lr=10.0, num_steps=80, beta=0.9, seed=5),
)


@pytest.mark.parametrize(
    "taken, untaken, charged",
    [
        ("range_late_stop_records_stop_rate_not_loss", "range_late_stop_rate_not_loss_step_untaken", ""),
        (
            "range_early_stop_lists_the_next_rate",
            "range_early_stop_next_rate_step_untaken",
            "lists 55 rates, but the optimizer was stepped 5[34] times",
        ),
        (
            "range_lists_a_rate_and_loss_after_the_loop",
            "range_rate_and_loss_after_loop_step_untaken",
            "lists 56 rates, but the optimizer was stepped 5[45] times",
        ),
    ],
)
def test_twins_that_differ_only_in_taking_the_stops_step_score_alike(taken, untaken, charged):
    """Review rv9's finding 2: judged by counts of rates, losses and steps, each pair scored 6 and 5 of 7. A late
    stop whose record leaves out its stop's loss lost the rates' point untaken (at the SGD case with two groups: "lists
    69 rates, but the optimizer was stepped 68 times"), and the next step's rate after an early stop, or a rate and a
    loss listed after the loop, kept it taken. The rates' cell now allows the stop's own rate only if the model
    computed a loss after its last step: each pair loses the same cells."""
    for name in (taken, untaken):
        answer = next(a for a in catalogue.WRONG if a.name == name)
        function = _define(answer.source)
        if charged:
            with pytest.raises(checking.CheckFailed, match=charged):
                checking.check_range_rates(function, end_lr=10.0)
        else:
            for config in HIDDEN_RATES:
                checking.check_range_rates(function, **config)
        with pytest.raises(checking.CheckFailed, match=r"result\['losses'\] has"):
            checking.check_range_losses(function, end_lr=10.0)
    first, second = (next(a for a in catalogue.WRONG if a.name == name) for name in (taken, untaken))
    assert first.failing == second.failing and first.score == second.score == (5.0 if charged else 6.0)


MODEL_CALL = "        loss = loss_fn(model(inputs), targets)\n"
HAND_FORWARD = (
    "        hidden = torch.relu(torch.nn.functional.linear(inputs, model[0].weight, model[0].bias))\n"
    "        loss = loss_fn(torch.nn.functional.linear(hidden, model[2].weight, model[2].bias), targets)\n"
)


def test_a_model_computed_by_hand_may_still_record_its_stops_untaken_step():
    """The forward passes are counted as calls of a module: an answer that computes the model's output from its
    weights by hand makes none the observer sees. Its stop's rate, its step untaken, is then allowed (one rate more
    than the steps taken), not charged as a rate never tried; the step after it still is (two more)."""
    untaken = variant(STOP_BEFORE_ITS_STEP, MODEL_CALL, HAND_FORWARD)
    for config in HIDDEN_RATES:
        checking.check_range_rates(_define(untaken), **config)
    checking.check_range_losses(_define(untaken), end_lr=10.0)
    next_rate = "            lrs.append(start_lr * (end_lr / start_lr) ** ((step + 1) / (num_steps - 1)))\n"
    next_rate = variant(untaken, "            break\n", next_rate + "            break\n")
    with pytest.raises(checking.CheckFailed, match="lists 56 rates, but the optimizer was stepped 54 times: list"):
        checking.check_range_rates(_define(next_rate), end_lr=10.0)


EVAL_FIRST = "        with torch.no_grad():\n            model(inputs)\n        optimizer.zero_grad()\n"
ACCUMULATE = (  # two micro-batches, each a forward pass with gradients, then one optimizer step
    "        half = len(inputs) // 2\n        loss = 0.0\n        for part in (slice(0, half), slice(half, None)):\n"
    "            piece = loss_fn(model(inputs[part]), targets[part]) * (len(inputs[part]) / len(inputs))\n"
    "            piece.backward()\n            loss = loss + piece.detach()\n"
)
NEXT_RATE = (
    "            lrs.append(start_lr * (end_lr / start_lr) ** ((step + 1) / (num_steps - 1)))\n            break\n"
)


def _twins(*replacements: str) -> tuple[str, str]:
    """The reference and its twin that stops before its stop's step, each with `replacements` made."""
    return variant(RANGE_REFERENCE, *replacements), variant(STOP_BEFORE_ITS_STEP, *replacements)


@pytest.mark.parametrize("more_passes", ["evaluation pass first", "accumulation"])
def test_twins_with_more_passes_than_steps_score_alike(more_passes):
    """Review rv11's finding 1: with more forward passes than steps (an evaluation pass before each step, gradient
    accumulation over micro-batches), a count of passes allowed one rate more than the steps taken, so the rate after
    a taken stop, never tried, kept its point (7 of 7, its untaken twin 6). Only a pass after the last step allows it
    now: both twins lose the rates' point, and both right answers keep it."""
    if more_passes == "evaluation pass first":
        right = _twins("        optimizer.zero_grad()\n", EVAL_FIRST)
    else:
        right = (
            variant(RANGE_REFERENCE, MODEL_CALL + STEP, ACCUMULATE + "        optimizer.step()\n"),
            variant(STOP_BEFORE_ITS_STEP, MODEL_CALL, ACCUMULATE, STEP, "        optimizer.step()\n"),
        )
    for source, steps in zip(right, (55, 54)):
        checking.check_range_rates(_define(source), end_lr=10.0)
        checking.check_range_losses(_define(source), end_lr=10.0)
        with pytest.raises(
            checking.CheckFailed, match=f"lists 56 rates, but the optimizer was stepped {steps} times[,:] "
        ):
            checking.check_range_rates(_define(variant(source, "            break\n", NEXT_RATE)), end_lr=10.0)
    taken, untaken = (
        next(a for a in catalogue.WRONG if a.name == name)
        for name in ("range_eval_first_lists_the_rate_after_the_stop", "range_eval_first_rate_after_stop_step_untaken")
    )
    assert taken.failing == untaken.failing == {"test_range_rates"} and taken.score == untaken.score == 6.0


def test_a_rate_set_after_the_loss_or_a_loss_without_gradients_may_record_the_untaken_stop():
    """Correct forms whose stop's loss is computed after the last step, its step untaken: the rate set after the
    loss (`loss = ...; record; if stop: break; set lr; backward; step`), or the loss under `torch.no_grad()` and a
    second pass with gradients for the step; the next rate after them is still charged."""
    set_rate = (
        '        for group, ratio in zip(optimizer.param_groups, ratios):\n            group["lr"] = lr * ratio\n'
    )
    late = variant(STOP_BEFORE_ITS_STEP, set_rate, "", "            break\n", "            break\n" + set_rate)
    no_grad = variant(
        STOP_BEFORE_ITS_STEP,
        MODEL_CALL,
        "        with torch.no_grad():\n    " + MODEL_CALL,
        STEP,
        "        loss_fn(model(inputs), targets).backward()\n        optimizer.step()\n",
    )
    for source in (late, no_grad):
        for config in HIDDEN_RATES:
            checking.check_range_rates(_define(source), **config)
        with pytest.raises(checking.CheckFailed, match="lists 56 rates, but the optimizer was stepped 54 times: "):
            checking.check_range_rates(_define(variant(source, "            break\n", NEXT_RATE)), end_lr=10.0)


@pytest.mark.parametrize(
    "lenient",
    [
        STEP + "        with torch.no_grad():\n            model(inputs)\n",  # an evaluation pass after the step
        "        torch.nn.modules.module._global_forward_pre_hooks.clear()\n" + STEP,  # the observer's hooks cleared
    ],
)
def test_what_stays_lenient_a_pass_after_the_step_or_passes_hidden(lenient):
    """What the observation in the student's process cannot tell (README's security model): a pass after the last
    step that computes no stop's loss (an evaluation pass after `optimizer.step()`, as rv11's EVAL twins make with
    their pass before the smoothing, which in the reference comes after the step: each pair still one point apart), or passes
    hidden (the hooks cleared; `test_a_model_computed_by_hand...`), allow the
    next rate after a taken stop, one rate more than the steps, never two (rv11's finding 1: a limit, documented)."""
    source = variant(RANGE_REFERENCE, STEP, lenient, "            break\n", NEXT_RATE)
    checking.check_range_rates(_define(source), end_lr=10.0)
    two = NEXT_RATE.replace("            break\n", NEXT_RATE.replace("step + 1", "step + 2"))
    with pytest.raises(checking.CheckFailed, match="lists 57 rates, but the optimizer was stepped 55 times: "):
        checking.check_range_rates(_define(variant(source, NEXT_RATE, two)), end_lr=10.0)


def test_the_rates_message_names_no_observation_an_answer_could_fake():
    """Review rv13's M1: "... and no loss was computed after its last step" told rv67's mistake (the next rate after a
    taken stop) the lever, one forward pass after the loop, which takes it from 6 of 7 to 7 without mending it."""
    source = variant(RANGE_REFERENCE, "            break\n", NEXT_RATE)
    with pytest.raises(checking.CheckFailed) as raised:
        checking.check_range_rates(_define(source), end_lr=10.0)
    message = str(raised.value)
    assert "lists 56 rates, but the optimizer was stepped 55 times: list the rates of the steps taken" in message
    assert not any(word in message for word in ("forward", "pass", "loss was computed after", "hook"))
