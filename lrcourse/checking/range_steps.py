"""Which optimizer steps a range test is judged by (chapter 6, `range_test`'s observer): those that train, whichever
optimizer took them (one with a non-zero gradient to apply, or that changed a weight), not a throwaway's (a dry run's),
those between two forward passes (with gradients recorded) over parameters none shares (several optimizers, one per group) joined into one test step, and their rates as they
were at the step."""

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


def _rate(value, group: int):
    """A group's rate as it is now: a one-element tensor's value (a tensor rate updated in place, `.fill_`, would
    otherwise be read later at its last value; issue 23, R23p W3), any other value as it is."""
    if not isinstance(value, torch.Tensor):
        return value
    if value.numel() != 1:
        raise ValueError(
            f"param_groups[{group}]['lr'] is a tensor of shape {tuple(value.shape)}; a group's rate is one number "
            "(a float, or a tensor holding one value)"
        )
    return float(value)


def _rates(optimizer) -> list:
    return [_rate(group["lr"], g) for g, group in enumerate(optimizer.param_groups)]


def _nonzero(tensor) -> bool:
    """Any value not zero; a sparse gradient (an `Embedding(sparse=True)`'s) by its stored values (R23r N1)."""
    if tensor.is_sparse:
        tensor = tensor.coalesce().values()
    return bool(tensor.ne(0).any())


def _unchanged(was, now) -> bool:
    """The same values, NaN where NaN was: a plain step over diverged (NaN) weights changes nothing (R23r N2), and
    `torch.equal` alone calls NaN unequal to itself."""
    if torch.equal(was, now):
        return True
    if not (was.is_floating_point() or was.is_complex()):
        return False
    nan = was.isnan()
    return torch.equal(nan, now.isnan()) and torch.equal(was[~nan], now[~nan])


def _zero_gradients_snapshot(parameters) -> list | None:
    """The parameters' values when some have gradients and all are zero (a dry run after `zero_grad(set_to_none=False)`,
    or a step whose momentum alone may move the weights), else None: no copy is needed to judge the step."""
    gradients = [p.grad for p in parameters if p.grad is not None]
    if not gradients or any(_nonzero(gradient) for gradient in gradients):
        return None
    return [p.detach().clone() for p in parameters]


def _trains(parameters, snapshot) -> bool:
    """The step had a non-zero gradient to apply, or changed a weight (`snapshot`: the values before, if taken)."""
    if any(p.grad is not None and _nonzero(p.grad) for p in parameters):
        return True
    return snapshot is not None and any(not _unchanged(was, p) for was, p in zip(snapshot, parameters))


def _storages(parameters) -> set:
    return {storage.data_ptr() for p in parameters if (storage := _storage(p)) is not None}


def _in_given_order(stepped: list, given: list) -> list:
    """The rates of the groups stepped in one test step (`stepped`: (rate, storages) per group, in step order),
    ordered by the given optimizer's groups (`given`: storages per group) that share their parameters; groups that
    share none (a copy of the model's) keep their place after them."""

    def place(entry):
        return next((g for g, storages in enumerate(given) if storages & entry[1]), len(given))

    return [rate for rate, _ in sorted(stepped, key=place)]


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
            rates[0] = _rates(optimizer)
        return out

    if "closure" in kwargs:
        return args, {**kwargs, "closure": reading}
    return (args[0], reading, *args[2:]), kwargs


