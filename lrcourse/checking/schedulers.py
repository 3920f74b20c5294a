"""The scheduler exercises' judges (chapters 2 and 3): the student's class against PyTorch's StepLR and
ReduceLROnPlateau, case by case, state by state, failing at the first difference with what was configured,
at which step, what was expected, what came out, and the likely cause.

PyTorch's trajectories are computed here (`lrcourse.pytorch_trajectories`), where the judge runs; the student's class
is observed wherever it lives (`observe`).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import replace

import torch

from lrcourse import wire
from lrcourse.checking.expect import CheckFailed, answer_raised, close
from lrcourse.checking.guard import SECONDS_PER_CASE, expect_no_torch_scheduler
from lrcourse.checking.observe import observe, target_name
from lrcourse.checking.plateau_own import own_patience, own_patience_note, stated_patience
from lrcourse.checking.scheduler_cases import PlateauCase, StepLRCase, state_labels
from lrcourse.pytorch_trajectories import reference_trajectories

# the answer cell (its grade_id) of each exercise a PyTorch scheduler judges: the self-contained check reads its notebook
ANSWER_CELLS = {"StepLR": "my_step_lr", "ReduceLROnPlateau": "my_reduce_lr_on_plateau"}


def _describe(class_name: str, lrs: list[float], kwargs: dict) -> str:
    arguments = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
    groups = "group" if len(lrs) == 1 else "groups"
    return f"{class_name}(optimizer, {arguments}) on {len(lrs)} parameter {groups} with lr={lrs}"


def _history(states, key, group=None) -> str:
    def show(state):
        value = state.get(key) if isinstance(state, dict) else None
        if group is not None:
            value = value[group] if isinstance(value, (list, tuple)) and len(value) > group else value
        return (
            f"{float(value):.4g}"
            if isinstance(value, (numbers.Real, torch.Tensor))
            and (not isinstance(value, torch.Tensor) or value.numel() == 1)
            else repr(value)
        )

    return "  ".join(show(state) for state in states[-8:])


def _compare_state(mine, expected: dict, keys: tuple[str, ...]) -> tuple | None:
    """The first difference among `keys`, as (words, key whose history to show or None, group)."""
    if not isinstance(mine, dict):
        return (f"the recorded state is {mine!r}", None, None)
    if "lrs" in keys:
        rates = mine.get("lrs")
        if not isinstance(rates, list) or len(rates) != len(expected["lrs"]):
            return (f"the optimizer's param_groups now hold {rates!r}", None, None)
        for group, want in enumerate(expected["lrs"]):
            if not close(rates[group], want):
                return (f"param_groups[{group}]['lr'] is {rates[group]!r}, PyTorch's is {want!r}", "lrs", group)
    if "get_last_lr" in keys:
        last, wanted = mine.get("get_last_lr"), expected["get_last_lr"]
        if not isinstance(last, list):
            return (
                f"get_last_lr() returned {type(last).__name__} {last!r}: it must return a list "
                "with one float per parameter group",
                None,
                None,
            )
        if len(last) != len(wanted):
            return (f"get_last_lr() returned {len(last)} values for {len(wanted)} parameter groups", None, None)
        for group, (value, want) in enumerate(zip(last, wanted)):
            if isinstance(value, torch.Tensor) or not close(value, want):
                return (
                    f"get_last_lr()[{group}] is {value!r}, but it must be the float {want!r} "
                    "(the groups' rates right after construction or right after the last step(), whether or not that "
                    "step changed them; a rate changed by hand is not reported until the next step())",
                    None,
                    None,
                )
    if "get_last_lr values" in keys:  # the values only: the list's form is graded where "get_last_lr" is compared
        last, wanted = mine.get("get_last_lr"), expected["get_last_lr"]
        values = list(last) if isinstance(last, (list, tuple)) else None
        if values is None or len(values) != len(wanted) or not all(close(v, w) for v, w in zip(values, wanted)):
            return (
                f"get_last_lr() returned {last!r}, PyTorch's returns {wanted!r} (the groups' rates right after "
                "construction or right after the last step(), whether or not that step changed them)",
                None,
                None,
            )
    for name in keys:
        if name in ("lrs", "settled lrs", "get_last_lr", "get_last_lr values"):
            continue
        value = mine.get(name)
        if isinstance(value, wire.Missing) or name not in mine:
            return (f"the attribute `{name}` is missing (PyTorch's is {expected[name]!r})", None, None)
        want = expected[name]
        counted = type(want) is int  # a counter: compared exactly, by value (1.0 and numpy's 1 count as 1)
        if not (close(value, want) and (not counted or float(value) == want)):
            return (f"the attribute `{name}` is {value!r}, PyTorch's is {want!r}", name, None)
        if name == "last_epoch" and type(value) is not int:  # chapter 2's last_epoch point asks for an int
            return (
                f"the attribute `{name}` is {value!r} ({type(value).__name__}), PyTorch's is the int {want!r}: "
                "it counts steps, so keep it an int (`+= 1`, not `+= 1.0`)",
                None,
                None,
            )
    return None


def _check_cases(
    student_class, cases, reference_name: str, compare: tuple[str, ...], per_case: float, compared_with=None
) -> None:
    """`compared_with`: for each case, the case PyTorch runs and a note on why (by default the case itself)."""
    name = target_name(student_class)
    compared_with = compared_with or [(case, "") for case in cases]
    references = reference_trajectories([reference.request() for reference, _ in compared_with])
    for case, reference, (_, note) in zip(cases, references, compared_with):
        request = case.request()
        title = _describe(name, case.lrs, case.kwargs)
        hint = "".join(f"\nHint: {text}" for text in (note, case.hint) if text)
        if "error" in reference:
            _expect_same_error(student_class, request, reference, title, hint, per_case, ANSWER_CELLS[reference_name])
            continue
        if reference.get("ambiguous_steps"):
            raise RuntimeError(
                f"Test case {case!r} is unfair: at steps {reference['ambiguous_steps']} a value lies on a "
                "threshold or eps boundary to within rounding, where equally correct formulas may disagree. "
                "This is a fault in the test, not in your code: tell your instructor."
            )
        sent = (
            request
            if request.get("metrics") is None
            else {  # JSON has no nan or inf: sent as text
                **request,
                "metrics": [m if math.isfinite(m) else repr(float(m)) for m in request["metrics"]],
            }
        )
        recorded_as = {"get_last_lr values": "get_last_lr", "settled lrs": "lrs"}
        record = list(dict.fromkeys(recorded_as.get(key, key) for key in compare))
        observation = observe(
            student_class,
            "scheduler",
            {
                "case": sent,
                "record": record,
                "as_tensor": getattr(case, "as_tensor", False),
                "seconds_per_case": per_case,
            },
            ANSWER_CELLS[reference_name],
        )
        expect_no_torch_scheduler(name, observation)
        states, expected = observation["states"], reference["states"]
        labels = state_labels(case)
        for index, mine in enumerate(states[: len(expected)]):
            last = index == len(expected) - 1  # "settled lrs": the rates where the run ends, not when they fell
            keys = tuple(
                "lrs" if key == "settled lrs" and last else key for key in compare if last or key != "settled lrs"
            )
            difference = _compare_state(mine, expected[index], keys)
            if difference:
                text, key, group = difference
                when, step = labels[index] if index < len(labels) else (f"in state {index}", index)
                feed = _metric_history(case, step)
                history = ""
                if key is not None:
                    history = (
                        f"\n  PyTorch's {reference_name}: {_history(expected[: index + 1], key, group)}"
                        f"\n  yours:{' ' * (len(reference_name) + 3)}{_history(states[: index + 1], key, group)}"
                    )
                edited = _edit_note(case, step + 1 if "hand edit" in when else step)
                raise CheckFailed(f"{title}:\n{when}, {text}.{feed}{edited}{history}{hint}")
        if observation["timeout"]:
            raise CheckFailed(
                f"{title}: your code did not finish within {observation['seconds']:.0f} s "
                f"({_where(states)}). Is there a loop that never ends?"
            )
        error = observation["error"]
        if error is not None:
            raise answer_raised(
                name, error, f"{title}:\nyour code raised {type(error).__name__}: {error} ({_where(states)}).{hint}"
            )
        if len(states) != len(expected):
            raise CheckFailed(f"{title}: {len(states)} states recorded for {len(expected)} expected.")
        if "get_last_lr" in compare:
            _expect_lists_kept(title, observation.get("returned_lists"), expected, labels, hint)


def _expect_lists_kept(title: str, kept, expected: list, labels: list, hint: str) -> None:
    """Each list get_last_lr() returned still holds what it held then (PyTorch makes a new one at construction
    and at every step(), so a caller's earlier list never changes)."""
    if not isinstance(kept, list) or len(kept) != len(expected):
        raise CheckFailed(f"{title}: the lists get_last_lr() returned were not recorded.")
    last = labels[len(expected) - 1][0] if len(labels) >= len(expected) else "at the end"
    for index, (now, state) in enumerate(zip(kept, expected)):
        wanted = state["get_last_lr"]
        if not (isinstance(now, list) and len(now) == len(wanted) and all(close(v, w) for v, w in zip(now, wanted))):
            when = labels[index][0] if index < len(labels) else f"in state {index}"
            raise CheckFailed(
                f"{title}:\nthe list get_last_lr() returned {when} held {wanted!r}; at the end of the run ({last}) "
                f"that same list object holds {now!r}. PyTorch's get_last_lr() gives a new list at construction and at "
                "every step(), so a list it returned earlier never changes: build a new list in step() "
                f"(self._last_lr = [...]) instead of updating the old one in place.{hint}"
            )


def _edit_note(case, step: int) -> str:
    edits = [
        f"before step {k}: " + ", ".join(f"param_groups[{g}]['lr'] = {r!r}" for g, r in groups.items())
        for k, groups in sorted(case.edits.items())
        if int(k) <= step
    ]
    return ("\n  rates set by hand during the run: " + "; ".join(edits)) if edits else ""


def _where(states) -> str:
    return "in the constructor" if not states else f"in step() number {len(states)}"


def _metric_history(case, step: int) -> str:
    metrics = getattr(case, "metrics", None)
    if not metrics or step == 0:
        return ""
    shown = ", ".join(f"{m:g}" for m in metrics[max(0, step - 8) : step])
    passed_as = {
        True: ", each as a new tensor torch.tensor([m])",
        "0-d": ", each as a new 0-d tensor torch.tensor(m)",
        "0-d reused": ", as one 0-d tensor that the caller updates in place (metric.fill_(m)) before each step()",
    }.get(getattr(case, "as_tensor", False), "")
    return f"\n  metrics passed to step() so far (last 8): [{shown}]{passed_as}"


def _expect_same_error(student_class, request, reference, title, hint, per_case: float, grade_id: str) -> None:
    observation = observe(student_class, "construction", {"case": request, "seconds_per_case": per_case}, grade_id)
    expect_no_torch_scheduler(target_name(student_class), observation)
    if observation["timeout"]:
        raise CheckFailed(f"{title}: the constructor did not finish within {observation['seconds']:.0f} s.")
    raised = observation["error"]
    if raised is None:
        raise CheckFailed(
            f"{title}:\nPyTorch raises {reference['error']} ({reference['message']}); yours raised nothing.{hint}"
        )
    same = (
        isinstance(raised, ValueError)
        if reference["error"] == "ValueError"
        else (type(raised).__name__ == reference["error"])
    )
    if not same:
        raise answer_raised(
            target_name(student_class),
            raised,
            f"{title}:\nPyTorch raises {reference['error']}; yours raised {type(raised).__name__}: {raised}.{hint}",
        )


def check_step_lr(
    student_class,
    cases: list[StepLRCase],
    compare=("lrs", "get_last_lr", "last_epoch"),
    seconds_per_case: float = SECONDS_PER_CASE,
) -> None:
    """Compare `student_class` with torch's StepLR on every case; raise at the first difference.

    `compare` names what must match after construction and after every step: "lrs" (the optimizer's
    rates), "settled lrs" (the rates after the last step only), "get_last_lr" (a new list of floats each time,
    with PyTorch's values), "get_last_lr values" (the values only, in any list, tuple or one-element tensors),
    and attributes (counters compared exactly by value; "last_epoch" must also be an int, as its point says).
    The student's class gets `seconds_per_case` per case (more for a long case: `guard.case_seconds`).
    """
    _check_cases(student_class, cases, "StepLR", tuple(compare), seconds_per_case)


def check_plateau(
    student_class,
    cases: list[PlateauCase],
    compare=("lrs", "get_last_lr", "best", "num_bad_epochs", "cooldown_counter"),
    seconds_per_case: float = SECONDS_PER_CASE,
    patience: str = "stated",
) -> None:
    """Compare `student_class` with torch's ReduceLROnPlateau on every case (see `check_step_lr`). With
    `patience="own"`, PyTorch's scheduler runs each case at the patience the class itself shows on a flat run
    (`plateau_own`): cells that test something else than patience then judge that thing alone."""
    compared_with = None
    if patience == "own":
        stated = {stated_patience(case) for case in cases}  # one flat run per patience: a slow class waits once
        own = {value: own_patience(student_class, value, seconds_per_case) for value in sorted(stated)}
        compared_with = [at_own_patience(case, own[stated_patience(case)]) for case in cases]
    _check_cases(student_class, cases, "ReduceLROnPlateau", tuple(compare), seconds_per_case, compared_with)


def at_own_patience(case: PlateauCase, own: int | None) -> tuple[PlateauCase, str]:
    """The case PyTorch runs to judge `case` at the class's own patience `own` (None: none found, so the stated
    one), and the note a failure then adds."""
    stated = stated_patience(case)
    if own is None or own == stated:
        return case, ""
    return replace(case, kwargs={**case.kwargs, "patience": own}), own_patience_note(stated, own)
