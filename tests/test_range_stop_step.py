"""Exercise 6's stop, either convention (review R23P2, M1): the step whose smoothed loss stops the test taken, as
fastai's LRFinder does, or not taken (the loop stops before that step's optimizer.step()); one step fewer without
a stop, or two fewer, is still charged."""

import copy
import math

import pytest
import torch

from lrcourse import checking

from catalogue.training import STOP_BEFORE_ITS_STEP, variant

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
    the last step's update, or the last two, lists the right rates and losses but loses both points."""
    taken = f"        if step < num_steps - {skipped}:\n            loss.backward()\n            optimizer.step()\n"
    answer = _define(variant(STOP_BEFORE_ITS_STEP, STEP, taken))
    with pytest.raises(checking.CheckFailed, match=f"should list the {60 - skipped} rates the optimizer used"):
        checking.check_range_rates(answer, diverge=1e9)
    charged = "stepped 59 times; the run should stop after 60 " if skipped == 1 else r"result\['losses'\]\[59\] is"
    with pytest.raises(checking.CheckFailed, match=charged):  # skipping two steps moves the last loss too
        checking.check_range_losses(answer, diverge=1e9)


def test_two_rates_more_than_the_steps_taken_are_still_charged():
    """Stopping before the stop's step, then listing one rate more (the next one, with its loss repeated): the
    rates lose their point, the losses theirs (their count)."""
    extra = "    lrs.append(lrs[-1] * (end_lr / start_lr) ** (1 / (num_steps - 1)))\n    losses.append(losses[-1])\n"
    answer = _define(variant(STOP_BEFORE_ITS_STEP, "    model.load_state_dict", extra + "    model.load_state_dict"))
    with pytest.raises(checking.CheckFailed, match="should list the 54 rates the optimizer used, one per step; got 56"):
        checking.check_range_rates(answer, end_lr=10.0)
    with pytest.raises(checking.CheckFailed, match="result\\['losses'\\] has 56 values"):
        checking.check_range_losses(answer, end_lr=10.0)
