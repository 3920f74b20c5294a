"""Chapter 7's resume, run where the judge runs (under `lrcourse grade`, the grader's trusted process): the optimizer,
the `LambdaLR`, the checkpoint and the resume are the grader's, and the answer's process is asked only for what is
the answer's (`factor_server`): build a factor from the arguments, its value at a step (one call each, in the order
LambdaLR makes them), a copy of a callable object's `__dict__` (what state_dict() saves) and loading such a copy into a
new factor.

Three legs, as a training script that is stopped and started again: the run, every step in order, saved at
`resume_at`; the resumed run, in new objects around a new factor, from that checkpoint; and a new LambdaLR around a
fresh factor stepped through steps out of order (`probe`). Between the run and the rest the answer's process is
replaced (`restart`): under the grader the old one is killed, and in the sandbox its kill sweeps whatever it started
and left in /tmp and /dev/shm, before a new one loads the answer cells afresh. So the resumed factor starts with
nothing of the first leg's but the checkpoint that crossed the wire, as in a new process after a real resume: a
factor that remembers the run in memory (a module global, an observer it replaced, the frames it read) or in a file
finds nothing there (issue 24, R24m's a1 and a5). In the new process the steps out of order run first, before the
checkpoint is loaded: a memo of the run carried in the checkpoint itself cannot answer them (R24n's a1, a2). What of
a `__dict__` would not come back from the wire as it was (a lambda, a module, an int tensor, a namedtuple, a numpy
number) is not sent (`factor_server`), and then none of that `__dict__` is loaded (`_plain`): the new factor keeps all
it built from the same arguments, never a mix of its own state and the run's.
"""

from __future__ import annotations

import copy
import math
import time

import torch

from lrcourse import wire
from lrcourse.checking.factor_server import LocalFactors
from lrcourse.checking.guard import StudentTimeout
from lrcourse.checking.observe import RemoteTarget
from lrcourse.checking.wsd_observer import SECONDS, WALL_SECONDS, StepRecordingLambdaLR, run_rates, scheduled


class Unanswered(BaseException):
    """The answer's process did not answer a request (it stopped, sent what the grader does not read, the student's
    time ran out, it would not load again): not a step the factor raised at, so it is carried past LambdaLR's handling
    of those and raised as it was (`resume_run`)."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class Uncheckpointable(RuntimeError):
    """LambdaLR's state_dict() failed on the answer's factor (the messages say so, not "it raised")."""


class NotANumber:
    """A factor value that is not a number, shown as the answer's process described it: LambdaLR's rate becomes it."""

    def __init__(self, text: str):
        self.text = text

    def __rmul__(self, other):
        return self

    def __repr__(self) -> str:
        return self.text


# what each request adds to a leg's budget: the guard each request runs under in the answer's process and, on the
# clock, its round trip between the grader's process and the answer's (about 1 ms at a load of 7, R24o; the guard 1.6
# ms at a load of 12, measured), with margin; the observer, which runs in the answer's process under one guard, pays
# neither
PER_REQUEST = 0.005


class Budget:
    """What the requests of a part of the resume may take together, as one observation has (`wsd_observer.SECONDS`):
    SECONDS of the answer's process's CPU time, and PER_REQUEST for each request (R24o: a factor at 7.5 ms a call, 4.4
    s in the observer, lost the resume to 541 round trips). Each reply says the CPU time its request took, measured in
    that process, which runs the answer's code: an answer that understated it would only run longer, not be judged
    otherwise, and the grader's own clock still ends the part at WALL_SECONDS (and PER_REQUEST a request) however
    little CPU time the replies admit (a factor that sleeps, R24s)."""

    def __init__(self):
        self.started, self.requests, self.cpu = time.monotonic(), 0, 0.0

    def left(self) -> tuple[float, float]:
        """The seconds left for the next request, which is counted here: on the clock, and of CPU time."""
        self.requests += 1
        allowance = PER_REQUEST * self.requests
        wall = self.started + WALL_SECONDS + allowance - time.monotonic()
        cpu = SECONDS + allowance - self.cpu
        if wall <= 0 or cpu <= 0:
            raise StudentTimeout()
        return wall, cpu

    def charge(self, reply: dict) -> None:
        """The CPU time a reply says its request took, against the budget; a reply that says none is not one the
        answer's process sends (`factor_server`): the process's failure, not the answer's."""
        cpu = reply.get("cpu")
        if type(cpu) is not float or not 0 <= cpu < math.inf:
            raise wire.Malformed(f"a reply without the CPU time it took: {str(cpu)[:40]}")
        self.cpu += cpu


