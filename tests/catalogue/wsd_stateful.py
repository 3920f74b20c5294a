"""Chapter 7's exercise, `wsd_factor`: correct answers whose factor keeps state between its calls and resumes right all
the same (the others: `wsd`)."""

from __future__ import annotations

from catalogue.answers import Answer

WSD_STATEFUL_CORRECT = [
    Answer(  # R24o: PolynomialLR's way, its last value (a numpy float, not carried) chained by a ratio at the next step,
        # its last step (an int) carried: the saved __dict__ is loaded whole or not at all, so the new factor keeps
        # its own pair (4/6 when only the carried attributes were loaded: the run's last step with the new last value)
        "incremental_like_polynomial_lr",
        "07_practice",
        "wsd_factor",
        """
import numpy as np


class WSD:
    # PolynomialLR's way: the chained ratio when called at the next step, the closed form otherwise

    def __init__(self, warmup_steps, stable_steps, decay_steps, start_factor):
        self.w, self.s, self.d, self.f = warmup_steps, stable_steps, decay_steps, start_factor
        self.last_step, self.last_value = None, None

    def closed_form(self, step):
        if step < self.w:
            return np.float64(self.f + (1 - self.f) * step / self.w)
        if step < self.w + self.s:
            return np.float64(1.0)
        return np.clip((self.w + self.s + self.d - step) / self.d, 0.0, 1.0) ** 2

    def __call__(self, step):
        t = step - self.w - self.s                      # the decay's own step count
        if self.last_step is not None and step == self.last_step + 1 and 0 < t <= self.d:
            value = self.last_value * ((1 - t / self.d) / (1 - (t - 1) / self.d)) ** 2
        else:
            value = self.closed_form(step)
        self.last_step, self.last_value = step, value
        return value


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return WSD(warmup_steps, stable_steps, decay_steps, start_factor)
""",
    ),
    Answer(  # R24s: PolynomialLR's way, its last value kept under the key 0 of __dict__ (LambdaLR's state_dict() saves it):
        # a key that is not a str is not carried, so nothing of the __dict__ is loaded and the new factor keeps its own
        # (4/6 when that key alone was dropped and the rest loaded: the run's last step, no last value of its own)
        "last_value_under_a_key_not_a_str",
        "07_practice",
        "wsd_factor",
        """
class WSD:
    '''PolynomialLR's way (chained at the next step, closed form otherwise), its last value kept under a non-str key
    of __dict__ (a checkpoint of PyTorch's carries it; nothing honest does this).'''

    def __init__(self, warmup_steps, stable_steps, decay_steps, start_factor):
        self.w, self.s, self.d, self.f = warmup_steps, stable_steps, decay_steps, start_factor
        self.last_step = None
        self.__dict__[0] = None

    def closed(self, step):
        if step < self.w:
            return self.f + (1 - self.f) * step / self.w
        if step < self.w + self.s:
            return 1.0
        return max(0.0, 1 - (step - self.w - self.s) / self.d) ** 2

    def __call__(self, step):
        t = step - self.w - self.s
        if self.last_step is not None and step == self.last_step + 1 and 0 < t <= self.d:
            value = self.__dict__[0] * ((1 - t / self.d) / (1 - (t - 1) / self.d)) ** 2
        else:
            value = self.closed(step)
        self.last_step, self.__dict__[0] = step, value
        return value


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return WSD(warmup_steps, stable_steps, decay_steps, start_factor)
""",
    ),
]
