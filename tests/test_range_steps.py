"""Which optimizer steps chapter 6's range judge takes as test steps, and at what rates (issue 23, R23p W1-W3): a dry
run over the model's own weights with no gradients is no test step, steps of several optimizers over disjoint
parameters between two forward passes are one, and a tensor rate is read at its value at the step."""

import copy
import math

import pytest
import torch

from lrcourse import checking
from lrcourse.checking.range_steps import optimizer_steps

import catalogue

CELLS = ("test_range_rates", "test_range_losses", "test_range_groups", "test_range_restores", "test_range_suggestion")


def _cell(cell_id: str) -> str:
    """A test cell of chapter 6 as the grader runs it, hidden tests included."""
    from support.notebooks import read
    from support.paths import ROOT

    notebook = read(ROOT / "source" / "06_choosing_the_rate" / "choosing_the_rate.ipynb")
    return next(cell.source for cell in notebook.cells if cell.get("id") == cell_id)


def _range_answer(answer):
    """A catalogue answer to exercise 6, defined with the names the chapter's context cells give it."""
    namespace = {"copy": copy, "math": math, "torch": torch, "loss_fn": torch.nn.CrossEntropyLoss()}
    namespace["lr_scheduler"] = torch.optim.lr_scheduler
    exec(compile(answer.source, answer.name, "exec"), namespace)
    return namespace["lr_range_test"]


@pytest.mark.parametrize(
    "name",
    [
        "range_with_a_dry_run_over_the_models_own_weights",  # W1: 3 of 7 ("step 60 used lr 1e-05", 115 steps)
        "range_with_one_optimizer_per_group",  # W2: 4 of 7 ("used the rates [1e-05] (one per group)")
        "range_with_tensor_rates_filled_in_place",  # W3: 6 of 7 ("step 0 used lr tensor(3.1012...)")
        "range_with_one_optimizer_per_group_at_one_rate",  # wrong: loses the groups' point only
        "range_dry_run_over_zeroed_gradients",  # R23q W1: 3 of 7 (zero gradients judged as the test's)
        "range_momentum_dry_run_over_zeroed_gradients",  # R23q W1, the planner with momentum
        "range_per_group_optimizers_logging_between",  # R23q N1: 4 of 7 (a no-grad forward split each test step)
    ],
)
def test_each_answer_loses_exactly_its_cells_hidden_cases_included(name):
    """R23p W1-W3: three correct answers lost points with false messages; each keeps every cell now, and the per-group
    optimizers that lose the groups' ratio lose the groups' cell and no other."""
    answer = next(a for a in catalogue.CORRECT + catalogue.WRONG if a.name == name)
    failed = {}
    for cell in CELLS:
        try:
            exec(_cell(cell), {"lr_range_test": _range_answer(answer)})
        except checking.CheckFailed as failure:
            failed[cell] = str(failure)
    assert set(failed) == set(answer.fails), (name, failed)
    if failed:  # the message names the step and both groups' rates, the second not lr * its ratio
        assert "optimizer step 0 used the rates [1e-05, 1e-05] (one per group); expected [1e-05, " in failed[CELLS[2]]


def _model_and_optimizer():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 2))
    optimizer = torch.optim.SGD([{"params": model[0].parameters()}, {"params": model[2].parameters()}], lr=0.1)
    return model, optimizer


def test_a_step_with_no_gradient_to_apply_is_not_judged():
    """W1: SGD skips a parameter without a gradient; a planner over the model's own weights changes nothing."""
    model, given = _model_and_optimizer()
    planner = torch.optim.SGD(model.parameters(), lr=0.5)
    with optimizer_steps(given) as (used, others):
        planner.step()
        given.step()
        model(torch.ones(1, 3)).sum().backward()
        given.step()
    assert used == [[0.1, 0.1]] and others == [2]


