"""Chapter 3's Exercise 3.6, a stalled run's floor: the student's `epochs_to_floor(lr, factor, patience, cooldown,
min_lr, eps)` says after which `step()` a ReduceLROnPlateau fed a loss that never improves sets its last rate, and
that rate. The answer is plain arithmetic, so the judge calls it directly under the guard (the kernel's own function,
or the grader's stand-in for one in the student's process).

The expected values come from the grader's reference (grader/references.py, PyTorch's own scheduler for the rates),
through `ExpectedValues`: this module holds no answer. A failure says which way the answer is off and why, not the
expected number: the hidden cases stay questions, not a table to copy.
"""

from __future__ import annotations

from lrcourse.checking.answer_forms import is_count, is_number, shown
from lrcourse.checking.expect import CheckFailed, answer_raised, close
from lrcourse.checking.expected import ExpectedValues
from lrcourse.checking.guard import call_answer
from lrcourse.checking.observe import RemoteTarget
from lrcourse.checking.self_contained import expect_self_contained

ARGUMENTS = ("lr", "factor", "patience", "cooldown", "min_lr", "eps")
WHY = (
    "This exercise asks you to work the answer out from the rule: no use of PyTorch's schedulers is allowed (the "
    "grader detects their use), so it earns no marks."
)


def _answer(function, payload: dict, call: str, on_timeout: str):
    """The answer's (epoch, rate) for `payload`, or a CheckFailed that says what is wrong with its form
    (`on_timeout`: advice added when it runs too long, given only where a long run is what the cell tests)."""
    try:
        answer = call_answer(function, tuple(payload[name] for name in ARGUMENTS), call, WHY)
    except AssertionError as failure:  # too slow (here, or in the student's process under the grader), or forbidden
        if "did not finish" not in str(failure):
            raise
        raise CheckFailed(f"{failure}{f': {on_timeout}' if on_timeout else ''}") from None
    except Exception as error:
        raise answer_raised("epochs_to_floor", error, f"{call} raised {type(error).__name__}: {error}") from None
    if not (isinstance(answer, (tuple, list)) and len(answer) == 2 and is_count(answer[0], 0) and is_number(answer[1])):
        raise CheckFailed(
            f"{call} returned {shown(answer)}: return a pair (epoch, rate), the epoch a whole number >= 0, the "
            "rate a finite number"
        )
    return int(answer[0]), float(answer[1])


def _call(payload: dict) -> str:
    return f"epochs_to_floor({', '.join(f'{name}={value!r}' for name, value in payload.items())})"


def _steps(epochs, payload: dict) -> tuple[int, int, int]:
    """The epoch at patience and cooldown 0, and the steps one more epoch of patience (of cooldown) adds, from
    `epochs(patience, cooldown)` on this case's other arguments."""
    base = epochs(0, 0)
    return base, epochs(1, 0) - base, epochs(0, 1) - base


def _expect_counted(function, payload: dict, epoch: int, note: str, on_timeout: str) -> None:
    """The epoch at a large patience and cooldown is where the answer's own small cases lead: each extra epoch of
    patience (of cooldown) adds the same number of steps, so the steps are counted, whatever the formula (the other
    cells grade the formula itself: the spacing cell how a cooldown lies between reductions, the first-epoch cell
    where the patience puts one). So that an epoch which counts something else (a constant, or patience + cooldown)
    cannot pass, the steps one more epoch of patience, and of cooldown, adds must be the reference's: one per
    reduction the run makes, and one per gap between two (judged against the reference, so no expected number is
    told)."""

    def small(patience: int, cooldown: int) -> int:
        case = {**payload, "patience": patience, "cooldown": cooldown}
        return _answer(function, case, _call(case), on_timeout)[0]

    def reference(patience: int, cooldown: int) -> int:
        return ExpectedValues().reference_floor({**payload, "patience": patience, "cooldown": cooldown})["epoch"]

    base, per_patience, per_cooldown = _steps(small, payload)
    _, right_patience, right_cooldown = _steps(reference, payload)
    mine = f"your own answers with patience and cooldown 0 or 1 (epochs {base}, {base + per_patience}, "
    mine += f"{base + per_cooldown})"
    if per_patience != right_patience:
        raise CheckFailed(
            f"{_call(payload)}: by {mine}, one more epoch of patience moves your epoch by {_count(per_patience)}, "
            f"{_way(per_patience, right_patience)} it moves PyTorch's last reduction in this run: a longer patience "
            f"delays every reduction by one step each, so it moves the last one by as many steps as the run has "
            f"reductions{note}"
        )
    if per_cooldown != right_cooldown:
        raise CheckFailed(
            f"{_call(payload)}: by {mine}, one more epoch of cooldown moves your epoch by {_count(per_cooldown)}, "
            f"{_way(per_cooldown, right_cooldown)} it moves PyTorch's last reduction in this run: a cooldown lies "
            f"between two reductions, none before the first, so it moves the last one by one step per gap between "
            f"reductions{note}"
        )
    predicted = base + payload["patience"] * per_patience + payload["cooldown"] * per_cooldown
    if epoch != predicted:
        raise CheckFailed(
            f"{_call(payload)}: your epoch is {epoch}, but {mine} lead to {predicted}: each extra epoch of "
            f"patience, and of cooldown, adds the same number of steps{note}"
        )


def _count(steps: int) -> str:
    return f"{steps} step" if steps == 1 else f"{steps} steps"


def _way(mine: int, right: int) -> str:
    """How the answer's steps compare with the reference's, in words that do not tell the reference's number."""
    return "more than" if mine > right else "fewer than"


def check_floor(
    function,
    lr: float,
    factor: float,
    patience: int,
    cooldown: int,
    min_lr: float,
    eps: float,
    compare: tuple = ("epoch", "lr"),
    hint: str = "",
    on_timeout: str = "",
) -> None:
    """`function(lr, factor, patience, cooldown, min_lr, eps)` must return what PyTorch's ReduceLROnPlateau does on a
    stalled run: the step after which the rate is final, and that rate (`compare` names which of the two count, or
    "counted": the epoch agrees with the answer's own small cases; `on_timeout`, advice for an answer that runs
    too long)."""
    if not isinstance(function, RemoteTarget):
        expect_self_contained(function, "epochs_to_floor")
    payload = {"lr": lr, "factor": factor, "patience": patience, "cooldown": cooldown, "min_lr": min_lr, "eps": eps}
    call = _call(payload)
    epoch, rate = _answer(function, payload, call, on_timeout)
    note = f" ({hint})" if hint else ""
    if "counted" in compare:
        _expect_counted(function, payload, epoch, note, on_timeout)
    if not {"lr", "epoch"} & set(compare):
        return
    expected = ExpectedValues().reference_floor(payload)
    if "lr" in compare and not close(rate, expected["lr"]):
        way = "above" if rate > expected["lr"] else "below"
        raise CheckFailed(f"{call}: your final rate {rate!r} is {way} the rate PyTorch's scheduler stops at{note}")
    if "epoch" in compare and epoch != expected["epoch"]:
        if expected["epoch"] == 0:
            raise CheckFailed(
                f"{call}: your epoch is {epoch}; check whether any step of this run can change the rate: a "
                f"reduction is written only if old_lr - max(old_lr * factor, min_lr) > eps{note}"
            )
        way = "before" if epoch < expected["epoch"] else "after"
        raise CheckFailed(
            f"{call}: your epoch {epoch} is {way} the step after which PyTorch's scheduler has set its last rate{note}"
        )
