"""What the exercises' test cells use to compare a student's scheduler with PyTorch's.

A test cell lists cases (a configuration and what to feed it) and calls `check_step_lr` or
`check_plateau`. For every case the student's class is run under a guard, PyTorch's own scheduler
is run in a separate process (`lrcourse.reference`), and the two are compared step by step. The
first difference raises an `AssertionError` that says what was configured, at which step, what
was expected, what came out, and the likely cause.

The guard makes grading fair in both directions:
- anything the student's code prints or warns is captured, so a correct answer that prints never
  loses marks (nbgrader zeroes a cell that writes to stderr);
- a student's infinite loop is cut after a few seconds and fails only the cell it runs in;
- a class that is, subclasses, wraps or calls `torch.optim.lr_scheduler` fails every cell.

This module holds no answer: it only runs the student's code and PyTorch's.
"""
from __future__ import annotations

import contextlib
import io
import math
import numbers
import signal
import sys
import threading
import warnings
from dataclasses import dataclass, field

import torch

from lrcourse.reference import reference_trajectories, start_in_background
from lrcourse.schedules import make_optimizer

SCHEDULER_MODULE = "torch.optim.lr_scheduler"
RELATIVE_TOLERANCE = 1e-6
SECONDS_PER_CASE = 3.0


start_in_background()  # importing this module means a test will soon need PyTorch's reference


class StudentTimeout(BaseException):
    """Raised inside a student's code that runs too long (a BaseException: `except Exception` in
    the student's loop cannot swallow it)."""


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------
@dataclass
class StepLRCase:
    """MyStepLR(optimizer, step_size, gamma) on groups with rates `lrs`, stepped `steps` times."""

    lrs: list[float]
    step_size: int
    gamma: float | None = None  # None: not passed, so the class's default is tested
    steps: int = 20
    hint: str = ""

    @property
    def kwargs(self) -> dict:
        return {"step_size": self.step_size} | ({} if self.gamma is None else {"gamma": self.gamma})

    def request(self) -> dict:
        return {"scheduler": "StepLR", "lrs": self.lrs, "kwargs": self.kwargs, "steps": self.steps}


@dataclass
class PlateauCase:
    """MyReduceLROnPlateau(optimizer, **kwargs) on groups with rates `lrs`, fed `metrics`.

    `as_tensor` passes each metric as a one-element tensor instead of a float.
    """

    lrs: list[float]
    metrics: list[float]
    kwargs: dict = field(default_factory=dict)
    as_tensor: bool = False
    hint: str = ""

    def request(self) -> dict:
        return {"scheduler": "ReduceLROnPlateau", "lrs": self.lrs, "kwargs": self.kwargs,
                "metrics": self.metrics}


# --------------------------------------------------------------------------------------------
# The guard around every call into the student's code
# --------------------------------------------------------------------------------------------
def _is_torch_scheduler_class(cls) -> bool:
    return any(getattr(klass, "__module__", "").startswith(SCHEDULER_MODULE) for klass in cls.__mro__)


def _forbidden_class_message(student_class) -> str | None:
    if not isinstance(student_class, type):
        return f"{student_class!r} is not a class: define it with `class ...:`."
    for klass in student_class.__mro__:
        if getattr(klass, "__module__", "").startswith(SCHEDULER_MODULE):
            how = "is" if klass is student_class else "subclasses"
            return (f"{student_class.__name__} {how} PyTorch's {klass.__name__}. This exercise asks "
                    f"for your own implementation: no use of {SCHEDULER_MODULE} is allowed.")
    return None


def _wrapped_scheduler(instance) -> str | None:
    """The name of an attribute holding a PyTorch scheduler (a wrapped instance), if any."""
    for name, value in vars(instance).items():
        values = value if isinstance(value, (list, tuple)) else (value.values() if isinstance(value, dict) else [value])
        for item in values:
            if _is_torch_scheduler_class(type(item)):
                return name
    return None