class AnswerFactor:
    """The answer's factor as the grader's LambdaLR sees it: each call, each state saved or loaded, a request."""

    def __init__(self, source, arguments: tuple, budget: Budget):
        self.source, self.budget = source, budget
        self.handle = self._ask({"do": "new", "arguments": list(arguments)})
        if type(self.handle) is not int:
            raise Unanswered(wire.Malformed(f"not a factor's handle: {str(self.handle)[:40]}"))

    def _ask(self, request: dict):
        """The reply's value; the answer's error raised as it raised it; StudentTimeout past the budget."""
        try:
            wall, cpu = self.budget.left()
            reply = self.source.ask({**request, "seconds": wall, "cpu_seconds": cpu})
            if reply.get("timeout"):
                raise StudentTimeout()
            self.budget.charge(reply)
            error = None if reply.get("error") is None else wire.decode_error(reply["error"])
            calls = reply.get("calls") or []
            # PyTorch's schedulers, where the answer's process has them (a notebook's kernel); where it has the stub
            # instead, its ForbiddenUse says so first, as in the observer's runs (`wsd._observe`)
            if calls and type(error).__name__ != "ForbiddenUse":
                raise UsedSchedulers([str(call)[:200] for call in calls[:20]])
            value = None if error is not None else wire.decode(reply.get("value"))
        except (StudentTimeout, UsedSchedulers):
            raise
        except BaseException as failure:  # the process, not the answer: not a step's error (Unanswered)
            raise Unanswered(failure) from None
        if error is not None:
            raise error
        return value

    def __call__(self, step: int):
        value = self._ask({"do": "call", "handle": self.handle, "step": step})
        return value if isinstance(value, float) else NotANumber(str(value)[:80])

    def state(self):
        return self._ask({"do": "state", "handle": self.handle})

    def load(self, attributes: dict) -> None:
        self._ask({"do": "load", "handle": self.handle, "state": wire.encode(attributes)})


class UsedSchedulers(BaseException):
    """The answer called PyTorch's schedulers (their calls, by name): the judge says so."""

    def __init__(self, calls: list[str]):
        super().__init__(", ".join(calls))
        self.calls = calls


class GradersLambdaLR(StepRecordingLambdaLR):
    """LambdaLR around the answer's factor: its state is asked of the answer's process, and loaded there."""

    def factor_state(self, factor):
        return factor.state()

    def load_factor_state(self, factor, attributes: dict) -> None:
        factor.load(_plain(attributes))


def _plain(attributes: dict) -> dict:
    """A saved __dict__ loaded whole or not at all: if the wire could not carry one of its attributes as it was (a
    lambda, a module, a numpy number: opaque or missing), none of it is loaded and the new factor keeps everything it
    built from the same arguments. Loading only the rest would mix the run's state with the new factor's, which
    neither PyTorch's resume (a deep copy of all of it) nor a fresh factor ever has (R24o: a factor that chains its
    last value, a numpy float, by a ratio at the next step resumed from its new value with the run's last step)."""
    if not isinstance(attributes, dict):  # never of a __dict__ (only a process that serves something else sends it)
        return {}
    if any(isinstance(value, (wire.Opaque, wire.Missing)) for value in attributes.values()):
        return {}
    return attributes


