"""Chapter 3's Exercise 3.1, reading a run: the answers are plain data (arguments inferred from a logged run, a
loop named for each log), so the judges compare values; `check_reproduces` replays the inferred arguments on
PyTorch's ReduceLROnPlateau (`lrcourse.pytorch_trajectories`, computed where the judge runs) against the log.

The expected values are the hidden tests' arguments: this module holds none."""

from __future__ import annotations

import math
import numbers

from lrcourse.checking.expect import close, expect
from lrcourse.pytorch_trajectories import reference_trajectories

ARGUMENTS = ("factor", "patience", "cooldown", "threshold_mode", "threshold")
LOOP_NAMES = ("correct", "training loss", "one epoch late", "per batch")


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_reading_form(arguments) -> None:
    """The inferred arguments are a dict of the five arguments, each of a type ReduceLROnPlateau accepts."""
    expect(
        isinstance(arguments, dict) and set(arguments) == set(ARGUMENTS),
        f"inferred_plateau_arguments must be a dict with exactly the keys {list(ARGUMENTS)}"
        + (f"; yours has {sorted(map(str, arguments))}" if isinstance(arguments, dict) else ""),
    )
    expect(_number(arguments["factor"]) and 0 < arguments["factor"] < 1, "factor must be a number between 0 and 1")
    for name in ("patience", "cooldown"):
        expect(_count(arguments[name]), f"{name} must be a whole number (an int) >= 0")
    expect(arguments["threshold_mode"] in ("rel", "abs"), 'threshold_mode must be "rel" or "abs"')
    expect(_number(arguments["threshold"]) and arguments["threshold"] >= 0, "threshold must be a number >= 0")


def check_argument(arguments, name: str, expected, why: str) -> None:
    """One inferred argument is the run's: `why` says how the log shows it (the hidden test's explanation)."""
    check_reading_form(arguments)
    mine = arguments[name]
    same = mine == expected if isinstance(expected, (str, int)) else close(mine, expected)
    expect(same, f"{name} = {mine!r} is not what this run used. {why}")


def _drops(rates: list[float], first: float) -> str:
    """Each epoch (from 1) after which the rate fell, with the new rate: "6 (to 0.02), 15 (to 0.004)"."""
    before = [first] + list(rates[:-1])
    fell = [(epoch, rate) for epoch, (rate, old) in enumerate(zip(rates, before), start=1) if rate < old * (1 - 1e-9)]
    return ", ".join(f"{epoch} (to {rate:.3g})" for epoch, rate in fell) or "none"


def check_reproduces(arguments, run: dict) -> None:
    """PyTorch's ReduceLROnPlateau with the inferred arguments, fed the run's validation losses, gives the run's
    rates epoch by epoch: the arguments explain the whole log (any threshold the log allows is right)."""
    check_reading_form(arguments)
    kwargs = {"mode": "min", **{name: arguments[name] for name in ARGUMENTS}}
    case = {"scheduler": "ReduceLROnPlateau", "lrs": [run["lr"]], "kwargs": kwargs, "metrics": list(run["val_loss"])}
    reference = reference_trajectories([case])[0]
    expect("error" not in reference, f"PyTorch refuses these arguments: {reference.get('message')}")
    replayed = [state["lrs"][0] for state in reference["states"][1:]]
    differs = [epoch for epoch, (a, b) in enumerate(zip(replayed, run["rates"]), start=1) if not close(a, b)]
    if differs:
        shown = ", ".join(f"{kwarg}={value!r}" for kwarg, value in kwargs.items())
        expect(
            False,
            f"ReduceLROnPlateau({shown}) fed this run's validation losses lowers the rate after the epochs "
            f"{_drops(replayed, run['lr'])}; the run lowered it after {_drops(run['rates'], run['lr'])}. "
            f"They first differ at epoch {differs[0]}: look at the losses just before it, and at which of them "
            "counted as an improvement."
            + (
                f" (With these arguments the losses of epochs {reference['ambiguous_steps']} lie on the threshold's "
                "boundary, where rounding decides: choose a threshold strictly inside the range the log allows.)"
                if reference.get("ambiguous_steps")
                else ""
            ),
        )


def check_diagnosis_form(diagnosis, logs=("A", "B", "C", "D")) -> None:
    """One loop named for each log, from LOOP_NAMES."""
    expect(
        isinstance(diagnosis, dict) and set(diagnosis) == set(logs),
        f"diagnosed_loops must be a dict with the keys {list(logs)}, one per log",
    )
    wrong = {log: loop for log, loop in diagnosis.items() if loop not in LOOP_NAMES}
    expect(not wrong, f"each value must be one of {list(LOOP_NAMES)}; not {wrong}")


def check_diagnosis(diagnosis, expected: dict, why: dict) -> None:
    """Every log is named after the loop that wrote it; `why` gives, per log, the fingerprint that shows it."""
    check_diagnosis_form(diagnosis, tuple(expected))
    wrong = [log for log in expected if diagnosis[log] != expected[log]]
    expect(
        not wrong,
        "Not every log is matched with its loop: "
        + " ".join(f"Log {log}: you said {diagnosis[log]!r}. {why[log]}" for log in wrong),
    )