class _Guard:
    """Captures output and warnings, records calls into torch's scheduler code, enforces a budget."""

    def __init__(self, seconds: float, forbid_schedulers: bool = True, forbidden_code=()):
        self.seconds = seconds
        self.forbidden_calls: list[str] = []
        self.warnings: list[warnings.WarningMessage] = []
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self._scheduler_file = sys.modules[SCHEDULER_MODULE].__file__ if forbid_schedulers else None
        self._forbidden_code = set(forbidden_code)

    def _profile(self, frame, event, arg):
        if event == "call" and (frame.f_code.co_filename == self._scheduler_file or frame.f_code in self._forbidden_code):
            self.forbidden_calls.append(frame.f_code.co_qualname)

    def _alarm(self, signum, frame):
        raise StudentTimeout()

    @contextlib.contextmanager
    def running(self):
        use_alarm = threading.current_thread() is threading.main_thread()
        if use_alarm:
            previous_handler = signal.signal(signal.SIGALRM, self._alarm)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        previous_profile = sys.getprofile()
        try:
            with warnings.catch_warnings(record=True) as self.warnings, \
                    contextlib.redirect_stdout(self.stdout), contextlib.redirect_stderr(self.stderr):
                warnings.simplefilter("always")
                sys.setprofile(self._profile)
                try:
                    yield self
                finally:
                    sys.setprofile(previous_profile)
        finally:
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous_handler)


# --------------------------------------------------------------------------------------------
# Running the student's class
# --------------------------------------------------------------------------------------------
def _describe(class_name: str, lrs: list[float], kwargs: dict) -> str:
    arguments = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
    groups = "group" if len(lrs) == 1 else "groups"
    return f"{class_name}(optimizer, {arguments}) on {len(lrs)} parameter {groups} with lr={lrs}"


def _run_student(student_class, case, attributes: tuple[str, ...], compare: tuple[str, ...]):
    """The student's states (rates, get_last_lr(), attributes) after construction and each step.

    Returns (states, error): `error` is the exception the student's code raised, if any, with the
    states recorded up to it.
    """
    optimizer = make_optimizer(case.lrs)
    kwargs = case.kwargs
    metrics = getattr(case, "metrics", None)
    steps = case.steps if metrics is None else len(metrics)
    states: list[dict] = []
    guard = _Guard(SECONDS_PER_CASE * (1 + steps / 200))

    def snapshot(scheduler):
        # Only what this cell grades: an unfinished get_last_lr() must not cost the rate cells.
        state = {"lrs": [group["lr"] for group in optimizer.param_groups]}
        if "get_last_lr" in compare:
            state["get_last_lr"] = scheduler.get_last_lr()
        for name in attributes:
            if name in compare:
                state[name] = getattr(scheduler, name, AttributeError(f"no attribute `{name}`"))
        states.append(state)

    try:
        with guard.running():
            scheduler = student_class(optimizer, **kwargs)
            wrapped = _wrapped_scheduler(scheduler)
            snapshot(scheduler)
            for step in range(steps):
                if metrics is None:
                    scheduler.step()
                else:
                    value = metrics[step]
                    scheduler.step(torch.tensor([value]) if getattr(case, "as_tensor", False) else value)
                snapshot(scheduler)
    except StudentTimeout:
        raise AssertionError(
            f"{_describe(student_class.__name__, case.lrs, kwargs)}: your code did not finish within "
            f"{guard.seconds:.0f} s ({_where(states)}). Is there a loop that never ends?"
        ) from None
    except Exception as error:  # the student's own bug, reported with the states so far
        return states, error, guard, None
    return states, None, guard, wrapped


def _forbid_torch_use(student_class, guard, wrapped) -> None:
    if guard.forbidden_calls:
        called = ", ".join(sorted({name.split(".")[0] for name in guard.forbidden_calls}))
        raise AssertionError(
            f"{student_class.__name__} ran code from {SCHEDULER_MODULE} ({called}). This exercise asks "
            "for your own implementation: no use of PyTorch's schedulers is allowed, so it earns no marks."
        )
    if wrapped:
        raise AssertionError(
            f"{student_class.__name__} keeps a PyTorch scheduler in `self.{wrapped}`. This exercise asks for "
            "your own implementation: wrapping PyTorch's scheduler earns no marks."
        )


# --------------------------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------------------------
def _close(actual, expected: float) -> bool:
    if isinstance(actual, torch.Tensor):
        if actual.numel() != 1:
            return False
        actual = actual.item()
    if not isinstance(actual, numbers.Real) or isinstance(actual, bool):
        return False
    actual = float(actual)
    if math.isinf(expected) or math.isinf(actual):
        return actual == expected
    return math.isclose(actual, expected, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)


def _history(states, key, group=None) -> str:
    def show(state):
        value = state.get(key) if isinstance(state, dict) else None
        if group is not None:
            value = value[group] if isinstance(value, (list, tuple)) and len(value) > group else value
        return f"{float(value):.4g}" if isinstance(value, (numbers.Real, torch.Tensor)) and (
            not isinstance(value, torch.Tensor) or value.numel() == 1) else repr(value)
    return "  ".join(show(state) for state in states[-8:])


class _Mismatch(AssertionError):
    pass


