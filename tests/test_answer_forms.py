"""An answer's numbers get one verdict in the student's kernel and on the grader's side, where `lrcourse.wire` hands the
judge plain numbers for numpy scalars (issue 23, R23f: np.int64(4) lost 2 of chapter 4's points in the kernel only)."""

import pytest
import torch

from lrcourse import checking

COUNTS = {"warmup_epochs": 1, "step_size": 2}  # the right recipe's counts (`_recipe_answer`); its rates are compared
# by `close` in every reading, as in chapter 4's recipe


def _recipe_answer(key: str, value):
    """A right recipe (lr=0.1, warmup 1, start_factor 0.5, step_size 2, gamma 0.5) with `key` given as `value`."""
    right = {"lr": 0.1, "warmup_epochs": 1, "start_factor": 0.5, "step_size": 2, "gamma": 0.5}
    return right | {key: value}


def _recipe_forms():
    import fractions

    import numpy as np

    accepted = [("warmup_epochs", v) for v in (1, 1.0, np.int64(1), np.int32(1), np.uint8(1), np.float32(1.0))]
    accepted += [("step_size", v) for v in (np.int64(2), np.float64(2.0), fractions.Fraction(2))]
    accepted += [("gamma", np.float32(0.5)), ("lr", np.float64(0.1)), ("start_factor", fractions.Fraction(1, 2))]
    # a value within float rounding of a count is that count as the grader reads it (`as_sent`), on both sides (R23k:
    # these two failed in the kernel and passed in the grade)
    accepted += [("warmup_epochs", fractions.Fraction(10**20 + 1, 10**20)), ("step_size", np.longdouble(2) + 2**-58)]
    refused = [("warmup_epochs", v) for v in (True, np.bool_(True), 1.5, torch.tensor(1), "1", float("nan"))]
    refused += [("step_size", 2.0000001), ("gamma", torch.tensor(0.5)), ("gamma", float("inf"))]
    return [(key, value, True) for key, value in accepted] + [(key, value, False) for key, value in refused]


@pytest.mark.parametrize("key, value, right", _recipe_forms(), ids=lambda v: repr(v)[:24])
def test_chapter_4s_recipe_reads_a_number_alike_in_the_kernel_and_on_the_grader(key, value, right):
    """Issue 23 (R23f): np.int64(4) lost 2 of 4 points in the student's kernel and none in the grade (the grader's
    stand-in returns what `lrcourse.wire` decodes: plain numbers). Both now read any whole number as a count and any
    finite real as a rate; a bool is no count (True is 1 to Python, yet an answer that returns it counted nothing), a
    tensor no number, on either side."""
    from lrcourse import wire

    def in_kernel(rates):
        return _recipe_answer(key, value)

    def on_grader(rates):  # what `RemoteTarget.__call__` returns for the same answer
        return wire.decode(wire.encode(_recipe_answer(key, value)))

    verdicts = []
    for reader in (in_kernel, on_grader):
        try:
            checking.check_recipe(reader, lr=0.1, warmup=1, start_factor=0.5, step_size=2, gamma=0.5)
            verdicts.append(True)
        except checking.CheckFailed:
            verdicts.append(False)
    assert verdicts == [right, right]


@pytest.mark.parametrize("key, value, right", _recipe_forms(), ids=lambda v: repr(v)[:24])
def test_every_answer_form_reads_alike_in_the_kernel_and_on_the_grader(key, value, right):
    """The forms chapters 2 and 3's readings and chapter 3's stalled run share (`answer_forms`): each value gets
    the verdict its wire-decoded copy gets on the grader's side."""
    from lrcourse import wire
    from lrcourse.checking.answer_forms import is_count, is_number

    decoded = wire.decode(wire.encode(value))
    assert is_count(value, 1) == is_count(decoded, 1)
    assert is_number(value) == is_number(decoded)


@pytest.mark.parametrize(
    "key, value, right", [form for form in _recipe_forms() if form[0] in COUNTS], ids=lambda v: repr(v)[:24]
)
def test_a_reading_of_a_log_judges_a_value_alike_in_the_kernel_and_on_the_grader(key, value, right):
    """Chapter 2's StepLR reading and chapter 3's plateau reading compare the value itself too (not only its form):
    the kernel's verdict is the grader's on the wire-decoded copy (R23k: an exact comparison in the kernel failed
    what the grader, reading float(value), passed)."""
    from lrcourse import wire
    from lrcourse.checking.plateau_reading import check_argument
    from lrcourse.checking.step_lr_reading import check_step_reading

    expected = COUNTS[key]
    readings = {
        "step": lambda v: check_step_reading(
            {"step_size": v, "gamma": 0.5, "hand_set_rate": 0.1}, "step_size", expected, ""
        ),
        "plateau": lambda v: check_argument(_plateau(v), "patience", expected, ""),
    }
    for reading in readings.values():
        verdicts = []
        for form in (value, wire.decode(wire.encode(value))):
            try:
                reading(form)
                verdicts.append(True)
            except AssertionError:
                verdicts.append(False)
        assert verdicts[0] == verdicts[1], (reading, verdicts)


def _plateau(patience) -> dict:
    return {
        "mode": "min",
        "factor": 0.5,
        "patience": patience,
        "cooldown": 0,
        "threshold": 1e-4,
        "threshold_mode": "rel",
        "threshold_range": (0.0, 0.1),
    }


def test_chapter_4s_recipe_names_a_count_in_the_wrong_form_as_such():
    """R23k: a tensor(4) count read "your warmup_epochs is tensor(4), the log was made with 4": the form is named."""
    answer = _recipe_answer("warmup_epochs", torch.tensor(1))
    with pytest.raises(
        checking.CheckFailed,
        match=r"your warmup_epochs must be a whole number >= 1 \(such as 4, or "
        r"4.0\); yours is tensor\(1\)",
    ):
        checking.check_recipe(lambda rates: answer, lr=0.1, warmup=1, start_factor=0.5, step_size=2, gamma=0.5)
