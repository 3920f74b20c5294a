"""Exercise 1.2's hidden stability test says what it observes, not a cause it cannot know (issue 23, R23b N4): a rate at
or above 2/a was said to come from "the approximation lr s^2 / 4", which an answer that assumed the run's start (w0 = 3,
the visible test's) got without using it."""

import nbformat
import pytest

from lrcourse import cells
from lrcourse.checking import CheckFailed

from support.paths import ROOT

CH1 = ROOT / "source" / "01_learning_rate" / "learning_rate.ipynb"


def hidden_stability_test() -> str:
    """The cell's helpers and its hidden tests (the visible check before them, on section 1.3's run, left out)."""
    notebook = nbformat.read(CH1, as_version=4)
    [cell] = [c for c in notebook.cells if cells.nbgrader_id(c) == "test_rate_for_noise_floor_stable"]
    helpers = cell.source.split("expect_close(rate_for_noise_floor(100.0")[0]
    hidden = cell.source.split("### BEGIN HIDDEN TESTS\n")[1].split("### END HIDDEN TESTS")[0]
    return helpers + hidden


@pytest.mark.parametrize("rate", [1e3, 4.0])  # far above 2/a, and 2/a itself on the first curvature (0.5)
def test_a_rate_at_or_above_the_bound_is_told_so_and_the_likely_causes(rate):
    import numpy as np

    from lrcourse import problems

    namespace = {"np": np, "problems": problems, "rate_for_noise_floor": lambda target, lr, losses: rate}
    with pytest.raises(CheckFailed) as failed:
        exec(hidden_stability_test(), namespace)
    said = str(failed.value)
    assert f"= {rate!r}, at or above the stability bound 2 / a = 4" in said, said
    assert "Likely causes: the approximation lr s^2 / 4" in said and "a or s read wrongly off the run" in said
    assert "gives a rate that diverges" not in said


def test_a_rate_not_above_zero_is_told_that():
    import numpy as np

    from lrcourse import problems

    namespace = {"np": np, "problems": problems, "rate_for_noise_floor": lambda target, lr, losses: -1.0}
    with pytest.raises(CheckFailed, match=r"= -1.0: a rate must be > 0"):
        exec(hidden_stability_test(), namespace)
