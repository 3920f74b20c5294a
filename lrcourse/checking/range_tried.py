"""Which of a range test's rates were tried (chapter 6, `range_test`'s observer): how many times the model computed
a loss, counted as its forward passes. A step the test stops before its `optimizer.step()` was still tried (its loss
was computed at its rate); the step after the stop never was (issue 23, review rv9's finding 2: counts of rates,
losses and optimizer steps alone cannot tell the two apart)."""

from __future__ import annotations

import contextlib

from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook


def _has_parameters(module) -> bool:
    return next(module.parameters(), None) is not None


@contextlib.contextmanager
def forward_passes():
    """How many forward passes of a model ran inside the block (a one-item list, read after it): the outermost calls
    of any module that has parameters, so that a layer called inside the model's `forward` is not counted again,
    and a loss module (`nn.CrossEntropyLoss` has none) is not counted at all. Every module is watched, the one given
    or not: a test may run on a deep copy of the model (issue 23, R23i W1). Passes are counted in any grad mode, an
    evaluation pass (under `torch.no_grad()`) as well as a training one: an answer that computes the stop's loss
    without gradients still tried its rate, and an extra evaluation pass only makes the rates' bound more lenient.
    A model's output computed without calling a module (`torch.nn.functional` on its weights by hand) is not counted:
    the judge then knows only that every step taken was tried (`range_stop.listed_rates_problem`)."""
    count, inside = [0], []  # inside: per module call begun and not yet ended, whether it has parameters

    def before(module, args) -> None:
        counted = _has_parameters(module)
        if counted and not any(inside):
            count[0] += 1
        inside.append(counted)

    def after(module, args, output) -> None:
        if inside:
            inside.pop()

    hooks = [register_module_forward_pre_hook(before), register_module_forward_hook(after, always_call=True)]
    try:
        yield count
    finally:
        for hook in hooks:
            hook.remove()
