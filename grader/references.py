"""The grader's reference solutions of the training exercises (chapters 5 and 6) and of chapter 7's schedule.

They are the exercises' answers, so they live outside the `lrcourse` package, in the course's `grader/`
folder: nothing a student installs or a sandbox shows contains them. The trusted verdicts' judges
(`lrcourse.checking`, in the grader's process) load this file by its path to compute the expected values
of every case, hidden ones included. In a notebook's kernel the visible checks read the expected values of
their few fixed cases from `lrcourse/expected_visible.json`, which `python grader/make_expected.py`
writes from this file (and `tests/test_expected_values.py` checks against it).
"""

from __future__ import annotations

import math

import torch

from lrcourse.fixtures import range_fixture, step_scheduler, steps_parts


def steps_fixture(payload: dict):
    """What a per-step run of the digits model is made of: `steps_parts` and the scheduler, sized in optimizer
    steps (the grader's reference loop; a student's loop sizes its own). Here, not in `lrcourse.fixtures`: the
    count of optimizer steps is exercise 5's answer, and students can import the package."""
    model, optimizer, batches, val_set = steps_parts(payload)
    steps = payload["epochs"] * math.ceil(len(batches) / payload.get("accumulation", 1))
    scheduler = step_scheduler(payload["scheduler"], optimizer, steps)
    return model, optimizer, scheduler, batches, val_set


def reference_fit_steps(payload: dict) -> dict:
    """The per-step loop with gradient accumulation run here, on the grader's side, for the expected values:
    per epoch, groups of `accumulation` batches (the last group of an epoch may be shorter), each batch's loss
    divided by its group's size before backward(), one optimizer step and one scheduler step per group; each
    step's loss logged as the mean of its batch losses (`loss`) and as its images' mean (`loss_over_images`).
    The same run with each batch's loss weighted by its share of the group's images, section 5.6's per-image
    weighting, is `images_` + each field: either weighting is right (review R23P2, NIT 3).
    (Written apart from the catalogue's correct answer in tests/catalogue/, which it must not copy.)"""
    history = _fit_steps_run(payload, by_images=False)
    for key, values in _fit_steps_run(payload, by_images=True).items():
        if key != "lr":  # the rates do not depend on the weighting
            history["images_" + key] = values
    return history


def _fit_steps_run(payload: dict, by_images: bool) -> dict:
    """One reference run: the batches of a group weighted equally, or by their images."""
    from lrcourse import training

    with training.one_thread():
        model, optimizer, scheduler, batches, val_set = steps_fixture(payload)
        loss_fn = torch.nn.CrossEntropyLoss()
        size = payload["accumulation"]
        history = {"lr": [], "loss": [], "loss_over_images": [], "val_loss": []}

        def optimizer_step(group: list) -> None:
            """One optimizer step on the mean gradient of `group`; its rate and mean loss logged."""
            history["lr"].append(optimizer.param_groups[0]["lr"])
            optimizer.zero_grad()
            losses, images = [], sum(len(targets) for _, targets in group)
            for inputs, targets in group:
                loss = loss_fn(model(inputs), targets)
                (loss * len(targets) / images if by_images else loss / len(group)).backward()
                losses.append((loss.item(), len(targets)))
            optimizer.step()
            scheduler.step()
            history["loss"].append(sum(value for value, _ in losses) / len(group))
            history["loss_over_images"].append(sum(value * count for value, count in losses) / images)

        for _ in range(payload["epochs"]):
            epoch = list(batches)
            for group in (epoch[index : index + size] for index in range(0, len(epoch), size)):
                optimizer_step(group)
            history["val_loss"].append(training.evaluate(model, val_set)[0])
    return history


def endless(batches):
    """The batches again and again, each pass a new iteration of them (a new shuffle)."""
    while True:
        yield from batches


