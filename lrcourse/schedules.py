"""Learning-rate curves computed by PyTorch itself.

Every schedule plot in the course comes from here: a real optimizer and a real scheduler are
stepped through the epochs, so the picture is what PyTorch does, never a re-typed formula.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.optim import Optimizer

SchedulerFactory = Callable[[Optimizer], object]


def make_optimizer(lrs: float | Sequence[float] = 0.1) -> Optimizer:
    """An SGD optimizer with one parameter group per learning rate in `lrs`."""
    lrs = [lrs] if np.isscalar(lrs) else list(lrs)
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups)


def lr_curve(
    make_scheduler: SchedulerFactory,
    epochs: int,
    lrs: float | Sequence[float] = 0.1,
    metrics: Sequence[float] | None = None,
) -> np.ndarray:
    """The learning rate in force during each of `epochs` epochs.

    `make_scheduler(optimizer)` builds the scheduler. Entry `e` is the rate used for epoch `e`,
    read from `optimizer.param_groups` before that epoch's `scheduler.step()`. Returns shape
    `(epochs,)` for a single rate, `(epochs, groups)` for a sequence of rates. Pass `metrics` (one
    per epoch) for schedulers that step on a monitored value, such as ReduceLROnPlateau.
    """
    optimizer = make_optimizer(lrs)
    scheduler = make_scheduler(optimizer)
    rates = np.empty((epochs, len(optimizer.param_groups)))
    for epoch in range(epochs):
        rates[epoch] = [group["lr"] for group in optimizer.param_groups]
        optimizer.step()  # the parameters have no gradients: a no-op that keeps PyTorch's order
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[epoch])
    return rates[:, 0] if np.isscalar(lrs) else rates


def plateau_run(epochs: int, lr: float = 0.1, seed: int = 0, **plateau_kwargs) -> dict[str, np.ndarray]:
    """Drive a real ReduceLROnPlateau with a simulated validation loss, recording its state.

    With `mode="max"` the monitored value is a score that rises as the loss falls, exp(-loss),
    like an accuracy; otherwise it is the loss itself.

    Returns arrays, one entry per epoch: `metric` (the value passed to `step`), `lr` (the rate
    used in that epoch), and the scheduler's `best`, `num_bad_epochs` and `cooldown_counter`
    right after `step(metric)`; `reduced` marks the epochs whose step lowered the rate.
    """
    from lrcourse.problems import SimulatedValidation

    optimizer = make_optimizer(lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **plateau_kwargs)
    validation = SimulatedValidation(seed=seed)
    keys = ("metric", "lr", "best", "num_bad_epochs", "cooldown_counter", "reduced")
    record = {key: np.empty(epochs) for key in keys}
    for epoch in range(epochs):
        rate = optimizer.param_groups[0]["lr"]
        loss = validation.epoch(rate)
        metric = float(np.exp(-loss)) if plateau_kwargs.get("mode") == "max" else loss
        optimizer.step()
        scheduler.step(metric)
        record["metric"][epoch] = metric
        record["lr"][epoch] = rate
        record["best"][epoch] = scheduler.best
        record["num_bad_epochs"][epoch] = scheduler.num_bad_epochs
        record["cooldown_counter"][epoch] = scheduler.cooldown_counter
        record["reduced"][epoch] = optimizer.param_groups[0]["lr"] < rate
    record["reduced"] = record["reduced"].astype(bool)
    return record
