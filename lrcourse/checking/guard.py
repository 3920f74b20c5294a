"""The guard around every call into a student's code, and the rule against PyTorch's schedulers.

Both halves of a check use it: the observer runs the student's code under a `Guard` (output and warnings
captured, so nbgrader never sees the student's stderr; a budget in seconds, so a loop that never ends is
cut; calls into torch.optim.lr_scheduler recorded), and the judge reads what the guard saw with
`expect_no_torch_scheduler`.
"""

from __future__ import annotations

import contextlib
import io
import signal
import sys
import threading
import warnings

from lrcourse import wire
from lrcourse.checking.answer_forms import returned_as_sent
from lrcourse.checking.expect import CheckFailed

SCHEDULER_MODULE = "torch.optim.lr_scheduler"
SECONDS_PER_CASE = 3.0  # one call into a student's code, unless the check passes its own budget
TRAINING_SECONDS = 30.0  # a whole training run of chapters 5 and 6 (an epoch or a range test on the digits)


class StudentTimeout(BaseException):
    """Raised inside a student's code that runs too long (a BaseException: `except Exception` in
    the student's loop cannot swallow it)."""


def per_case_seconds(payload: dict) -> float:
    """An observer's budget per call for this request: the `seconds_per_case` the check put in the payload,
    else SECONDS_PER_CASE. The payload carries it, so the kernel's guard and the grader's wait agree."""
    return float(payload.get("seconds_per_case", SECONDS_PER_CASE))


def case_seconds(case: dict, per_case: float = SECONDS_PER_CASE) -> float:
    """The budget of one scheduler case: longer runs get proportionally more time."""
    steps = len(case["metrics"]) if case.get("metrics") is not None else case.get("steps", 0)
    return per_case * (1 + steps / 200)


def is_torch_scheduler_class(cls) -> bool:
    return any(getattr(klass, "__module__", "").startswith(SCHEDULER_MODULE) for klass in cls.__mro__)


def forbidden_class_message(student_class) -> str | None:
    if not isinstance(student_class, type):
        return f"{student_class!r} is not a class: define it with `class ...:`."
    for klass in student_class.__mro__:
        if getattr(klass, "__module__", "").startswith(SCHEDULER_MODULE):
            how = "is" if klass is student_class else "subclasses"
            return (
                f"{student_class.__name__} {how} PyTorch's {klass.__name__}. This exercise asks "
                f"for your own implementation: no use of {SCHEDULER_MODULE} is allowed."
            )
    return None


def wrapped_scheduler(instance) -> str | None:
    """The name of an attribute holding a PyTorch scheduler (a wrapped instance), if any."""
    for name, value in vars(instance).items():
        values = value if isinstance(value, (list, tuple)) else (value.values() if isinstance(value, dict) else [value])
        for item in values:
            if is_torch_scheduler_class(type(item)):
                return name
    return None


