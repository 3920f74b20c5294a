"""Chapter 7's observer: where the student's `wsd_factor` lives, it drives the course's own `LambdaLR` (`lambda_lr`,
which does what PyTorch's does: the process that grades the answer has no PyTorch schedulers, see
`lrcourse.grading.sandbox.no_lr_scheduler`) with the factor, one `scheduler.step()` per optimizer step, and returns
the rates as plain data; the judges are in `lrcourse.checking.wsd`. A factor that raises at a step costs that step
only (`StepRecordingLambdaLR`). The observer is registered `once`: under the grader each request is made once per
student, and each cell that makes it again judges that observation, so no cell is shown another run of the same
schedule (`lrcourse.checking.observe`). What it returns is what the student's process reports, so the warm-up, decay
and edges tests compare it with PyTorch's rates: faking them takes computing the schedule. The resume is not observed
here: its optimizer, LambdaLR, checkpoint and resume run on the grader's side around the answer's factor asked over
the wire (`wsd_resume`), with this module's `scheduled` and `run_rates`, so a run and a resume step the factor by the
same code.
"""

from __future__ import annotations

import numbers
import sys
import time

import torch

from lrcourse import wire
from lrcourse.checking.guard import SCHEDULER_MODULE, Guard, StudentTimeout
from lrcourse.checking.lambda_lr import LambdaLR
from lrcourse.checking.observe import observer

# The budget of one observation, and of each of the two parts of the resume (wsd_resume.Budget): a few hundred steps,
# counted in the CPU time of the answer's process, not on the clock, so a machine under load does not take it from a
# correct answer (R24s: a factor of 7 ms a call, 3.8 s of CPU time, ran 541 steps in more than 5 s at a load of 9.5 on
# 2 cores and lost every cell). WALL_SECONDS, on the clock, is only the backstop that ends a factor that waits without
# computing (a sleep uses no CPU time): six times the budget, for a machine six times as loaded as its cores
SECONDS = 5.0
WALL_SECONDS = 30.0


def rate_as_data(value):
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


def run_guarded(seconds: float, work, cpu_seconds=None) -> dict:
    """`work()` under the guard for `seconds` on the clock and `cpu_seconds` of this process's CPU time (None: no
    such limit), PyTorch's schedulers allowed and their calls recorded: {"value": what it returned (None if it did
    not), "error": the exception it raised, encoded, "timeout", "calls", "cpu": the CPU time it took}. `work` encodes
    its own value, so a repr that loops is bounded too."""
    outcome = {"value": None, "error": None, "timeout": False, "calls": []}
    guard, use = Guard(seconds, forbid_schedulers=False, cpu_seconds=cpu_seconds), SchedulerUse()
    began = time.process_time()
    try:
        with guard.running():
            sys.setprofile(use.profile)  # the guard puts its own back afterwards
            outcome["value"] = work()
    except StudentTimeout:
        outcome["timeout"] = True
    except Exception as error:
        outcome["error"] = wire.encode_error(error)
    outcome["calls"] = sorted(set(use.calls))[:20]
    outcome["cpu"] = time.process_time() - began
    return outcome


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


def scheduled(factor, lr: float, kind=StepRecordingLambdaLR) -> tuple:
    """A new optimizer (SGD over one weight) and a new LambdaLR (`kind`) around `factor`: what every run starts from
    (the grader's resume too, around the answer's factor asked over the wire: `lrcourse.checking.wsd_resume`)."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    return optimizer, kind(optimizer, factor, {})


def run_rates(optimizer, scheduler, steps: list, before_step=None) -> list:
    """The rate at each of `steps`, in this order, as a training loop makes it: record the rate, optimizer.step(),
    scheduler.step(). Before each step() the scheduler is set to the step before the next one: in a run, whose steps
    follow one another, that changes nothing; for steps out of order (the resume test's), it is the only difference,
    so a factor cannot tell them from a run by who calls it (issue 24, review R24k: a counter that recognised the
    direct calls by their caller answered them by the step). `before_step(step)` runs before a step's rate is read
    (the resume keeps its checkpoint there)."""
    rates = []
    for index, step in enumerate(steps):
        if before_step is not None:
            before_step(step)
        rates.append(scheduler.raised.pop(step, None) or rate_as_data(optimizer.param_groups[0]["lr"]))
        optimizer.step()
        scheduler.last_epoch = (steps[index + 1] if index + 1 < len(steps) else step + 1) - 1
        scheduler.step()
    return rates


@observer("wsd", seconds=WALL_SECONDS, once=True)  # the grader waits for the backstop (and its margin)
def observe_wsd(factory, payload: dict) -> dict:
    """Run LambdaLR with the student's factor, every step in order (the resume is the grader's: `wsd_resume`)."""
    arguments = (payload["warmup"], payload["stable"], payload["decay"], payload["start_factor"])
    # a process's first step imports torch._dynamo (seconds): pay that outside the budget
    torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))]).step()
    # the schedule's steps, then any steps far past its end (`after`), each reached as a resume would reach it
    steps = list(range(payload["steps"])) + [int(step) for step in payload.get("after", ())]

    def rates() -> dict:
        return wire.encode({"rates": run_rates(*scheduled(factory(*arguments), payload["lr"]), steps)})

    outcome = run_guarded(WALL_SECONDS, rates, cpu_seconds=SECONDS)
    states = [] if outcome["value"] is None else [outcome.pop("value")]
    return {**outcome, "states": states, "value": wire.encode(None), "seconds": SECONDS}
