"""`expect_close`, the comparison most exercise checks use: a value that is not a number is told so, and an
exercise's own tolerance is honoured (R23c: Exercise 1.2's 0-d array message and its thin 1e-6 margin)."""

import numpy as np
import pytest

from lrcourse import checking
from lrcourse.tolerances import FLOOR_RTOL, RATE_RTOL


def test_a_right_value_that_is_not_a_float_is_told_so_not_that_it_is_wrong():
    with pytest.raises(checking.CheckFailed, match=r"got array\(0\.5\), of type numpy.ndarray: return float\(\.\.\.\)"):
        checking.expect_close(np.array(0.5), 0.5, "a rate")
    with pytest.raises(checking.CheckFailed, match=r"got '0.5', of type str"):
        checking.expect_close("0.5", 0.5, "a rate")
    checking.expect_close(np.float64(0.5), 0.5, "a rate")  # a float subclass is a float


def test_an_exercise_tolerance_is_honoured_and_the_default_stays_the_rates():
    off = 1.0 + 100 * RATE_RTOL
    checking.expect_close(off, 1.0, "a floor", rel_tol=FLOOR_RTOL)
    checking.expect_close([off], [1.0], "floors", rel_tol=FLOOR_RTOL)
    with pytest.raises(checking.CheckFailed, match="a rate: expected 1.0, got 1.0001"):
        checking.expect_close(off, 1.0, "a rate")
