"""Chapter 7's observer: where the student's `wsd_factor` lives, it drives the course's own `LambdaLR` (`lambda_lr`,
which does what PyTorch's does: the process that grades the answer has no PyTorch schedulers, see
`lrcourse.grading.sandbox.no_lr_scheduler`) with the factor, one `scheduler.step()` per optimizer step; keeps a copy
in memory of the optimizer's and the scheduler's `state_dict()` at a step (not a file: torch.save would also need it
picklable) and resumes from it in new objects around a factor built anew; and calls a fresh factor directly, steps
out of order. It returns plain data; the judges are in `lrcourse.checking.wsd`. A factor that raises at a step costs
that step only (`StepRecordingLambdaLR`).
"""

from __future__ import annotations

import copy
import numbers
import sys

import torch

from lrcourse import wire
from lrcourse.checking.guard import SCHEDULER_MODULE, Guard, StudentTimeout
from lrcourse.checking.lambda_lr import LambdaLR
from lrcourse.checking.observe import observer

SECONDS = 5.0  # one observation: a few hundred steps of LambdaLR, twice


def _number(value):
    """A rate as plain data: a float, or the repr of what the factor made of it."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if (
        type(value).__name__ == "ndarray" and value.ndim == 0 and value.dtype.kind in "fiu"
    ):  # np.where's, np.vectorize's
        value = value.item()  # (numpy is not imported here: the answer's process may not have it)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):  # numpy's floats too
        return float(value)
    return repr(value)[:80]


class SchedulerUse:
    """Records every call into PyTorch's scheduler code (lr_scheduler and swa_utils) while the answer runs: the
    observer's own `LambdaLR` is not PyTorch's, so any such call is the answer's. This is the learner's notice in
    the notebook; the grade does not rest on it (a thread or `sys.setprofile(None)` escapes a profile hook): the
    process that grades the answer has no PyTorch schedulers: `no_lr_scheduler` takes the module's place, and the
    sandbox hides its file too (with --no-sandbox the file stays readable: code that execs its source escapes)."""

    def __init__(self):
        modules = (sys.modules.get(SCHEDULER_MODULE), sys.modules.get("torch.optim.swa_utils"))
        self.scheduler_files = {getattr(module, "__file__", None) for module in modules} - {None}
        self.calls: list[str] = []

    def profile(self, frame, event, arg):
        if event == "call" and frame.f_code.co_filename in self.scheduler_files:
            self.calls.append(frame.f_code.co_qualname)


def _raised(error: Exception) -> dict:
    """A step whose factor raised, as plain data: not a number, and the message names the exception. PyTorch's
    schedulers refused (ForbiddenUse) still end the run: that is not a slip of a step."""
    if type(error).__name__ == "ForbiddenUse":
        raise error
    return {"raised": f"{type(error).__name__}: {error}"[:200]}


class StepRecordingLambdaLR(LambdaLR):
    """The course's LambdaLR, but a factor that raises at a step costs that step only: the step is recorded in
    `raised` and the rate stays where it was, so a warm-up that divides by zero at a one-step warm-up still lets the
    tests judge the steps after it. The checkpoint is LambdaLR's: `raised` is left out of state_dict()."""

    def __init__(self, optimizer, lr_lambda, raised: dict):
        self.raised = raised  # before LambdaLR's __init__, which calls the factor at step 0
        super().__init__(optimizer, lr_lambda)

    def get_lr(self) -> list:
        try:
            return super().get_lr()
        except Exception as error:
            self.raised[self.last_epoch] = _raised(error)
            return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        state = super().state_dict()
        del state["raised"]
        return state


class Uncheckpointable(RuntimeError):
    """LambdaLR's state_dict(), or its copy, failed on the answer's factor (the messages say so, not "it raised")."""


def _checkpoint(optimizer, scheduler, step: int) -> dict:
    """A copy in memory of the optimizer's and the scheduler's state_dict(), or an error that says the checkpoint
    failed: LambdaLR saves a callable object's __dict__ (one with __slots__ has none; one holding a module cannot be
    copied, nor pickled by torch.save), so the answer did not raise, the checkpoint did."""
    try:
        return copy.deepcopy({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()})
    except Exception as error:
        raise Uncheckpointable(
            f"LambdaLR's state_dict() could not be saved at step {step} ({type(error).__name__}: {error}): a "
            "scheduler around this factor cannot be checkpointed (LambdaLR saves nothing of a function and a copy "
            "of a callable object's __dict__)"
        ) from None


def _run(factory, arguments: tuple, payload: dict) -> tuple[list, list]:
    """The rate of every step under LambdaLR(factory(*arguments)); and the same run saved at `resume_at` and
    resumed in a new optimizer and a new LambdaLR around a new factor (empty without `resume_at`)."""

    def rates_from(optimizer, scheduler, start: int, stop: int, save_at=None):
        rates, saved = [], None
        for step in range(start, stop):
            if step == save_at:
                saved = _checkpoint(optimizer, scheduler, step)
            rate = scheduler.raised.get(step) or _number(optimizer.param_groups[0]["lr"])
            rates.append(rate)
            optimizer.step()
            scheduler.step()
        return rates, saved

    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=payload["lr"])
    resume_at = payload.get("resume_at")
    scheduler = StepRecordingLambdaLR(optimizer, factory(*arguments), {})
    rates, saved = rates_from(optimizer, scheduler, 0, payload["steps"], resume_at)
    if resume_at is None:
        return rates, []
    optimizer = torch.optim.SGD([weight], lr=payload["lr"])  # the resumed process: everything built anew
    scheduler = StepRecordingLambdaLR(optimizer, factory(*arguments), {})
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    resumed, _ = rates_from(optimizer, scheduler, resume_at, payload["steps"])
    return rates, resumed


def _probe(factor, step: int):
    """The factor called directly at `step`: a number, the repr of what it returned, or what it raised."""
    try:
        return _number(factor(step))
    except Exception as error:
        return _raised(error)


@observer("wsd", seconds=SECONDS)
def observe_wsd(factory, payload: dict) -> dict:
    """Run LambdaLR with the student's factor (and resume it, if asked); call a fresh factor at `probe` steps."""
    observation = {
        "states": [],
        "value": wire.encode(None),
        "error": None,
        "timeout": False,
        "calls": [],
        "seconds": SECONDS,
    }
    arguments = (payload["warmup"], payload["stable"], payload["decay"], payload["start_factor"])
    torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))]).step()  # a process's first step imports torch._dynamo
    guard, use = Guard(SECONDS, forbid_schedulers=False), SchedulerUse()  # (seconds): pay that outside the budget
    try:
        with guard.running():
            sys.setprofile(use.profile)  # the guard puts its own back afterwards
            rates, resumed = _run(factory, arguments, payload)
            factor = factory(*arguments)
            probed = [_probe(factor, step) for step in payload.get("probe", [])]
        observation["states"] = [wire.encode({"rates": rates, "resumed": resumed})]
        observation["value"] = wire.encode(probed)
    except StudentTimeout:
        observation["timeout"] = True
    except Exception as error:
        observation["error"] = wire.encode_error(error)
    observation["calls"] = sorted(set(use.calls))[:20]
    return observation
