"""Chapter 5's exercise, the per-step training loop with gradient accumulation: the observer runs the
student's `fit_per_step` on a fresh run (`lrcourse.fixtures`), hands it `make_scheduler` (the loop sizes its own
scheduler in optimizer steps) and records each size asked for and the rate each optimizer step used; the judges
compare with the grader's reference loop (`expected`)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import NamedTuple

from lrcourse import wire
from lrcourse.checking.expect import CheckFailed, answer_raised, close, expect
from lrcourse.checking.expected import ExpectedValues
from lrcourse.checking.guard import TRAINING_SECONDS, Guard
from lrcourse.checking.observe import observe, observer, target_name
from lrcourse.fixtures import step_scheduler, steps_parts
from lrcourse.tolerances import LOSS_ATOL, LOSS_RTOL
from lrcourse.training import one_thread

ORDER_WARNING = "before `optimizer.step()`"
STEP_KEYS = ("lr", "loss", "val_loss")


class SchedulerMaker:
    """`make_scheduler(optimizer, total_steps)`, as the student's loop gets it: the test's per-step scheduler for
    `total_steps` optimizer steps; it remembers each size asked for and the last scheduler built."""

    def __init__(self, name: str):
        self.name, self.sizes, self.last = name, [], None

    def __call__(self, optimizer, total_steps):
        self.sizes.append(total_steps if isinstance(total_steps, numbers.Real) else repr(total_steps)[:40])
        if not isinstance(total_steps, int) or isinstance(total_steps, bool) or total_steps < 1:
            raise TypeError(f"make_scheduler: total_steps must be a whole number (an int) >= 1, not {total_steps!r}")
        self.last = step_scheduler(self.name, optimizer, total_steps)
        return self.last


@observer("fit_steps", seconds=TRAINING_SECONDS)
def observe_fit_steps(fit, payload: dict) -> dict:
    """Run the student's `fit_per_step` on the digits with a fresh model, an optimizer and `make_scheduler`;
    record what it returns, the sizes it asked for, the rate each optimizer step used, and how often the (last)
    scheduler was stepped."""
    observation = {
        "value": wire.encode(None),
        "states": [],
        "last_epoch": None,
        "order_warning": False,
        "timeout": False,
        "error": None,
        "seconds": TRAINING_SECONDS,
    }
    with one_thread():
        model, optimizer, batches, val_set = steps_parts(payload)
        maker = SchedulerMaker(payload["scheduler"])
        used = []
        hook = optimizer.register_step_pre_hook(lambda opt, args, kwargs: used.append(opt.param_groups[0]["lr"]))
        guard = Guard(observation["seconds"], forbid_schedulers=False)
        arguments = (model, optimizer, maker, batches, val_set, payload["epochs"], payload["accumulation"])
        guard.record(observation, fit, *arguments)
        hook.remove()
    observation["states"] = [wire.encode({"used": used[:100_000], "sizes": maker.sizes[:20]})]
    observation["last_epoch"] = wire.encode(None if maker.last is None else maker.last.last_epoch)
    observation["order_warning"] = any(ORDER_WARNING in str(w.message) for w in guard.warnings)
    return observation


def _steps_call(payload: dict) -> str:
    return (
        f"fit_per_step(model, {payload['optimizer']}(lr={payload['lr']}), make_scheduler ({payload['scheduler']}), "
        f"{payload['batches']} batches of up to "
        f"{payload['batch_size']} per epoch, val_set, epochs={payload['epochs']}, "
        f"accumulation={payload['accumulation']})"
    )


def _count_hint(payload: dict, count: int) -> str:
    """The likely cause of a wrong number of optimizer (or scheduler) steps."""
    epochs, batches, accumulation = payload["epochs"], payload["batches"], payload["accumulation"]
    if count == epochs * batches:
        return " That is one per batch: accumulate the gradients of `accumulation` batches, then step once."
    if count == epochs * (batches // accumulation):
        return " The leftover batches at the end of each epoch (fewer than `accumulation`) need a step of their own."
    if count in (math.ceil(epochs * batches / accumulation), epochs * batches // accumulation):
        return " A group of batches ends with its epoch: start a new group at the start of every epoch."
    if count == epochs:
        return " That is one per epoch."
    return ""


class StepsRun(NamedTuple):
    """What one observed run of the student's `fit_per_step` gives the judges."""

    payload: dict
    call: str  # the call, as the messages show it
    history: dict  # what it returned
    used: list  # the rate each optimizer step used
    sizes: list  # the total_steps of each make_scheduler call
    observation: dict