def _compare_state(mine: dict, expected: dict, keys: tuple[str, ...]) -> tuple | None:
    """The first difference among `keys`, as (words, key whose history to show or None, group)."""
    if "lrs" in keys:
        for group, want in enumerate(expected["lrs"]):
            if not _close(mine["lrs"][group], want):
                return (f"param_groups[{group}]['lr'] is {mine['lrs'][group]!r}, PyTorch's is {want!r}", "lrs", group)
    if "get_last_lr" in keys:
        last = mine["get_last_lr"]
        if not isinstance(last, list):
            return (f"get_last_lr() returned {type(last).__name__} {last!r}: it must return a list "
                    "with one float per parameter group", None, None)
        if len(last) != len(expected["lrs"]):
            return (f"get_last_lr() returned {len(last)} values for {len(expected['lrs'])} parameter groups",
                    None, None)
        for group, (value, want) in enumerate(zip(last, expected["lrs"])):
            if isinstance(value, torch.Tensor) or not _close(value, want):
                return (f"get_last_lr()[{group}] is {value!r}, but it must be the float {want!r} "
                        "(the group's current lr)", None, None)
    for name in keys:
        if name in ("lrs", "get_last_lr"):
            continue
        value = mine[name]
        if isinstance(value, AttributeError):
            return (f"the attribute `{name}` is missing (PyTorch's is {expected[name]!r})", None, None)
        if not _close(value, expected[name]):
            return (f"the attribute `{name}` is {value!r}, PyTorch's is {expected[name]!r}", name, None)
    return None


def _check_cases(student_class, cases, reference_name: str, attributes: tuple[str, ...],
                 compare: tuple[str, ...]) -> None:
    problem = _forbidden_class_message(student_class)
    if problem:
        raise AssertionError(problem)
    references = reference_trajectories([case.request() for case in cases])
    for case, reference in zip(cases, references):
        kwargs = case.kwargs
        title = _describe(student_class.__name__, case.lrs, kwargs)
        hint = f"\nHint: {case.hint}" if case.hint else ""
        if "error" in reference:
            _expect_same_error(student_class, case, kwargs, reference, title, hint)
            continue
        if reference.get("ambiguous_steps"):
            raise RuntimeError(
                f"Test case {case!r} is unfair: at steps {reference['ambiguous_steps']} a value lies on a "
                "threshold or eps boundary to within rounding, where equally correct formulas may disagree. "
                "This is a fault in the test, not in your code: tell your instructor.")
        states, error, guard, wrapped = _run_student(student_class, case, attributes, compare)
        _forbid_torch_use(student_class, guard, wrapped)
        expected = reference["states"]
        for step, mine in enumerate(states):
            difference = _compare_state(mine, expected[step], compare)
            if difference:
                text, key, group = difference
                when = "right after construction" if step == 0 else f"after step number {step}"
                feed = _metric_history(case, step)
                history = ""
                if key is not None:
                    history = (f"\n  PyTorch's {reference_name}: {_history(expected[:step + 1], key, group)}"
                               f"\n  yours:{' ' * (len(reference_name) + 3)}{_history(states[:step + 1], key, group)}")
                raise _Mismatch(f"{title}:\n{when}, {text}.{feed}{history}{hint}")
        if error is not None:
            raise AssertionError(f"{title}:\nyour code raised {type(error).__name__}: {error} "
                                 f"({_where(states)}).{hint}")


def _where(states) -> str:
    return "in the constructor" if not states else f"in step() number {len(states)}"


def _metric_history(case, step: int) -> str:
    metrics = getattr(case, "metrics", None)
    if not metrics or step == 0:
        return ""
    shown = ", ".join(f"{m:g}" for m in metrics[max(0, step - 8):step])
    return f"\n  metrics passed to step() so far (last 8): [{shown}]"


def _expect_same_error(student_class, case, kwargs, reference, title, hint) -> None:
    guard = _Guard(SECONDS_PER_CASE)
    raised = None
    try:
        with guard.running():
            student_class(make_optimizer(case.lrs), **kwargs)
    except StudentTimeout:
        raise AssertionError(f"{title}: the constructor did not finish within {guard.seconds:.0f} s.") from None
    except Exception as error:
        raised = error
    _forbid_torch_use(student_class, guard, None)
    if raised is None:
        raise AssertionError(f"{title}:\nPyTorch raises {reference['error']} ({reference['message']}); "
                             f"yours raised nothing.{hint}")
    same = isinstance(raised, ValueError) if reference["error"] == "ValueError" else (
        type(raised).__name__ == reference["error"])
    if not same:
        raise AssertionError(f"{title}:\nPyTorch raises {reference['error']}; yours raised "
                             f"{type(raised).__name__}: {raised}.{hint}")


