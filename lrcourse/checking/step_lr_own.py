"""Chapter 2's MyStepLR judged against its own behaviour, so that one slip costs only the cell that tests it.

The one-group cell compares the rates with PyTorch's StepLR (`check_step_lr`): when the decays come, the period
included. The cells on several groups, hand edits and get_last_lr() ask whether the answer does that thing right
*given its own single-group decays*: each group follows what the answer does to that group alone; after a hand edit
every step multiplies the current rate by the factor the answer applies at that step without the edit;
get_last_lr() says the rates the answer itself set. So that a class which is no StepLR cannot pass them, its own run
must be a StepLR's kind, whatever its period and offset (`expect_step_lr_shape`): every step multiplies the rates by 1
or by `gamma`; the changes come evenly spaced (the same number of steps between any two), never at every step where
step_size > 1; and never 2 * step_size steps in a row pass without one. A decay one step early or late, or a period
of step_size + 1, then costs the one-group cell only; an ExponentialLR (a change at every step), a MultiStepLR
(uneven changes) or a class that never decays passes none of them. The last_epoch cell asks the spacing alone
(`check_step_lr_counter`): a class whose rates change at every step, or unevenly, is no StepLR, whatever its counter
says.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from lrcourse.checking.expect import CheckFailed, answer_raised, close
from lrcourse.checking.guard import SECONDS_PER_CASE, expect_no_torch_scheduler
from lrcourse.checking.observe import observe, target_name
from lrcourse.checking.scheduler_cases import StepLRCase
from lrcourse.checking.schedulers import check_step_lr

DEFAULT_GAMMA = 0.1  # StepLR's, for a case that leaves gamma out
JUDGED_BY_OWN = (
    "This cell judges your class by its own rule, so that rule must be a StepLR's: decays evenly spaced at any period, "
    "but not at every step where step_size > 1, and never 2 * step_size steps in a row without one"
)
SPACED = (
    "A StepLR's counter is earned by a StepLR's spacing: changes evenly spaced at any period, but not at every "
    "step where step_size > 1"
)


def check_step_lr_groups(student_class, cases: list[StepLRCase], seconds_per_case: float = SECONDS_PER_CASE) -> None:
    """Every group of a run on several groups has, at every step, the rate the answer gives that group alone."""
    for case in cases:
        together = own_states(student_class, replace(case, edits={}), ["lrs"], seconds_per_case)  # edits: their cell
        for group, lr in enumerate(case.lrs):
            single = replace(case, lrs=[lr], edits={})
            alone = own_states(student_class, single, ["lrs"], seconds_per_case)
            expect_step_lr_shape(student_class, single, alone)
            for index, (mine, single) in enumerate(zip(together, alone)):
                if not close(rate_of(mine, group), rate_of(single, 0)):
                    raise CheckFailed(
                        f"{title(student_class, case)}:\nafter step number {index}, param_groups[{group}]['lr'] is "
                        f"{rate_of(mine, group)!r}, but your class run on that group alone (lr={[lr]}) gives "
                        f"{rate_of(single, 0)!r}: each group must follow the same rule from its own rate, whatever "
                        f"the other groups hold.{hint_of(case)}"
                    )


def check_step_lr_hand_edit(
    student_class, cases: list[StepLRCase], reports: bool = False, seconds_per_case: float = SECONDS_PER_CASE
) -> None:
    """After hand edits, every step multiplies each group's current rate (the edit included) by the factor the
    answer applies at that step in the same run without edits. With `reports`, get_last_lr() after every step
    also gives the rates the answer has just set (its values; their form is the get_last_lr cell's)."""
    for case in cases:
        expect_decays_alone(student_class, case, seconds_per_case)
        plain = own_states(student_class, replace(case, edits={}), ["lrs"], seconds_per_case)
        record = ["lrs", "get_last_lr"] if reports else ["lrs"]
        edited = own_states(student_class, case, record, seconds_per_case)
        for step in range(1, len(edited)):
            before = list(edited[step - 1]["lrs"])
            for group, rate in case.edits.get(step, {}).items():
                before[int(group)] = rate
            for group in range(len(case.lrs)):
                factor = rate_of(plain[step], group) / rate_of(plain[step - 1], group)
                wanted, mine = before[group] * factor, rate_of(edited[step], group)
                if not close(mine, wanted):
                    raise CheckFailed(
                        f"{title(student_class, case)}:\nafter step number {step}, param_groups[{group}]['lr'] is "
                        f"{mine!r}; it was {before[group]!r} just before that step and your class multiplies by "
                        f"{factor:.6g} at that step when nothing is edited, so {wanted!r} was expected: a step must "
                        f"carry on from the group's current rate.{edit_note(case, step)}{hint_of(case)}"
                    )
            if reports:
                expect_reports_own_values(student_class, case, edited[step], step)


def check_step_lr_reports(student_class, cases: list[StepLRCase], seconds_per_case: float = SECONDS_PER_CASE) -> None:
    """get_last_lr() right after construction and after every step: a new list of floats, one per group, holding the
    rates the answer has just set; a list it returned earlier never changes afterwards."""
    for case in cases:
        expect_decays_alone(student_class, case, seconds_per_case)
        observation = observation_of(student_class, case, ["lrs", "get_last_lr"], seconds_per_case)
        states = observation["states"]
        for index, state in enumerate(states):
            when = "right after construction" if index == 0 else f"after step number {index}"
            expect_reports_own_rates(student_class, case, state, when)
        kept = observation.get("returned_lists")
        if not isinstance(kept, list) or len(kept) != len(states):
            raise CheckFailed(f"{title(student_class, case)}: the lists get_last_lr() returned were not recorded.")
        for index, (now, state) in enumerate(zip(kept, states)):
            then = state["get_last_lr"]
            if not (isinstance(now, list) and len(now) == len(then) and all(close(v, w) for v, w in zip(now, then))):
                raise CheckFailed(
                    f"{title(student_class, case)}:\nthe list get_last_lr() returned after {index} steps held "
                    f"{then!r}; at the end of the run that same list object holds {now!r}. PyTorch's get_last_lr() "
                    "gives a new list at construction and at every step(), so a list it returned earlier never "
                    f"changes: build a new list in step() instead of updating the old one in place.{hint_of(case)}"
                )


def expect_decays_alone(student_class, case: StepLRCase, seconds_per_case: float) -> None:
    """The answer on the case's first group alone, without edits, decays as a StepLR's kind (`expect_step_lr_shape`):
    what keeps a class that never decays from passing the cells that judge it against itself."""
    single = replace(case, lrs=case.lrs[:1], edits={}, after_edits=False)
    expect_step_lr_shape(student_class, single, own_states(student_class, single, ["lrs"], seconds_per_case))


def expect_reports_own_values(student_class, case: StepLRCase, state: dict, step: int) -> None:
    """get_last_lr()'s values after a step (in any list, tuple or one-element tensors: their form is the get_last_lr
    cell's) equal the rates the answer has just set."""
    last, rates = state.get("get_last_lr"), state["lrs"]
    values = list(last) if isinstance(last, (list, tuple)) else None
    if values is None or len(values) != len(rates) or not all(close(v, r) for v, r in zip(values, rates)):
        raise CheckFailed(
            f"{title(student_class, case)}:\nafter step number {step}, get_last_lr() returned {last!r} while your "
            f"class has just set the rates to {rates!r}: get_last_lr() gives the rates right after the last step(), "
            f"whether or not that step changed them.{edit_note(case, step)}{hint_of(case)}"
        )


def expect_reports_own_rates(student_class, case: StepLRCase, state: dict, when: str) -> None:
    """get_last_lr() in `state` is a list of floats equal to the groups' rates in that same state."""
    last, rates = state.get("get_last_lr"), state["lrs"]
    if not isinstance(last, list) or len(last) != len(rates) or any(isinstance(v, torch.Tensor) for v in last):
        raise CheckFailed(
            f"{title(student_class, case)}:\n{when}, get_last_lr() returned {last!r}: it must return a list with one "
            f"float per parameter group.{hint_of(case)}"
        )
    for group, (value, rate) in enumerate(zip(last, rates)):
        if not close(value, rate):
            raise CheckFailed(
                f"{title(student_class, case)}:\n{when}, get_last_lr()[{group}] is {value!r} while your class has just "
                f"set param_groups[{group}]['lr'] to {rate!r}: get_last_lr() gives the rates right after construction "
                f"or right after the last step(), whether or not that step changed them.{hint_of(case)}"
            )


def expect_step_lr_shape(student_class, case: StepLRCase, states: list[dict]) -> None:
    """The answer's own run without edits is a StepLR's kind: it multiplies by 1 or gamma at each step, by gamma at
    least once in a run of 2 * step_size steps, at a StepLR's cadence of its own period (`expect_step_lr_cadence`):
    the rule these cells compare against must be a StepLR's, if not PyTorch's (the one-group cell grades that)."""
    gamma = DEFAULT_GAMMA if case.gamma is None else case.gamma
    decayed = False
    for step in range(1, len(states)):
        for group in range(len(case.lrs)):
            factor = rate_of(states[step], group) / rate_of(states[step - 1], group)
            if not (close(factor, 1.0) or close(factor, gamma)):
                raise CheckFailed(
                    f"{title(student_class, case)}:\nwith no hand edit, step number {step} multiplies "
                    f"param_groups[{group}]['lr'] by {factor:.6g}: a StepLR multiplies it by 1 or by gamma = {gamma:g}. "
                    "This cell compares your class with its own decays, so they must be StepLR's kind (the one-group "
                    f"cell checks when they come).{hint_of(case)}"
                )
            decayed = decayed or close(factor, gamma)
    if case.steps >= 2 * case.step_size and not decayed:
        raise CheckFailed(
            f"{title(student_class, case)}:\nwith no hand edit, {case.steps} steps of step_size={case.step_size} never "
            f"multiply a rate by gamma: the rates do not decay.{hint_of(case)}"
        )
    expect_step_lr_cadence(student_class, case, states)


def check_step_lr_counter(student_class, cases: list[StepLRCase], seconds_per_case: float = SECONDS_PER_CASE) -> None:
    """last_epoch after construction and every step as PyTorch's StepLR counts it, in a class whose rates change
    at a StepLR's spacing (`expect_even_changes`, on the case's first group alone: evenly spaced, at any period but
    one step where step_size > 1; a class that never changes a rate keeps its counter's point, as it is the rates'
    cells that lose): the counter of some other scheduler under StepLR's name, one that changes the rate at every
    step or unevenly, earns nothing."""
    for case in cases:
        single = replace(case, lrs=case.lrs[:1], edits={}, after_edits=False)
        changes = rate_changes(single, own_states(student_class, single, ["lrs"], seconds_per_case))
        expect_even_changes(student_class, single, changes, SPACED)
    check_step_lr(student_class, cases, compare=["last_epoch"], seconds_per_case=seconds_per_case)


def expect_step_lr_cadence(student_class, case: StepLRCase, states: list[dict]) -> None:
    """The answer's own run without edits changes its rates at a StepLR's cadence of its own period, wherever it
    starts: evenly spaced (`expect_even_changes`), and never 2 * step_size steps in a row without a change (before
    the first, between two, after the last). The period is not asked to be step_size: a decay one step early or
    late, or every step_size + 1 steps, keeps the cadence (the one-group cell grades when the decays come); a
    change at every step with step_size > 1, uneven changes, or a class that stops decaying does not."""
    changes = rate_changes(case, states)
    expect_even_changes(student_class, case, changes, JUDGED_BY_OWN)
    # the steps in a row without a change: before the first change, between two, after the last
    quiet = [later - earlier - 1 for earlier, later in zip([0, *changes], [*changes, case.steps + 1])]
    if max(quiet) >= 2 * case.step_size:
        raise off_cadence(
            student_class, case, changes, f"Here {max(quiet)} steps in a row pass without one. {JUDGED_BY_OWN}"
        )


def expect_even_changes(student_class, case: StepLRCase, changes: list[int], judged: str) -> None:
    """The rate changes come evenly spaced (the same number of steps between any two), and more than one step
    apart where step_size > 1: a StepLR's spacing at some period, which need not be step_size."""
    gaps = {later - earlier for earlier, later in zip(changes, changes[1:])}
    if len(gaps) > 1 or (case.step_size > 1 and 1 in gaps):
        raise off_cadence(student_class, case, changes, judged)


def rate_changes(case: StepLRCase, states: list[dict]) -> list[int]:
    """The steps after which some group's rate differs from its rate before that step."""
    return [
        step
        for step in range(1, len(states))
        if any(not close(rate_of(states[step], g), rate_of(states[step - 1], g)) for g in range(len(case.lrs)))
    ]


def off_cadence(student_class, case: StepLRCase, changes: list[int], judged: str) -> CheckFailed:
    shown = ", ".join(map(str, changes[:12])) + (", ..." if len(changes) > 12 else "")
    return CheckFailed(
        f"{title(student_class, case)}:\nwith no hand edit, your class changes the rate after steps "
        f"{shown or 'none'}: a StepLR changes it once every step_size={case.step_size} steps. {judged} (the "
        f"one-group cell checks the period and when the decays come).{hint_of(case)}"
    )


def own_states(student_class, case: StepLRCase, record: list[str], seconds_per_case: float) -> list[dict]:
    return observation_of(student_class, case, record, seconds_per_case)["states"]


def observation_of(student_class, case: StepLRCase, record: list[str], seconds_per_case: float) -> dict:
    """The answer run through `case` (the states after construction and every step), or a CheckFailed saying why
    it could not be: PyTorch's schedulers used, a timeout, an exception, or rates that are not numbers."""
    name = target_name(student_class)
    payload = {"case": case.request(), "record": record, "as_tensor": False, "seconds_per_case": seconds_per_case}
    observation = observe(student_class, "scheduler", payload, "my_step_lr")
    expect_no_torch_scheduler(name, observation)
    if observation["timeout"]:
        raise CheckFailed(
            f"{title(student_class, case)}: your code did not finish within {observation['seconds']:.0f} s. Is there "
            "a loop that never ends?"
        )
    if observation["error"] is not None:
        error = observation["error"]
        raise answer_raised(
            name,
            error,
            f"{title(student_class, case)}:\nyour code raised {type(error).__name__}: {error}.{hint_of(case)}",
        )
    states = observation["states"]
    if len(states) != case.steps + 1:
        raise CheckFailed(f"{title(student_class, case)}: {len(states)} states recorded for {case.steps + 1} expected.")
    for state in states:
        rates = state.get("lrs") if isinstance(state, dict) else None
        if not isinstance(rates, list) or len(rates) != len(case.lrs) or not all(positive(rate) for rate in rates):
            raise CheckFailed(
                f"{title(student_class, case)}:\nthe optimizer's param_groups hold {rates!r}: every rate must stay a "
                f"positive number.{hint_of(case)}"
            )
    return observation


def positive(rate) -> bool:
    return isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate > 0


def rate_of(state: dict, group: int) -> float:
    return float(state["lrs"][group])


def title(student_class, case: StepLRCase) -> str:
    arguments = ", ".join(f"{key}={value!r}" for key, value in case.kwargs.items())
    return f"{target_name(student_class)}(optimizer, {arguments}) on parameter groups with lr={case.lrs}"


def hint_of(case: StepLRCase) -> str:
    return f"\nHint: {case.hint}" if case.hint else ""


def edit_note(case: StepLRCase, step: int) -> str:
    edits = [
        f"before step {k}: " + ", ".join(f"param_groups[{g}]['lr'] = {r!r}" for g, r in groups.items())
        for k, groups in sorted(case.edits.items())
        if int(k) <= step
    ]
    return ("\n  rates set by hand during the run: " + "; ".join(edits)) if edits else ""
