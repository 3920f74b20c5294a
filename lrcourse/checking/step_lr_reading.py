"""Chapter 2's Exercise 2 (b), reading a StepLR's log: the answer is plain data (`step_size`, `gamma` and the rate
set by hand), and each key is checked in its own test cell, so that one slip costs one point.

The expected values are the hidden tests' arguments: this module holds none."""

from __future__ import annotations

from lrcourse.checking.answer_cell_schedulers import expect_no_scheduler_in_answer_cell
from lrcourse.checking.answer_forms import COUNT_FORMS, NUMBER_FORMS, expect_form, is_count, is_number, shown
from lrcourse.checking.expect import close, expect
from lrcourse.checking.saved_answer import saved_in_kernel

KEYS = ("step_size", "gamma", "hand_set_rate")


_FORMS = {
    "step_size": (lambda v: is_count(v, 1), f"step_size must be a whole number >= 1 ({COUNT_FORMS})"),
    "gamma": (lambda v: is_number(v) and v > 0, f"gamma must be a number > 0 ({NUMBER_FORMS})"),
    "hand_set_rate": (lambda v: is_number(v) and v > 0, f"hand_set_rate must be a number > 0 ({NUMBER_FORMS})"),
}


def check_step_reading_form(answer, name: str | None = None) -> dict:
    """The answer is a dict holding `name` (every key of KEYS when None) in the form StepLR and a rate take; each
    cell checks only its own key, so one slip costs one point. In the notebook, first: its cell runs no PyTorch
    scheduler before binding the answer: the grade has none (a replay belongs in a scratch cell, or after the answer)."""
    notebooks = saved_in_kernel("inferred_step_lr")  # the saved notebook, read once for every check below (R23j N3)
    expect_no_scheduler_in_answer_cell("inferred_step_lr", notebooks)
    return expect_form(answer, "inferred_step_lr", _FORMS, name, notebooks)  # as the grader reads it


def check_step_reading(answer, name: str, expected, why: str) -> None:
    """One key of the answer is the log's: a count exactly, a number to a relative 1e-6; `why` (the hidden test's
    explanation) says how the log shows it."""
    answer = check_step_reading_form(answer, name)  # once, whole: what the grader reads (answer_forms.as_sent)
    mine = answer[name]
    same = mine == expected if isinstance(expected, int) else close(mine, expected)
    expect(same, f"{name} = {shown(mine)} is not what this log shows. {why}")