STEP_LR_ATTRIBUTES = ("last_epoch",)
PLATEAU_ATTRIBUTES = ("best", "num_bad_epochs", "cooldown_counter")


def check_step_lr(student_class, cases: list[StepLRCase], compare=("lrs", "get_last_lr", "last_epoch")) -> None:
    """Compare `student_class` with torch's StepLR on every case; raise at the first difference.

    `compare` names what must match after construction and after every step: "lrs" (the optimizer's
    rates), "get_last_lr", and attributes ("last_epoch").
    """
    _check_cases(student_class, cases, "StepLR", STEP_LR_ATTRIBUTES, tuple(compare))


def check_plateau(student_class, cases: list[PlateauCase],
                  compare=("lrs", "get_last_lr") + PLATEAU_ATTRIBUTES) -> None:
    """Compare `student_class` with torch's ReduceLROnPlateau on every case (see `check_step_lr`)."""
    _check_cases(student_class, cases, "ReduceLROnPlateau", PLATEAU_ATTRIBUTES, tuple(compare))


def passed(message: str = "All checks in this cell passed.") -> None:
    """Print a short confirmation (stdout, so it never costs marks)."""
    print(message)


# --------------------------------------------------------------------------------------------
# Small checks for the other exercises: readable messages instead of bare asserts
# --------------------------------------------------------------------------------------------
def expect(condition: bool, message: str) -> None:
    """Fail with `message` (what was checked and what to do) unless `condition` holds."""
    if not condition:
        raise AssertionError(message)