def _observe_steps(
    fit, scheduler: str, epochs: int, lr: float, batch_size: int, seed: int, accumulation: int, optimizer: str
) -> StepsRun:
    payload = {
        "scheduler": scheduler,
        "epochs": epochs,
        "lr": lr,
        "batch_size": batch_size,
        "seed": seed,
        "accumulation": accumulation,
        "optimizer": optimizer,
    }
    payload["batches"] = math.ceil(1077 / batch_size)
    observation = observe(fit, "fit_steps", payload, "fit_per_step")
    call = _steps_call(payload)
    expect(not observation["timeout"], f"{call} did not finish within {observation['seconds']:.0f} s")
    if observation["error"] is not None:
        error = observation["error"]
        states = observation.get("states") or [{}]
        sizes = states[0].get("sizes", []) if isinstance(states[0], dict) else []
        # the run's count is not printed (working it out is the exercise): only the size the answer gave
        hint = (
            f" make_scheduler was given total_steps = {sizes[0]!r}, fewer than the scheduler steps this run "
            "took: size the schedule for exactly as many steps as the run makes, and step it once per "
            "optimizer step."
            if "Tried to step" in str(error) and sizes
            else ""
        )
        raise answer_raised(target_name(fit), error, f"{call} raised {type(error).__name__}: {error}.{hint}")
    history = observation["value"]
    expect(
        isinstance(history, dict) and set(STEP_KEYS) <= set(history),
        f"{call} must return a dict with the keys {list(STEP_KEYS)}; it returned {type(history).__name__}"
        + (f" with keys {sorted(map(str, history))}" if isinstance(history, dict) else ""),
    )
    for key in STEP_KEYS:
        expect(
            isinstance(history[key], (list, tuple)) and all(isinstance(v, numbers.Real) for v in history[key]),
            f"{call}: history[{key!r}] must be a list of numbers",
        )
    states = observation.get("states") or [{}]
    used = states[0].get("used", []) if isinstance(states[0], dict) else []
    sizes = states[0].get("sizes", []) if isinstance(states[0], dict) else []
    return StepsRun(payload, call, history, used, sizes, observation)


def _fit_steps_check(judge: Callable[[StepsRun], None]):
    """A public check with the one signature the test cells call (`fit` and the run's settings): observe the
    student's loop on that run, then `judge` it. The check takes the judge's name and docstring."""

    def check(
        fit,
        scheduler: str = "OneCycleLR",
        epochs: int = 3,
        lr: float = 0.01,
        batch_size: int = 128,
        seed: int = 1,
        accumulation: int = 4,
        optimizer: str = "Adam",
    ) -> None:
        judge(_observe_steps(fit, scheduler, epochs, lr, batch_size, seed, accumulation, optimizer))

    check.__name__ = check.__qualname__ = judge.__name__
    check.__doc__ = judge.__doc__
    return check


def expect_step_count(run: StepsRun, total: int) -> None:
    """The optimizer was stepped `total` times: once per group of `accumulation` batches (a leftover group too)."""
    payload, count = run.payload, len(run.used)
    expect(
        count == total,
        # the count it should be is not printed: working it out is the exercise (visible tests show this message)
        f"{run.call}: the optimizer was stepped {count} times, which is not once per group of `accumulation` "
        "batches." + _count_hint(payload, count),
    )


def expect_sized(run: StepsRun, total: int) -> None:
    """`make_scheduler` was called once, with the run's number of optimizer steps."""
    payload, sizes = run.payload, run.sizes
    expect(
        sizes,
        f"{run.call}: make_scheduler was never called; call make_scheduler(optimizer, total_steps) once, "
        "before the first optimizer step, and step the scheduler it returns.",
    )
    expect(
        len(sizes) == 1,
        f"{run.call}: make_scheduler was called {len(sizes)} times (total_steps {sizes}); build one scheduler "
        "for the whole run, before the first epoch.",
    )
    size = sizes[0]
    hint = _count_hint(payload, size) if isinstance(size, int) else ""
    expect(
        size == total,
        f"{run.call}: make_scheduler was given total_steps = {size!r}, which is not the number of optimizer steps "
        "this run makes." + hint,
    )