@contextlib.contextmanager
def optimizer_steps(given, step_ended=None):
    """The rates of the test steps taken inside the block that the range test is judged by, one list of rates per
    step ordered by the given optimizer's (`given`) groups (`used`), and how many optimizer steps were not judged
    (`others`, a one-item list); `step_ended`, if given, is called with no argument at the end of every judged step
    (where `range_tried` starts counting the passes after the last one: review rv11's finding 1).

    Every optimizer is watched, the one given or not: a test may run on deep copies of the model and optimizer (a
    copy carries none of the given optimizer's hooks; issue 23, R23i W1), or on a new optimizer over them. An
    optimizer step is judged when, at its end (a closure computes inside it), one of its parameters has a non-zero
    gradient, or the step changed one of them: SGD, Adam and AdamW skip a parameter whose gradient is None, and a
    plain step with zero gradients changes nothing, so such a step trains nothing; a zero-gradient step whose momentum
    moves the weights is judged (the parameters are copied before a step whose gradients are all zero, and compared
    after it). A throwaway's steps, such as the dry run chapter 6 teaches (an SGD over `zeros(1)`, or over the model's
    own parameters with their gradients cleared, to None or to zeros by `zero_grad(set_to_none=False)`, stepped
    through an ExponentialLR to plan the rates; issue 23, R23k W1, R23p W1 and R23q W1), or one on
    `copy.deepcopy(optimizer)` (a deep copy of a parameter carries no gradient), are not judged. The judged steps
    taken between two forward passes of any module with gradients recorded (one under `torch.no_grad()`, such as a
    logging pass between two optimizers' steps, ends none: R23q N1), over parameters none of them shares, are one
    test step (several
    optimizers, one per group, each stepped once per batch: R23p W2); a test step's rates are ordered by the given
    optimizer's groups that hold the same parameters (storage), a copy's groups in the order stepped. A second step
    over the same parameters, or one after a forward pass (a closure's included), starts a test step of its own, so a
    step past the stop, through whichever optimizer, is still counted.

    The rates are read before the update, after the step's pre-hooks: torch runs the global ones first, then the
    optimizer's own, in which an answer may set its rates (R23m N1); and, where the step is given a closure, again
    when the closure first returns: SGD, Adam and AdamW call it after the pre-hooks and before the update, so rates
    it sets are those the update uses (R23o W2; an optimizer that calls its closure several times, such as LBFGS, is
    read at its first return). Each is read as its value then: a tensor rate updated in place is read at each step
    (R23p W3); a tensor of more than one value is refused. An answer can hide a step from these hooks: by updating
    the weights by hand, or by calling the optimizer's unwrapped step (`type(optimizer).step.__wrapped__`, which runs
    no hook; R23n N1). So the rates' cell judges the steps it sees; the losses' cell compares the training itself
    with the grader's, and a hidden step loses there."""
    given_groups = [_storages(group["params"]) for group in given.param_groups]
    used, others = [], [0]
    gathering = [None]  # the test step the judged steps since the last forward pass make: (storages, groups)

    def forward(module, args, output) -> None:
        if torch.is_grad_enabled():
            gathering[0] = None

    started = []  # (rates, hook, snapshot) per step begun, a stack: a step inside another's closure ends first

    def before(optimizer, args, kwargs) -> None:
        rates = []  # by a pre-hook of the optimizer's own, after those it has, and again at its closure's return

        def read(optimizer, args, kwargs):
            if rates:  # once: a step of this optimizer inside this step's closure runs it again
                return None
            rates.append(_rates(optimizer))
            return _reading_at_the_closures_return(optimizer, args, kwargs, rates)

        hook = torch.optim.Optimizer.register_step_pre_hook(optimizer, read)
        started.append((rates, hook, _zero_gradients_snapshot(_parameters(optimizer))))

    def after(optimizer, args, kwargs) -> None:
        (rates, hook, snapshot), parameters = started.pop(), _parameters(optimizer)
        hook.remove()
        rates = rates[0] if rates else _rates(optimizer)
        if not _trains(parameters, snapshot):
            others[0] += 1
            return
        if step_ended is not None:
            step_ended()
        groups = [(rate, _storages(group["params"])) for rate, group in zip(rates, optimizer.param_groups)]
        stepped = set().union(*(storages for _, storages in groups))
        if gathering[0] is not None and stepped and not gathering[0][0] & stepped:
            gathering[0][0].update(stepped)
            gathering[0][1].extend(groups)
            used[-1] = _in_given_order(gathering[0][1], given_groups)
        else:
            gathering[0] = (set(stepped), groups)
            used.append(_in_given_order(groups, given_groups))

    hooks = [
        register_module_forward_hook(forward),
        register_optimizer_step_pre_hook(before),
        register_optimizer_step_post_hook(after),
    ]
    try:
        yield used, others
    finally:  # never left behind in the kernel, whatever the answer raised (a step that raised leaves its `read`)
        for hook in hooks + [hook for _, hook, _ in started]:
            hook.remove()