def expect_equal(actual, expected, what: str) -> None:
    expect(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def expect_close(actual, expected, what: str, rel_tol: float = RELATIVE_TOLERANCE) -> None:
    """`actual` equals `expected` (a number or a sequence of numbers) to a relative tolerance."""
    if isinstance(expected, (list, tuple)):
        ok = (isinstance(actual, (list, tuple)) and len(actual) == len(expected)
              and all(_close(a, e) for a, e in zip(actual, expected)))
    else:
        ok = _close(actual, expected)
    expect(ok, f"{what}: expected {expected!r}, got {actual!r}")


# --------------------------------------------------------------------------------------------
# A preview for students: their class next to PyTorch's, without failing the notebook
# --------------------------------------------------------------------------------------------
def preview(student_class, torch_class, epochs: int = 10, lr: float = 1.0, metrics=None, **kwargs) -> None:
    """Print the rates of `student_class` and of PyTorch's `torch_class` epoch by epoch.

    The student's class runs under the same guard as the tests (output captured, a few seconds at
    most), and any problem is printed rather than raised, so this cell never stops the notebook.
    """
    from lrcourse.schedules import lr_curve

    reference = lr_curve(lambda opt: torch_class(opt, **kwargs), epochs, lrs=lr, metrics=metrics)
    print(f"PyTorch's {torch_class.__name__}: {[round(float(x), 6) for x in reference]}")
    guard = _Guard(SECONDS_PER_CASE)
    try:
        with guard.running():
            mine = lr_curve(lambda opt: student_class(opt, **kwargs), epochs, lrs=lr, metrics=metrics)
    except NotImplementedError:
        print(f"your {student_class.__name__}: not written yet")
        return
    except StudentTimeout:
        print(f"your {student_class.__name__}: did not finish within {guard.seconds:.0f} s (a loop that never ends?)")
        return
    except Exception as error:
        print(f"your {student_class.__name__}: raised {type(error).__name__}: {error}")
        return
    print(f"your {student_class.__name__}:{' ' * (len(torch_class.__name__) - len(student_class.__name__) + 6)}"
          f"{[round(float(x), 6) for x in mine]}")


# --------------------------------------------------------------------------------------------
# A factor function for LambdaLR (chapter 4)
# --------------------------------------------------------------------------------------------
def check_warmup_cosine(factor, warmup: int, total: int, floor: float, epochs: int | None = None) -> None:
    """`factor(epoch, warmup, total, floor)` must give PyTorch's SequentialLR(LinearLR, CosineAnnealingLR)
    rate (for lr = 1) at every epoch before `total`, and `floor` from `total` on."""
    epochs = epochs or total + 5
    request = {"scheduler": "WarmupCosine", "lrs": [1.0], "steps": total - 1,
               "kwargs": {"warmup": warmup, "total": total, "floor": floor}}
    [reference] = reference_trajectories([request])
    expected = [state["lrs"][0] for state in reference["states"]] + [floor] * (epochs - total)
    guard = _Guard(SECONDS_PER_CASE)
    try:
        with guard.running():
            mine = [factor(epoch, warmup, total, floor) for epoch in range(epochs)]
    except StudentTimeout:
        raise AssertionError(f"factor(epoch, {warmup}, {total}, {floor}) did not finish within {guard.seconds:.0f} s") from None
    for epoch, (value, want) in enumerate(zip(mine, expected)):
        if not _close(value, want):
            phase = ("warm-up" if epoch < warmup else "cosine decay" if epoch < total else "after total_epochs")
            raise AssertionError(
                f"warmup_cosine_factor(epoch={epoch}, warmup_epochs={warmup}, total_epochs={total}, floor={floor}) "
                f"is {value!r}; PyTorch's SequentialLR(LinearLR, CosineAnnealingLR) gives {want!r} ({phase} phase).")


# --------------------------------------------------------------------------------------------
# The training loop (chapter 5)
# --------------------------------------------------------------------------------------------
FIT_KEYS = ("lr", "train_loss", "val_loss", "val_acc")
ORDER_WARNING = "before `optimizer.step()`"


def _fit_scheduler(name: str, optimizer):
    schedulers = torch.optim.lr_scheduler
    if name == "StepLR":
        return schedulers.StepLR(optimizer, step_size=2, gamma=0.5)
    if name == "warm-up":
        return schedulers.LambdaLR(optimizer, lambda epoch: min(1.0, (epoch + 1) / 3))
    # a large relative threshold: the loss still falls, but too slowly to count, so the rate is reduced
    return schedulers.ReduceLROnPlateau(optimizer, factor=0.5, patience=0, threshold=0.25)


def check_fit(fit, scheduler_name: str, epochs: int = 6, lr: float = 0.01) -> dict:
    """Run the student's `fit` on the digits with a fresh model, Adam(lr) and the named scheduler, and
    check the history it returns, the order of the steps and the learning-rate trajectory."""
    from lrcourse import training
    from lrcourse.schedules import lr_curve

    with training.one_thread():
        train_loader, val_loader = training.digits_loaders(seed=1)
        model = training.make_model(seed=1)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        scheduler = _fit_scheduler(scheduler_name, optimizer)
        guard = _Guard(30.0, forbid_schedulers=False,
                       forbidden_code=[training.run_schedule.__wrapped__.__code__])
        call = f"fit(model, optimizer, {scheduler_name} scheduler, train_loader, val_loader, loss_fn, epochs={epochs})"
        try:
            with guard.running():
                history = fit(model, optimizer, scheduler, train_loader, val_loader, torch.nn.CrossEntropyLoss(), epochs)
        except StudentTimeout:
            raise AssertionError(f"{call} did not finish within {guard.seconds:.0f} s") from None
    expect(not guard.forbidden_calls, f"{call} called lrcourse.training.run_schedule: write the loop yourself.")
    order = [w for w in guard.warnings if ORDER_WARNING in str(w.message)]
    expect(not order, f"{call}: PyTorch warned that scheduler.step() was called before optimizer.step(). Step the "
                      "optimizer for every batch first, and the scheduler once at the end of the epoch.")
    expect(isinstance(history, dict) and set(FIT_KEYS) <= set(history),
           f"{call} must return a dict with the keys {list(FIT_KEYS)}; it returned {type(history).__name__}"
           + (f" with keys {sorted(history)}" if isinstance(history, dict) else ""))
    for key in FIT_KEYS:
        expect(len(history[key]) == epochs, f"history[{key!r}] has {len(history[key])} entries for {epochs} epochs")
    expect(scheduler.last_epoch == epochs,
           f"{call}: the scheduler was stepped {scheduler.last_epoch} times in {epochs} epochs; step it once per epoch")
    metrics = list(history["val_loss"]) if scheduler_name == "ReduceLROnPlateau" else None
    expected = lr_curve(lambda opt: _fit_scheduler(scheduler_name, opt), epochs, lrs=lr, metrics=metrics)
    for epoch, (value, want) in enumerate(zip(history["lr"], expected)):
        expect(_close(value, float(want)),
               f"{call}: history['lr'][{epoch}] is {value!r}, but the rate used in epoch {epoch} is {float(want)!r}. "
               "Record optimizer.param_groups[0]['lr'] at the start of each epoch"
               + (", and pass the epoch's validation loss to scheduler.step()" if metrics else "") + ".")
    expect(history["train_loss"][-1] < history["train_loss"][0], f"{call}: the training loss did not go down")
    return history
