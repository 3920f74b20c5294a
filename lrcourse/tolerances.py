"""How close two numbers must be to count as the same result: every tolerance of the course, in one place.

Two kinds of comparison run in the checks, the grader and the tests:

- **exact** where a quantity is the same on every IEEE-754 machine: counts, step numbers, epochs, a
  training run's length, exact ties the exercises test on purpose, and integer or string state. A rate
  that PyTorch's schedulers compute in float64 Python arithmetic is reproduced to the last bit by the same
  formula; the checks still allow `RATE_RTOL` because a student's correct formula may be another one
  (a closed form against repeated multiplication, `math.cos` against a recurrence).
- **toleranced** where a quantity comes from float32 tensor arithmetic (losses, weights, anything trained):
  another processor (another vector width, another order of a reduction, another thread count) changes it
  in the last bits, and a run that is diverging multiplies that change at every step.

The spreads quoted below are the largest relative changes `python scripts/cpu_spread.py` measured
when every case of the training exercises (visible and hidden) was recomputed under PyTorch's
ATEN_CPU_CAPABILITY=default and avx2 and under one and two threads, and against the table written on
another machine (an AVX-512 one); each tolerance keeps a margin of about ten above what was seen, and stays
far below the smallest change a wrong answer makes (the catalogue in tests/implementations.py proves that).
"""

from __future__ import annotations

# Rates and other float64 results of PyTorch's schedulers: the same on every machine for one formula;
# correct formulas differ by a few units in the last place (~1e-16), a wrong rule by far more than 1e-6.
RATE_RTOL = 1e-6
RATE_ATOL = 1e-12  # a rate that reaches 0 (eta_min=0, a decay to zero) against one that stops at 1e-17

# Losses of a training run that converges (chapter 5's per-step loop, the range test before it diverges):
# measured spread 1.1e-7 (OneCycleLR, Adam, accumulation 4: 2.2474615573883057 written on an AVX-512
# machine, 2.2474617958068848 under ATEN_CPU_CAPABILITY=default); forgetting to zero the gradients or to
# average them changes a loss by percents.
LOSS_RTOL = 1e-4
LOSS_ATOL = 1e-7  # a loss that reaches 0 on a batch

# Losses of a run that is diverging: the range test's last steps, where the rate is past the stable
# bound and each step multiplies the previous step's error. Measured spread 2.2e-4 at the stop step of the
# visible two-group case (Adam, end_lr=10); a wrong smoothing or bias correction changes it by percents.
DIVERGING_LOSS_RTOL = 2e-3

# Numbers the chapters print, compared between a run and solutions/: the printed value is rounded, so a
# number that sits on a digit boundary moves by one unit of its last printed digit (3.99 against 4.00);
# beyond that, a trained number may move by this much.
PRINTED_RTOL = DIVERGING_LOSS_RTOL


def close(actual: float, expected: float, rtol: float, atol: float = 0.0) -> bool:
    """`actual` within `rtol` of `expected` (relative to the larger) or within `atol`; equal infinities and
    two NaNs count as the same, a NaN against a number does not."""
    import math

    if math.isnan(actual) or math.isnan(expected):
        return math.isnan(actual) and math.isnan(expected)
    if math.isinf(actual) or math.isinf(expected):
        return actual == expected
    return math.isclose(actual, expected, rel_tol=rtol, abs_tol=atol)
