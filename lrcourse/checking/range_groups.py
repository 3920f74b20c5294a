"""What chapter 6's range test must leave of the optimizer's parameter groups: every key as it was, with the value it
had. The observer records each group's keys and values (all but its parameters) in the student's process, as plain
data (`lrcourse.wire`); the judge builds the groups as they were itself and compares: a key added or removed (a
scheduler's `initial_lr`), and a value changed under a key that was there (momentum, betas, weight_decay, an
`initial_lr` the test found and left at another value: issue 23, R23s), each named with both values."""

from __future__ import annotations

import math

import torch

from lrcourse import wire
from lrcourse.checking.expect import close


def group_settings(optimizer) -> list[dict]:
    """Each parameter group's keys and values besides its parameters (the observer sends them through the wire with
    the rest of its observation): a scheduler created in the test adds `initial_lr`, which a later LambdaLR,
    warm-restart or SequentialLR would start from and closed-form schedulers take as their base_lrs, so it must not
    stay; a momentum or betas the test changed would steer every later step."""
    return [{key: value for key, value in group.items() if key != "params"} for group in optimizer.param_groups]


def as_sent(settings: list) -> list:
    """Group settings built by the judge, in the form the student's arrive in: through the wire and back (a tensor as
    the wire rebuilds it, a subclass as its base), so the two compare alike."""
    return wire.decode(wire.encode(settings))


def same_value(key: str, was, now) -> bool:
    """`now` is the value `key` had, `was`: the rate within the course's tolerance (`close`, as the rates are judged),
    every other value exactly: a number by its value (0 and 0.0 alike, but a bool is no number), a tensor by its
    values, a tuple or list item by item, anything else equal and of the same type."""
    if key == "lr" and isinstance(was, float):
        return close(now, was)
    if isinstance(was, torch.Tensor) or isinstance(now, torch.Tensor):
        return (
            isinstance(was, torch.Tensor)
            and isinstance(now, torch.Tensor)
            and was.shape == now.shape
            and bool(torch.equal(was.double(), now.double()))
        )
    if isinstance(was, (list, tuple)):
        return type(now) is type(was) and len(now) == len(was) and all(map(same_value, [key] * len(was), was, now))
    if _number(was) and _number(now):
        return now == was or (math.isnan(was) and math.isnan(now))
    return type(now) is type(was) and now == was


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def settings_change(was: list, now) -> str | None:
    """What the test left different in the groups (`now` comes from the student's process: any shape), or None: keys
    added, keys removed, and each value changed under a key that was there, with both values."""
    if not (isinstance(now, list) and len(now) == len(was) and all(isinstance(group, dict) for group in now)):
        return "the optimizer's parameter groups are not as they were"
    added = sorted({str(key) for old, new in zip(was, now) for key in set(new) - set(old)})
    removed = sorted({str(key) for old, new in zip(was, now) for key in set(old) - set(new)})
    changes = [f"{how} {', '.join(keys)}" for how, keys in (("added", added), ("removed", removed)) if keys]
    changes += [
        f"group {index}'s {key} was {old[key]!r} before and is {new[key]!r} after"
        for index, (old, new) in enumerate(zip(was, now))
        for key in old
        if key in new and not same_value(key, old[key], new[key])
    ]
    return f"the test left the optimizer's parameter groups changed ({'; '.join(changes)})" if changes else None
