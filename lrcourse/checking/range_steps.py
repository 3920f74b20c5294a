"""Which optimizer steps a range test is judged by (chapter 6, `range_test`'s observer): those of the optimizers that
train the model, or a copy of it that computed during the test, whichever optimizer took them, and not a throwaway's
(a dry run's)."""

from __future__ import annotations

import contextlib

import torch
from torch.nn.modules.module import register_module_forward_hook
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook


def _storage(tensor):
    """Where a tensor's values live (a view shares its base's), or None for a tensor without one storage."""
    try:
        return tensor.untyped_storage()
    except (AttributeError, RuntimeError, NotImplementedError):  # sparse, nested, meta: no single storage
        return None


def _parameters(optimizer) -> list:
    return [p for group in optimizer.param_groups for p in group["params"] if isinstance(p, torch.Tensor)]


def _reading_at_the_closures_return(optimizer, args, kwargs, rates: list):
    """The step's arguments with its closure, if it is given one, wrapped so that `rates[0]` is read again when the
    closure first returns, where the update that follows reads them; None (arguments unchanged) without one. Torch
    passes the optimizer to the pre-hooks as `args[0]`, so a closure given by position is `args[1]`."""
    closure = kwargs["closure"] if "closure" in kwargs else args[1] if len(args) > 1 else None
    if not callable(closure):
        return None
    returned = []

    def reading(*closure_args, **closure_kwargs):
        out = closure(*closure_args, **closure_kwargs)
        if not returned:
            returned.append(True)
            rates[0] = [group["lr"] for group in optimizer.param_groups]
        return out

    if "closure" in kwargs:
        return args, {**kwargs, "closure": reading}
    return (args[0], reading, *args[2:]), kwargs


@contextlib.contextmanager
def optimizer_steps(given):
    """The rates of the optimizer steps taken inside the block that the range test is judged by, one list of the
    groups' rates per step (`used`), and how many steps other optimizers took (`others`, a one-item list).

    Every optimizer is watched, the one given (`given`) or not: a test may run on deep copies of the model and
    optimizer (a copy carries none of the given optimizer's hooks; issue 23, R23i W1), or on a new optimizer over
    them. A step is judged when, at its end (a closure computes inside it), its optimizer holds a tensor whose
    values are those of a parameter that computes, one of the given optimizer's (the model's, however its parameters
    are grouped, reshaped or joined by others) or one of a module that ran forward in the block (a copy of the model
    the test trains), or a parameter with a gradient (a copy trained through torch.func or a scripted module, which
    run no Python forward hook; R23m W1). A throwaway's steps, such as the dry run chapter 6 teaches (an SGD over
    `zeros(1)` stepped through an `ExponentialLR` to plan the rates) or one on `copy.deepcopy(optimizer)` (a deep
    copy of a parameter carries no gradient), are not judged (issue 23, R23k W1): they train nothing. The rates are
    read before the update, after the step's pre-hooks: torch runs the global ones first, then the optimizer's own,
    in which an answer may set its rates (R23m N1); and, where the step is given a closure, again when the closure
    first returns: SGD, Adam and AdamW call it after the pre-hooks and before the update, so rates it sets are those
    the update uses (R23o W2; an optimizer that calls its closure several times, such as LBFGS, is read at its first
    return). An answer can hide a step from these hooks: by
    updating the weights by hand, or by calling the optimizer's unwrapped step (`type(optimizer).step.__wrapped__`,
    which runs no hook; R23n N1); and a judged step at rates the answer did not train with was always possible
    (stepping the given optimizer with no gradients). So the rates' cell judges the steps it sees; the losses' cell
    compares the training itself with the grader's, and a hidden step loses there."""
    computing = {}  # address -> storage, kept alive so that no other tensor can take its address in the block
    for parameter in _parameters(given):
        if (storage := _storage(parameter)) is not None:
            computing[storage.data_ptr()] = storage
    used, others = [], [0]

    def forward(module, args, output) -> None:
        for parameter in module.parameters(recurse=False):
            if (storage := _storage(parameter)) is not None:
                computing.setdefault(storage.data_ptr(), storage)

    started = []  # (rates, hook) per step begun, a stack: a step inside another's closure ends first

    def before(optimizer, args, kwargs) -> None:
        rates = []  # by a pre-hook of the optimizer's own, after those it has, and again at its closure's return

        def read(optimizer, args, kwargs):
            if rates:  # once: a step of this optimizer inside this step's closure runs it again
                return None
            rates.append([group["lr"] for group in optimizer.param_groups])
            return _reading_at_the_closures_return(optimizer, args, kwargs, rates)

        started.append((rates, torch.optim.Optimizer.register_step_pre_hook(optimizer, read)))

    def after(optimizer, args, kwargs) -> None:
        (rates, hook), parameters = started.pop(), _parameters(optimizer)
        hook.remove()
        rates = rates[0] if rates else [group["lr"] for group in optimizer.param_groups]
        storages = (_storage(p) for p in parameters)
        trains = any(storage is not None and storage.data_ptr() in computing for storage in storages)
        if trains or any(p.grad is not None for p in parameters):
            used.append(rates)
        else:
            others[0] += 1

    hooks = [
        register_module_forward_hook(forward),
        register_optimizer_step_pre_hook(before),
        register_optimizer_step_post_hook(after),
    ]
    try:
        yield used, others
    finally:  # never left behind in the kernel, whatever the answer raised (a step that raised leaves its `read`)
        for hook in hooks + [hook for _, hook in started]:
            hook.remove()
