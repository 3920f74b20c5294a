"""What the exercises' test cells use to compare a student's answer with PyTorch.

Every check has two halves, so that the same test cell can run in two places:

- an *observer* runs the student's code and records what it did (rates after each step, values returned,
  the exception raised), as plain data (`lrcourse.grading.wire`). In a notebook's kernel it runs right
  there; under `lrcourse grade` it runs in a fresh process of the student's own, which the grader drives
  (`lrcourse.grading.verdicts`), and only the observations come back.
- a *judge* compares the observations with PyTorch's reference, computed where the judge runs, and raises
  an `AssertionError` that says what was configured, at which step, what was expected, what came out, and
  the likely cause.

So in the kernel the checks give the student their messages, and under `lrcourse grade` the very same test
cells decide the grade in the grader's own process: the expected values never reach the student's code.

The observer's guard keeps grading fair in both directions: anything the student's code prints or warns
is captured (nbgrader zeroes a cell that writes to stderr), and a loop that never ends is cut after a few
seconds. Using `torch.optim.lr_scheduler` inside the scheduler exercises earns no marks (under `lrcourse
grade` that module is not even there to use).

This module holds no answer: it only runs the student's code and PyTorch's.
"""
from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import numbers
import os
import signal
import sys
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lrcourse.grading import wire
from lrcourse.reference import reference_trajectories
from lrcourse.schedules import make_optimizer
from lrcourse.tolerances import DIVERGING_LOSS_RTOL, LOSS_ATOL, LOSS_RTOL, RATE_ATOL, RATE_RTOL

SCHEDULER_MODULE = "torch.optim.lr_scheduler"
RELATIVE_TOLERANCE = RATE_RTOL  # lrcourse/tolerances.py says why
SECONDS_PER_CASE = 3.0


class StudentTimeout(BaseException):
    """Raised inside a student's code that runs too long (a BaseException: `except Exception` in
    the student's loop cannot swallow it)."""


class RemoteTarget:
    """A name defined in a student's process that the grader drives from outside (see
    `lrcourse.grading.verdicts`): observers run over there, judges here."""

    name = "?"

    def observe(self, observer: str, payload: dict) -> dict:
        raise NotImplementedError


def observe(target, observer: str, payload: dict) -> dict:
    """Run `observer` on the student's `target` wherever that lives; the observations, decoded."""
    if isinstance(target, RemoteTarget):
        return target.observe(observer, payload)
    expect_self_contained(target)
    return decode_observation(OBSERVERS[observer](target, payload))


# --------------------------------------------------------------------------------------------
# The answer cell must stand on its own (the grader runs it after the setup cell, and nothing else)
# --------------------------------------------------------------------------------------------
def _cell_source(target) -> str | None:
    """The source of the notebook cell that defined `target` (IPython keeps each cell's text in linecache)."""
    import linecache

    functions = [target] if callable(target) and hasattr(target, "__code__") else [
        value for value in vars(target).values() if hasattr(value, "__code__")] if isinstance(target, type) else []
    for function in functions:
        lines = linecache.getlines(function.__code__.co_filename)
        if lines:
            return "".join(lines)
    return None


