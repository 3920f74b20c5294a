"""What PyTorch's own schedulers do, case by case: the expected side of every comparison.

A case is {"scheduler": name, "lrs": [...], "kwargs": {...}, "steps": n} or, for ReduceLROnPlateau,
{"metrics": [...]} instead of "steps"; "edits" ({step: {group: rate}}) sets rates by hand before a step.
`trajectory` runs it on a real optimizer and records the rates and attributes after construction and
after every step.

Where this runs decides what it is worth. In a notebook's kernel it only produces the messages a student
reads while working: the student's code runs there too and could change `torch`. The grade is decided by
`lrcourse grade`, which calls this in its own trusted process and never sends the result to the student's
(see `lrcourse.grading.autograde.verdicts`).
"""

from __future__ import annotations

import json
import math

ATTRIBUTES = {"StepLR": ("last_epoch",), "ReduceLROnPlateau": ("best", "num_bad_epochs", "cooldown_counter")}


def hand_edit(optimizer, edits: dict, step: int) -> None:
    """Set the rates a case's `edits` give for step number `step` (JSON's form: {"step": {"group": rate}})."""
    for group, rate in edits.get(str(step), {}).items():
        optimizer.param_groups[int(group)]["lr"] = rate


def walk(case: dict) -> list[tuple[str, int, float | None]]:
    """A case's order of events, with no optimizer: ("edit", n, None) where the hand edits of step number n are
    set (just before that step), ("edited", n, None) right after them when the case records the state between a
    hand edit and the step ("after_edits"), and ("step", n, metric) where the scheduler steps (metric None
    without "metrics"). With "after_edits", an edit keyed steps + 1 comes after the last step, with no step after
    it (without, it would change nothing recorded)."""
    metrics = case.get("metrics")
    edits = case.get("edits") or {}
    recorded = bool(case.get("after_edits"))
    steps = case["steps"] if metrics is None else len(metrics)
    events = []
    for step in range(1, steps + 2):
        if edits.get(str(step)) and (step <= steps or recorded):
            events += [("edit", step, None)] + ([("edited", step, None)] if recorded else [])
        if step <= steps:
            events.append(("step", step, None if metrics is None else metrics[step - 1]))
    return events


def replay(optimizer, case: dict):
    """Walk a case (`walk`) on `optimizer`, for PyTorch's scheduler here and a student's in the observer: sets
    the hand edits and yields each other event, ("edited", n, None) or ("step", n, metric), where the caller
    records a state (and, at "step", steps its scheduler first)."""
    edits = case.get("edits") or {}
    for kind, step, metric in walk(case):
        if kind == "edit":
            hand_edit(optimizer, edits, step)
        else:
            yield kind, step, metric


def trajectory(case: dict) -> dict:
    """Run one case: {"states": [...], "ambiguous_steps": [...]}, or {"error": name, "message": text} when
    the constructor raises (the student's class must raise the same)."""
    from lrcourse.schedules import make_optimizer

    optimizer = make_optimizer(case["lrs"])
    try:
        scheduler = _build(optimizer, case["scheduler"], case["kwargs"])
    except Exception as error:
        return {"error": type(error).__name__, "message": str(error)}
    names = ATTRIBUTES.get(case["scheduler"], ())

    def snapshot():
        return {
            "lrs": [float(group["lr"]) for group in optimizer.param_groups],
            "get_last_lr": [float(rate) for rate in scheduler.get_last_lr()],
            **{name: _plain(getattr(scheduler, name)) for name in names},
        }

    states = [snapshot()]
    ambiguous = []
    for kind, step, metric in replay(optimizer, case):
        if kind == "step":
            if metric is not None and _on_a_boundary(scheduler, optimizer, metric):
                ambiguous.append(step)
            optimizer.step()
            scheduler.step() if metric is None else scheduler.step(metric)
        states.append(snapshot())  # after a step, or between a hand edit and the step (what get_last_lr() says)
    return {"states": states, "ambiguous_steps": ambiguous}


def _plain(value):
    """An attribute as PyTorch keeps it: a counter (last_epoch, num_bad_epochs, cooldown_counter) stays an int,
    anything else (best) is a float."""
    return value if type(value) is int else float(value)


def _build(optimizer, name: str, kwargs: dict):
    """PyTorch's scheduler `name`, or the course's composite "WarmupStep": SequentialLR(LinearLR(start_factor,
    total_iters=warmup), StepLR(step_size, gamma)) with milestone `warmup`."""
    import torch.optim.lr_scheduler as schedulers

    if name == "WarmupStep":  # LinearLR from start_factor over `warmup` epochs, then StepLR
        warmup = kwargs["warmup"]
        phases = [
            schedulers.LinearLR(optimizer, start_factor=kwargs["start_factor"], end_factor=1.0, total_iters=warmup),
            schedulers.StepLR(optimizer, step_size=kwargs["step_size"], gamma=kwargs["gamma"]),
        ]
        return schedulers.SequentialLR(optimizer, phases, milestones=[warmup])
    return getattr(schedulers, name)(optimizer, **kwargs)


def _on_a_boundary(scheduler, optimizer, metric: float) -> bool:
    """Whether this step's decision depends on how a correct answer writes its comparisons.

    The comparisons of ReduceLROnPlateau can be written in several equally correct ways (`a < best * (1 - t)`,
    `a < best - best * t` once best is finite; `a < best - t`, `best - a > t`, `a + t < best`; `old - new > eps`,
    `new < old - eps`, `old - eps > new`). In exact arithmetic they agree; in floating point they can disagree
    when a value lies on the boundary to within
    rounding. Only then is a test case unfair. An exact tie (a value exactly on a boundary that every
    formulation computes exactly, e.g. 0.75 against 1.0 - 0.25, or any tie with threshold=0), a NaN or an
    infinite metric is decided the same way by all of them, and is tested like any other value.
    """
    best, t = scheduler.best, scheduler.threshold
    a = float(metric)
    if scheduler.mode == "min":
        if scheduler.threshold_mode == "rel":
            ways = {a < best * (1.0 - t), a - best * (1.0 - t) < 0, best * (1.0 - t) - a > 0}
            if math.isfinite(best):
                ways.add(a < best - best * t)  # correct once best is finite
        else:
            ways = {a < best - t, best - a > t, a + t < best}
    else:
        if scheduler.threshold_mode == "rel":
            ways = {a > best * (1.0 + t), a - best * (1.0 + t) > 0, best * (1.0 + t) - a < 0}
            if math.isfinite(best):
                ways.add(a > best + best * t)
        else:
            ways = {a > best + t, a - best > t, a - t > best}
    if len(ways) > 1:
        return True
    eps = scheduler.eps
    for group, min_lr in zip(optimizer.param_groups, scheduler.min_lrs):
        old = float(group["lr"])
        new = max(old * scheduler.factor, min_lr)
        if len({old - new > eps, new < old - eps, old - eps > new}) > 1:
            return True
    return False


_TRAJECTORIES: dict[str, dict] = {}  # a grader sees the same hidden cases for every student


def reference_trajectories(cases: list[dict]) -> list[dict]:
    """The trajectories of `cases`, each computed once per process."""
    keys = [json.dumps(case, sort_keys=True) for case in cases]
    for key, case in zip(keys, cases):
        if key not in _TRAJECTORIES:
            _TRAJECTORIES[key] = trajectory(case)
    return [_TRAJECTORIES[key] for key in keys]
