"""Readable failures for the exercises' test cells: what was checked, what came out, what to do.

Every check fails with `CheckFailed` (an AssertionError, so nbgrader and the grader score it as any failed
assertion), whose message is the whole story: in a learner's kernel it shows as the test cell's own line and
`CheckFailed: <the message>`, none of the checker's frames (`lrcourse.kernel_messages`). A check of an answer
still unwritten (it raised the stub's NotImplementedError) fails with `NotAnswered`, one line in the kernel.

`close` is the one numeric comparison of rates every judge uses; every tolerance is named in
`lrcourse/tolerances.py`, which says what each covers.
"""

from __future__ import annotations

import math
import numbers

import torch

from lrcourse import kernel_messages
from lrcourse.tolerances import RATE_ATOL, RATE_RTOL


class CheckFailed(AssertionError):
    """A check's verdict: the message says what was checked, what differs and what to do."""

    def _render_traceback_(self) -> list[str]:  # IPython's hook: the learner's frames and the message
        return kernel_messages.check_traceback(self)


class NotAnswered(CheckFailed):
    """A check of an exercise whose answer is still the stub: its message is the full story (for the grader's
    records), the kernel shows one line."""

    def __init__(self, exercise: str, message: str):
        super().__init__(message)
        self.exercise = exercise

    def _render_traceback_(self) -> list[str]:
        return [kernel_messages.unanswered(self.exercise)]


def answer_raised(exercise: str, error: BaseException, message: str) -> CheckFailed:
    """The failure of a check whose answer raised `error`: NotAnswered if that is the stub's NotImplementedError."""
    return NotAnswered(exercise, message) if isinstance(error, NotImplementedError) else CheckFailed(message)


def close(actual, expected: float, rel_tol: float = RATE_RTOL) -> bool:
    """`actual` is a real number (or a one-element tensor) equal to `expected` within `rel_tol` (RATE_RTOL unless
    an exercise's reading needs more, lrcourse/tolerances.py)."""
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
    return math.isclose(actual, expected, rel_tol=rel_tol, abs_tol=RATE_ATOL)


def passed(message: str = "All checks in this cell passed.") -> None:
    """Print a short confirmation (stdout, so it never costs marks)."""
    print(message)


def expect(condition: bool, message: str) -> None:
    """Fail with `message` (what was checked and what to do) unless `condition` holds."""
    if not condition:
        raise CheckFailed(message)


def expect_equal(actual, expected, what: str) -> None:
    expect(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def _type_name(value) -> str:
    """The type of the student's value: an opaque one (`lrcourse.wire.Opaque`, what the grader reads of an object)
    by the type the student's value had."""
    from lrcourse import wire

    if isinstance(value, wire.Opaque):
        return value.type_name
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def expect_close(actual, expected, what: str, rel_tol: float = RATE_RTOL) -> None:
    """`actual` equals `expected` (a number or a sequence of numbers) to a relative tolerance; an answer that is not
    a number (a numpy array, say, even of one value) is told so, not that its value is wrong."""
    if isinstance(expected, (list, tuple)):
        ok = (
            isinstance(actual, (list, tuple))
            and len(actual) == len(expected)
            and all(close(a, e, rel_tol) for a, e in zip(actual, expected))
        )
    else:
        expect(
            isinstance(actual, (numbers.Real, torch.Tensor)) and not isinstance(actual, bool),
            f"{what}: expected a number (a float), got {actual!r}, of type {_type_name(actual)}: return float(...) of it",
        )
        ok = close(actual, expected, rel_tol)
    expect(ok, f"{what}: expected {expected!r}, got {actual!r}")
