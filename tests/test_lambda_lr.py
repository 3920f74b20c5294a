"""The course's LambdaLR (lrcourse/checking/lambda_lr.py, what chapter 7's observer drives the student's factor with
where PyTorch's schedulers are absent) against torch 2.13.0's, here where both exist: the same rates, the same
state dicts, the same resume, the same errors, for the kinds of factor a student writes."""

from __future__ import annotations

import copy
import functools
import math
import types
import warnings

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

from lrcourse.checking.lambda_lr import LambdaLR

KINDS = (lr_scheduler.LambdaLR, LambdaLR)  # PyTorch's, ours


def wsd(step, warmup=4, stable=3, decay=5, start=0.2):
    if step < warmup:
        return start + (1 - start) * step / warmup
    return 1.0 if step < warmup + stable else max(0.0, (warmup + stable + decay - step) / decay)


def closure():
    total = 12
    return lambda step: max(0.0, (total - step) / total)


class Counting:
    """A callable object with state: LambdaLR saves its __dict__ and writes it back on load."""

    def __init__(self):
        self.calls, self.seen = 0, []

    def __call__(self, step):
        self.calls += 1
        self.seen.append(step)
        return wsd(self.calls - 1)


class Slotted:
    __slots__ = ("start",)

    def __init__(self):
        self.start = 0.5

    def __call__(self, step):
        return self.start


FACTORS = {  # name -> a function making a new factor (a resumed run builds its factor anew)
    "function": lambda: wsd,
    "closure": closure,
    "lambda": lambda: lambda step: 0.9**step,
    "callable_object": Counting,
    "partial": lambda: functools.partial(wsd, warmup=2, stable=0, decay=3, start=0.5),
    "tensor": lambda: lambda step: torch.tensor(wsd(step)),
    "numpy": lambda: lambda step: np.where(step < 4, 0.5, 0.25),
}


def optimizer(lrs=(0.1,), tensor=False):
    """SGD with a group per rate; `tensor`: each rate a tensor (which a scheduler fills in place)."""
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": torch.tensor(lr) if tensor else lr} for lr in lrs]
    return torch.optim.SGD(groups)


def run(kind, make_factor, steps=16, lrs=(0.1,), tensor=False):
    """Every step's rates (the optimizer's and get_last_lr()), state_dict() and the optimizer's state_dict()."""
    opt = optimizer(lrs, tensor)
    factor = [make_factor() for _ in lrs] if len(lrs) > 1 else make_factor()
    scheduler = kind(opt, factor)
    record = []
    for _ in range(steps):
        rates = [group["lr"] for group in opt.param_groups]
        record.append((rates, scheduler.get_last_lr(), copy.deepcopy(scheduler.state_dict()), opt.state_dict()))
        opt.step()
        scheduler.step()
    return record


def same(ours, theirs) -> bool:
    """Equal plain data, tensors compared by value and dtype, dict keys in the same order."""
    if isinstance(theirs, torch.Tensor):
        return isinstance(ours, torch.Tensor) and ours.dtype == theirs.dtype and torch.equal(ours, theirs)
    if isinstance(theirs, dict):
        return isinstance(ours, dict) and list(ours) == list(theirs) and all(same(ours[k], theirs[k]) for k in theirs)
    if isinstance(theirs, (list, tuple)):
        return type(ours) is type(theirs) and len(ours) == len(theirs) and all(map(same, ours, theirs))
    return type(ours) is type(theirs) and ours == theirs


@pytest.mark.parametrize("tensor", [False, True], ids=["float_rate", "tensor_rate"])
@pytest.mark.parametrize("name", FACTORS)
def test_rates_and_state_dicts_are_pytorch_s_at_every_step(name, tensor):
    """The same rates and state dicts, and the same deprecation warnings: NumPy 2 warns when a tensor rate times a
    numpy 0-d array goes through `__array_wrap__`, from PyTorch's LambdaLR as from ours, so the warning is recorded
    here and compared (pyproject.toml would make ours, raised from lrcourse.*, an error)."""
    records, warned = [], []
    for kind in KINDS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DeprecationWarning)
            records.append(run(kind, FACTORS[name], tensor=tensor))
        warned.append(sorted({str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)}))
    assert warned[1] == warned[0], (name, warned)
    theirs, ours = records
    for step, (their, our) in enumerate(zip(theirs, ours)):
        assert same(our, their), (name, step, our, their)