@_fit_steps_check
def check_fit_steps_rates(run: StepsRun) -> None:
    """The scheduler is sized in the run's optimizer steps; the rate logged for every optimizer step, and the rate
    each step really used, are PyTorch's."""
    call, history = run.call, run.history
    expected = ExpectedValues().reference_fit_steps(run.payload)["lr"]
    total = len(expected)
    expect_sized(run, total)
    expect_step_count(run, total)
    for step, (value, want) in enumerate(zip(run.used, expected)):
        expect(
            close(value, want),
            f"{call}: optimizer step {step} used lr {value!r}, but {run.payload['scheduler']} gives {want!r} for "
            "that step. Step the scheduler once after every optimizer.step() (not after every batch, nor once per "
            "epoch).",
        )
    expect(
        len(history["lr"]) == total,
        f"{call}: history['lr'] has {len(history['lr'])} entries; expected {total}, "
        "one per optimizer step (not one per batch)",
    )
    for step, (value, want) in enumerate(zip(history["lr"], expected)):
        expect(
            close(value, want),
            f"{call}: history['lr'][{step}] is {value!r}, but optimizer step {step} used {want!r}. Log "
            "the rate the step uses (optimizer.param_groups[0]['lr'] before optimizer.step()), not the one "
            "after scheduler.step().",
        )


@_fit_steps_check
def check_fit_steps_order(run: StepsRun) -> None:
    """One scheduler step per optimizer step, each after it."""
    expect(
        not run.observation["order_warning"],
        f"{run.call}: PyTorch warned that scheduler.step() was called before optimizer.step(). Step the optimizer "
        "first, then the scheduler.",
    )
    total = len(ExpectedValues().reference_fit_steps(run.payload)["lr"])  # the grader's count, never printed
    expect_sized(run, total)
    expect_step_count(run, total)
    stepped = run.observation["last_epoch"]
    expect(
        stepped == total,
        f"{run.call}: the scheduler was stepped {stepped} times in {total} optimizer steps; "
        "step it once after every optimizer step." + _count_hint(run.payload, stepped),
    )


@_fit_steps_check
def check_fit_steps_losses(run: StepsRun) -> None:
    """The logged losses are the training run's: the mean loss of each optimizer step's batches, and the
    validation loss per epoch. Wrong gradients (not zeroed per step, not averaged over the group) show here."""
    call = run.call
    expected = ExpectedValues().reference_fit_steps(run.payload)
    expect_sized(run, len(expected["lr"]))  # a scheduler of another length trains another run
    # either weighting of a group's batches (equal, or by their images as section 5.6 shows), each step's loss
    # logged as the mean of its batch losses or over its images: right (review R23P2, NIT 3)
    for weighting in ("", "images_"):
        for logged in ("loss", "loss_over_images"):
            losses, val_losses = expected.get(weighting + logged), expected.get(weighting + "val_loss")
            if losses is not None and val_losses is not None and _same_losses(run.history, losses, val_losses):
                return
    for key, unit in (("loss", "optimizer step"), ("val_loss", "epoch")):
        mine, want = list(run.history[key]), expected[key]
        expect(
            len(mine) == len(want),
            f"{call}: history[{key!r}] has {len(mine)} entries; expected {len(want)}, one per {unit}",
        )
        for index, (value, reference) in enumerate(zip(mine, want)):
            if math.isclose(value, reference, rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL):
                continue
            if key == "val_loss" or index == 0:
                cause = (
                    "Log evaluate(model, val_set)[0] after each epoch."
                    if key == "val_loss"
                    else "Log the mean of the step's batch losses (loss.item() of each, before any division), or their "
                    "mean over the step's images."
                )
            else:
                cause = (
                    "Up to the previous step your losses were right, so the update of step "
                    f"{index - 1} differs: zero the gradients once per optimizer step (not per batch), and "
                    "divide each batch's loss by the number of batches in its group (fewer for an epoch's "
                    "leftover group), or weight it by its share of the group's images, before backward(), so "
                    "the step follows the mean gradient. Or, if the updates are right, log the mean of the "
                    "step's batch losses (or over its images)."
                )
            raise CheckFailed(
                f"{call}: history[{key!r}][{index}] is {value!r}; this training run gives "
                f"{reference!r} for that {unit}. {cause}"
            )


def _same_losses(history: dict, losses: list, val_losses: list) -> bool:
    """The logged losses and validation losses are these, each within the losses' tolerance."""
    return all(
        len(mine) == len(want)
        and all(math.isclose(a, b, rel_tol=LOSS_RTOL, abs_tol=LOSS_ATOL) for a, b in zip(mine, want))
        for mine, want in ((list(history["loss"]), losses), (list(history["val_loss"]), val_losses))
    )
