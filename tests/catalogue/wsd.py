"""Chapter 7's exercise, `wsd_factor`: correct answers written differently (the mistakes: `wsd_wrong`; PyTorch's
SequentialLR read off instead of a factor computed: `wsd_dodges`)."""

from __future__ import annotations

from catalogue.answers import Answer, variant
from catalogue.wsd_slow import WSD_SLOW_CORRECT
from catalogue.wsd_stateful import WSD_STATEFUL_CORRECT

WSD_REFERENCE = """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps

    def factor(step):
        if step < warmup_steps:
            return start_factor + (1 - start_factor) * step / warmup_steps
        if step < warmup_steps + stable_steps:
            return 1.0
        return max(0.0, (total - step) / decay_steps) ** 2

    return factor
"""


def wsd(name, source, fails=(), score=None, or_fails=()):
    return Answer(name, "07_practice", "wsd_factor", source, fails, score, or_fails)


def wsd_variant(*replacements: str) -> str:
    return variant(WSD_REFERENCE, *replacements)


WSD_CORRECT = (
    [
        wsd("branches", WSD_REFERENCE),
        wsd(
            "min_of_the_three_lines",
            """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps
    # the warm-up's line, the peak and the decay's parabola: the schedule is the lowest of the three
    return lambda step: min(start_factor + (1 - start_factor) * step / warmup_steps, 1.0,
                            max(0.0, (total - step) / decay_steps) ** 2)
""",
        ),
        wsd(
            "callable_object",
            """
class WSD:
    def __init__(self, warmup_steps, stable_steps, decay_steps, start_factor):
        self.warmup, self.decay_start = warmup_steps, warmup_steps + stable_steps
        self.decay, self.start = decay_steps, start_factor

    def __call__(self, step):
        if step < self.warmup:
            return self.start + (1 - self.start) * step / self.warmup
        if step < self.decay_start:
            return 1.0
        return max(0.0, 1 - (step - self.decay_start) / self.decay) ** 2


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return WSD(warmup_steps, stable_steps, decay_steps, start_factor)
""",
        ),
        wsd(
            "numpy_interpolation",
            """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    decay_start = warmup_steps + stable_steps

    def factor(step):
        warm = np.interp(step, [0, warmup_steps], [start_factor, 1.0])
        ahead = np.interp(step, [decay_start, decay_start + decay_steps], [1.0, 0.0])  # the decay's share still ahead
        return float(min(warm, ahead ** 2))

    return factor
""",
        ),
        wsd(
            "partial_of_a_function",
            """
import functools


def wsd_at(step, warmup_steps, stable_steps, decay_steps, start_factor):
    if step <= warmup_steps:
        return start_factor + (1 - start_factor) * min(step, warmup_steps) / warmup_steps
    decayed = step - warmup_steps - stable_steps
    return 1.0 if decayed <= 0 else max(0.0, 1.0 - decayed / decay_steps) ** 2


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return functools.partial(wsd_at, warmup_steps=warmup_steps, stable_steps=stable_steps,
                             decay_steps=decay_steps, start_factor=start_factor)
""",
        ),
        wsd(  # np.where returns a 0-d ndarray, not a float: a number all the same
            "numpy_where",
            """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps
    return lambda step: np.where(step < warmup_steps, start_factor + (1 - start_factor) * step / warmup_steps,
                                 np.clip((total - step) / decay_steps, 0.0, 1.0) ** 2)
""",
        ),
        wsd(  # PolynomialLR's own formula, its count restarted at the milestone and held at total_iters
            "polynomial_lr_s_formula",
            """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    def factor(step):
        if step < warmup_steps:
            return start_factor + (1 - start_factor) * step / warmup_steps
        counted = min(max(step - warmup_steps - stable_steps, 0), decay_steps)
        return (1 - counted / decay_steps) ** 2

    return factor
""",
        ),
        wsd(  # the same in float32 (an int64 tensor divided gives float32): off by 1.9e-6 at most, within WSD_RTOL
            # (reviewer's torch_as_tensor_int_step, issue 24)
            "float32_tensor_arithmetic",
            """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    def factor(step):
        step = torch.as_tensor(step)
        if step < warmup_steps:
            return start_factor + (1 - start_factor) * step / warmup_steps
        t = (step - warmup_steps - stable_steps).clamp(0, decay_steps)
        return (1 - t / decay_steps) ** 2

    return factor
""",
        ),
        wsd(  # reviewer R24d's correct variants (issue 24): a cache, ints, PyTorch's own chained ratios, frozen dataclass
            "lru_cached_closure",
            """
import functools


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    @functools.lru_cache(maxsize=None)
    def factor(step):
        if step < warmup_steps:
            return start_factor + (1 - start_factor) * step / warmup_steps
        if step < warmup_steps + stable_steps:
            return 1.0
        return max(0.0, (warmup_steps + stable_steps + decay_steps - step) / decay_steps) ** 2

    return factor
""",
        ),
        wsd(
            "ints_returned",
            """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps

    def factor(step):
        if step < warmup_steps:
            return start_factor + (1 - start_factor) * step / warmup_steps
        if step < warmup_steps + stable_steps:
            return 1
        if step >= total:
            return 0
        return ((total - step) / decay_steps) ** 2

    return factor
""",
        ),
        wsd(  # the products of PyTorch's chained ratios, recomputed from the step at every call: a pure function still
            "chained_ratios_recomputed",
            """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    def factor(step):
        if step < warmup_steps:
            x = start_factor
            for e in range(1, step + 1):
                x *= 1.0 + (1 - start_factor) / (warmup_steps * start_factor + (e - 1) * (1 - start_factor))
            return x
        if step < warmup_steps + stable_steps:
            return 1.0
        x = 1.0
        for e in range(1, min(step - warmup_steps - stable_steps, decay_steps) + 1):
            x *= ((1.0 - e / decay_steps) / (1.0 - (e - 1) / decay_steps)) ** 2
        return x

    return factor
""",
        ),
        wsd(
            "frozen_dataclass",
            """
import dataclasses


@dataclasses.dataclass(frozen=True)
class WSD:
    warmup: int
    stable: int
    decay: int
    start: float

    def __call__(self, step):
        if step < self.warmup:
            return self.start + (1 - self.start) * step / self.warmup
        t = min(max(step - self.warmup - self.stable, 0), self.decay)
        return (1 - t / self.decay) ** 2


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return WSD(warmup_steps, stable_steps, decay_steps, start_factor)
""",
        ),
        wsd(  # a callable object holding a lambda: LambdaLR's state_dict() copies its __dict__, lambda included
            "object_holding_a_lambda",
            """
class WSD:
    def __init__(self, warmup_steps, stable_steps, decay_steps, start_factor):
        self.warm = lambda step: start_factor + (1 - start_factor) * step / warmup_steps
        self.warmup, self.stable, self.decay = warmup_steps, stable_steps, decay_steps

    def __call__(self, step):
        if step < self.warmup:
            return self.warm(step)
        return max(0.0, min(1.0, (self.warmup + self.stable + self.decay - step) / self.decay)) ** 2


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return WSD(warmup_steps, stable_steps, decay_steps, start_factor)
""",
        ),
        wsd(  # numpy float32: within WSD_RTOL of PyTorch's at every step, run or stepped out of order (R24k)
            "numpy_float32_factor",
            """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps

    def factor(step):
        if step < warmup_steps:
            return np.float32(start_factor + (1 - start_factor) * step / warmup_steps)
        if step < warmup_steps + stable_steps:
            return np.float32(1.0)
        return np.float32(max(0.0, (total - step) / decay_steps) ** 2)

    return factor
""",
        ),
        wsd(  # R24n's h1: a list of (end, lambda) pieces; the wire would hand it back changed, so it is not sent and the new factor keeps its own
            "object_holding_lambdas_in_a_list",
            """
class WSD:
    def __init__(self, warmup_steps, stable_steps, decay_steps, start_factor):
        w, s, d, f = warmup_steps, stable_steps, decay_steps, start_factor
        self.pieces = [
            (w, lambda t: f + (1 - f) * t / w),
            (w + s, lambda t: 1.0),
            (w + s + d, lambda t: ((w + s + d - t) / d) ** 2),
        ]

    def __call__(self, step):
        for end, piece in self.pieces:
            if step < end:
                return piece(step)
        return 0.0


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return WSD(warmup_steps, stable_steps, decay_steps, start_factor)
""",
        ),
        wsd(  # R24n's h2: a tuple of (end, bound method) phases; the wire would hand it back changed, so it is not sent and the new factor keeps its own
            "object_holding_bound_methods_in_a_tuple",
            """
class WSD:
    def __init__(self, warmup_steps, stable_steps, decay_steps, start_factor):
        self.warmup, self.stable, self.decay, self.start = warmup_steps, stable_steps, decay_steps, start_factor
        total = warmup_steps + stable_steps + decay_steps
        self.phases = ((warmup_steps, self._warm), (warmup_steps + stable_steps, self._stable), (total, self._decay))

    def _warm(self, step):
        return self.start + (1 - self.start) * step / self.warmup

    def _stable(self, step):
        return 1.0

    def _decay(self, step):
        total = self.warmup + self.stable + self.decay
        return max(0.0, (total - step) / self.decay) ** 2

    def __call__(self, step):
        for end, phase in self.phases:
            if step < end:
                return phase(step)
        return 0.0


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return WSD(warmup_steps, stable_steps, decay_steps, start_factor)
""",
        ),
        wsd(  # R24n's h3: its phase boundaries in an int64 tensor; the wire would hand it back changed, so it is not sent and the new factor keeps its own
            "object_holding_an_int64_tensor",
            """
import torch


class WSD:
    def __init__(self, warmup_steps, stable_steps, decay_steps, start_factor):
        self.bounds = torch.tensor([warmup_steps, warmup_steps + stable_steps, warmup_steps + stable_steps + decay_steps])
        self.start = start_factor
        self.decay_table = [((decay_steps - k) / decay_steps) ** 2 for k in range(decay_steps + 1)]

    def __call__(self, step):
        warm, stable_end, total = self.bounds.tolist()
        if step < warm:
            return self.start + (1 - self.start) * step / warm
        if step < stable_end:
            return 1.0
        if step < total:
            return self.decay_table[step - stable_end]
        return 0.0


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return WSD(warmup_steps, stable_steps, decay_steps, start_factor)
""",
        ),
        wsd(  # R24n's h4: numpy values: an array in a dict, a float32; the wire would hand it back changed, so it is not sent and the new factor keeps its own
            "object_holding_a_numpy_array_in_a_dict",
            """
import numpy as np


class WSD:
    def __init__(self, warmup_steps, stable_steps, decay_steps, start_factor):
        self.ends = np.cumsum([warmup_steps, stable_steps, decay_steps])
        self.start = np.float32(start_factor)
        self.config = {"ends": self.ends, "decay": decay_steps}

    def __call__(self, step):
        w, ws, total = self.config["ends"]
        if step < w:
            return self.start + (1 - self.start) * step / w
        if step < ws:
            return np.float32(1.0)
        return np.float32(max(0.0, (total - step) / self.config["decay"]) ** 2)


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return WSD(warmup_steps, stable_steps, decay_steps, start_factor)
""",
        ),
        wsd(  # R24n's h5: its lengths in a namedtuple; the wire would hand it back changed, so it is not sent and the new factor keeps its own
            "object_holding_a_namedtuple",
            """
from collections import namedtuple

Phases = namedtuple("Phases", "warmup stable decay")


class WSD:
    def __init__(self, warmup_steps, stable_steps, decay_steps, start_factor):
        self.phases = Phases(warmup_steps, stable_steps, decay_steps)
        self.start = start_factor

    def __call__(self, step):
        p = self.phases
        if step < p.warmup:
            return self.start + (1 - self.start) * step / p.warmup
        if step < p.warmup + p.stable:
            return 1.0
        return max(0.0, (p.warmup + p.stable + p.decay - step) / p.decay) ** 2


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return WSD(warmup_steps, stable_steps, decay_steps, start_factor)
""",
        ),
    ]
    + WSD_STATEFUL_CORRECT
    + WSD_SLOW_CORRECT
)
