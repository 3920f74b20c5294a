"""The scheduler exercises' observers (chapters 2 and 3): run a student's scheduler class through a case,
under the guard, and record what it did. They run where the student's code lives; they decide nothing."""

from __future__ import annotations

import torch

from lrcourse import wire
from lrcourse.checking.guard import (
    Guard,
    StudentTimeout,
    case_seconds,
    forbidden_class_message,
    per_case_seconds,
    wrapped_scheduler,
)
from lrcourse.checking.observe import observer
from lrcourse.pytorch_trajectories import replay
from lrcourse.schedules import make_optimizer


@observer("scheduler", seconds=lambda payload: case_seconds(payload["case"], per_case_seconds(payload)))
def observe_scheduler(student_class, payload: dict) -> dict:
    """Construct the student's class on a fresh optimizer, step it through the case, and record the
    rates, get_last_lr() and the attributes named in `payload["record"]` after construction and each step."""
    case, record = payload["case"], payload["record"]
    observation = {
        "forbidden": forbidden_class_message(student_class),
        "states": [],
        "error": None,
        "timeout": False,
        "wrapped": None,
        "calls": [],
        "seconds": case_seconds(case, per_case_seconds(payload)),
    }
    if observation["forbidden"]:
        return observation
    optimizer = make_optimizer(case["lrs"])
    guard = Guard(observation["seconds"])
    returned = []  # the very objects get_last_lr() returned: a list returned earlier must not change later
    as_tensor = payload.get("as_tensor")
    reused = torch.tensor(0.0)  # as_tensor == "0-d reused": the one tensor the caller updates in place

    def snapshot(scheduler):
        # Only what this cell grades: an unfinished get_last_lr() must not cost the rate cells.
        state = {"lrs": [group["lr"] for group in optimizer.param_groups]}
        if "get_last_lr" in record:
            state["get_last_lr"] = scheduler.get_last_lr()
            returned.append(state["get_last_lr"])
        for name in record:
            if name not in ("lrs", "get_last_lr"):
                state[name] = getattr(scheduler, name, wire.Missing(name))
        observation["states"].append(wire.encode(state))

    try:
        with guard.running():
            scheduler = student_class(optimizer, **case["kwargs"])
            observation["wrapped"] = wrapped_scheduler(scheduler)
            snapshot(scheduler)
            for kind, _, metric in replay(optimizer, case):
                if kind == "step":
                    step_scheduler(scheduler, metric, as_tensor, reused)
                snapshot(scheduler)  # after a step, or between a hand edit and the step
            if "get_last_lr" in record:
                observation["returned_lists"] = [wire.encode(value) for value in returned]
    except StudentTimeout:
        observation["timeout"] = True
    except Exception as error:  # the student's own bug, reported with the states so far
        observation["error"] = wire.encode_error(error)
    observation["calls"] = sorted({name.split(".")[0] for name in guard.forbidden_calls})
    return observation


def step_scheduler(scheduler, metric, as_tensor, reused: torch.Tensor) -> None:
    """One step of the student's scheduler; a metric (ReduceLROnPlateau) as the payload's `as_tensor` asks: a
    number, a 1-element tensor, a new 0-d tensor, or one 0-d tensor the caller updates in place (`reused`)."""
    if metric is None:
        scheduler.step()
        return
    value = float(metric) if isinstance(metric, str) else metric
    if as_tensor == "0-d reused":
        scheduler.step(reused.fill_(value))
    elif as_tensor == "0-d":
        scheduler.step(torch.tensor(value))
    else:
        scheduler.step(torch.tensor([value]) if as_tensor else value)


@observer("construction")
def observe_construction(student_class, payload: dict) -> dict:
    """Only construct the student's class (for arguments PyTorch rejects): the exception raised, if any."""
    case = payload["case"]
    observation = {
        "forbidden": forbidden_class_message(student_class),
        "error": None,
        "timeout": False,
        "calls": [],
        "seconds": per_case_seconds(payload),
    }
    if observation["forbidden"]:
        return observation
    guard = Guard(observation["seconds"])
    try:
        with guard.running():
            student_class(make_optimizer(case["lrs"]), **case["kwargs"])
    except StudentTimeout:
        observation["timeout"] = True
    except Exception as error:
        observation["error"] = wire.encode_error(error)
    observation["calls"] = sorted({name.split(".")[0] for name in guard.forbidden_calls})
    return observation
