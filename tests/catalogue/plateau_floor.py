"""Chapter 3's Exercise 3.6, a stalled run's floor: `epochs_to_floor` written differently, plausible mistakes (each
with the test cells it loses), a replay through PyTorch's scheduler, and broken forms."""

from __future__ import annotations

from catalogue.answers import ALL, Answer, variant

CHAPTER = "03_adaptive_schedules"
RATE, EPS = "test_floor_rate", "test_floor_eps"
FIRST, SPACING, LONG = "test_floor_first_epoch", "test_floor_spacing", "test_floor_long_waits"

FLOOR_REFERENCE = """
def epochs_to_floor(lr, factor, patience, cooldown, min_lr, eps):
    rate, reductions = float(lr), 0
    while True:
        new = max(rate * factor, min_lr)
        if not rate - new > eps:
            break
        rate, reductions = new, reductions + 1
    if reductions == 0:
        return 0, rate
    return 1 + reductions * (patience + 1) + (reductions - 1) * cooldown, rate
"""


def floor(name, source, fails=()):
    return Answer(name, CHAPTER, "epochs_to_floor", source, fails)


def mistake(name, *replacements, fails):
    return floor(name, variant(FLOOR_REFERENCE, *replacements), fails)


FLOOR_CORRECT = [
    floor("floor_reference_style", FLOOR_REFERENCE),
    floor(
        "floor_epoch_of_each_reduction",
        """
def epochs_to_floor(lr, factor, patience, cooldown, min_lr, eps):
    # the epoch of each reduction: the first after the loss that set best and patience + 1 bad epochs, each next one
    # a cooldown and patience + 1 bad epochs later
    epoch, last, rate = 1 + patience + 1, 0, lr
    while rate - max(rate * factor, min_lr) > eps:
        rate, last = max(rate * factor, min_lr), epoch
        epoch += cooldown + patience + 1
    return last, rate
""",
    ),
    floor(
        "floor_list_of_rates_numpy_int",
        """
import numpy as np

def epochs_to_floor(lr, factor, patience, cooldown, min_lr, eps):
    rates = [lr]
    while rates[-1] - max(rates[-1] * factor, min_lr) > eps:
        rates.append(max(rates[-1] * factor, min_lr))
    changes = len(rates) - 1
    epoch = np.int64(0) if changes == 0 else np.int64(changes) * (patience + 1) + (changes - 1) * cooldown + 1
    return [epoch, rates[-1]]
""",
    ),
]

