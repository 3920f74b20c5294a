"""How close two numbers must be to count as the same result: every tolerance of the course, in one place.

Two kinds of comparison run in the checks, the grader and the tests:

- **exact** where a quantity is the same on every machine: counts, step numbers, epochs, a training run's
  length, exact ties the exercises test on purpose, integer or string state, and a range test's stop and
  suggestion (tests/test_expected_values.py and tests/test_cpu_margins.py keep every case far from flipping
  them). Rates that PyTorch's schedulers compute in float64 come out the same for one formula (`+ - * /` are
  exact in IEEE 754; `**` and `math.cos` may differ by a unit in the last place between math libraries); the
  checks allow `RATE_RTOL` because a student's correct formula may be another one (a closed form against
  repeated multiplication).
- **toleranced** where a quantity comes from float32 tensor arithmetic (losses, weights, anything trained):
  another processor (another vector width, another order of a reduction) changes it in the last bits, and a
  run that is diverging multiplies that change at every step.

The spreads quoted below were measured with `python scripts/cpu_spread.py`: every case of the training
exercises (visible and hidden) recomputed under PyTorch's ATEN_CPU_CAPABILITY=default and avx2, one and two
threads (no change: the references train in one thread), and MKL's portable path (MKL_CBWR=COMPATIBLE), and
compared with the table of visible cases written on another machine. The catalogue of wrong answers in
tests/catalogue/, graded in the suite, shows each tolerance stays below what a mistake changes.
"""

from __future__ import annotations

# Rates: correct formulas differ by a few units in the last place (~1e-16); a wrong rule by far more than 1e-6.
RATE_RTOL = 1e-6
RATE_ATOL = 1e-12  # a rate that reaches 0 (eta_min=0, a decay to zero) against one that stops at 1e-17

# Chapter 7's factor (`wsd_factor`), which a student may compute in float32 (`torch.as_tensor(step)`, then
# `(1 - t / decay_steps) ** 2`): float32's epsilon 1.2e-7 times a few operations. Measured over every case of the four
# test cells: a correct float32 formula is off by 1.9e-6 at most (1.19e-6 at step 268 of (27, 189, 54), over
# RATE_RTOL); the catalogued wrong answers miss by 0.18 or more (warmup_by_linspace) in the test that must catch them,
# four orders of magnitude above this tolerance.
WSD_RTOL = 1e-5

# Exercise 1.1's bound, read off a run's first two steps: a student may read the path in float32 (`torch.tensor(path)`),
# and `1 - w1 / w0` cancels where lr * a is small, multiplying float32's 6e-8 twenty to fifty times. Measured on the graded
# cases: a correct float32 reading is off by 3.1e-6 at most (lr 0.01, a 2, momentum 0.9), over RATE_RTOL; the
# catalogued wrong answers (momentum ignored, the flattest direction, the sign dropped) miss by 20 % or more.
BOUND_RTOL = 1e-5

# Exercise 1.2's rate (the largest rate whose noise floor is the target), judged as a rate, below 2 / a; not by the
# floor at it, which near 2 / a moves 2 / (2 - rate a) times as much as the rate: 8e7 times at the hidden target 1e6 on
# curvature 40, so a correct numerical solve lost the point (issue 23, r58a W1). Correct float64 answers measured on
# the graded cases (relative error of the rate): the closed form from the first three losses 2e-11, from the last
# three 2.5e-8, a fit over the whole run 3.4e-10, brentq at its defaults 2e-11, a bisection stopped at 1e-9 1.5e-8 and
# one stopped at 1e-6 1.5e-5. The catalogued mistakes miss by 1.5e-3 or more in some case of each cell (the last loss
# taken as the floor; the oscillating root by 0.9, the small-rate approximation by 0.2 or a rate at or above 2 / a).
# Losses read in float32 put the rate up to 9.4e-2 off (np.float32 values; 8.7e-2 through `torch.tensor(losses)`),
# as far as the mistakes: no tolerance tells that from a wrong reading, so the text and the visible check ask for
# float64.
FLOOR_RTOL = 1e-4

# Losses of a training run that does not diverge (chapter 5's per-step loop; a range test up to its lowest
# loss): measured spread 1.1e-7 in chapter 5's cases and 1.8e-6 in a range test's (the table holds
# 2.2474615573883057 for chapter 5's visible case, an AVX-512 Xeon computed 2.2474617958068848). Not
# zeroing or not averaging the gradients changes a loss by 3.7e-4 or more in some case of the cell that
# must catch it; a step weighted by images instead of by batch by 8e-2 in the hidden Adam case (9e-8 across
# capabilities there; 2.9e-5 in the SGD case with a short batch, too near: issue 23, R23c); a wrong smoothing
# by 1e-3 or more before the lowest loss.
LOSS_RTOL = 1e-4
LOSS_ATOL = 1e-7  # a loss that reaches 0 on a batch

# Losses of a range test after its lowest value, where the rate is past the stable bound and every step
# multiplies the previous step's change: measured spread 2.2e-4 (the visible two-group case's stop step).
DIVERGING_LOSS_RTOL = 2e-3

# A fingerprint of trained float32 state (each tensor's sum, relative to the sum of its magnitudes; the range
# test must restore the weights and the optimizer's state): measured spread 7.8e-8 over the graded cases, 1.2e-7 at
# most in every fixture tried. One Adam step at the range test's first rate (1e-5) moves it by 5.3e-5; an SGD step
# at that rate by as little as 1e-9, so a restore one step late is caught by the Adam cases, not the SGD ones.
STATE_RTOL = 1e-6

# Numbers the chapters print, compared between a run and solutions/: a printed decimal stands for any value within
# half a unit of its last digit, so a value on a digit boundary prints as 3.99 on one machine and 4.00 on another;
# beyond that rounding, no printed decimal moved under any arithmetic scripts/cpu_spread.py --notebooks tries
# (chapters 5-6 read their shipped runs), so the allowance is a trained loss's.
PRINTED_RTOL = LOSS_RTOL


def close(actual: float, expected: float, rtol: float, atol: float = 0.0) -> bool:
    """`actual` within `rtol` of `expected` (relative to the larger) or within `atol`; equal infinities and
    two NaNs count as the same, a NaN against a number does not."""
    import math

    if math.isnan(actual) or math.isnan(expected):
        return math.isnan(actual) and math.isnan(expected)
    if math.isinf(actual) or math.isinf(expected):
        return actual == expected
    return math.isclose(actual, expected, rel_tol=rtol, abs_tol=atol)
