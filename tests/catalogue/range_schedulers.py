"""Chapter 6's range test written with PyTorch's schedulers, which the exercise allows (issue 23, R23r): its answer
cell is marked `uses_schedulers`, so the grader's process keeps torch.optim.lr_scheduler, as the learner's kernel
does. A correct answer that grows the rate with ExponentialLR gets full marks (it scored 0 of 7 while the grader's
process lacked the module); the same answer restoring by hand leaves ExponentialLR's `initial_lr` in groups that had
none (the restore's case whose rates were halved by hand), which a later LambdaLR would start from and closed-form
schedulers take as their base_lrs, and loses the restore's points. A LambdaLR multiplies the `initial_lr` a StepLR
left in the groups (R23z): scaled from the current rate it runs at twice the test's rates; with each group's
`initial_lr` first set to its current rate it is right, and so is one lambda per group that divides by the group's
`initial_lr`. Ratios read from `initial_lr` (R23a) are the groups' ratio before the test only while nothing moved one
group apart: the groups' case whose head's rate was halved by hand after the StepLR charges them."""

from __future__ import annotations

from catalogue.answers import variant
from catalogue.training import range_test, range_variant

RANGE_RESTORES = "test_range_restores"
RANGE_RATES, RANGE_LOSSES, RANGE_SUGGESTION = "test_range_rates", "test_range_losses", "test_range_suggestion"
RANGE_GROUPS = "test_range_groups"

RANGE_BY_EXPONENTIAL_LR = """
def lr_range_test(model, optimizer, batches, start_lr, end_lr, num_steps, beta, diverge):
    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    first = optimizer.param_groups[0]["lr"]
    for group in optimizer.param_groups:                    # every group scaled alike: the ratios stay
        group["lr"] = group["lr"] * start_lr / first
    growth = lr_scheduler.ExponentialLR(optimizer, gamma=(end_lr / start_lr) ** (1 / (num_steps - 1)))
    lrs, losses, average, best, stream = [], [], 0.0, math.inf, iter(())
    for step in range(num_steps):
        try:
            inputs, targets = next(stream)
        except StopIteration:
            stream = iter(batches)
            inputs, targets = next(stream)
        lr = optimizer.param_groups[0]["lr"]
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        growth.step()
        average = beta * average + (1 - beta) * loss.item()
        smoothed = average / (1 - beta ** (step + 1))
        lrs.append(lr); losses.append(smoothed)
        best = min(best, smoothed)
        if smoothed > diverge * best:
            break
    model.load_state_dict(saved_model)
    optimizer.load_state_dict(saved_optimizer)
    return {"lrs": lrs, "losses": losses, "suggestion": lrs[losses.index(min(losses))] / 10}
"""

# LambdaLR scaled from the first group's current rate (issue 23, R23z). A LambdaLR multiplies each group's
# `initial_lr`, and only a group without one gets its current rate there; the tests' optimizers were halved by a
# StepLR, which left the constructor's rate as initial_lr, so this runs every group at twice the test's rates
RANGE_BY_LAMBDA_LR_FROM_CURRENT_RATE = variant(
    RANGE_BY_EXPONENTIAL_LR,
    """    for group in optimizer.param_groups:                    # every group scaled alike: the ratios stay
        group["lr"] = group["lr"] * start_lr / first
    growth = lr_scheduler.ExponentialLR(optimizer, gamma=(end_lr / start_lr) ** (1 / (num_steps - 1)))
""",
    """    growth = lr_scheduler.LambdaLR(
        optimizer, lambda s: (start_lr / first) * (end_lr / start_lr) ** (s / (num_steps - 1))
    )
""",
)

