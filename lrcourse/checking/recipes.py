"""Chapter 4's recipe read off a log: PyTorch's SequentialLR([LinearLR, StepLR]) makes the rates of a run, the
student's reader gets them and must name the arguments that made them. The reader is plain arithmetic on a list,
so the judge calls it directly (under the guard), whether it is the kernel's own function or the grader's
stand-in for one in the student's process."""

from __future__ import annotations

from lrcourse.checking.answer_forms import is_count, is_number, shown
from lrcourse.checking.expect import CheckFailed, close
from lrcourse.checking.guard import call_answer
from lrcourse.checking.observe import RemoteTarget
from lrcourse.checking.self_contained import expect_self_contained
from lrcourse.pytorch_trajectories import reference_trajectories

COUNTS = ("warmup_epochs", "step_size")  # read as whole epochs
# what `is_number` takes, in a student's words
RATE_FORM = (
    "a finite number a float can hold (an int or a float; a numpy scalar counts as its value; a tensor, a Decimal or "
    "a bool does not)"
)
KEYS = ("lr", "warmup_epochs", "start_factor", "step_size", "gamma")


def warmup_step_log(lr: float, warmup: int, start_factor: float, step_size: int, gamma: float, epochs: int):
    """The rate PyTorch's SequentialLR([LinearLR, StepLR], milestones=[warmup]) gives in each of `epochs` epochs."""
    kwargs = {"warmup": warmup, "start_factor": start_factor, "step_size": step_size, "gamma": gamma}
    [reference] = reference_trajectories(
        [{"scheduler": "WarmupStep", "lrs": [lr], "steps": epochs - 1, "kwargs": kwargs}]
    )
    return [float(state["lrs"][0]) for state in reference["states"][:epochs]]


def _form(key: str, value) -> str:
    """Why `value` is not in the form `key` takes, or "" (a count: any whole number, 9, 9.0, np.int64(9), never a
    bool; the others: a finite real number)."""
    if key in COUNTS:
        return (
            ""
            if is_count(value, 1)
            else "a whole number >= 1 a float can hold (such as 4, or 4.0; a tensor or a bool is none)"
        )
    return "" if is_number(value) else RATE_FORM


def _same(key: str, value, want) -> bool:
    """`value` (in its form, as the grader reads it: `call_answer`) is `want`."""
    return value == want if key in COUNTS else close(value, want)


def check_recipe(
    reader,
    lr: float,
    warmup: int,
    start_factor: float,
    step_size: int,
    gamma: float,
    epochs: int | None = None,
    keys: tuple = KEYS,
    hint: str = "",
) -> None:
    """`reader(rates)` must return a dict whose `keys` name the arguments of the SequentialLR that made `rates`
    (default length: the warm-up, two decays and two more epochs)."""
    if not isinstance(reader, RemoteTarget):
        expect_self_contained(reader, "recipe_from_rates")
    epochs = epochs or warmup + 2 * step_size + 2
    made = {"lr": lr, "warmup_epochs": warmup, "start_factor": start_factor, "step_size": step_size, "gamma": gamma}
    recipe = ", ".join(f"{key}={value!r}" for key, value in made.items())
    call = f"recipe_from_rates(the rates of {epochs} epochs made with {recipe})"
    why = (
        "This exercise asks you to read the arguments off the rates yourself: no use of PyTorch's schedulers (nor of "
        "lr_curve with one) is allowed, so it earns no marks."
    )
    answer = call_answer(
        reader, (list(warmup_step_log(lr, warmup, start_factor, step_size, gamma, epochs)),), call, why
    )
    if not isinstance(answer, dict):
        raise CheckFailed(f"{call} returned {shown(answer)}: return a dict with the keys {', '.join(KEYS)}")
    for key in keys:
        if key not in answer:
            raise CheckFailed(f"{call} returned a dict without the key {key!r}")
        form = _form(key, answer[key])
        if form:
            raise CheckFailed(f"{call}: your {key} must be {form}; yours is {shown(answer[key])}")
        if not _same(key, answer[key], made[key]):
            note = f" ({hint})" if hint else ""
            raise CheckFailed(f"{call}: your {key} is {shown(answer[key])}, the log was made with {made[key]!r}{note}")
