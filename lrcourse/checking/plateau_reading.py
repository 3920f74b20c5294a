"""Chapter 3's Exercise 3.4, reading a run: the answers are plain data (arguments inferred from a logged run, the
range of thresholds the log allows, a loop named for each log), so the judges compare values, one argument or one
log at a time (each earns its own point).

The expected values are the hidden tests' arguments: this module holds none."""

from __future__ import annotations

from lrcourse.checking.answer_cell_schedulers import expect_no_scheduler_in_answer_cell
from lrcourse.checking.answer_forms import COUNT_FORMS, NUMBER_FORMS, as_sent, expect_form, is_count, is_number, shown
from lrcourse.checking.expect import close, expect
from lrcourse.checking.saved_answer import saved_in_kernel
from lrcourse.checking.self_contained import expect_data_self_contained

ARGUMENTS = ("factor", "patience", "cooldown", "threshold_mode", "threshold_range")
LOOP_NAMES = ("correct", "training loss", "one epoch late", "accuracy")


def _pair(value) -> list | None:
    """The two ends of a range given as a list or tuple of two, else None. Not a numpy array: the trusted verdict
    sees the answer through lrcourse.wire, where an array has no plain form, so accepting one here would pass in
    the notebook and fail in the grade; the message says to write a list or tuple."""
    if type(value) not in (list, tuple) or len(value) != 2:
        return None
    return list(value)


_FORMS = {
    "factor": (lambda v: is_number(v) and 0 < v < 1, f"factor must be a number between 0 and 1 ({NUMBER_FORMS})"),
    "patience": (lambda v: is_count(v, 0), f"patience must be a whole number >= 0 ({COUNT_FORMS})"),
    "cooldown": (lambda v: is_count(v, 0), f"cooldown must be a whole number >= 0 ({COUNT_FORMS})"),
    "threshold_mode": (lambda v: v in ("rel", "abs"), 'threshold_mode must be "rel" or "abs"'),
    "threshold_range": (
        lambda v: _pair(v) is not None and all(is_number(end) and end >= 0 for end in _pair(v)),
        f"threshold_range must be a list or tuple (low, high) of two numbers >= 0 ({NUMBER_FORMS})",
    ),
}


def check_reading_form(arguments, name: str | None = None) -> dict:
    """The inferred arguments are a dict holding `name` (every key of ARGUMENTS when None) in a form
    ReduceLROnPlateau accepts; each cell checks only its own key, so one slip costs one point. In the notebook, first:
    its cell runs no PyTorch scheduler before binding the answer: the grade has none (a replay belongs in a scratch
    cell, or after the answer)."""
    notebooks = saved_in_kernel("inferred_plateau_arguments")  # read once for every check below (R23j N3)
    expect_no_scheduler_in_answer_cell("inferred_plateau_arguments", notebooks)
    return expect_form(arguments, "inferred_plateau_arguments", _FORMS, name, notebooks)  # as the grader reads it


def check_argument(arguments, name: str, expected, why: str) -> None:
    """One inferred argument is the run's: `why` says how the log shows it (the hidden test's explanation)."""
    arguments = check_reading_form(arguments, name)  # once, whole: what the grader reads (as_sent), a str's value too
    mine = arguments[name]
    same = mine == expected if isinstance(expected, (str, int)) else close(mine, expected)
    expect(same, f"{name} = {shown(mine)} is not what this run used. {why}")


def check_range_end(arguments, end: str, expected: float, why: str) -> None:
    """One end ("low" or "high") of the threshold range is the log's, to a relative 1e-6: the loss that decides it
    gives it exactly, which a grid over thresholds does not."""
    arguments = check_reading_form(arguments, "threshold_range")  # once, whole: what the grader reads
    mine = _pair(arguments["threshold_range"])[("low", "high").index(end)]
    expect(close(mine, expected), f"the {end} end of threshold_range, {mine!r}, is not where the log puts it. {why}")


def check_diagnosis_form(diagnosis, logs=("A", "B", "C", "D")) -> dict:
    """One loop named for each log, from LOOP_NAMES, each loop once, as the grader reads the answer (`as_sent`: a str
    subclass equal to everything is its plain text there); that answer is returned. In the notebook, first: its cell
    runs no PyTorch scheduler before binding the answer (a replay of the four loops belongs in a scratch cell)."""
    notebooks = saved_in_kernel("diagnosed_loops")  # the saved notebook, read once for both checks (R23j N3)
    expect_no_scheduler_in_answer_cell("diagnosed_loops", notebooks)  # graded without them, it scores 0 (R23d W1)
    expect_data_self_contained("diagnosed_loops", notebooks)  # what the grader runs of it stands (R23p, R23j M2)
    diagnosis = as_sent(diagnosis)
    expect(
        isinstance(diagnosis, dict) and set(diagnosis) == set(logs),
        f"diagnosed_loops must be a dict with the keys {list(logs)}, one per log",
    )
    wrong = {log: loop for log, loop in diagnosis.items() if loop not in LOOP_NAMES}
    expect(not wrong, f"each value must be one of {list(LOOP_NAMES)}; not {wrong}")
    # each loop wrote one log (the exercise says so): a loop named twice is no reading, and naming one loop for
    # every log would earn the point of the log that loop did write
    twice = {loop: [log for log in sorted(diagnosis) if diagnosis[log] == loop] for loop in set(diagnosis.values())}
    twice = {loop: logs for loop, logs in twice.items() if len(logs) > 1}
    expect(
        not twice,
        "each loop wrote exactly one log, so name each loop once; you named "
        + "; ".join(f"{loop!r} for logs {', '.join(logs)}" for loop, logs in sorted(twice.items())),
    )
    return diagnosis


def check_diagnosis(diagnosis, expected: dict, why: dict) -> None:
    """Each log of `expected` (one per test cell: a guess between two logs costs one point, not the exercise) is
    named after the loop that wrote it; `why` gives, per log, the fingerprint that shows it."""
    diagnosis = check_diagnosis_form(diagnosis)  # once, whole: what the grader reads
    wrong = [log for log in expected if diagnosis[log] != expected[log]]
    expect(
        not wrong,
        "Not every log is matched with its loop: "
        + " ".join(f"Log {log}: you said {diagnosis[log]!r}. {why[log]}" for log in wrong),
    )