# one lambda per group, each dividing by the initial_lr the LambdaLR will multiply (the group's current rate where it
# has none): every group at rate x its ratio before the test, whatever a scheduler left (issue 23, R23a)
RANGE_BY_LAMBDA_LR_PER_GROUP = variant(
    RANGE_BY_LAMBDA_LR_FROM_CURRENT_RATE,
    """    growth = lr_scheduler.LambdaLR(
        optimizer, lambda s: (start_lr / first) * (end_lr / start_lr) ** (s / (num_steps - 1))
    )
""",
    """    ratios = [group["lr"] / first for group in optimizer.param_groups]
    bases = [group.get("initial_lr", group["lr"]) for group in optimizer.param_groups]
    growth = lr_scheduler.LambdaLR(
        optimizer,
        [
            lambda s, ratio=ratio, base=base: start_lr * (end_lr / start_lr) ** (s / (num_steps - 1)) * ratio / base
            for ratio, base in zip(ratios, bases)
        ],
    )
""",
)

RANGE_SCHEDULER_CORRECT = [
    range_test("range_rate_by_lambda_lr_per_group_over_initial_lr", RANGE_BY_LAMBDA_LR_PER_GROUP),
    range_test("range_rate_by_exponential_lr", RANGE_BY_EXPONENTIAL_LR),
    # the same LambdaLR made on groups whose initial_lr is first set to their current rate (the state_dict restore
    # puts the old initial_lr back): it multiplies the rates before the test, as the exercise asks
    range_test(
        "range_rate_by_lambda_lr_from_initial_lr_set",
        variant(
            RANGE_BY_LAMBDA_LR_FROM_CURRENT_RATE,
            """    growth = lr_scheduler.LambdaLR(""",
            """    for group in optimizer.param_groups:                    # LambdaLR multiplies initial_lr
        group["initial_lr"] = group["lr"]
    growth = lr_scheduler.LambdaLR(""",
        ),
    ),
]

RANGE_SCHEDULER_WRONG = [
    # ratios read from initial_lr where a group has one (R23a): the StepLR halved every group alike, so they were the
    # ratios before the test in every case until the groups' case that halves the head's rate by hand after it
    range_test(
        "range_ratio_from_initial_lr",
        range_variant(
            """    ratios = [group["lr"] / optimizer.param_groups[0]["lr"] for group in optimizer.param_groups]
""",
            """    first = optimizer.param_groups[0]
    first_rate = first.get("initial_lr", first["lr"])
    ratios = [group.get("initial_lr", group["lr"]) / first_rate for group in optimizer.param_groups]
""",
        ),
        fails=(RANGE_GROUPS,),
    ),
    # one lambda for every group, over the first group's initial_lr: the first group runs at the test's rates, every
    # other at its initial_lr's ratio to the first's, not its rate's (R23a)
    range_test(
        "range_lambdalr_over_first_initial_lr",
        variant(
            RANGE_BY_LAMBDA_LR_FROM_CURRENT_RATE,
            """    first = optimizer.param_groups[0]["lr"]
""",
            """    first = optimizer.param_groups[0].get("initial_lr", optimizer.param_groups[0]["lr"])
""",
        ),
        fails=(RANGE_GROUPS,),
    ),
    # twice the rates wherever a scheduler left initial_lr (every case of the rates, losses and suggestion cells);
    # the groups keep the ratio of their initial_lr, which is the rates' only until the groups' case that halves the
    # head's rate by hand after the StepLR (R23a); the state_dict restore puts everything back
    range_test(
        "range_lambdalr_from_current_rate",
        RANGE_BY_LAMBDA_LR_FROM_CURRENT_RATE,
        fails=(RANGE_RATES, RANGE_LOSSES, RANGE_GROUPS, RANGE_SUGGESTION),
    ),
    # the weights, the optimizer's state and its rates put back, but not the groups as they were
    range_test(
        "range_exponential_lr_restored_by_hand",
        variant(
            RANGE_BY_EXPONENTIAL_LR,
            """    saved_optimizer = copy.deepcopy(optimizer.state_dict())
""",
            """    saved_state = {param: copy.deepcopy(state) for param, state in optimizer.state.items()}
    saved_lrs = [group["lr"] for group in optimizer.param_groups]
""",
            """    optimizer.load_state_dict(saved_optimizer)
""",
            """    optimizer.state.clear()
    optimizer.state.update(saved_state)
    for group, lr in zip(optimizer.param_groups, saved_lrs):
        group["lr"] = lr
""",
        ),
        fails=(RANGE_RESTORES,),
    ),
]
