"""Chapter 6's range test with steps the judge once read wrong (issue 23, R23p W1-W3), all correct: a dry run over the
model's own parameters with their gradients cleared (SGD skips a parameter without one: the planner's steps change
nothing; it scored 3 of 7, its 60 steps judged as the test's; cleared to zeros by `zero_grad(set_to_none=False)`, with
or without momentum, the same: R23q W1), one optimizer per parameter group, each stepped once a batch with its state
copied in (4 of 7: two optimizers' steps, one group each, judged as two test steps; with a logging forward pass under
`torch.no_grad()` after each step, the same: R23q N1), and rates kept as tensors updated in place with `.fill_` (6 of 7:
every step read at the last value). The judge now takes a step only when it has a non-zero gradient to apply or changes
a weight, joins the steps between two forward passes (with gradients recorded) over parameters none shares into one test
step, and reads each rate's value at the step (lrcourse/checking/range_steps.py). The wrong answer is the per-group
optimizers with the groups' ratio lost: it still loses the groups' point, and only it."""

from __future__ import annotations

from catalogue.training import range_test, range_variant

START = "    lrs, losses, average, best, stream = [], [], 0.0, math.inf, iter(())\n"
SET = """        for group, ratio in zip(optimizer.param_groups, ratios):
            group["lr"] = lr * ratio
"""
RATE = "        lr = start_lr * (end_lr / start_lr) ** (step / (num_steps - 1))\n"

DRY_RUN_ON_THE_MODEL = range_variant(
    START,
    START
    + """    optimizer.zero_grad()  # no gradients: the planner's steps change nothing
    planner = torch.optim.SGD(model.parameters(), lr=start_lr)
    growth = lr_scheduler.ExponentialLR(planner, gamma=(end_lr / start_lr) ** (1 / (num_steps - 1)))
    planned = []
    for _ in range(num_steps):
        planned.append(planner.param_groups[0]["lr"])
        planner.step()
        growth.step()
""",
    RATE,
    "        lr = planned[step]\n",
)


DRY_RUN_ZEROED = DRY_RUN_ON_THE_MODEL.replace("optimizer.zero_grad()  #", "optimizer.zero_grad(set_to_none=False)  #")
MOMENTUM_PLANNER = DRY_RUN_ZEROED.replace(
    "torch.optim.SGD(model.parameters(), lr=start_lr)", "torch.optim.SGD(model.parameters(), lr=start_lr, momentum=0.9)"
)
assert DRY_RUN_ON_THE_MODEL != DRY_RUN_ZEROED != MOMENTUM_PLANNER


def per_group_optimizers(rate: str, after_each: str = "") -> str:
    """The reference, one optimizer of the given one's class per group (its state copied in), each stepped once a
    batch at `rate` (an expression of `lr` and the group's `ratio`), each step followed by `after_each` (lines)."""
    return range_variant(
        START,
        START
        + """    parts = []
    for group in optimizer.param_groups:
        settings = {key: value for key, value in group.items() if key not in ("params", "initial_lr")}
        part = type(optimizer)(group["params"], **settings)
        for weight in group["params"]:
            if weight in optimizer.state:
                part.state[weight] = copy.deepcopy(optimizer.state[weight])
        parts.append(part)
""",
        SET,
        "",
        "        optimizer.step()\n",
        f"""        for part, ratio in zip(parts, ratios):
            part.param_groups[0]["lr"] = {rate}
            part.step()
"""
        + after_each,
    )


TENSOR_RATES_FILLED = range_variant(
    START,
    START
    + """    rates = [torch.tensor(group["lr"], dtype=torch.float64) for group in optimizer.param_groups]
    for group, rate in zip(optimizer.param_groups, rates):
        group["lr"] = rate
""",
    SET,
    """        for rate, ratio in zip(rates, ratios):
            rate.fill_(lr * ratio)
""",
)

RANGE_JUDGED_CORRECT = [
    range_test("range_with_a_dry_run_over_the_models_own_weights", DRY_RUN_ON_THE_MODEL),
    range_test("range_with_one_optimizer_per_group", per_group_optimizers("lr * ratio")),
    range_test("range_with_tensor_rates_filled_in_place", TENSOR_RATES_FILLED),
    range_test("range_dry_run_over_zeroed_gradients", DRY_RUN_ZEROED),
    range_test("range_momentum_dry_run_over_zeroed_gradients", MOMENTUM_PLANNER),
    range_test(
        "range_per_group_optimizers_logging_between",
        per_group_optimizers("lr * ratio", "            with torch.no_grad():\n                model(inputs)\n"),
    ),
]
RANGE_JUDGED_WRONG = [
    range_test("range_with_one_optimizer_per_group_at_one_rate", per_group_optimizers("lr"), ("test_range_groups",))
]
