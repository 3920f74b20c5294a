"""Chapter 2's Exercise 2 (b), reading a StepLR's log: the answer is plain data (`step_size`, `gamma` and the rate
set by hand), and each key is checked in its own test cell, so that one slip costs one point.

The expected values are the hidden tests' arguments: this module holds none."""

from __future__ import annotations

import math
import numbers

from lrcourse.checking.expect import close, expect

KEYS = ("step_size", "gamma", "hand_set_rate")


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _positive_count(value) -> bool:
    """A whole number >= 1: an int, a numpy integer or a whole float (StepLR counts steps with any of them)."""
    whole = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
    return whole and not isinstance(value, bool) and value >= 1


_FORMS = {
    "step_size": (_positive_count, "step_size must be a whole number >= 1"),
    "gamma": (lambda v: _number(v) and v > 0, "gamma must be a number > 0"),
    "hand_set_rate": (lambda v: _number(v) and v > 0, "hand_set_rate must be a number > 0"),
}


def check_step_reading_form(answer, name: str | None = None) -> None:
    """The answer is a dict holding `name` (every key of KEYS when None) in the form StepLR and a rate take; each
    cell checks only its own key, so one slip costs one point."""
    names = KEYS if name is None else (name,)
    missing = [key for key in names if not isinstance(answer, dict) or key not in answer]
    expect(
        not missing,
        f"inferred_step_lr must be a dict with the keys {list(KEYS)}"
        + (f"; yours has {sorted(map(str, answer))}" if isinstance(answer, dict) else ""),
    )
    for key in names:
        test, words = _FORMS[key]
        expect(test(answer[key]), f"{words}; yours is {answer[key]!r}")


def check_step_reading(answer, name: str, expected, why: str) -> None:
    """One key of the answer is the log's: a count exactly, a number to a relative 1e-6; `why` (the hidden test's
    explanation) says how the log shows it."""
    check_step_reading_form(answer, name)
    mine = answer[name]
    same = mine == expected if isinstance(expected, int) else close(mine, expected)
    expect(same, f"{name} = {mine!r} is not what this log shows. {why}")
