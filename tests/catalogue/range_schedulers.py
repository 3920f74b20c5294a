"""Chapter 6's range test written with PyTorch's schedulers, which the exercise allows (issue 23, R23r): its answer
cell is marked `uses_schedulers`, so the grader's process keeps torch.optim.lr_scheduler, as the learner's kernel
does. A correct answer that grows the rate with ExponentialLR gets full marks (it scored 0 of 7 while the grader's
process lacked the module); the same answer restoring by hand leaves ExponentialLR's `initial_lr` in the groups,
which a later LambdaLR would start from and closed-form schedulers take as their base_lrs, and loses the restore's points."""

from __future__ import annotations

from catalogue.answers import variant
from catalogue.training import range_test

RANGE_RESTORES = "test_range_restores"

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

RANGE_SCHEDULER_CORRECT = [range_test("range_rate_by_exponential_lr", RANGE_BY_EXPONENTIAL_LR)]

RANGE_SCHEDULER_WRONG = [
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
    )
]
