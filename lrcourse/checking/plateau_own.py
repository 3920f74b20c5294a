"""Chapter 3's MyReduceLROnPlateau judged against its own patience, so that a patience slip costs the patience cell
only.

The patience cell compares the rates with PyTorch's ReduceLROnPlateau at the patience the case states. The cooldown and
groups cells ask whether the answer does *that* thing right, so they compare it with PyTorch's scheduler at the
patience the answer itself shows: the one under which PyTorch reproduces the answer's rates on a flat run (one group,
no cooldown, a metric that never improves after the first). A class that reduces one epoch early (`>=` for `>`)
behaves exactly like PyTorch's with `patience - 1` in every attribute, so it then loses the patience cell only.

So that a class which never reduces cannot pass those cells, only a patience under which PyTorch's scheduler reduces
at least twice on the flat run is accepted, and no larger than twice the stated one plus two; a class whose reductions
on the flat run look like no ReduceLROnPlateau's (never reduced, reduced by the wrong factor, or spaced unevenly) is
compared at the stated patience, as before.
"""

from __future__ import annotations

from lrcourse.checking.guard import SECONDS_PER_CASE, expect_no_torch_scheduler
from lrcourse.checking.observe import observe, target_name
from lrcourse.checking.scheduler_cases import PlateauCase
from lrcourse.pytorch_trajectories import reference_trajectories

DEFAULT_PATIENCE = 10  # PyTorch's, for a case that leaves patience out
FACTOR = 0.5  # the flat run's: exact in binary, so rates compare exactly


def stated_patience(case: PlateauCase) -> int:
    return int(case.kwargs.get("patience", DEFAULT_PATIENCE))


def flat_run(patience: int) -> PlateauCase:
    """One group at lr 1, no cooldown, the same metric every epoch: long enough for PyTorch's scheduler at the
    largest patience accepted (2 * patience + 2) to reduce twice."""
    largest = 2 * patience + 2
    return PlateauCase([1.0], [1.0] * (2 * (largest + 1) + 2), {"patience": patience, "factor": FACTOR})


def own_patience(student_class, patience: int, seconds_per_case: float = SECONDS_PER_CASE) -> int | None:
    """The patience under which PyTorch's ReduceLROnPlateau gives the answer's rates on the flat run at `patience`
    (reducing at least twice), or None if there is none (or the answer fails to run: the cell's own comparison then
    says why)."""
    probe = flat_run(patience)
    observation = observe(
        student_class,
        "scheduler",
        {"case": probe.request(), "record": ["lrs"], "as_tensor": False, "seconds_per_case": seconds_per_case},
        "my_reduce_lr_on_plateau",
    )
    expect_no_torch_scheduler(target_name(student_class), observation)
    states = observation["states"]
    if observation["timeout"] or observation["error"] is not None or len(states) != len(probe.metrics) + 1:
        return None
    mine = [rates_of(state) for state in states]
    candidates = list(range(-1, 2 * patience + 3))
    requests = [PlateauCase([1.0], probe.metrics, {"patience": p, "factor": FACTOR}).request() for p in candidates]
    for candidate, reference in zip(candidates, reference_trajectories(requests)):
        theirs = [state["lrs"] for state in reference["states"]]
        if reductions(theirs) >= 2 and mine == theirs:
            return candidate
    return None


def rates_of(state) -> list | None:
    rates = state.get("lrs") if isinstance(state, dict) else None
    return [float(rate) for rate in rates] if isinstance(rates, list) else None


def reductions(trajectory: list[list[float]]) -> int:
    return sum(1 for before, after in zip(trajectory, trajectory[1:]) if after != before)


def own_patience_note(stated: int, own: int) -> str:
    """What a failure's hint adds when the comparison uses the answer's own patience."""
    return (
        f"compared with PyTorch's scheduler at patience={own}, the patience your class shows on a flat run "
        f"(it reduces as PyTorch's does with patience={own} when given patience={stated}); the patience cell grades "
        "the patience itself, this cell what it tests"
    )
