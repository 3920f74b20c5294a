"""Chapter 7's observer: where the student's `wsd_factor` lives, it drives the course's own `LambdaLR` (`lambda_lr`,
which does what PyTorch's does: the process that grades the answer has no PyTorch schedulers, see
`lrcourse.grading.sandbox.no_lr_scheduler`) with the factor, one `scheduler.step()` per optimizer step; keeps a copy
in memory of the optimizer's and the scheduler's `state_dict()` at a step (not a file: torch.save would also need it
picklable) and resumes from it in new objects around a factor built anew; and steps a new LambdaLR around a fresh
factor through steps out of order (its `last_epoch` set to the step before each), by the same code as the run. It
returns plain data; the judges are in `lrcourse.checking.wsd`. A factor that raises at a step costs that step only
(`StepRecordingLambdaLR`). The observer is registered `once`: under the grader each request is made once per student, and
each cell that makes it again judges that observation, so no cell is shown another run of the same schedule
(`lrcourse.checking.observe`). What it returns is what the student's process reports: an answer cell can replace it
in `OBSERVERS` or read its frames, which the resume test cannot tell (`lrcourse.checking.wsd`).
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
    failed, not the answer: LambdaLR's state_dict() raises for a callable object with __slots__ (it saves __dict__);
    the copy fails on what the states hold that cannot be copied (a module in a callable object's __dict__, a rate
    that is a tensor requiring grad, which torch.save would still write)."""
    try:
        states = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
    except Exception as error:
        raise Uncheckpointable(
            f"LambdaLR's state_dict() could not be saved at step {step} ({type(error).__name__}: {error}): a "
            "scheduler around this factor cannot be checkpointed (LambdaLR saves nothing of a function and a copy "
            "of a callable object's __dict__, which an object with __slots__ does not have)"
        ) from None
    try:
        return copy.deepcopy(states)
    except Exception as error:
        raise Uncheckpointable(
            f"the optimizer's and the scheduler's state_dict() could not be copied at step {step} "
            f"({type(error).__name__}: {error}): the tests keep the checkpoint as a copy in memory, and these states "
            "hold the rates your factor returned (the optimizer's lr, the scheduler's last rates) and a copy of a "
            "callable object's __dict__. Return a float, and keep in the object only what can be copied"
        ) from None


def _scheduled(factory, arguments: tuple, lr: float):
    """A new optimizer (SGD over one weight) and a new LambdaLR around a new factor: what every leg of a run starts
    from, the resumed run and the direct calls included."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    return optimizer, StepRecordingLambdaLR(optimizer, factory(*arguments), {})


def _rates(optimizer, scheduler, steps: list, save_at=None) -> tuple[list, dict | None]:
    """The rate at each of `steps`, in this order, as a training loop makes it: record the rate, optimizer.step(),
    scheduler.step(). Before each step() the scheduler is set to the step before the next one: in a run, whose steps
    follow one another, that changes nothing; for the direct calls, steps out of order, it is the only difference, so
    a factor cannot tell them from a run by who calls it (issue 24, review R24k: a counter that recognised the
    direct calls by their caller answered them by the step). A checkpoint is kept at `save_at`."""
    rates, saved = [], None
    for index, step in enumerate(steps):
        if step == save_at:
            saved = _checkpoint(optimizer, scheduler, step)
        rates.append(scheduler.raised.pop(step, None) or _number(optimizer.param_groups[0]["lr"]))
        optimizer.step()
        scheduler.last_epoch = (steps[index + 1] if index + 1 < len(steps) else step + 1) - 1
        scheduler.step()
    return rates, saved


def _run(factory, arguments: tuple, payload: dict) -> tuple[list, list, list]:
    """The rate of every step under LambdaLR(factory(*arguments)); with `resume_at`, the same run saved there and
    resumed in a new optimizer and a new LambdaLR around a new factor, and the factor of each `probe` step, out of
    order, from a new LambdaLR around a new factor (empty lists without `resume_at`). The three legs run through the
    same code, so the calls' chain of callers is the same in each (R24k's a8 told them apart by it); this frame's own
    locals (`leg`, `leg_steps`) still name the leg, and an answer that reads them gets a call counter through the resume
    (R24m's a5), as one that replaces this observer does (a1): what runs in the student's process is the answer's to
    read and change. The resume can be judged only on the grader's side (README, security model)."""
    steps, resume_at, lr = payload["steps"], payload.get("resume_at"), payload["lr"]
    legs = [("run", list(range(steps)))]
    if resume_at is not None:
        legs += [("resumed", list(range(resume_at, steps))), ("probe", [0, *payload["probe"]])]
    results, saved = {"resumed": [], "probe": [0]}, None
    for leg, leg_steps in legs:
        optimizer, scheduler = _scheduled(factory, arguments, lr)
        if leg == "resumed":  # the resumed process: everything built anew, then both states loaded
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
        results[leg], checkpoint = _rates(optimizer, scheduler, leg_steps, resume_at if leg == "run" else None)
        saved = saved or checkpoint
    factors = [rate / lr if isinstance(rate, float) else rate for rate in results["probe"][1:]]
    return results["run"], results["resumed"], factors


@observer("wsd", seconds=SECONDS, once=True)
def observe_wsd(factory, payload: dict) -> dict:
    """Run LambdaLR with the student's factor (and, if asked, resume it and step a fresh one through `probe` steps)."""
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
            rates, resumed, probed = _run(factory, arguments, payload)
        observation["states"] = [wire.encode({"rates": rates, "resumed": resumed})]
        observation["value"] = wire.encode(probed)
    except StudentTimeout:
        observation["timeout"] = True
    except Exception as error:
        observation["error"] = wire.encode_error(error)
    observation["calls"] = sorted(set(use.calls))[:20]
    return observation
