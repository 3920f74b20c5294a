"""Compare what two runs of a notebook printed: the words exactly, the numbers within what another CPU may change.

A seeded run repeats bit for bit on one machine, but float32 training on another processor (another vector
width, another thread count) differs in the last bits, and a printed `3.99` can become `4.00`. So two
printed texts agree when they split into the same words and the same count of numbers, every integer is equal
(a count, a step, an epoch: a flip there is a changed result, not rounding) and the values behind two decimal
numbers may be one result: each printed decimal stands for any value within half a unit of the finer of the
two last digits (`3.99` for 3.985 to 3.995; `0.5` against `0.55` is read at 0.01, since a `:g` print drops
trailing zeros), and the two ranges, widened by `tolerances.PRINTED_RTOL`, overlap.
"""

from __future__ import annotations

import math
import re

from lrcourse.tolerances import PRINTED_RTOL

# a number standing alone: not part of a name (x2), and a full stop after it may end the sentence
NUMBER = re.compile(r"(?<![\w.])([-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf))(?!\w|\.\d)")


def split(text: str) -> tuple[list[str], list[str]]:
    """The words between the numbers, and the numbers as printed."""
    parts = NUMBER.split(text)
    return parts[0::2], parts[1::2]


def last_digit(printed: str) -> float:
    """One unit of the last printed digit: 0.01 for '3.99', 1e-07 for '1.23e-05'."""
    mantissa, _, exponent = printed.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def is_integer(printed: str) -> bool:
    return not any(mark in printed.lower() for mark in (".", "e", "nan", "inf"))


def number_difference(mine: str, theirs: str) -> float | None:
    """How far apart two printed numbers are, relative to the larger, or None when the values behind them may
    be the same result: each printed value stands for anything within half a unit of the finer of the two last
    digits, and those two ranges, widened by `PRINTED_RTOL`, overlap."""
    if is_integer(mine) or is_integer(theirs):
        return None if mine.lstrip("+") == theirs.lstrip("+") else math.inf  # a count, or 4 against 4.0
    a, b = float(mine), float(theirs)
    if a == b or (math.isnan(a) and math.isnan(b)):
        return None
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    gap, scale = abs(a - b), max(abs(a), abs(b))
    if gap <= min(last_digit(mine), last_digit(theirs)) + PRINTED_RTOL * scale:
        return None
    return gap / scale


def differences(mine: str, theirs: str) -> list[str]:
    """What differs between two printed texts beyond what another CPU may change (empty when they agree)."""
    words, numbers = split(mine)
    their_words, their_numbers = split(theirs)
    if words != their_words or len(numbers) != len(their_numbers):
        return [f"the text differs:\n{mine!r}\n{theirs!r}"]
    return [f"{a} vs {b}" for a, b in zip(numbers, their_numbers) if number_difference(a, b) is not None]


def largest_relative_change(mine: str, theirs: str) -> float:
    """The largest relative change of a decimal number between two texts of the same words (for measuring)."""
    _, numbers = split(mine)
    _, their_numbers = split(theirs)
    changes = [
        abs(float(a) - float(b)) / max(abs(float(a)), abs(float(b)))
        for a, b in zip(numbers, their_numbers)
        if not is_integer(a) and float(a) != float(b) and math.isfinite(float(a) + float(b))
    ]
    return max(changes, default=0.0)