FLOOR_WRONG = [
    # issue 23 (finding 4): the long-waits cell grades the counting (the answer at 10**9 agrees with its own small
    # cases), not the formula again, so a formula slip loses the cells that grade the formula
    # the first loss improves on best = inf: forgetting it puts every reduction one step early
    mistake("floor_first_loss_counted_bad", "return 1 + reductions", "return reductions", fails=(FIRST, SPACING)),
    mistake(
        "floor_reduces_at_patience", "reductions * (patience + 1)", "reductions * patience", fails=(FIRST, SPACING)
    ),
    # issue 23 (s39): the long waits grade the counting (the epoch at 10**9 follows from the answer's own small
    # cases); where a cooldown goes is the spacing cell's question (and the first-epoch cell's, whose case says a
    # cooldown does not delay the first reduction). Review s38's c36_nocool.py is floor_cooldown_ignored.
    # R23q item 2: counting the wrong steps passed the long waits (`return patience, lr` 1 of 5 cells, `return
    # patience + cooldown, rate` 3 of 5), so the long waits also ask that one more epoch of patience (of cooldown)
    # adds the reference's steps: one per reduction (one per gap between two). The slips below count a cooldown
    # or a try too many at every epoch of the wait, so they lose the long waits again, as before s39:
    # floor_cooldown_ignored 1 -> 2 cells lost, floor_cooldown_before_the_first and floor_one_try_too_many 2 -> 3
    mistake("floor_cooldown_ignored", " + (reductions - 1) * cooldown", "", fails=(SPACING, LONG)),
    mistake(
        "floor_cooldown_before_the_first",
        "(reductions - 1) * cooldown",
        "reductions * cooldown",
        fails=(FIRST, SPACING, LONG),
    ),
    mistake(
        "floor_one_try_too_many",
        "    if reductions == 0:\n        return 0, rate\n    return 1 + reductions * (patience + 1) + (reductions - 1)",
        "    return 1 + (reductions + 1) * (patience + 1) + reductions",
        fails=(FIRST, SPACING, LONG),
    ),
    # the floor: a last reduction that would pass min_lr is clipped to it, not skipped; a rate is never raised
    mistake(
        "floor_stops_before_min_lr",
        "        new = max(rate * factor, min_lr)\n",
        "        new = rate * factor\n        if new < min_lr:\n            break\n",
        fails=(RATE,),
    ),
    mistake(
        "floor_raises_rate_to_min_lr",
        "        if not rate - new > eps:\n",
        "        if new > rate:\n            rate, reductions = new, reductions + 1\n            break\n"
        "        if not rate - new > eps:\n",
        fails=(RATE, FIRST),
    ),
    # eps: a reduction not larger than eps is skipped, the floored one included
    mistake("floor_eps_ignored", "if not rate - new > eps:", "if not rate - new > 0:", fails=(EPS,)),
    mistake("floor_eps_tie_reduces", "if not rate - new > eps:", "if not rate - new >= eps:", fails=(EPS,)),
    mistake(
        "floor_eps_before_the_floor",
        "        new = max(rate * factor, min_lr)\n        if not rate - new > eps:\n            break\n",
        "        if not rate - rate * factor > eps:\n            break\n        new = max(rate * factor, min_lr)\n"
        "        if new >= rate:\n            break\n",
        fails=(EPS,),
    ),
    floor(
        "floor_logarithms",
        """
import math

def epochs_to_floor(lr, factor, patience, cooldown, min_lr, eps):
    # the number of reductions from logarithms: ignores eps, and min_lr = 0 or factor = 0 break it
    reductions = max(0, math.ceil(math.log(min_lr / lr) / math.log(factor)))
    rate = max(lr * factor ** reductions, min_lr) if reductions else lr
    return (1 + reductions * (patience + 1) + (reductions - 1) * cooldown if reductions else 0), rate
""",
        fails=(RATE, EPS, FIRST),
    ),
    # a replay, step by step: right, but a run of a billion epochs does not finish
    floor(
        "floor_replayed_epoch_by_epoch",
        """
def epochs_to_floor(lr, factor, patience, cooldown, min_lr, eps):
    best, bad, cool, rate, last, epoch = float("inf"), 0, 0, lr, 0, 0
    while True:
        epoch += 1
        if 1.0 < best:
            best, bad = 1.0, 0
        else:
            bad += 1
        if cool > 0:
            cool, bad = cool - 1, 0
        if bad > patience:
            new = max(rate * factor, min_lr)
            if not rate - new > eps:
                return last, rate
            rate, last, cool, bad = new, epoch, cooldown, 0
""",
        fails=(LONG,),
    ),
    # issue 23: an epoch that does not count at all (here always 0) agrees with its own small cases, so the
    # long waits also ask that the count moves with patience where the run reduces
    mistake(
        "floor_epoch_constant",
        "    return 1 + reductions * (patience + 1) + (reductions - 1) * cooldown, rate",
        "    return 0, rate",
        fails=(FIRST, SPACING, LONG),
    ),
    # R23q item 2 (its f5.py): epochs that grow with patience by one step, not by one per reduction
    floor(
        "floor_epoch_is_patience",
        """
def epochs_to_floor(lr, factor, patience, cooldown, min_lr, eps):
    return patience, lr
""",
        fails=(RATE, EPS, FIRST, SPACING, LONG),
    ),
    mistake(
        "floor_epoch_is_patience_plus_cooldown",
        "    return 1 + reductions * (patience + 1) + (reductions - 1) * cooldown, rate",
        "    return patience + cooldown, rate",
        fails=(FIRST, SPACING, LONG),
    ),
    mistake(
        "floor_epoch_capped",
        "    return 1 + reductions * (patience + 1) + (reductions - 1) * cooldown, rate",
        "    return min(1 + reductions * (patience + 1) + (reductions - 1) * cooldown, 10**9), rate",
        fails=(LONG,),
    ),
    floor("floor_rate_only", FLOOR_REFERENCE.replace("return 0, rate", "return rate").replace(", rate\n", "\n"), ALL),
    mistake(
        "floor_a_dict",
        "return 0, rate",
        'return {"epoch": 0, "lr": rate}',
        "return 1 + reductions * (patience + 1) + (reductions - 1) * cooldown, rate",
        'return {"epoch": 1 + reductions * (patience + 1) + (reductions - 1) * cooldown, "lr": rate}',
        fails=ALL,
    ),
]

FLOOR_FORBIDDEN = [
    floor(
        "floor_replays_pytorch",
        """
import torch
from torch.optim.lr_scheduler import ReduceLROnPlateau

def epochs_to_floor(lr, factor, patience, cooldown, min_lr, eps):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = ReduceLROnPlateau(optimizer, factor=factor, patience=patience, cooldown=cooldown, min_lr=min_lr,
                                  eps=eps)
    last, rate = 0, lr
    for epoch in range(1, 10_000):
        scheduler.step(1.0)
        if optimizer.param_groups[0]["lr"] != rate:
            last, rate = epoch, optimizer.param_groups[0]["lr"]
    return last, rate
""",
        ALL,
    )
]
