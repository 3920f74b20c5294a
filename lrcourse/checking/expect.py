"""Readable failures for the exercises' test cells: what was checked, what came out, what to do.

`close` is the one numeric comparison of rates every judge uses; every tolerance is named in
`lrcourse/tolerances.py`, which says what each covers.
"""

from __future__ import annotations

import math
import numbers

import torch

from lrcourse.tolerances import LOSS_RTOL, RATE_ATOL, RATE_RTOL

RELATIVE_TOLERANCE = RATE_RTOL  # the names test cells and tests know
LOSS_TOLERANCE = LOSS_RTOL


def close(actual, expected: float) -> bool:
    """`actual` is a real number (or a one-element tensor) equal to `expected` within RELATIVE_TOLERANCE."""
    if isinstance(actual, torch.Tensor):
        if actual.numel() != 1:
            return False
        actual = actual.item()
    if not isinstance(actual, numbers.Real) or isinstance(actual, bool):
        return False
    actual = float(actual)
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    if math.isinf(expected) or math.isinf(actual):
        return actual == expected
    return math.isclose(actual, expected, rel_tol=RELATIVE_TOLERANCE, abs_tol=RATE_ATOL)


def passed(message: str = "All checks in this cell passed.") -> None:
    """Print a short confirmation (stdout, so it never costs marks)."""
    print(message)


def expect(condition: bool, message: str) -> None:
    """Fail with `message` (what was checked and what to do) unless `condition` holds."""
    if not condition:
        raise AssertionError(message)


def expect_equal(actual, expected, what: str) -> None:
    expect(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def expect_close(actual, expected, what: str, rel_tol: float = RELATIVE_TOLERANCE) -> None:
    """`actual` equals `expected` (a number or a sequence of numbers) to a relative tolerance."""
    if isinstance(expected, (list, tuple)):
        ok = (
            isinstance(actual, (list, tuple))
            and len(actual) == len(expected)
            and all(close(a, e) for a, e in zip(actual, expected))
        )
    else:
        ok = close(actual, expected)
    expect(ok, f"{what}: expected {expected!r}, got {actual!r}")
