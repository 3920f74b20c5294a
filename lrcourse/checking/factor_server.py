"""The student's side of chapter 7's resume, which runs on the grader's side (`wsd_resume`): the answer's `wsd_factor`
held where it lives and asked one thing at a time, each reply plain data: build a factor from the arguments (a
handle to it comes back), the factor's value at a step (one call), a copy of its `__dict__` (what LambdaLR's
state_dict() saves of a callable object; None for a plain function) and loading such a copy into a factor. The
optimizer, the LambdaLR, the checkpoint and the order of the calls are the grader's: only the answer's code runs here,
each request under the guard, with calls into PyTorch's schedulers recorded (`SchedulerUse`).

Under the grader this runs in the answer's process (`lrcourse.grading.sandbox.answer_zygote`, request "factor"); in a
notebook's kernel `LocalFactors` serves the same requests in the kernel itself.
"""

from __future__ import annotations

import math
import types

from lrcourse import wire
from lrcourse.checking.self_contained import expect_self_contained
from lrcourse.checking.wsd_observer import SECONDS, WALL_SECONDS, rate_as_data, run_guarded


class FactorServer:
    """The factors one answer's `wsd_factor` built in this process, by handle (their index)."""

    def __init__(self, factory):
        self.factory = factory
        self.factors: list = []

    def serve(self, request: dict) -> dict:
        """One request ({"do": "new" | "call" | "state" | "load", ...}), run under the guard for its `seconds` on the
        clock and its `cpu_seconds` of this process's CPU time: the reply's `value` (encoded), or `timeout`, or the
        `error` the answer raised, the scheduler calls it made and the CPU time it took (`cpu`)."""
        work = {"new": self._new, "call": self._call, "state": self._state, "load": self._load}[request["do"]]
        seconds, cpu_seconds = float(request.get("seconds", WALL_SECONDS)), float(request.get("cpu_seconds", SECONDS))
        reply = run_guarded(seconds, lambda: wire.encode(work(request)), cpu_seconds)
        return {"ok": True, **reply}

    def _factor(self, request: dict):
        return self.factors[int(request["handle"])]

    def _new(self, request: dict) -> int:
        self.factors.append(self.factory(*request["arguments"]))
        return len(self.factors) - 1

    def _call(self, request: dict):
        """The factor at the step, as LambdaLR makes a rate of it (base_lr * factor, here 1.0 * factor: the same
        number, and the same TypeError for what is not one): a float, or the repr of what it made."""
        return rate_as_data(1.0 * self._factor(request)(int(request["step"])))

    def _state(self, request: dict):
        """What LambdaLR's state_dict() saves of the factor: None for a function, else a copy of its __dict__ (an
        object with __slots__ has none: AttributeError, as in PyTorch), each attribute the wire would not give back
        as it is marked not carried (`carried`). Under the guard: a repr may loop."""
        factor = self._factor(request)
        return None if isinstance(factor, types.FunctionType) else carried(factor.__dict__.copy())

    def _load(self, request: dict) -> None:
        """LambdaLR's load_state_dict() of a saved __dict__ (plain data, as it crossed the wire) into the factor."""
        attributes = wire.decode(request["state"])
        if isinstance(attributes, dict):
            self._factor(request).__dict__.update(attributes)


def carried(attributes: dict) -> dict:
    """The attributes that come back from the wire as they are, the others replaced by `wire.Missing` (not carried; a
    key that is not a str is not carried, nor then any of them): if any is, the grader's side loads none of them, and
    the new factor keeps all it built (`wsd_resume._plain`). PyTorch's checkpoint deep-copies
    them, so an int64 tensor, a namedtuple, a bound method in a tuple stay what they were; the wire would hand back a
    float64 tensor, a plain tuple, an opaque stand-in, and the new factor would break on them (R24n's h1 to h5). Checked
    on the whole __dict__ at once: the wire bounds what one message holds, not each attribute."""
    if any(type(key) is not str for key in attributes):
        # a key that is not a str is not carried, and then nothing is: dropping it alone would load the rest, a mix
        # of the run's state and the new factor's (R24s's n_nonstr_key_mix kept its last value under the key 0)
        return {str(key)[:100]: wire.Missing(str(key)[:100]) for key in attributes}
    back = wire.decode(wire.encode(attributes))
    back = back if isinstance(back, dict) else {}  # too large a __dict__ arrives opaque: nothing of it is carried
    return {
        key: value if key in back and same(value, back[key]) else wire.Missing(key[:100])
        for key, value in attributes.items()
    }


def same(value, back) -> bool:
    """`back` (what the wire gave back of `value`) is `value`: the same types all the way down, a tensor's dtype and
    shape, equal content (a NaN equal to a NaN). Only the builtin types' own comparisons run, never the student's."""
    import torch

    kind = type(value)
    if kind is not type(back):
        return False
    if kind in (list, tuple):
        return len(value) == len(back) and all(same(a, b) for a, b in zip(value, back))
    if kind is dict:
        return list(value) == list(back) and all(same(value[key], back[key]) for key in value)
    if kind is float:
        return value == back or (math.isnan(value) and math.isnan(back))
    if kind is torch.Tensor:
        return (
            value.dtype == back.dtype
            and value.shape == back.shape
            and not value.requires_grad
            and bool(torch.equal(value.isnan(), back.isnan()))
            and bool(torch.equal(value.nan_to_num(0.0), back.nan_to_num(0.0)))
        )
    return kind in (type(None), bool, int, str) and value == back


class LocalFactors:
    """The requests served in this process (a notebook's kernel): the same replies as the answer's process sends."""

    def __init__(self, factory):
        expect_self_contained(factory, "wsd_factor")
        self.factory = factory
        self.server = FactorServer(factory)

    def ask(self, request: dict) -> dict:
        return self.server.serve(request)

    def restart(self) -> None:
        """New factors from here on; the kernel is one process, so what it remembers stays (the grader starts a new
        one, `lrcourse.grading.autograde.remote`)."""
        self.server = FactorServer(self.factory)