def test_a_step_with_zero_gradients_is_judged_only_if_it_changes_a_weight():
    """R23q W1: zero gradients (`zero_grad(set_to_none=False)`) change nothing in a plain step, and such a step was
    judged; one whose momentum moves the weights (Adam's, SGD's) trains, and is judged."""
    model, given = _model_and_optimizer()
    planner = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    adam = torch.optim.Adam(model.parameters(), lr=0.7)
    model(torch.ones(1, 3)).sum().backward()
    adam.step()  # its moments, from a real gradient
    given.zero_grad(set_to_none=False)
    with optimizer_steps(given) as (used, others):
        planner.step()
        given.step()
        adam.step()  # zero gradient, the moments move the weights
        model(torch.ones(1, 3)).sum().backward()
        given.step()
    assert used == [[0.7], [0.1, 0.1]] and others == [2]


def test_a_sparse_gradient_is_read_by_its_values():
    """R23r N1: `ne(0)` has no sparse kernel, so an `Embedding(sparse=True)` step raised out of the learner's own
    `step()`; a sparse gradient with non-zero values trains, one of zeros does not."""
    embedding = torch.nn.Embedding(10, 3, sparse=True)
    given = torch.optim.SGD(embedding.parameters(), lr=0.1)
    with optimizer_steps(given) as (used, others):
        embedding(torch.tensor([1, 2])).sum().backward()
        given.step()
        embedding.weight.grad = embedding.weight.grad * 0
        given.step()
    assert used == [[0.1]] and others == [1]


def test_a_plain_step_over_nan_weights_with_zero_gradients_is_not_judged():
    """R23r N2: `torch.equal` calls NaN unequal to itself, so a step that changed nothing over diverged weights was
    judged; one that changes a finite weight next to the NaN still is."""
    model, given = _model_and_optimizer()
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    model(torch.ones(1, 3)).sum().backward()
    given.zero_grad(set_to_none=False)
    momentum = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    momentum.state[model[2].bias]["momentum_buffer"] = torch.ones(2)
    with optimizer_steps(given) as (used, others):
        given.step()
        momentum.step()
    assert used == [[0.5]] and others == [1]


def test_steps_over_disjoint_parameters_between_forward_passes_are_one_test_step_in_the_given_groups_order():
    """W2: one optimizer per group, stepped in any order, is one test step per batch with the given groups' order; a
    second step over the same weights, or a step after a forward pass, is a test step of its own."""
    model, given = _model_and_optimizer()
    head = torch.optim.SGD(model[2].parameters(), lr=0.3)
    body = torch.optim.SGD(model[0].parameters(), lr=0.2)
    with optimizer_steps(given) as (used, _):
        for _ in range(2):
            model(torch.ones(1, 3)).sum().backward()
            head.step()
            body.step()
        head.step()  # again, with no forward pass between: a test step of its own
        model(torch.ones(1, 3)).sum().backward()
        body.step()
        model(torch.ones(1, 3)).sum().backward()
        head.step()
        with torch.no_grad():  # a logging pass, no gradients recorded: the next step joins this test step (R23q N1)
            model(torch.ones(1, 3))
        body.step()
    assert used == [[0.2, 0.3], [0.2, 0.3], [0.3], [0.2], [0.2, 0.3]]


def test_a_tensor_rate_is_read_at_its_value_at_the_step_and_one_of_several_values_refused():
    """W3: a tensor rate filled in place was read at its last value for every step."""
    model, given = _model_and_optimizer()
    rates = [torch.tensor(0.1, dtype=torch.float64), torch.tensor([0.2], dtype=torch.float64)]
    for group, rate in zip(given.param_groups, rates):
        group["lr"] = rate
    model(torch.ones(1, 3)).sum().backward()
    with optimizer_steps(given) as (used, _):
        given.step()
        for rate in rates:
            rate.fill_(0.4)
        given.step()
    assert used == [[0.1, 0.2], [0.4, 0.4]] and all(type(rate) is float for rate in used[0])
    given.param_groups[1]["lr"] = torch.tensor([0.2, 0.3])
    with optimizer_steps(given), pytest.raises(ValueError, match=r"param_groups\[1\]\['lr'\] is a tensor of shape"):
        given.step()
