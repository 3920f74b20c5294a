"""Answers that are plain data read off a log (chapter 2's StepLR log, chapter 3's ReduceLROnPlateau run): a dict
whose keys each take a form, checked one key per test cell so that one slip costs one point."""

from __future__ import annotations

import math
import numbers

from lrcourse.checking.expect import expect


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def is_count(value, least: int) -> bool:
    """A whole number >= `least`: an int, a numpy integer or a whole float (the schedulers count with any of them)."""
    whole = isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer())
    return whole and not isinstance(value, bool) and value >= least


def expect_form(answer, variable: str, forms: dict, name: str | None = None) -> None:
    """`answer` (the student's `variable`) is a dict holding `name` (every key of `forms` when None), each in the
    form its `forms[key] = (test, words)` says."""
    names = tuple(forms) if name is None else (name,)
    missing = [key for key in names if not isinstance(answer, dict) or key not in answer]
    expect(
        not missing,
        f"{variable} must be a dict with the keys {list(forms)}"
        + (f"; yours has {sorted(map(str, answer))}" if isinstance(answer, dict) else ""),
    )
    for key in names:
        test, words = forms[key]
        expect(test(answer[key]), f"{words}; yours is {answer[key]!r}")