def _scheduled(source, arguments: tuple, lr: float, budget: Budget):
    """A new optimizer and the grader's LambdaLR around a new factor of the answer's."""
    return scheduled(AnswerFactor(source, arguments, budget), lr, GradersLambdaLR)


def _checkpoint(optimizer, scheduler, step: int) -> dict:
    """A copy of the optimizer's and the scheduler's state_dict(), or an error that says the checkpoint failed, not
    the answer: LambdaLR's state_dict() raises for a callable object with __slots__ (it saves __dict__)."""
    try:
        states = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
    except Exception as error:
        raise Uncheckpointable(
            f"LambdaLR's state_dict() could not be saved at step {step} ({type(error).__name__}: {error}): a "
            "scheduler around this factor cannot be checkpointed (LambdaLR saves nothing of a function and a copy "
            "of a callable object's __dict__, which an object with __slots__ does not have)"
        ) from None
    return copy.deepcopy(states)  # plain data: the rates are numbers, the factor's state came over the wire


def factor_source(target):
    """Where the answer's factors are built and called: its own process under the grader, else this one."""
    return target.factors() if isinstance(target, RemoteTarget) else LocalFactors(target)


def _legs(source, arguments: tuple, payload: dict) -> tuple[list, list, list]:
    steps, resume_at, lr = payload["steps"], payload["resume_at"], payload["lr"]
    # this process's first optimizer.step() imports torch._dynamo (3.6 s at a load of 6.5, R24o): paid before the
    # budget starts, as the observer pays it (`observe_wsd`)
    torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))]).step()
    optimizer, scheduler = _scheduled(source, arguments, lr, Budget())
    saved = {}

    def keep(step: int) -> None:
        if step == resume_at:
            saved.update(_checkpoint(optimizer, scheduler, step))

    rates = run_rates(optimizer, scheduler, list(range(steps)), keep)
    try:
        source.restart()  # a new process: nothing of the run's but `saved` reaches the resume
    except BaseException as error:  # the answer cells would not load again: the process's failure, as it was
        raise Unanswered(error) from None
    budget = Budget()
    # the steps out of order first, before the checkpoint reaches this process: a memo of the run carried in the
    # saved __dict__ (published to a module global on load, or by a patched server) finds nothing yet (R24n's a1, a2)
    probed = run_rates(*_scheduled(source, arguments, lr, budget), [0, *payload["probe"]])
    optimizer, scheduler = _scheduled(source, arguments, lr, budget)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    resumed = run_rates(optimizer, scheduler, list(range(resume_at, steps)))
    return rates, resumed, [rate / lr if isinstance(rate, float) else rate for rate in probed[1:]]


def _retried(source, arguments: tuple, payload: dict) -> tuple[list, list, list]:
    """The legs, run again once from a new process if the student's time ran out (a loaded machine, not the answer:
    observed_once keeps no timeout either); a wrong answer is not run again."""
    try:
        return _legs(source, arguments, payload)
    except StudentTimeout:
        try:
            source.restart()  # nothing of the first try reaches the second
        except BaseException as error:
            raise Unanswered(error) from None
        return _legs(source, arguments, payload)


def resume_run(target, payload: dict) -> dict:
    """The run, the resumed run and the steps out of order, as an observation (the keys `wsd._observe` reads):
    states [{"rates", "resumed"}], value (the factors at the `probe` steps), or timeout, error, calls."""
    arguments = (payload["warmup"], payload["stable"], payload["decay"], payload["start_factor"])
    observation = {"states": [], "value": None, "error": None, "timeout": False, "calls": []}
    source = factor_source(target)  # a kernel's answer that is not self-contained fails here, as it does elsewhere
    try:
        rates, resumed, probed = _retried(source, arguments, payload)
    except Unanswered as lost:
        raise lost.error from None
    except StudentTimeout:
        observation["timeout"] = True
    except UsedSchedulers as used:
        observation["calls"] = used.calls
    except Exception as error:
        observation["error"] = error
    else:
        observation["states"], observation["value"] = [{"rates": rates, "resumed": resumed}], probed
    return observation
