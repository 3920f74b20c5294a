"""Chapter 6's range test beside other optimizers than the one it tests (issue 23, R23k W1). A dry run first, as
sections 6.3 and 6.5 teach: a throwaway SGD over `zeros(1)` stepped through an ExponentialLR plans the rates, then the
reference's loop runs at them. Correct; it scored 3 of 7 while the observer judged every optimizer's steps, the
throwaway's among them; so does a dry run on a deep copy of the optimizer (copies of the weights, which nothing
computes with). Steps are judged now when one of their optimizer's parameters has a gradient to apply
(lrcourse/checking/range_steps.py; R23p W1). The wrong answers try to hide the step past the stop
(R23d's mistake, `range_one_step_past_the_stop`) in another optimizer that still trains the model: over views of the
weights (other shapes, the same values) or over the weights and one parameter more. Both still lose the stop's point,
and only it."""

from __future__ import annotations

from catalogue.answers import Answer, variant
from catalogue.training import range_test, range_variant

RANGE_LOSSES = "test_range_losses"

DRY_RUN = """    # a dry run first (sections 6.3 and 6.5): the planned rates, from a throwaway optimizer and an ExponentialLR
    dummy = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=start_lr)
    plan = lr_scheduler.ExponentialLR(dummy, gamma=(end_lr / start_lr) ** (1 / (num_steps - 1)))
    planned = []
    for _ in range(num_steps):
        planned.append(dummy.param_groups[0]["lr"])
        dummy.step()
        plan.step()
"""


def past_the_stop_through(parameters: str) -> str:
    """The reference, with one more step at the next rate after the stop, taken by an SGD whose groups hold
    `parameters` (an expression of `group`, one of the given optimizer's groups), their gradients the weights'."""
    return range_variant(
        "        if smoothed > diverge * best:\n            break",
        f"""        if smoothed > diverge * best:
            grow = (end_lr / start_lr) ** (1 / (num_steps - 1))
            other = torch.optim.SGD(
                [{{"params": {parameters}, "lr": group["lr"] * grow}} for group in optimizer.param_groups], lr=start_lr
            )
            for group, others in zip(optimizer.param_groups, other.param_groups):
                for weight, mine in zip(group["params"], others["params"]):
                    mine.grad = weight.grad.view(mine.shape)
            other.step()
            break""",
    )


ON_A_COPY = (
    "    dummy = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=start_lr)\n",
    """    dummy = copy.deepcopy(optimizer)  # a throwaway: copies of the weights, never computed with
    for group in dummy.param_groups:
        group["lr"] = start_lr
""",
)


def with_a_dry_run(*replacements: str) -> str:
    """The reference, its rates planned by a dry run first (with `replacements` made in the dry run)."""
    return range_variant(
        "    saved_model = copy.deepcopy(model.state_dict())\n",
        variant(DRY_RUN, *replacements) + "    saved_model = copy.deepcopy(model.state_dict())\n",
        "        lr = start_lr * (end_lr / start_lr) ** (step / (num_steps - 1))\n",
        "        lr = planned[step]\n",
    )


RANGE_DRY_RUN_CORRECT = [
    range_test("range_with_a_dry_run_of_its_rates", with_a_dry_run()),
    range_test("range_with_a_dry_run_on_a_copy_of_the_optimizer", with_a_dry_run(*ON_A_COPY)),
]
RANGE_HIDDEN_STEPS = [
    Answer(
        "range_past_the_stop_through_views_of_the_weights",
        "06_choosing_the_rate",
        "lr_range_test",
        past_the_stop_through('[weight.detach().view(-1) for weight in group["params"]]'),
        (RANGE_LOSSES,),
        score=6.0,
    ),
    Answer(
        "range_past_the_stop_with_one_parameter_more",
        "06_choosing_the_rate",
        "lr_range_test",
        past_the_stop_through('[*group["params"], torch.nn.Parameter(torch.zeros(1))]'),
        (RANGE_LOSSES,),
        score=6.0,
    ),
]
