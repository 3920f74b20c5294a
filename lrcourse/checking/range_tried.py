"""Which of a range test's rates were tried (chapter 6, `range_test`'s observer): whether the model computed a loss
after the last optimizer step the test is judged by, seen as a forward pass of the model. A step the test stops
before its `optimizer.step()` was still tried (the loss paired with its rate, computed at the step's start from the
weights of the last step taken, was computed); the step after a stop whose step was taken never was (issue 23, review
rv9's finding 2: counts of rates, losses and optimizer steps alone cannot tell the two apart; review rv11's finding 1:
nor can a count of passes, once an answer makes more
than one per step, an evaluation pass or gradient accumulation's micro-batches).

This rests on an observation in the student's process, as the README's security model says: an answer can make a pass
the observer sees after its last step without trying a rate (an evaluation pass or one dummy `model(inputs)` after
the step, or the observer's hooks called by hand), or hide its passes (a forward computed by hand from the weights,
the global hooks cleared or `Module.__call__` patched); the rates' cell then allows one rate more than the steps
taken, never two."""

from __future__ import annotations

import contextlib

from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook


class Passes:
    """The forward passes counted in `forward_passes`' block: `count` in all, and `since_step` since the last judged
    optimizer step ended (`step_ended`, which `range_steps.optimizer_steps` calls there)."""

    def __init__(self) -> None:
        self.count = 0
        self.since_step = 0

    def step_ended(self) -> None:
        self.since_step = 0

    def passed(self) -> None:
        self.count += 1
        self.since_step += 1


def _has_parameters(module) -> bool:
    return next(module.parameters(), None) is not None


@contextlib.contextmanager
def forward_passes():
    """The forward passes of a model that ran inside the block (a `Passes`, read after it): the outermost calls of any
    module that has parameters, so that a layer called inside the model's `forward` is not counted again, and a loss
    module (`nn.CrossEntropyLoss` has none) is not counted at all. Every module is watched, the one given or not: a
    test may run on a deep copy of the model (issue 23, R23i W1). Passes are counted in any grad mode, an evaluation
    pass (under `torch.no_grad()`) as well as a training one: an answer that computes the stop's loss without
    gradients, then breaks before its step, still tried its rate. A model's output computed without calling a module
    (`torch.nn.functional` on its weights by hand) is not counted: the judge then knows only that every step taken was
    tried, and leniently allows one rate more (`range_stop.listed_rates_problem`)."""
    passes, inside = Passes(), []  # inside: per module call begun and not yet ended, whether it has parameters

    def before(module, args) -> None:
        counted = _has_parameters(module)
        if counted and not any(inside):
            passes.passed()
        inside.append(counted)

    def after(module, args, output) -> None:
        if inside:
            inside.pop()

    hooks = [register_module_forward_pre_hook(before), register_module_forward_hook(after, always_call=True)]
    try:
        yield passes
    finally:
        for hook in hooks:
            hook.remove()