def reference_range_test(payload: dict) -> dict:
    """The range test run here, on the grader's side: the rates tried (every group's), the smoothed losses,
    the suggestion."""
    from lrcourse import training

    with training.one_thread():
        model, optimizer, batches = range_fixture(payload)
        loss_fn = torch.nn.CrossEntropyLoss()
        start, end, steps, beta = payload["start_lr"], payload["end_lr"], payload["num_steps"], payload["beta"]
        first_lr = optimizer.param_groups[0]["lr"]
        ratios = [group["lr"] / first_lr for group in optimizer.param_groups]

        def train_on(inputs, targets) -> float:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            return loss.item()

        result = {"lrs": [], "group_lrs": [], "losses": []}
        average, best = 0.0, math.inf
        for step, (inputs, targets) in zip(range(steps), endless(batches)):
            lr = start * (end / start) ** (step / (steps - 1))
            for group, ratio in zip(optimizer.param_groups, ratios):
                group["lr"] = lr * ratio
            result["group_lrs"].append([group["lr"] for group in optimizer.param_groups])
            average = beta * average + (1 - beta) * train_on(inputs, targets)
            smoothed = average / (1 - beta ** (step + 1))
            result["lrs"].append(lr)
            result["losses"].append(smoothed)
            best = min(best, smoothed)
            if smoothed > payload["diverge"] * best:
                break
    losses = result["losses"]
    return result | {"suggestion": result["lrs"][losses.index(min(losses))] / 10}


def reference_wsd(payload: dict) -> dict:
    """Chapter 7's warmup-stable-decay as PyTorch builds it: SequentialLR of LinearLR (from `start_factor` to 1 over
    `warmup` steps), ConstantLR at the peak for `stable` steps (none if 0) and PolynomialLR(power=2) down to 0 over
    `decay` steps, one step() per optimizer step; the rate of each of `steps` steps."""
    from torch.optim import lr_scheduler

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=payload["lr"])
    warmup, stable, decay = payload["warmup"], payload["stable"], payload["decay"]
    phases = [
        lr_scheduler.LinearLR(optimizer, start_factor=payload["start_factor"], end_factor=1.0, total_iters=warmup)
    ]
    milestones = [warmup]
    if stable:
        phases.append(lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=stable))
        milestones.append(warmup + stable)
    phases.append(lr_scheduler.PolynomialLR(optimizer, total_iters=decay, power=2.0))
    scheduler = lr_scheduler.SequentialLR(optimizer, phases, milestones=milestones)
    lrs = []
    for _ in range(payload["steps"]):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return {"lrs": lrs}


def reference_floor(payload: dict) -> dict:
    """Chapter 3's stalled run: PyTorch's ReduceLROnPlateau (mode "min", one group at `lr`) stepped with the same loss
    every epoch. The step (counted from 1) after which the rate has its final value (0: no step changes it) and that
    value. The rates are PyTorch's own, from a scheduler with patience=0 and cooldown=0 (a reduction tried at every
    step after the first, which sets `best`): the same rates, in fewer steps. A stalled run's steps then come from the
    rule: the first loss improves on best = inf, a reduction needs patience + 1 bad epochs, and a cooldown ignores the
    bad epochs right after one (tests/test_floor_checks.py holds this against a full replay)."""
    from torch.optim import lr_scheduler

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=payload["lr"])
    scheduler = lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=payload["factor"], patience=0, cooldown=0, min_lr=payload["min_lr"], eps=payload["eps"]
    )
    optimizer.step()
    scheduler.step(1.0)  # the first loss: an improvement, no reduction
    changes, rate = 0, optimizer.param_groups[0]["lr"]
    for _ in range(100_000):  # a rate that keeps falling reaches 0 within about 1,100 halvings
        optimizer.step()
        scheduler.step(1.0)
        if optimizer.param_groups[0]["lr"] == rate:
            break  # a reduction skipped: the same rate skips every later one too
        changes, rate = changes + 1, optimizer.param_groups[0]["lr"]
    else:
        raise ValueError(f"{payload}: the rate still changes after 100,000 reductions")
    patience, cooldown = payload["patience"], payload["cooldown"]
    epoch = 1 + changes * (patience + 1) + (changes - 1) * cooldown if changes else 0
    return {"epoch": epoch, "lr": float(rate)}
