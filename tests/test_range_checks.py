"""Exercise 6's checks in one process, as in a notebook's kernel: the stop's point (issue 23, R23d)."""

import copy
import math

import pytest
import torch

from lrcourse import checking

import catalogue


def _range_answer(name):
    """A catalogue answer to exercise 6, defined with the names the chapter's context cells give it."""
    namespace = {"copy": copy, "math": math, "torch": torch, "loss_fn": torch.nn.CrossEntropyLoss()}
    answer = next(a for a in catalogue.CORRECT + catalogue.WRONG if a.name == name)
    exec(compile(answer.source, answer.name, "exec"), namespace)
    return namespace["lr_range_test"]


def test_a_range_test_that_steps_past_its_stop_loses_the_stops_point_only():
    """Issue 23 (R23d, w13): right rates and losses, one optimizer step past the stop. The losses' cell (the stop's
    point) counts the optimizer steps taken; the rates' cell still judges the rates listed against them."""
    late = _range_answer("range_one_step_past_the_stop")
    checking.check_range_rates(late, end_lr=10.0)
    with pytest.raises(checking.CheckFailed, match="stepped 56 times; the run should stop after 55 steps"):
        checking.check_range_losses(late, end_lr=10.0)
    early = _range_answer("range_stops_before_recording")  # its step count is right: only its losses' count fails
    checking.check_range_rates(early, end_lr=10.0)
    with pytest.raises(checking.CheckFailed, match="result\\['losses'\\] has"):
        checking.check_range_losses(early, end_lr=10.0)
    checking.check_range_losses(_range_answer("range_reference"), end_lr=10.0)