def test_a_function_saves_none_and_a_callable_object_its_dict():
    for kind in KINDS:
        saved = kind(optimizer((0.1, 0.2)), [wsd, Counting()]).state_dict()
        assert saved["lr_lambdas"] == [None, {"calls": 1, "seen": [0]}]
        assert list(saved) == ["base_lrs", "last_epoch", "_step_count", "_is_initial", "_get_lr_called_within_step",
                               "_last_lr", "lr_lambdas"]  # fmt: skip


@pytest.mark.parametrize("name", ["closure", "callable_object", "function"])
def test_a_run_resumed_mid_decay_in_new_objects_goes_on_as_pytorch_s(name):
    """Saved at step 9 of 16 (the decay), loaded into a new optimizer and scheduler around a new factor: the same
    rates and state dicts as PyTorch's resume, the callable object's count written back, the given dict intact."""
    results = []
    for kind in KINDS:
        opt = optimizer()
        scheduler = kind(opt, FACTORS[name]())
        for _ in range(9):
            opt.step()
            scheduler.step()
        saved = copy.deepcopy({"optimizer": opt.state_dict(), "scheduler": scheduler.state_dict()})
        opt, factor = optimizer(), FACTORS[name]()
        scheduler = kind(opt, factor)
        opt.load_state_dict(saved["optimizer"])
        given = copy.deepcopy(saved["scheduler"])
        scheduler.load_state_dict(given)
        assert same(given, saved["scheduler"])  # load_state_dict leaves the dict as it was given
        rates = []
        for _ in range(9, 16):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            scheduler.step()
        results.append((rates, scheduler.state_dict(), vars(factor) if name == "callable_object" else None))
    assert same(results[1], results[0])
    if name == "callable_object":
        assert results[1][2]["calls"] == 17 and results[1][2]["seen"][:2] == [0, 1]  # the saved count, carried on


def test_a_factor_that_raises_raises_at_the_same_step_and_leaves_the_same_state():
    def raises_at(bad):
        def factor(step):
            if step == bad:
                raise ZeroDivisionError(f"step {step}")
            return 1.0 / (1 + step)

        return factor

    with pytest.raises(ZeroDivisionError, match="step 0"):
        lr_scheduler.LambdaLR(optimizer(), raises_at(0))
    with pytest.raises(ZeroDivisionError, match="step 0"):
        LambdaLR(optimizer(), raises_at(0))
    states = []
    for kind in KINDS:
        opt = optimizer()
        scheduler = kind(opt, raises_at(3))
        scheduler.step()
        scheduler.step()
        with pytest.raises(ZeroDivisionError, match="step 3"):
            scheduler.step()
        states.append((scheduler.state_dict(), opt.param_groups[0]["lr"], scheduler.get_last_lr()))
    assert same(states[1], states[0])


def test_a_factor_without_a_dict_fails_to_save_as_pytorch_s_does():
    for kind in KINDS:
        scheduler = kind(optimizer(), Slotted())
        with pytest.raises(AttributeError):
            scheduler.state_dict()


def test_per_group_factors_and_their_count_as_pytorch_s():
    theirs, ours = (run(kind, closure, steps=6, lrs=(0.1, 2.0)) for kind in KINDS)
    assert same(ours, theirs)
    for kind in KINDS:
        with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
            kind(optimizer((0.1, 2.0)), [wsd])
        with pytest.raises(TypeError, match="SimpleNamespace is not an Optimizer"):
            kind(types.SimpleNamespace(param_groups=[{"lr": 0.1}]), wsd)
        with pytest.raises(AttributeError, match="param_groups"):  # the factors come first, as in PyTorch
            kind(object(), wsd)


def test_an_explicit_epoch_and_get_lr_outside_step_warn_as_pytorch_s():
    seen = []
    for kind in KINDS:
        opt = optimizer()
        scheduler = kind(opt, closure())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scheduler.step(7)
            lrs = scheduler.get_lr()
        deprecation = [w for w in caught if "epoch parameter" in str(w.message)]
        outside = [w for w in caught if "get_last_lr()" in str(w.message)]
        seen.append((len(deprecation), len(outside), scheduler.last_epoch, lrs, opt.param_groups[0]["lr"]))
    assert seen[1] == seen[0] and seen[0][:3] == (1, 1, 7)
    assert math.isclose(seen[0][4], 0.1 * 5 / 12)
