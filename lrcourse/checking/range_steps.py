"""Which optimizer steps a range test is judged by (chapter 6, `range_test`'s observer): those of the optimizers that
train the model or a copy of it, whichever optimizer took them, and not a throwaway's (a dry run's)."""

from __future__ import annotations

import contextlib

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook


def _storage(tensor: torch.Tensor):
    """Where a tensor's values live (a view shares its base's), or None for a tensor without one storage."""
    try:
        return tensor.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):  # sparse, nested, meta: no single storage
        return None


def _parameters(optimizer) -> list:
    return [p for group in optimizer.param_groups for p in group["params"] if isinstance(p, torch.Tensor)]


def _shapes(parameters: list) -> list:
    return sorted(tuple(p.shape) for p in parameters)


@contextlib.contextmanager
def optimizer_steps(given):
    """The rates of the optimizer steps taken inside the block that the range test is judged by, one list of the
    groups' rates per step (`used`), and how many steps other optimizers took (`others`, a one-item list).

    Every optimizer is watched, the one given (`given`) or not: a test may run on deep copies of the model and
    optimizer (a copy carries none of the given optimizer's hooks; issue 23, R23i W1), or on a new optimizer over
    them. A step is judged when its optimizer holds a tensor whose values are the model's (one of the given
    optimizer's parameters, or a view of one: a step that trains the model itself, however its parameters are
    grouped, reshaped or joined by others), or exactly the given optimizer's parameter shapes, in any order or
    grouping (a copy of the model's parameters). A throwaway's steps, such as the dry run chapter 6 teaches (an
    SGD over `zeros(1)` stepped through an `ExponentialLR` to plan the rates), are not judged (issue 23, R23k W1):
    they train neither the model nor a copy of it. An answer could hide a step from the judge only where it trains
    neither, or by updating the weights by hand, which no optimizer hook sees, judged or not; and a judged step
    at rates the answer did not train with was always possible (stepping the given optimizer with no gradients):
    the losses' cell compares the training itself."""
    kept = [p.untyped_storage() for p in _parameters(given)]  # alive: no other tensor can take their addresses
    own = {storage.data_ptr() for storage in kept}
    shapes = _shapes(_parameters(given))
    used, others = [], [0]

    def record(optimizer, args, kwargs) -> None:
        parameters = _parameters(optimizer)
        if any(_storage(p) in own for p in parameters) or _shapes(parameters) == shapes:
            used.append([group["lr"] for group in optimizer.param_groups])
        else:
            others[0] += 1

    hook = register_optimizer_step_pre_hook(record)
    try:
        yield used, others
    finally:  # a global hook: never left behind in the kernel, whatever the answer raised
        hook.remove()
