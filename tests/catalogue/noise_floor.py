"""Exercise 1.2 (`rate_for_noise_floor`) solved numerically, and read in float32 (issue 23, r58a W1).

Its cells judged the floor at the student's rate to 1e-4; near 2 / a the floor moves up to 8e7 times as much as the
rate, so a correct bisection or brentq lost the large-target point. They now judge the rate (lrcourse/tolerances.py
FLOOR_RTOL). The closed form and a fit with 200 halvings are in `early`.
"""

from __future__ import annotations

from catalogue.answers import ALL, Answer, variant
from catalogue.early import FLOOR_REFERENCE

# the closed form's reading of a and s^2 (`early.FLOOR_REFERENCE`, its return left off), in this file's short names
READ = FLOOR_REFERENCE[: FLOOR_REFERENCE.index("    return")].replace("curvature", "a").replace("noise_squared", "s2")

# r58a W1's answer: the floor of section 1.3 solved by halving [0, 2 / a], keeping the floor at most the target
BISECTION = (
    READ
    + """    floor = lambda eta: eta * s2 / (2 * (2 - eta * a))
    low, high = 0.0, 2 / a
    while high - low > 1e-11:
        middle = (low + high) / 2
        low, high = (middle, high) if floor(middle) <= target else (low, middle)
    return low
"""
)

BRENTQ = (
    READ
    + """    from scipy.optimize import brentq

    return brentq(lambda eta: eta * s2 / (2 * (2 - eta * a)) - target, 0.0, 2 / a * (1 - 1e-15))
"""
)


def ch1(name, source, fails=()):
    return Answer(name, "01_learning_rate", "rate_for_noise_floor", source, fails)


NOISE_FLOOR_CORRECT = [
    ch1("floor_bisection_to_1e-11", BISECTION),
    ch1("floor_bisection_to_1e-9", variant(BISECTION, "1e-11", "1e-9")),
    ch1("floor_bisection_to_1e-6", variant(BISECTION, "1e-11", "1e-6")),
    ch1("floor_brentq_at_its_defaults", BRENTQ),
]

NOISE_FLOOR_WRONG = [
    # float32's 7 digits do not survive the differences of nearby losses: the rate up to 9 % off (the text asks for
    # float64); at the large targets only a is read, well enough, so the stable cell passes
    ch1(
        "floor_losses_read_in_float32",
        variant(READ, "float(f) for f in losses[:3]", "float(f) for f in np.asarray(losses[:3], dtype=np.float32)")
        + "    return 4 * target / (s2 + 2 * a * target)\n",
        fails=("test_rate_for_noise_floor",),
    ),
    # all in float32 tensors: on curvature 40 the rate rounds to 2 / a or above, where SGD has no floor
    ch1(
        "floor_float32_tensors",
        """
def rate_for_noise_floor(target, lr, losses):
    f = torch.tensor(losses[:3])
    c = (f[2] - f[1]) / (f[1] - f[0])
    a = (1 - c.sqrt()) / lr
    s2 = 2 * (f[1] - c * f[0]) / (a * lr ** 2)
    return float(4 * target / (s2 + 2 * a * target))
""",
        fails=ALL,
    ),
    # the bisection's upper end: its floor is above the target, and at the largest targets it never leaves 2 / a
    ch1(
        "floor_bisection_returns_the_upper_end",
        variant(BISECTION, "1e-11", "1e-9", "    return low\n", "    return high\n"),
        fails=("test_rate_for_noise_floor_stable",),
    ),
    # stability ignored: the search bracketed by the small-rate rate 4 target / s^2, past 2 / a for large targets,
    # where the floor formula turns negative and so "at most the target"
    ch1(
        "floor_bisection_past_the_stability_bound",
        variant(BISECTION, "low, high = 0.0, 2 / a", "low, high = 0.0, 4 * target / s2"),
        fails=ALL,
    ),
]
