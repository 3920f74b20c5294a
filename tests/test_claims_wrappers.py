"""Claims about chapter 4's wrappers made in chapters 1 and 2 (SequentialLR, ChainedScheduler), checked on the
pinned PyTorch."""

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

from support.chapter_cells import cell_source


def test_ch1_ch2_the_wrappers_are_the_exceptions_when_created():
    """Ch1 1.4 and its summary, ch2 2.1 and 2.6 (R23e): ChainedScheduler writes and stores nothing when created;
    SequentialLR needs initial_lr, resets the rate to it and lets the scheduler in force at step 0 write its first rate; neither
    has base_lrs. CyclicLR's base_lrs are its own base_lr, OneCycleLR's the initial_lr it overwrites."""

    def optimizer_after_linear_and_edit():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        inner = [lr_scheduler.LinearLR(optimizer, start_factor=0.25), lr_scheduler.ExponentialLR(optimizer, 0.9)]
        optimizer.param_groups[0]["lr"] = 0.3
        return optimizer, inner

    optimizer, inner = optimizer_after_linear_and_edit()
    chained = lr_scheduler.ChainedScheduler(inner)
    assert optimizer.param_groups[0]["lr"] == 0.3 and not hasattr(chained, "base_lrs")
    optimizer, inner = optimizer_after_linear_and_edit()
    optimizer.param_groups[0]["initial_lr"] = 0.2
    sequential = lr_scheduler.SequentialLR(optimizer, inner, milestones=[3])
    assert abs(optimizer.param_groups[0]["lr"] - 0.2 * 0.25) < 1e-12 and not hasattr(sequential, "base_lrs")
    assert optimizer.param_groups[0]["initial_lr"] == 0.2  # kept, not stored anew
    optimizer, inner = optimizer_after_linear_and_edit()
    del optimizer.param_groups[0]["initial_lr"]
    with pytest.raises(KeyError):
        lr_scheduler.SequentialLR(optimizer, inner, milestones=[3])
    optimizer, _ = optimizer_after_linear_and_edit()  # initial_lr 0.1 stored by the LinearLR
    assert lr_scheduler.CyclicLR(optimizer, base_lr=0.01, max_lr=0.2).base_lrs == [0.01]
    assert optimizer.param_groups[0]["initial_lr"] == 0.1
    fresh = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)  # ch2 2.8: on a new optimizer, base_lr
    cyclic = lr_scheduler.CyclicLR(fresh, base_lr=0.01, max_lr=0.2)
    assert cyclic.base_lrs == [fresh.param_groups[0]["initial_lr"]] == [0.01]
    optimizer, _ = optimizer_after_linear_and_edit()
    one_cycle = lr_scheduler.OneCycleLR(optimizer, max_lr=0.2, total_steps=20)
    assert one_cycle.base_lrs == [optimizer.param_groups[0]["initial_lr"]]  # the initial_lr it overwrote
    assert abs(one_cycle.base_lrs[0] - 0.2 / 25) < 1e-12
    for notebook, cell in [("01_learning_rate/learning_rate.ipynb", "pytorch-md"),
                           ("01_learning_rate/learning_rate.ipynb", "summary"),
                           ("02_ordered_schedules/ordered_schedules.ipynb", "how-md"),
                           ("02_ordered_schedules/ordered_schedules.ipynb", "chainable-md"),
                           ("02_ordered_schedules/ordered_schedules.ipynb", "summary")]:  # fmt: skip
        assert "ChainedScheduler" in cell_source(notebook, cell), (notebook, cell)
    for notebook, cell in [("01_learning_rate/learning_rate.ipynb", "pytorch-md"),
                           ("02_ordered_schedules/ordered_schedules.ipynb", "how-md"),
                           ("02_ordered_schedules/ordered_schedules.ipynb", "chainable-md")]:  # fmt: skip
        assert "SequentialLR" in cell_source(notebook, cell), (notebook, cell)
    # R23g: the scheduler that writes at creation is the one in force at step 0, the second with milestones=[0]
    optimizer, _ = optimizer_after_linear_and_edit()
    inner = [lr_scheduler.LinearLR(optimizer, start_factor=0.25), lr_scheduler.ConstantLR(optimizer, factor=0.5)]
    lr_scheduler.SequentialLR(optimizer, inner, milestones=[0])
    assert abs(optimizer.param_groups[0]["lr"] - 0.1 * 0.5) < 1e-12
    for notebook, cell in [("01_learning_rate/learning_rate.ipynb", "pytorch-md"),
                           ("02_ordered_schedules/ordered_schedules.ipynb", "how-md"),
                           ("02_ordered_schedules/ordered_schedules.ipynb", "summary")]:  # fmt: skip
        text = " ".join(cell_source(notebook, cell).split())
        assert "first scheduler write" not in text and "step 0" in text, (notebook, cell)


def test_ch2_sequential_runs_one_after_the_other_chained_multiplies():
    """Ch2 2.6 (R23g): SequentialLR runs schedulers one after the other; ChainedScheduler steps them all at once, their
    factors multiplied."""
    import warnings

    def rates(make):
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        inner = [
            lr_scheduler.ConstantLR(optimizer, factor=0.1, total_iters=3),
            lr_scheduler.ExponentialLR(optimizer, 0.5),
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scheduler = make(optimizer, inner)
            used = []
            for _ in range(6):
                used.append(optimizer.param_groups[0]["lr"])
                optimizer.step()
                scheduler.step()
        return used

    chained = rates(lambda optimizer, inner: lr_scheduler.ChainedScheduler(inner))
    assert np.allclose(chained, [0.1, 0.05, 0.025, 0.125, 0.0625, 0.03125])  # 0.1 * 0.5**e, then 0.5**e alone
    sequential = rates(lambda optimizer, inner: lr_scheduler.SequentialLR(optimizer, inner, milestones=[3]))
    assert np.allclose(sequential, [0.1, 0.1, 0.1, 1.0, 0.5, 0.25])  # ConstantLR's 3 epochs, then ExponentialLR's
    text = " ".join(cell_source("02_ordered_schedules/ordered_schedules.ipynb", "chainable-md").split())
    assert "one after the other, use `SequentialLR`; `ChainedScheduler` runs them at the same time" in text