def _names_used_but_not_defined(source: str) -> set[str]:
    """Global names the cell reads without binding them itself."""
    import symtable

    top = symtable.symtable(source, "<answer cell>", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    used = set()

    def visit(table):
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (table is top or symbol.is_global()):
                used.add(symbol.get_name())
        for child in table.get_children():
            visit(child)

    visit(top)
    return used - defined - set(dir(__import__("builtins")))


def _context_names() -> set[str] | None:
    """The names the chapter's setup (and context) cells bind, from the notebook in the working folder."""
    import ast
    import glob
    import json

    for path in glob.glob("*.ipynb"):
        try:
            cells = json.load(open(path, encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        sources = ["".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code" and (
            c.get("id") == "setup" or c.get("metadata", {}).get("lrcourse", {}).get("context"))]
        if not sources:
            continue
        names = set()
        for source in sources:
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names |= {(a.asname or a.name).split(".")[0] for a in node.names}
                elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    names.add(node.name)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
        return names
    return None


def expect_self_contained(target) -> None:
    """In the notebook: fail if the answer cell that defined `target` reads a name that neither it nor the
    chapter's setup cell defines. The grader runs the answer cell alone after the setup cell, so such an
    answer would pass here and fail there."""
    source, context = _cell_source(target), _context_names()
    if source is None or context is None:
        return
    try:
        missing = sorted(_names_used_but_not_defined(source) - context)
    except SyntaxError:
        return
    name = getattr(target, "__name__", "your answer")
    expect(not missing, f"The cell that defines {name} uses {', '.join(missing)}, which that cell does not define. "
                        "The grader runs only the answer cell, on its own, after the chapter's setup cell: define or "
                        f"import {'it' if len(missing) == 1 else 'them'} inside the answer cell, and define {name} there.")


def decode_observation(raw: dict) -> dict:
    """The observer's plain data as local values (the judge's side; raises wire.Malformed)."""
    if not isinstance(raw, dict):
        raise wire.Malformed("an observation is a JSON object")
    result = {}
    for key, value in raw.items():
        if key == "states":
            result[key] = [wire.decode(state) for state in value[:100_000]]
        elif key == "error":
            result[key] = None if value is None else wire.decode_error(value)
        elif key == "value":
            result[key] = wire.decode(value)
        elif key in ("timeout", "order_warning"):
            result[key] = bool(value)
        elif key in ("forbidden", "wrapped", "name"):
            result[key] = None if value is None else str(value)[:wire.MAX_TEXT]
        elif key == "calls":
            result[key] = [str(call)[:200] for call in value[:20]]
        elif key == "seconds":
            result[key] = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0
        elif key == "last_epoch":
            result[key] = wire.decode(value)
        elif key == "returned_lists":
            result[key] = [wire.decode(item) for item in value[:100_000]] if isinstance(value, list) else None
    return result


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------
@dataclass
class StepLRCase:
    """MyStepLR(optimizer, step_size, gamma) on groups with rates `lrs`, stepped `steps` times.

    `edits` sets rates by hand between steps, as other code might: {k: {group: rate}} writes
    `param_groups[group]["lr"] = rate` just before step number k (counting from 1). With `after_edits` a
    state is also recorded right after each hand edit, before the step (what get_last_lr() says then); an edit
    keyed steps + 1 then comes after the last step, with no step after it.
    """

    lrs: list[float]
    step_size: int
    gamma: float | None = None  # None: not passed, so the class's default is tested
    steps: int = 20
    hint: str = ""
    edits: dict = field(default_factory=dict)
    after_edits: bool = False

    @property
    def kwargs(self) -> dict:
        return {"step_size": self.step_size} | ({} if self.gamma is None else {"gamma": self.gamma})

    def request(self) -> dict:
        return {"scheduler": "StepLR", "lrs": self.lrs, "kwargs": self.kwargs, "steps": self.steps,
                "edits": _edits(self.edits)} | ({"after_edits": True} if self.after_edits else {})


@dataclass
class PlateauCase:
    """MyReduceLROnPlateau(optimizer, **kwargs) on groups with rates `lrs`, fed `metrics`.

    `as_tensor` passes the metrics as float32 tensors instead of floats: True, each a new one-element tensor
    torch.tensor([m]); "0-d", each a new 0-d tensor torch.tensor(m) (what a loss is); "0-d reused", one 0-d tensor
    that the caller updates in place (metric.fill_(m)) before each step(). `edits` and `after_edits` as in
    StepLRCase.
    """

    lrs: list[float]
    metrics: list[float]
    kwargs: dict = field(default_factory=dict)
    as_tensor: bool | str = False
    hint: str = ""
    edits: dict = field(default_factory=dict)
    after_edits: bool = False

    def request(self) -> dict:
        return {"scheduler": "ReduceLROnPlateau", "lrs": self.lrs, "kwargs": self.kwargs,
                "metrics": self.metrics, "edits": _edits(self.edits)} | ({"after_edits": True} if self.after_edits else {})


def _state_labels(case) -> list[tuple[str, int]]:
    """For each recorded state: when it was taken, and how many steps came before it."""
    request = case.request()
    edits = request.get("edits") or {}
    steps = len(request["metrics"]) if request.get("metrics") is not None else request["steps"]
    labels = [("right after construction", 0)]
    for step in range(1, steps + 2):
        if request.get("after_edits") and edits.get(str(step)):
            labels.append((f"after the hand edit just before step number {step} (before that step)", step - 1))
        if step <= steps:
            labels.append((f"after step number {step}", step))
    return labels


def _edits(edits: dict) -> dict:
    """JSON's form of the hand edits: string keys."""
    return {str(step): {str(group): rate for group, rate in groups.items()} for step, groups in edits.items()}


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
        module = sys.modules.get(SCHEDULER_MODULE)
        self._scheduler_file = getattr(module, "__file__", None) if forbid_schedulers else None
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
# Observers: run the student's code, record what it did (in the student's process)
# --------------------------------------------------------------------------------------------
def _case_seconds(case: dict) -> float:
    steps = len(case["metrics"]) if case.get("metrics") is not None else case.get("steps", 0)
    return SECONDS_PER_CASE * (1 + steps / 200)


def observe_scheduler(student_class, payload: dict) -> dict:
    """Construct the student's class on a fresh optimizer, step it through the case, and record the
    rates, get_last_lr() and the attributes named in `payload["record"]` after construction and each step."""
    case, record = payload["case"], payload["record"]
    observation = {"forbidden": _forbidden_class_message(student_class), "states": [], "error": None,
                   "timeout": False, "wrapped": None, "calls": [], "seconds": _case_seconds(case)}
    if observation["forbidden"]:
        return observation
    optimizer = make_optimizer(case["lrs"])
    metrics = case.get("metrics")
    edits = case.get("edits") or {}
    guard = _Guard(observation["seconds"])
    returned = []  # the very objects get_last_lr() returned: a list returned earlier must not change later
    as_tensor = payload.get("as_tensor")
    reused = torch.tensor(0.0)  # as_tensor == "0-d reused": the one tensor the caller updates in place

    def snapshot(scheduler):
        # Only what this cell grades: an unfinished get_last_lr() must not cost the rate cells.
        state = {"lrs": [group["lr"] for group in optimizer.param_groups]}
        if "get_last_lr" in record:
            state["get_last_lr"] = scheduler.get_last_lr()
            returned.append(state["get_last_lr"])
        for name in record:
            if name not in ("lrs", "get_last_lr"):
                state[name] = getattr(scheduler, name, wire.Missing(name))
        observation["states"].append(wire.encode(state))

    try:
        with guard.running():
            scheduler = student_class(optimizer, **case["kwargs"])
            observation["wrapped"] = _wrapped_scheduler(scheduler)
            snapshot(scheduler)
            for step in range(case["steps"] if metrics is None else len(metrics)):
                for group, rate in edits.get(str(step + 1), {}).items():
                    optimizer.param_groups[int(group)]["lr"] = rate
                if case.get("after_edits") and edits.get(str(step + 1)):
                    snapshot(scheduler)
                if metrics is None:
                    scheduler.step()
                else:
                    value = float(metrics[step]) if isinstance(metrics[step], str) else metrics[step]
                    if as_tensor == "0-d reused":
                        scheduler.step(reused.fill_(value))
                    elif as_tensor == "0-d":
                        scheduler.step(torch.tensor(value))
                    else:
                        scheduler.step(torch.tensor([value]) if as_tensor else value)
                snapshot(scheduler)
            last = str((case["steps"] if metrics is None else len(metrics)) + 1)
            if case.get("after_edits") and edits.get(last):     # an edit after the last step, and no step after it
                for group, rate in edits[last].items():
                    optimizer.param_groups[int(group)]["lr"] = rate
                snapshot(scheduler)
            if "get_last_lr" in record:
                observation["returned_lists"] = [wire.encode(value) for value in returned]
    except StudentTimeout:
        observation["timeout"] = True
    except Exception as error:  # the student's own bug, reported with the states so far
        observation["error"] = wire.encode_error(error)
    observation["calls"] = sorted({name.split(".")[0] for name in guard.forbidden_calls})
    return observation


def observe_construction(student_class, payload: dict) -> dict:
    """Only construct the student's class (for arguments PyTorch rejects): the exception raised, if any."""
    case = payload["case"]
    observation = {"forbidden": _forbidden_class_message(student_class), "error": None, "timeout": False,
                   "calls": [], "seconds": SECONDS_PER_CASE}
    if observation["forbidden"]:
        return observation
    guard = _Guard(SECONDS_PER_CASE)
    try:
        with guard.running():
            student_class(make_optimizer(case["lrs"]), **case["kwargs"])
    except StudentTimeout:
        observation["timeout"] = True
    except Exception as error:
        observation["error"] = wire.encode_error(error)
    observation["calls"] = sorted({name.split(".")[0] for name in guard.forbidden_calls})
    return observation


# --------------------------------------------------------------------------------------------
# Judges: compare with PyTorch (where the grade is decided)
# --------------------------------------------------------------------------------------------
def _describe(class_name: str, lrs: list[float], kwargs: dict) -> str:
    arguments = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
    groups = "group" if len(lrs) == 1 else "groups"
    return f"{class_name}(optimizer, {arguments}) on {len(lrs)} parameter {groups} with lr={lrs}"


def _forbid_torch_use(class_name: str, observation: dict) -> None:
    if observation.get("forbidden"):
        raise AssertionError(observation["forbidden"])
    if observation.get("calls"):
        raise AssertionError(
            f"{class_name} ran code from {SCHEDULER_MODULE} ({', '.join(observation['calls'])}). This exercise "
            "asks for your own implementation: no use of PyTorch's schedulers is allowed, so it earns no marks.")
    if observation.get("wrapped"):
        raise AssertionError(
            f"{class_name} keeps a PyTorch scheduler in `self.{observation['wrapped']}`. This exercise asks for "
            "your own implementation: wrapping PyTorch's scheduler earns no marks.")
    error = observation.get("error")
    if error is not None and type(error).__name__ == "ForbiddenUse":
        raise AssertionError(f"{class_name} used {SCHEDULER_MODULE}: {error}")


def _close(actual, expected: float) -> bool:
    if isinstance(actual, torch.Tensor):
        if actual.numel() != 1:
            return False
        actual = actual.item()
    if not isinstance(actual, numbers.Real) or isinstance(actual, bool):
        return False
    actual = float(actual)
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    if math.isinf(expected) or math.isinf(actual):
        return actual == expected
    return math.isclose(actual, expected, rel_tol=RELATIVE_TOLERANCE, abs_tol=RATE_ATOL)


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


def _compare_state(mine, expected: dict, keys: tuple[str, ...]) -> tuple | None:
    """The first difference among `keys`, as (words, key whose history to show or None, group)."""
    if not isinstance(mine, dict):
        return (f"the recorded state is {mine!r}", None, None)
    if "lrs" in keys:
        rates = mine.get("lrs")
        if not isinstance(rates, list) or len(rates) != len(expected["lrs"]):
            return (f"the optimizer's param_groups now hold {rates!r}", None, None)
        for group, want in enumerate(expected["lrs"]):
            if not _close(rates[group], want):
                return (f"param_groups[{group}]['lr'] is {rates[group]!r}, PyTorch's is {want!r}", "lrs", group)
    if "get_last_lr" in keys:
        last, wanted = mine.get("get_last_lr"), expected["get_last_lr"]
        if not isinstance(last, list):
            return (f"get_last_lr() returned {type(last).__name__} {last!r}: it must return a list "
                    "with one float per parameter group", None, None)
        if len(last) != len(wanted):
            return (f"get_last_lr() returned {len(last)} values for {len(wanted)} parameter groups", None, None)
        for group, (value, want) in enumerate(zip(last, wanted)):
            if isinstance(value, torch.Tensor) or not _close(value, want):
                return (f"get_last_lr()[{group}] is {value!r}, but it must be the float {want!r} "
                        "(the groups' rates right after construction or right after the last step(), whether or not that "
                        "step changed them; a rate changed by hand is not reported until the next step())", None, None)
    if "get_last_lr values" in keys:   # the values only: the list's form is graded where "get_last_lr" is compared
        last, wanted = mine.get("get_last_lr"), expected["get_last_lr"]
        values = list(last) if isinstance(last, (list, tuple)) else None
        if values is None or len(values) != len(wanted) or not all(_close(v, w) for v, w in zip(values, wanted)):
            return (f"get_last_lr() returned {last!r}, PyTorch's returns {wanted!r} (the groups' rates right after "
                    "construction or right after the last step(), whether or not that step changed them)", None, None)
    for name in keys:
        if name in ("lrs", "get_last_lr", "get_last_lr values"):
            continue
        value = mine.get(name)
        if isinstance(value, wire.Missing) or name not in mine:
            return (f"the attribute `{name}` is missing (PyTorch's is {expected[name]!r})", None, None)
        want = expected[name]
        if not _close(value, want):
            return (f"the attribute `{name}` is {value!r}, PyTorch's is {want!r}", name, None)
        if type(want) is int and type(value) is not int:    # a counter: PyTorch's is an int, compared exactly
            return (f"the attribute `{name}` is {value!r} ({type(value).__name__}), PyTorch's is the int {want!r}: "
                    "it counts steps, so keep it an int (`+= 1`, not `+= 1.0`)", None, None)
    return None


def _name_of(student_class) -> str:
    return student_class.name if isinstance(student_class, RemoteTarget) else getattr(
        student_class, "__name__", type(student_class).__name__)


def _check_cases(student_class, cases, reference_name: str, compare: tuple[str, ...]) -> None:
    name = _name_of(student_class)
    references = reference_trajectories([case.request() for case in cases])
    for case, reference in zip(cases, references):
        request = case.request()
        title = _describe(name, case.lrs, case.kwargs)
        hint = f"\nHint: {case.hint}" if case.hint else ""
        if "error" in reference:
            _expect_same_error(student_class, request, reference, title, hint)
            continue
        if reference.get("ambiguous_steps"):
            raise RuntimeError(
                f"Test case {case!r} is unfair: at steps {reference['ambiguous_steps']} a value lies on a "
                "threshold or eps boundary to within rounding, where equally correct formulas may disagree. "
                "This is a fault in the test, not in your code: tell your instructor.")
        sent = request if request.get("metrics") is None else {  # JSON has no nan or inf: sent as text
            **request, "metrics": [m if math.isfinite(m) else repr(float(m)) for m in request["metrics"]]}
        record = list(dict.fromkeys("get_last_lr" if key == "get_last_lr values" else key for key in compare))
        observation = observe(student_class, "scheduler", {
            "case": sent, "record": record, "as_tensor": getattr(case, "as_tensor", False)})
        _forbid_torch_use(name, observation)
        states, expected = observation["states"], reference["states"]
        labels = _state_labels(case)
        for index, mine in enumerate(states[:len(expected)]):
            difference = _compare_state(mine, expected[index], compare)
            if difference:
                text, key, group = difference
                when, step = labels[index] if index < len(labels) else (f"in state {index}", index)
                feed = _metric_history(case, step)
                history = ""
                if key is not None:
                    history = (f"\n  PyTorch's {reference_name}: {_history(expected[:index + 1], key, group)}"
                               f"\n  yours:{' ' * (len(reference_name) + 3)}{_history(states[:index + 1], key, group)}")
                edited = _edit_note(case, step + 1 if "hand edit" in when else step)
                raise _Mismatch(f"{title}:\n{when}, {text}.{feed}{edited}{history}{hint}")
        if observation["timeout"]:
            raise AssertionError(f"{title}: your code did not finish within {observation['seconds']:.0f} s "
                                 f"({_where(states)}). Is there a loop that never ends?")
        error = observation["error"]
        if error is not None:
            raise AssertionError(f"{title}:\nyour code raised {type(error).__name__}: {error} "
                                 f"({_where(states)}).{hint}")
        if len(states) != len(expected):
            raise AssertionError(f"{title}: {len(states)} states recorded for {len(expected)} expected.")
        if "get_last_lr" in compare:
            _expect_lists_kept(title, observation.get("returned_lists"), expected, labels, hint)


def _expect_lists_kept(title: str, kept, expected: list, labels: list, hint: str) -> None:
    """Each list get_last_lr() returned still holds what it held then (PyTorch makes a new one at construction
    and at every step(), so a caller's earlier list never changes)."""
    if not isinstance(kept, list) or len(kept) != len(expected):
        raise AssertionError(f"{title}: the lists get_last_lr() returned were not recorded.")
    last = labels[len(expected) - 1][0] if len(labels) >= len(expected) else "at the end"
    for index, (now, state) in enumerate(zip(kept, expected)):
        wanted = state["get_last_lr"]
        if not (isinstance(now, list) and len(now) == len(wanted) and all(_close(v, w) for v, w in zip(now, wanted))):
            when = labels[index][0] if index < len(labels) else f"in state {index}"
            raise _Mismatch(
                f"{title}:\nthe list get_last_lr() returned {when} held {wanted!r}; at the end of the run ({last}) "
                f"that same list object holds {now!r}. PyTorch's get_last_lr() gives a new list at construction and at "
                "every step(), so a list it returned earlier never changes: build a new list in step() "
                f"(self._last_lr = [...]) instead of updating the old one in place.{hint}")


def _edit_note(case, step: int) -> str:
    edits = [f"before step {k}: " + ", ".join(f"param_groups[{g}]['lr'] = {r!r}" for g, r in groups.items())
             for k, groups in sorted(case.edits.items()) if int(k) <= step]
    return ("\n  rates set by hand during the run: " + "; ".join(edits)) if edits else ""


def _where(states) -> str:
    return "in the constructor" if not states else f"in step() number {len(states)}"


def _metric_history(case, step: int) -> str:
    metrics = getattr(case, "metrics", None)
    if not metrics or step == 0:
        return ""
    shown = ", ".join(f"{m:g}" for m in metrics[max(0, step - 8):step])
    passed_as = {True: ", each as a new tensor torch.tensor([m])", "0-d": ", each as a new 0-d tensor torch.tensor(m)",
                 "0-d reused": ", as one 0-d tensor that the caller updates in place (metric.fill_(m)) before each step()"
                 }.get(getattr(case, "as_tensor", False), "")
    return f"\n  metrics passed to step() so far (last 8): [{shown}]{passed_as}"


def _expect_same_error(student_class, request, reference, title, hint) -> None:
    observation = observe(student_class, "construction", {"case": request})
    _forbid_torch_use(_name_of(student_class), observation)
    if observation["timeout"]:
        raise AssertionError(f"{title}: the constructor did not finish within {observation['seconds']:.0f} s.")
    raised = observation["error"]
    if raised is None:
        raise AssertionError(f"{title}:\nPyTorch raises {reference['error']} ({reference['message']}); "
                             f"yours raised nothing.{hint}")
    same = isinstance(raised, ValueError) if reference["error"] == "ValueError" else (
        type(raised).__name__ == reference["error"])
    if not same:
        raise AssertionError(f"{title}:\nPyTorch raises {reference['error']}; yours raised "
                             f"{type(raised).__name__}: {raised}.{hint}")


def check_step_lr(student_class, cases: list[StepLRCase], compare=("lrs", "get_last_lr", "last_epoch")) -> None:
    """Compare `student_class` with torch's StepLR on every case; raise at the first difference.

    `compare` names what must match after construction and after every step: "lrs" (the optimizer's
    rates), "get_last_lr" (a new list of floats each time, with PyTorch's values), "get_last_lr values" (the values
    only, in any list, tuple or one-element tensors), and attributes ("last_epoch", an int compared exactly).
    """
    _check_cases(student_class, cases, "StepLR", tuple(compare))


def check_plateau(student_class, cases: list[PlateauCase],
                  compare=("lrs", "get_last_lr", "best", "num_bad_epochs", "cooldown_counter")) -> None:
    """Compare `student_class` with torch's ReduceLROnPlateau on every case (see `check_step_lr`)."""
    _check_cases(student_class, cases, "ReduceLROnPlateau", tuple(compare))


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
    if not isinstance(factor, RemoteTarget):
        expect_self_contained(factor)
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


def check_warmup_step(factor, warmup: int, start_factor: float, step_size: int, gamma: float,
                      epochs: range | None = None) -> None:
    """`factor(epoch, warmup, start_factor, step_size, gamma)` must give PyTorch's rate (for lr = 1) of
    SequentialLR([LinearLR(start_factor, total_iters=warmup), StepLR(step_size, gamma)], milestones=[warmup])
    at every epoch of `epochs` (default: the first warmup + 4 * step_size + 3)."""
    if not isinstance(factor, RemoteTarget):
        expect_self_contained(factor)
    epochs = list(epochs if epochs is not None else range(warmup + 4 * step_size + 3))
    request = {"scheduler": "WarmupStep", "lrs": [1.0], "steps": max(epochs),
               "kwargs": {"warmup": warmup, "start_factor": start_factor, "step_size": step_size, "gamma": gamma}}
    [reference] = reference_trajectories([request])
    expected = [reference["states"][epoch]["lrs"][0] for epoch in epochs]
    call = f"warmup_step_factor(epoch, warmup_epochs={warmup}, start_factor={start_factor}, step_size={step_size}, gamma={gamma})"
    forbidden = (f"{call} uses {SCHEDULER_MODULE}{{}}. This exercise asks you to work the factor out yourself, as a formula "
                 "in epoch: no use of PyTorch's schedulers (nor of lr_curve with one) is allowed, so it earns no marks.")
    guard = _Guard(SECONDS_PER_CASE)
    try:
        with guard.running():
            mine = [factor(epoch, warmup, start_factor, step_size, gamma) for epoch in epochs]
    except StudentTimeout:
        raise AssertionError(f"{call} did not finish within {guard.seconds:.0f} s") from None
    except Exception as error:  # under `lrcourse grade` the answer's process has only a stub of the module
        if type(error).__name__ == "ForbiddenUse":
            raise AssertionError(forbidden.format("")) from None
        raise
    if guard.forbidden_calls:  # in the notebook: the guard saw the answer run PyTorch's scheduler code
        ran = sorted({name.split(".")[0] for name in guard.forbidden_calls} - {"LRScheduler"})
        raise AssertionError(forbidden.format(f" (it ran {', '.join(n for n in ran if not n.startswith('_')) or 'its code'})"))
    for epoch, value, want in zip(epochs, mine, expected):
        if not _close(value, want):
            phase = "warm-up, LinearLR" if epoch < warmup else "after the milestone, StepLR"
            raise AssertionError(
                f"{call.replace('epoch,', f'epoch={epoch},')} is {value!r}; PyTorch's SequentialLR([LinearLR, StepLR], "
                f"milestones=[{warmup}]) gives {want!r} at epoch {epoch} ({phase} phase).")


# --------------------------------------------------------------------------------------------
# The per-step training loop (chapter 5)
# --------------------------------------------------------------------------------------------
ORDER_WARNING = "before `optimizer.step()`"
def _references() -> "_ExpectedValues":
    """The expected values of the training exercises' cases (chapters 5 and 6)."""
    return _ExpectedValues()


GRADER_REFERENCES = Path(__file__).resolve().parent.parent / "grader" / "references.py"
EXPECTED_VISIBLE = Path(__file__).resolve().parent / "expected_visible.json"
RECORDING: dict | None = None  # grader/make_expected.py: every case computed is kept here


class _ExpectedValues:
    """The reference loops are the exercises' answers, so they are not in this package: they live in the
    course's grader/references.py, which the grader loads by its path (the sandboxes do not show it).
    A kernel's visible checks read their few fixed cases from expected_visible.json instead, and compute
    from grader/references.py only where that file exists (an instructor running the source notebooks)."""

    def reference_fit_steps(self, payload: dict) -> dict:
        return self._expected("fit_steps", payload)

    def reference_range_test(self, payload: dict) -> dict:
        return self._expected("range_test", payload)

    def _expected(self, kind: str, payload: dict) -> dict:
        key = json.dumps(payload, sort_keys=True)
        if RECORDING is None:
            table = _visible_table().get(kind, {})
            if key in table:
                return table[key]
        grader = _grader_references()
        if grader is None:
            raise AssertionError(f"the expected values of this case ({key}) are only on the grader's side; the "
                                 "visible checks use their own cases (keep the test cell's arguments as they are)")
        result = json.loads(json.dumps(getattr(grader, f"reference_{kind}")(payload)))
        if RECORDING is not None:
            RECORDING.setdefault(kind, {})[key] = result
        return result


@functools.lru_cache(maxsize=1)
def _visible_table() -> dict:
    try:
        return json.loads(EXPECTED_VISIBLE.read_text())
    except (OSError, ValueError):
        return {}


@functools.lru_cache(maxsize=1)
def _grader_references():
    """grader/references.py, loaded by its path, or None where it is not (a student's installation, a sandbox)."""
    import importlib.util

    path = Path(os.environ.get("LRCOURSE_GRADER_REFERENCES", GRADER_REFERENCES))
    try:
        spec = importlib.util.spec_from_file_location("lrcourse_grader_references", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except (OSError, ImportError, AttributeError):
        return None
    return module if hasattr(module, "reference_range_test") else None


STEP_KEYS = ("lr", "loss", "val_loss")
LOSS_TOLERANCE = LOSS_RTOL  # lrcourse/tolerances.py says why


def _step_scheduler(name: str, optimizer, total_steps: int):
    schedulers = torch.optim.lr_scheduler
    if name == "OneCycleLR":
        return schedulers.OneCycleLR(optimizer, max_lr=optimizer.param_groups[0]["lr"], total_steps=total_steps,
                                     pct_start=0.3)
    if name == "warm-up + cosine":
        warmup = max(1, total_steps // 5)
        return schedulers.LambdaLR(optimizer, lambda step: (step + 1) / warmup if step < warmup else
                                   0.5 * (1 + math.cos(math.pi * (step - warmup) / (total_steps - warmup))))
    raise ValueError(name)


def _optimizer_steps(payload: dict) -> int:
    """Optimizer steps of a run with gradient accumulation: one per group of `accumulation` batches, groups
    ending with each epoch (the grader's count, from the test's own arguments)."""
    return payload["epochs"] * math.ceil(payload["batches"] / payload["accumulation"])


def _steps_fixture(payload: dict):
    """What a per-step run of the digits model is made of (the same on both sides): the scheduler is sized in
    optimizer steps."""
    from lrcourse import training

    train_set, val_set, _ = training.digits_split()
    batches = training.Batches(train_set, payload["batch_size"], seed=payload["seed"])
    model = training.make_model(payload["seed"])
    if payload.get("optimizer", "Adam") == "SGD":
        optimizer = torch.optim.SGD(model.parameters(), lr=payload["lr"], momentum=0.9)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=payload["lr"])
    steps = payload["epochs"] * math.ceil(len(batches) / payload.get("accumulation", 1))
    scheduler = _step_scheduler(payload["scheduler"], optimizer, steps)
    return model, optimizer, scheduler, batches, val_set


def observe_fit_steps(fit, payload: dict) -> dict:
    """Run the student's `fit_per_step` on the digits with a fresh model, an optimizer and a per-step scheduler;
    record what it returns, the rate each optimizer step used, and how often the scheduler was stepped."""
    from lrcourse import training

    observation = {"value": wire.encode(None), "states": [], "last_epoch": None, "order_warning": False, "timeout": False,
                   "error": None, "seconds": 30.0}
    with training.one_thread():
        model, optimizer, scheduler, batches, val_set = _steps_fixture(payload)
        used = []
        hook = optimizer.register_step_pre_hook(lambda opt, args, kwargs: used.append(opt.param_groups[0]["lr"]))
        guard = _Guard(observation["seconds"], forbid_schedulers=False)
        try:
            with guard.running():
                history = fit(model, optimizer, scheduler, batches, val_set, payload["epochs"], payload["accumulation"])
            observation["value"] = wire.encode(history)
        except StudentTimeout:
            observation["timeout"] = True
        except Exception as error:
            observation["error"] = wire.encode_error(error)
        hook.remove()
    observation["states"] = [wire.encode({"used": used[:100_000]})]
    observation["last_epoch"] = wire.encode(scheduler.last_epoch)
    observation["order_warning"] = any(ORDER_WARNING in str(w.message) for w in guard.warnings)
    return observation


def _steps_call(payload: dict) -> str:
    return (f"fit_per_step(model, {payload['optimizer']}(lr={payload['lr']}), {payload['scheduler']} over "
            f"{_optimizer_steps(payload)} optimizer steps, {payload['batches']} batches of up to "
            f"{payload['batch_size']} per epoch, val_set, epochs={payload['epochs']}, "
            f"accumulation={payload['accumulation']})")


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


def _observe_steps(fit, scheduler: str, epochs: int, lr: float, batch_size: int, seed: int, accumulation: int,
                   optimizer: str):
    payload = {"scheduler": scheduler, "epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed,
               "accumulation": accumulation, "optimizer": optimizer}
    payload["batches"] = math.ceil(1077 / batch_size)
    observation = observe(fit, "fit_steps", payload)
    call = _steps_call(payload)
    expect(not observation["timeout"], f"{call} did not finish within {observation['seconds']:.0f} s")
    if observation["error"] is not None:
        error = observation["error"]
        hint = (" The scheduler is built for exactly as many steps as the run makes optimizer steps: step it once "
                "per optimizer step." if "Tried to step" in str(error) else "")
        raise AssertionError(f"{call} raised {type(error).__name__}: {error}.{hint}")
    history = observation["value"]
    expect(isinstance(history, dict) and set(STEP_KEYS) <= set(history),
           f"{call} must return a dict with the keys {list(STEP_KEYS)}; it returned {type(history).__name__}"
           + (f" with keys {sorted(map(str, history))}" if isinstance(history, dict) else ""))
    for key in STEP_KEYS:
        expect(isinstance(history[key], (list, tuple)) and all(isinstance(v, numbers.Real) for v in history[key]),
               f"{call}: history[{key!r}] must be a list of numbers")
    states = observation.get("states") or [{}]
    used = states[0].get("used", []) if isinstance(states[0], dict) else []
    return payload, call, history, used, observation


def check_fit_steps_rates(fit, scheduler: str = "OneCycleLR", epochs: int = 3, lr: float = 0.01,
                          batch_size: int = 128, seed: int = 1, accumulation: int = 4, optimizer: str = "Adam") -> None:
    """The rate logged for every optimizer step, and the rate each step really used, are PyTorch's."""
    payload, call, history, used, _ = _observe_steps(fit, scheduler, epochs, lr, batch_size, seed, accumulation,
                                                     optimizer)
    expected = _references().reference_fit_steps(payload)["lr"]
    total = len(expected)
    expect(len(used) == total, f"{call}: the optimizer was stepped {len(used)} times; expected {epochs} epochs x "
                               f"ceil({payload['batches']} / {accumulation}) = {total}." + _count_hint(payload, len(used)))
    for step, (value, want) in enumerate(zip(used, expected)):
        expect(_close(value, want),
               f"{call}: optimizer step {step} used lr {value!r}, but {scheduler} gives {want!r} for that step. "
               "Step the scheduler once after every optimizer.step() (not after every batch, nor once per epoch).")
    expect(len(history["lr"]) == total, f"{call}: history['lr'] has {len(history['lr'])} entries; expected {total}, "
                                        "one per optimizer step (not one per batch)")
    for step, (value, want) in enumerate(zip(history["lr"], expected)):
        expect(_close(value, want),
               f"{call}: history['lr'][{step}] is {value!r}, but optimizer step {step} used {want!r}. Log "
               "the rate the step uses (optimizer.param_groups[0]['lr'] before optimizer.step()), not the one "
               "after scheduler.step().")


def check_fit_steps_order(fit, scheduler: str = "OneCycleLR", epochs: int = 3, lr: float = 0.01,
                          batch_size: int = 128, seed: int = 1, accumulation: int = 4, optimizer: str = "Adam") -> None:
    """One scheduler step per optimizer step, each after it."""
    payload, call, _, used, observation = _observe_steps(fit, scheduler, epochs, lr, batch_size, seed, accumulation,
                                                         optimizer)
    total = _optimizer_steps(payload)
    expect(not observation["order_warning"],
           f"{call}: PyTorch warned that scheduler.step() was called before optimizer.step(). Step the optimizer "
           "first, then the scheduler.")
    expect(len(used) == total, f"{call}: the optimizer was stepped {len(used)} times; expected {epochs} epochs x "
                               f"ceil({payload['batches']} / {accumulation}) = {total}." + _count_hint(payload, len(used)))
    stepped = observation["last_epoch"]
    expect(stepped == total, f"{call}: the scheduler was stepped {stepped} times in {total} optimizer steps; "
                             "step it once after every optimizer step." + _count_hint(payload, stepped))


def check_fit_steps_losses(fit, scheduler: str = "OneCycleLR", epochs: int = 3, lr: float = 0.01,
                           batch_size: int = 128, seed: int = 1, accumulation: int = 4, optimizer: str = "Adam") -> None:
    """The logged losses are the training run's: the mean loss of each optimizer step's batches, and the
    validation loss per epoch. Wrong gradients (not zeroed per step, not averaged over the group) show here."""
    payload, call, history, _, _ = _observe_steps(fit, scheduler, epochs, lr, batch_size, seed, accumulation,
                                                  optimizer)
    expected = _references().reference_fit_steps(payload)
    for key, unit in (("loss", "optimizer step"), ("val_loss", "epoch")):
        mine, want = list(history[key]), expected[key]
        expect(len(mine) == len(want), f"{call}: history[{key!r}] has {len(mine)} entries; expected {len(want)}, "
                                       f"one per {unit}")
        for index, (value, reference) in enumerate(zip(mine, want)):
            if math.isclose(value, reference, rel_tol=LOSS_TOLERANCE, abs_tol=LOSS_ATOL):
                continue
            if key == "val_loss" or index == 0:
                cause = ("Log evaluate(model, val_set)[0] after each epoch." if key == "val_loss" else
                         "Log the mean of the step's batch losses (loss.item() of each, before any division).")
            else:
                cause = ("Up to the previous step your losses were right, so the update of step "
                         f"{index - 1} differs: zero the gradients once per optimizer step (not per batch), and "
                         "divide each batch's loss by the number of batches in its group (fewer for an epoch's "
                         "leftover group) before backward(), so the step follows the mean gradient. Or, if the "
                         "updates are right, log the mean of the step's batch losses.")
            raise AssertionError(f"{call}: history[{key!r}][{index}] is {value!r}; this training run gives "
                                 f"{reference!r} for that {unit}. {cause}")


# --------------------------------------------------------------------------------------------
# The learning-rate range test (chapter 6)
# --------------------------------------------------------------------------------------------
RANGE_KEYS = ("lrs", "losses", "suggestion")


def _range_fixture(payload: dict):
    from lrcourse import training

    train_set, _, _ = training.digits_split()
    batches = training.Batches(train_set, payload["batch_size"], seed=payload["seed"])
    model = training.make_model(payload["seed"])
    # one group, or two: the output layer at `head_ratio` times the hidden layer's rate
    ratio = payload.get("head_ratio")
    groups = ([{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": payload["lr"] * ratio}]
              if ratio else model.parameters())
    if payload["optimizer"] == "SGD":
        optimizer = torch.optim.SGD(groups, lr=payload["lr"], momentum=0.9)
    else:
        optimizer = torch.optim.Adam(groups, lr=payload["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()
    for inputs, targets in training.Batches(train_set, payload["batch_size"], seed=99):  # an optimizer with a state
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        optimizer.step()
    return model, optimizer, batches


def _state_vector(model, optimizer) -> list[list[float]]:
    """A fingerprint of the weights and the optimizer's state: each tensor's sum and the sum of its magnitudes."""
    tensors = [p.detach() for p in model.parameters()]
    tensors += [v for state in optimizer.state.values() for v in state.values() if torch.is_tensor(v)]
    return [[float(t.double().sum()), float(t.double().abs().sum())] for t in tensors]


def _same_state(mine, want: list[list[float]]) -> bool:
    """Two fingerprints of trained float32 state agree: each sum within LOSS_RTOL of the tensor's magnitude (a
    sum of values of both signs can move by more than its own size between two CPUs; a step taken moves it by
    far more)."""
    def pair(entry) -> bool:
        return (isinstance(entry, list) and len(entry) == 2
                and all(isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x) for x in entry))

    return (isinstance(mine, list) and len(mine) == len(want) and all(map(pair, mine))
            and all(abs(m - w) <= LOSS_RTOL * magnitude + LOSS_ATOL and math.isclose(m_abs, magnitude, rel_tol=LOSS_RTOL,
                                                                                          abs_tol=LOSS_ATOL)
                    for (m, m_abs), (w, magnitude) in zip(mine, want)))


def observe_range_test(range_test, payload: dict) -> dict:
    """Run the student's `lr_range_test` on a model and optimizer that have trained for an epoch; record what
    it returns, the rate each optimizer step used, and the weights, optimizer state and rates before and after."""
    from lrcourse import training

    observation = {"value": wire.encode(None), "states": [], "timeout": False, "error": None, "seconds": 30.0}
    with training.one_thread():
        model, optimizer, batches = _range_fixture(payload)
        before = {"weights": _state_vector(model, optimizer), "lrs": [g["lr"] for g in optimizer.param_groups]}
        used = []
        hook = optimizer.register_step_pre_hook(
            lambda opt, args, kwargs: used.append([group["lr"] for group in opt.param_groups]))
        guard = _Guard(observation["seconds"])
        try:
            with guard.running():
                result = range_test(model, optimizer, batches, payload["start_lr"], payload["end_lr"],
                                    payload["num_steps"], payload["beta"], payload["diverge"])
            observation["value"] = wire.encode(result)
        except StudentTimeout:
            observation["timeout"] = True
        except Exception as error:
            observation["error"] = wire.encode_error(error)
        hook.remove()
        after = {"weights": _state_vector(model, optimizer), "lrs": [g["lr"] for g in optimizer.param_groups]}
    observation["states"] = [wire.encode({"used": used[:100_000], "before": before, "after": after})]
    return observation


def _observe_range(range_test, optimizer="Adam", start_lr=1e-5, end_lr=1.0, num_steps=60, beta=0.98,
                   diverge=4.0, batch_size=128, seed=2, head_ratio=None):
    payload = {"optimizer": optimizer, "lr": 0.003, "start_lr": start_lr, "end_lr": end_lr, "num_steps": num_steps,
               "beta": beta, "diverge": diverge, "batch_size": batch_size, "seed": seed, "head_ratio": head_ratio}
    groups = (f"two groups (output layer at {head_ratio} x the hidden layer's rate {payload['lr']})" if head_ratio
              else f"one group (rate {payload['lr']})")
    call = (f"lr_range_test(model, {optimizer} optimizer with {groups}, batches of {batch_size}, "
            f"start_lr={start_lr}, end_lr={end_lr}, num_steps={num_steps}, beta={beta}, diverge={diverge})")
    observation = observe(range_test, "range_test", payload)
    expect(not observation["timeout"], f"{call} did not finish within {observation['seconds']:.0f} s")
    _forbid_torch_use("lr_range_test", observation)
    if observation["error"] is not None:
        error = observation["error"]
        raise AssertionError(f"{call} raised {type(error).__name__}: {error}")
    result = observation["value"]
    expect(isinstance(result, dict) and set(RANGE_KEYS) <= set(result),
           f"{call} must return a dict with the keys {list(RANGE_KEYS)}; it returned {type(result).__name__}")
    for key in ("lrs", "losses"):
        expect(isinstance(result[key], (list, tuple)) and all(isinstance(v, numbers.Real) for v in result[key]),
               f"{call}: result[{key!r}] must be a list of numbers")
    state = (observation.get("states") or [{}])[0]
    state = state if isinstance(state, dict) else {}
    used = state.get("used", [])
    state["used_groups"] = [rates if isinstance(rates, list) else [rates] for rates in used]
    state["used"] = [rates[0] if rates else None for rates in state["used_groups"]]
    return payload, call, result, state


def _range_count_hint(payload: dict, count: int, expected: int) -> str:
    """Why a range test made the wrong number of steps: it stopped late (or never), or early."""
    if count > expected:
        return ((" It never stopped: it ran all num_steps." if count == payload["num_steps"] else " It stopped late.") +
                f" Step {expected - 1}'s smoothed loss is above diverge x the lowest smoothed loss so far (not the "
                "first one, nor the raw loss): record it, then stop.")
    if count < expected:
        return (" It stopped early: stop only when the smoothed, bias-corrected loss exceeds diverge x the lowest "
                "smoothed loss so far, and record that step before stopping.")
    return ""


def check_range_rates(range_test, **config) -> None:
    """The rates tried grow exponentially from start_lr to end_lr, one per optimizer step, until the stop."""
    payload, call, result, state = _observe_range(range_test, **config)
    expected = _references().reference_range_test(payload)["lrs"]
    used = state.get("used", [])
    for step, (value, want) in enumerate(zip(used, expected)):
        expect(_close(value, want), f"{call}: optimizer step {step} used lr {value!r}; expected start_lr * "
                                    f"(end_lr / start_lr) ** ({step} / (num_steps - 1)) = {want!r}")
    expect(len(used) == len(expected), f"{call}: the optimizer was stepped {len(used)} times; this test stops "
                                       f"after {len(expected)} steps (of {payload['num_steps']} at most)."
                                       + _range_count_hint(payload, len(used), len(expected)))
    expect(len(result["lrs"]) == len(expected) and all(_close(a, b) for a, b in zip(result["lrs"], expected)),
           f"{call}: result['lrs'] should list the {len(expected)} rates tried; got {list(result['lrs'])[:5]}...")


def check_range_groups(range_test, **config) -> None:
    """Several parameter groups keep the ratio between their rates: the first group's rate follows the test's
    rate, every other group's is that times its rate before the test over the first group's."""
    payload, call, result, state = _observe_range(range_test, **config)
    reference = _references().reference_range_test(payload)
    expected, used = reference["group_lrs"], state.get("used_groups", [])
    expect(len(used) == len(expected), f"{call}: the optimizer was stepped {len(used)} times; this test stops "
                                       f"after {len(expected)} steps (of {payload['num_steps']} at most)."
                                       + _range_count_hint(payload, len(used), len(expected)))
    for step, (mine, want) in enumerate(zip(used, expected)):
        expect(len(mine) == len(want) and all(_close(a, b) for a, b in zip(mine, want)),
               f"{call}: optimizer step {step} used the rates {mine} (one per group); expected {want}. Every group "
               "keeps its ratio to the first group's rate as it was before the test: group g gets lr * (its rate "
               "before the test / the first group's rate before the test). Record those ratios before changing any "
               "rate.")
    expect(len(result["lrs"]) == len(expected) and all(_close(a, b[0]) for a, b in zip(result["lrs"], expected)),
           f"{call}: result['lrs'] should list the first group's {len(expected)} rates; got "
           f"{list(result['lrs'])[:5]}...")


def range_loss_rtol(losses: list[float], step: int) -> float:
    """The tolerance of a range test's smoothed loss at `step`: a trained loss's up to the lowest one, a diverging
    run's after it, where another CPU's last bits grow at every step (lrcourse/tolerances.py)."""
    return LOSS_RTOL if step <= losses.index(min(losses)) else DIVERGING_LOSS_RTOL


def check_range_losses(range_test, **config) -> None:
    """The smoothed, bias-corrected losses of the run, and the stop once they exceed diverge x the lowest."""
    payload, call, result, _ = _observe_range(range_test, **config)
    expected = _references().reference_range_test(payload)["losses"]
    mine = list(result["losses"])
    for step, (value, want) in enumerate(zip(mine, expected)):
        expect(math.isclose(value, want, rel_tol=range_loss_rtol(expected, step)),
               f"{call}: result['losses'][{step}] is {value!r}; expected {want!r} (average = beta * average + "
               "(1 - beta) * loss, divided by 1 - beta ** (step + 1))")
    expect(len(mine) == len(expected), f"{call}: result['losses'] has {len(mine)} values; the run should stop after "
                                       f"{len(expected)} steps (the first smoothed loss above diverge x the lowest "
                                       "so far is recorded, then the loop stops at once)."
                                       + _range_count_hint(payload, len(mine), len(expected)))


def check_range_restores(range_test, **config) -> None:
    """The model's weights, the optimizer's state and its rates are as they were before the test."""
    payload, call, _, state = _observe_range(range_test, **config)
    after = state.get("after") or {}
    from lrcourse import training

    with training.one_thread():  # "before" as the judge builds it, not as the student's process reports it
        model, optimizer, _ = _range_fixture(payload)
        before = {"weights": _state_vector(model, optimizer), "lrs": [g["lr"] for g in optimizer.param_groups]}
    expect(_same_state(after.get("weights"), before["weights"]),
           f"{call}: the model's weights or the optimizer's state changed; save both state_dicts (deep copies) "
           "before the test and load them afterwards")
    expect(before.get("lrs") == after.get("lrs"),
           f"{call}: the optimizer's rates were {before.get('lrs')} before and {after.get('lrs')} after; restore them")


def check_range_suggestion(range_test, **config) -> None:
    """The suggestion: the rate of the lowest smoothed loss, divided by ten."""
    payload, call, result, _ = _observe_range(range_test, **config)
    want = _references().reference_range_test(payload)["suggestion"]
    expect(isinstance(result["suggestion"], numbers.Real) and _close(result["suggestion"], want),
           f"{call}: result['suggestion'] is {result['suggestion']!r}; expected {want!r}, the rate of the lowest "
           "smoothed loss divided by 10")


OBSERVERS = {"scheduler": observe_scheduler, "construction": observe_construction, "fit_steps": observe_fit_steps,
             "range_test": observe_range_test}
