"""The training runs of chapters 5 and 6 as every side builds them: the student's observer, the judge and
the grader's reference loops (grader/references.py) start from the same seeded model, data, optimizer and
scheduler, so their numbers can be compared exactly. Public on purpose: grader/references.py uses them."""

from __future__ import annotations

import math

import torch

from lrcourse import training


def step_scheduler(name: str, optimizer, total_steps: int):
    schedulers = torch.optim.lr_scheduler
    if name == "OneCycleLR":
        return schedulers.OneCycleLR(
            optimizer, max_lr=optimizer.param_groups[0]["lr"], total_steps=total_steps, pct_start=0.3
        )
    if name == "warm-up + cosine":
        warmup = max(1, total_steps // 5)
        return schedulers.LambdaLR(
            optimizer,
            lambda step: (
                (step + 1) / warmup
                if step < warmup
                else 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total_steps - warmup)))
            ),
        )
    raise ValueError(name)


def steps_parts(payload: dict):
    """A per-step run of the digits model before its scheduler (the same on both sides): model, optimizer,
    batches, validation set."""
    train_set, val_set, _ = training.digits_split()
    batches = training.Batches(train_set, payload["batch_size"], seed=payload["seed"])
    model = training.make_model(payload["seed"])
    if payload.get("optimizer", "Adam") == "SGD":
        optimizer = torch.optim.SGD(model.parameters(), lr=payload["lr"], momentum=0.9)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=payload["lr"])
    return model, optimizer, batches, val_set


HEAD_BY_HAND = "StepLR, then the head by hand"  # range_fixture's `moved_by` that sets the groups' ratio apart


def range_fixture(payload: dict):
    """A model and an optimizer that have trained for an epoch (the optimizer has a state) and whose rates are then
    halved, and the batches of the range test; one group, or two (the output layer at `head_ratio` times the hidden
    layer's rate). The halving is a StepLR's, as in a run under a schedule, so every group also holds `initial_lr`
    (its constructor's rate), or, with `payload["moved_by"] == "hand"`, a hand's, which leaves no `initial_lr`;
    with `HEAD_BY_HAND`, the StepLR's, then the output layer's rate halved again by hand (its ratio to the first
    group's is half its initial_lr's)."""
    train_set, _, _ = training.digits_split()
    batches = training.Batches(train_set, payload["batch_size"], seed=payload["seed"])
    model = training.make_model(payload["seed"])
    # one group, or two: the output layer at `head_ratio` times the hidden layer's rate
    ratio = payload.get("head_ratio")
    groups = (
        [{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": payload["lr"] * ratio}]
        if ratio
        else model.parameters()
    )
    if payload["optimizer"] == "SGD":
        optimizer = torch.optim.SGD(groups, lr=payload["lr"], momentum=0.9)
    else:
        optimizer = torch.optim.Adam(groups, lr=payload["lr"])
    moved_by = payload.get("moved_by", "StepLR")
    by_hand = moved_by == "hand"
    # the rates moved off the constructor's (every group halved, the ratio kept): an answer that takes its ratios
    # against optimizer.defaults["lr"] runs at the wrong rates (issue 23, R23w). A StepLR also leaves each group's
    # constructor rate as `initial_lr`, which a LambdaLR made later multiplies instead of the current rate (R23z)
    decay = None if by_hand else torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    loss_fn = torch.nn.CrossEntropyLoss()
    for inputs, targets in training.Batches(train_set, payload["batch_size"], seed=99):  # an optimizer with a state
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        optimizer.step()
    if decay is None:
        for group in optimizer.param_groups:
            group["lr"] /= 2
    else:
        decay.step()  # the epoch's end: lr * 0.5, as `/= 2` gives it
    if moved_by == HEAD_BY_HAND:
        # then the output layer's rate alone halved again, as a fine-tuning recipe or a per-group scheduler moves
        # one group: the groups' ratio now is not their initial_lr's, and an answer taking its ratios from
        # initial_lr runs the head at twice its rate (issue 23, R23a)
        optimizer.param_groups[-1]["lr"] /= 2
    return model, optimizer, batches


def state_vector(model, optimizer) -> list[list[float]]:
    """A fingerprint of what a range test must leave unchanged, the weights and the optimizer's state: each
    tensor's sum and the sum of its magnitudes. The state is read under the model's own parameters, as the optimizer
    reads it at its next step: a state put back under copies of them (`copy.deepcopy(optimizer.state)` copies its
    keys) is no state for the model, and its next step is a fresh Adam's (issue 23, R23u)."""
    parameters = list(model.parameters())
    tensors = [p.detach() for p in parameters]
    for parameter in parameters:  # .get: the state is a defaultdict, and reading must not add to it
        tensors += [v for v in optimizer.state.get(parameter, {}).values() if torch.is_tensor(v)]
    return [[float(t.double().sum()), float(t.double().abs().sum())] for t in tensors]