class Guard:
    """Captures output and warnings, records calls into torch's scheduler code, enforces a budget: `seconds` on the
    clock, and with `cpu_seconds` also the process's CPU time (user and system, every thread: ITIMER_PROF), so that a
    budget in CPU time can stand while `seconds` is only the backstop that ends code that waits without computing."""

    def __init__(self, seconds: float, forbid_schedulers: bool = True, forbidden_code=(), cpu_seconds=None):
        self.seconds = seconds
        # never 0: setitimer(…, 0) would turn the timer off, not end the code at once
        self.cpu_seconds = None if cpu_seconds is None else max(float(cpu_seconds), 1e-6)
        self.forbidden_calls: list[str] = []
        self.warnings: list[warnings.WarningMessage] = []
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        module = sys.modules.get(SCHEDULER_MODULE)
        self._scheduler_file = getattr(module, "__file__", None) if forbid_schedulers else None
        self._forbidden_code = set(forbidden_code)

    def _profile(self, frame, event, arg):
        if event == "call" and (
            frame.f_code.co_filename == self._scheduler_file or frame.f_code in self._forbidden_code
        ):
            self.forbidden_calls.append(frame.f_code.co_qualname)

    def _alarm(self, signum, frame):
        raise StudentTimeout()

    @contextlib.contextmanager
    def running(self):
        use_alarm = threading.current_thread() is threading.main_thread()
        use_cpu = use_alarm and self.cpu_seconds is not None
        if use_alarm:
            previous_handler = signal.signal(signal.SIGALRM, self._alarm)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        if use_cpu:
            previous_cpu_handler = signal.signal(signal.SIGPROF, self._alarm)
            signal.setitimer(signal.ITIMER_PROF, self.cpu_seconds)
        previous_profile = sys.getprofile()
        try:
            with (
                warnings.catch_warnings(record=True) as self.warnings,
                contextlib.redirect_stdout(self.stdout),
                contextlib.redirect_stderr(self.stderr),
            ):
                warnings.simplefilter("always")
                sys.setprofile(self._profile)
                try:
                    yield self
                finally:
                    sys.setprofile(previous_profile)
        finally:
            if use_cpu:
                signal.setitimer(signal.ITIMER_PROF, 0)
                signal.signal(signal.SIGPROF, previous_cpu_handler)
            if use_alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous_handler)

    def record(self, observation: dict, function, /, *args, **kwargs) -> None:
        """Call the student's `function(*args, **kwargs)` under the guard and record the outcome in
        `observation` as plain data: its value (encoded under the guard too: a student's `__repr__` may
        loop), or `timeout`, or the error it raised (the student's bug, reported, not raised)."""
        try:
            with self.running():
                observation["value"] = wire.encode(function(*args, **kwargs))
        except StudentTimeout:
            observation["timeout"] = True
        except Exception as error:
            observation["error"] = wire.encode_error(error)


def call_answer(function, args: tuple, call: str, why: str):
    """`function(*args)` of a plain-arithmetic answer, called by the judge under the guard: its value as the grader
    reads it (`answer_forms.returned_as_sent`, converted under the guard too; Unsendable if the grader reads none), or a
    CheckFailed that says it ran too long or used PyTorch's schedulers (`why`: what the exercise asks instead).
    Errors of the answer's own propagate: the check says what they mean."""
    forbidden = f"{call} uses {SCHEDULER_MODULE}{{}}. {why}"
    guard = Guard(SECONDS_PER_CASE)
    try:
        with guard.running():  # the value read as the grader reads it under the same guard: a __float__ may loop
            answer = returned_as_sent(function(*args), call)  # or run PyTorch's schedulers (R23p)
    except StudentTimeout:
        raise CheckFailed(f"{call} did not finish within {guard.seconds:.0f} s") from None
    except Exception as error:  # under `lrcourse grade` the answer's process has only a stub of the module
        if type(error).__name__ == "ForbiddenUse":
            raise CheckFailed(forbidden.format("")) from None
        raise
    if guard.forbidden_calls:  # in the notebook: the guard saw the answer run PyTorch's scheduler code
        ran = sorted({name.split(".")[0] for name in guard.forbidden_calls} - {"LRScheduler"})
        raise CheckFailed(
            forbidden.format(f" (it ran {', '.join(n for n in ran if not n.startswith('_')) or 'its code'})")
        )
    return answer


def expect_no_torch_scheduler(class_name: str, observation: dict) -> None:
    """The judge's side of the rule: fail if the observer saw the student's code use PyTorch's schedulers."""
    if observation.get("forbidden"):
        raise CheckFailed(observation["forbidden"])
    if observation.get("calls"):
        raise CheckFailed(
            f"{class_name} ran code from {SCHEDULER_MODULE} ({', '.join(observation['calls'])}). This exercise "
            "asks for your own implementation: no use of PyTorch's schedulers is allowed, so it earns no marks."
        )
    if observation.get("wrapped"):
        raise CheckFailed(
            f"{class_name} keeps a PyTorch scheduler in `self.{observation['wrapped']}`. This exercise asks for "
            "your own implementation: wrapping PyTorch's scheduler earns no marks."
        )
    error = observation.get("error")
    if error is not None and type(error).__name__ == "ForbiddenUse":
        raise CheckFailed(f"{class_name} used {SCHEDULER_MODULE}: {error}")
