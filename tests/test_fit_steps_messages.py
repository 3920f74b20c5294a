"""Chapter 5's exercise: the visible tests' messages say what went wrong and its likely cause, but never the number
of optimizer steps the run makes, nor the formula for it: working that out is the exercise (issue 23, R23c M1)."""

import pytest

from lrcourse.checking.expect import CheckFailed
from lrcourse.checking.fit_steps import StepsRun, expect_sized, expect_step_count

PAYLOAD = {"epochs": 3, "batches": 9, "accumulation": 4}  # 3 x ceil(9 / 4) = 9 optimizer steps


def run(sizes: list, steps: int) -> StepsRun:
    return StepsRun(PAYLOAD, "fit_per_step(...)", {}, [0.1] * steps, sizes, observation={})


@pytest.mark.parametrize("size", [27, 6, 3])  # one per batch, leftovers dropped, one per epoch
def test_a_wrong_size_names_its_cause_and_not_the_answer(size):
    with pytest.raises(CheckFailed) as wrong:
        expect_sized(run([size], 9), 9)
    message = str(wrong.value)
    assert f"total_steps = {size}" in message and "not the number of optimizer steps" in message
    assert "ceil" not in message and " 9 " not in message and "= 9" not in message
    assert "per batch" in message or "leftover" in message or "per epoch" in message


def test_a_wrong_step_count_names_its_cause_and_not_the_answer():
    with pytest.raises(CheckFailed) as wrong:
        expect_step_count(run([9], 27), 9)
    message = str(wrong.value)
    assert "stepped 27 times" in message and "one per batch" in message
    assert "ceil" not in message and "= 9" not in message
    expect_sized(run([9], 9), 9)  # the right size passes
    expect_step_count(run([9], 9), 9)
