"""The factor functions of chapter 4 (for LambdaLR): the student's formula against PyTorch's SequentialLR,
epoch by epoch. A factor is plain arithmetic, so the judge calls it directly (under the guard), whether it
is the kernel's own function or the grader's stand-in for one in the student's process."""

from __future__ import annotations

from lrcourse.checking.expect import CheckFailed, close
from lrcourse.checking.guard import SCHEDULER_MODULE, SECONDS_PER_CASE, Guard, StudentTimeout
from lrcourse.checking.observe import RemoteTarget
from lrcourse.checking.self_contained import expect_self_contained
from lrcourse.pytorch_trajectories import reference_trajectories


def check_warmup_step(
    factor, warmup: int, start_factor: float, step_size: int, gamma: float, epochs: range | None = None
) -> None:
    """`factor(epoch, warmup, start_factor, step_size, gamma)` must give PyTorch's rate (for lr = 1) of
    SequentialLR([LinearLR(start_factor, total_iters=warmup), StepLR(step_size, gamma)], milestones=[warmup])
    at every epoch of `epochs` (default: the first warmup + 4 * step_size + 3)."""
    if not isinstance(factor, RemoteTarget):
        expect_self_contained(factor)
    epochs = list(epochs if epochs is not None else range(warmup + 4 * step_size + 3))
    request = {
        "scheduler": "WarmupStep",
        "lrs": [1.0],
        "steps": max(epochs),
        "kwargs": {"warmup": warmup, "start_factor": start_factor, "step_size": step_size, "gamma": gamma},
    }
    [reference] = reference_trajectories([request])
    expected = [reference["states"][epoch]["lrs"][0] for epoch in epochs]
    call = f"warmup_step_factor(epoch, warmup_epochs={warmup}, start_factor={start_factor}, step_size={step_size}, gamma={gamma})"
    forbidden = (
        f"{call} uses {SCHEDULER_MODULE}{{}}. This exercise asks you to work the factor out yourself, as a formula "
        "in epoch: no use of PyTorch's schedulers (nor of lr_curve with one) is allowed, so it earns no marks."
    )
    guard = Guard(SECONDS_PER_CASE)
    try:
        with guard.running():
            mine = [factor(epoch, warmup, start_factor, step_size, gamma) for epoch in epochs]
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
    for epoch, value, want in zip(epochs, mine, expected):
        if not close(value, want):
            phase = "warm-up, LinearLR" if epoch < warmup else "after the milestone, StepLR"
            raise CheckFailed(
                f"{call.replace('epoch,', f'epoch={epoch},')} is {value!r}; PyTorch's SequentialLR([LinearLR, StepLR], "
                f"milestones=[{warmup}]) gives {want!r} at epoch {epoch} ({phase} phase)."
            )
