"""How many rates chapter 6's range test tried, as its observer counts them (lrcourse/checking/range_tried.py; review
rv9's finding 2): the outermost calls of a module with parameters, a deep copy's too, in any grad mode, and those
after the last judged optimizer step apart (rv11's finding 1)."""

import copy

import pytest
import torch

from lrcourse.checking.range_steps import optimizer_steps
from lrcourse.checking.range_tried import forward_passes
from lrcourse.training import make_model


def _passes(run) -> int:
    with forward_passes() as count:
        run()
    return count.count


def test_one_call_of_the_model_is_one_pass_its_layers_and_the_loss_not_counted():
    model, inputs = make_model(), torch.zeros(4, 64)
    assert _passes(lambda: torch.nn.CrossEntropyLoss()(model(inputs), torch.zeros(4, dtype=torch.long))) == 1
    assert _passes(lambda: [model(inputs) for _ in range(3)]) == 3


def test_a_deep_copy_and_a_pass_without_gradients_count():
    model, inputs = make_model(), torch.zeros(4, 64)
    twin = copy.deepcopy(model)

    def run():
        twin(inputs)
        with torch.no_grad():
            model(inputs)

    assert _passes(run) == 2


def test_a_model_inside_a_module_without_parameters_counts_once():
    """A wrapper that holds the model unregistered has no parameters: the model's call inside it is the pass."""
    model, inputs = make_model(), torch.zeros(4, 64)

    class Wrapper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.held = [model]

        def forward(self, x):
            return self.held[0](x)

    assert _passes(lambda: Wrapper()(inputs)) == 1


def test_a_pass_that_raised_leaves_later_passes_counted():
    """A forward that raises inside a layer still ends its call (the hook after it runs always): later passes count."""
    model = make_model()

    def run():
        with pytest.raises(RuntimeError):
            model(torch.zeros(4, 5))
        model(torch.zeros(4, 64))

    assert _passes(run) == 2


def test_the_layers_called_outside_the_model_count_each_and_nothing_is_left_behind():
    """`model.forward(x)` runs no hook of the model's own: its layers' calls are outermost, each a pass (more passes
    are not what the rates' bound counts: rv11's finding 1); after the block no hook is left to count."""
    model, inputs = make_model(), torch.zeros(4, 64)
    assert _passes(lambda: model.forward(inputs)) == 2
    with forward_passes() as count:
        pass
    model(inputs)
    assert count.count == 0


def test_passes_after_the_last_judged_step_are_counted_apart():
    """Review rv11's finding 1: the passes after the last step the test is judged by (`since_step`, reset by
    `optimizer_steps` at the end of each), in any grad mode; those before it (an evaluation pass, micro-batches) are
    not, and a dry run's step (nothing to apply) leaves them counted."""
    model, inputs = make_model(), torch.zeros(4, 64)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    dry = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with forward_passes() as passes, optimizer_steps(optimizer, passes.step_ended) as (used, _):
        with torch.no_grad():
            model(inputs)
        model(inputs[:2]).sum().backward()
        model(inputs[2:]).sum().backward()
        optimizer.step()
        before = passes.since_step
        with torch.no_grad():
            model(inputs)
        dry.step()
    assert (len(used), passes.count, before, passes.since_step) == (1, 4, 0, 1)
