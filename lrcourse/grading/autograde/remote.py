"""The student's answers as names in the grader's process: stand-ins that the test cells use as if they
were the student's objects, while the objects themselves live in the student's process.

A `Session` is one student's answer cells loaded in a child of the answers' zygote (a new child if the last
one died or timed out), within what is left of the student's time budget: no request waits past it, and once
it has run out every request fails at once with `OutOfTime`. A `RemoteAnswer` stands for a name those cells
define: the checkers' observers run over there (`observe`), a plain function is called over there
(`__call__`), plain data comes back as data. A request to an observer registered `once` is made once per student: the Session
keeps its observation (`observed_once`), so every test cell that asks the same of the same name judges the very
observation the first one did (issue 24: chapter 7's edges judge the warm-up and decay tests' own runs).
An `Undefined` stands for a name the cells do not define: every use fails with the reason, and when the
answer cell meant to define it raised, that cell's own error (not another cell's: an unanswered prediction
says nothing about a class with a syntax error).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from lrcourse import checking, wire
from lrcourse.checking.guard import SECONDS_PER_CASE, StudentTimeout
from lrcourse.checking.observe import OBSERVED_ONCE, RemoteTarget, decode_observation, observer_seconds
from lrcourse.grading.sandbox.answers import AnswerProcess, AnswerZygoteHandle
from lrcourse.grading.sandbox.zygote import Silence, ZygoteFault

LOAD_SECONDS = 30.0  # the context and answer cells, like nbgrader's per-cell timeout
MARGIN_SECONDS = 5.0  # beyond an observer's own budget, before the student's process is killed
# The largest observation a Session keeps, as JSON: the cache holds one per distinct request the test cells make (a few
# dozen in chapter 7, each a few kB) as that JSON text, decoded at each use, so a student's cache stays within that many
# times this many bytes (parsed, the same JSON can take about 18 times as much: a million bytes of empty dicts, R24m's
# m1, grew the worker to 822 MB); a larger one fails its cell rather than be observed again in the next (an answer must
# not choose which of its observations are kept)
OBSERVATION_BYTES = 1 << 20


class OutOfTime(AssertionError):
    """The student's time budget ran out: what is not decided by then fails with this reason."""


class Session:
    """A student's answer cells loaded in a child; a new child if the last one died or timed out.

    `answers` are the cells as (grade_id, source) in notebook order; `defines` is grade_id -> the names that
    cell is meant to define (the instructor's, `Exercise.answers`). `deadline` (time.monotonic()) ends the
    student's time budget; `budget` says what it was."""

    def __init__(
        self,
        handle: AnswerZygoteHandle,
        context: list[str],
        answers: list[tuple[str, str]],
        deadline: float | None = None,
        budget: str = "time budget",
        defines: dict[str, list[str]] | None = None,
    ):
        self.handle, self.context, self.answers = handle, context, answers
        self.deadline, self.budget = deadline, budget
        self.defines = defines or {}
        self.out_of_time = False
        self.process: AnswerProcess | None = None
        self.load_errors: dict[str, BaseException] = {}  # grade_id -> the first error its cell(s) raised
        self.unloadable: str | None = None
        self.resolved: dict = {}
        self.unread: dict[str, Undefined] = {}  # names whose read timed out, for the student's whole Session
        self.observed: dict[tuple[str, str, str], str] = {}  # request -> its observation as JSON, see observed_once

    def request(self, message: dict, seconds: float) -> dict:
        if self.unloadable:
            raise AssertionError(self.unloadable)
        self._within_budget(seconds)
        if self.process is None or self.process.dead:
            self._load()
        return self._timed(self.process, message, seconds)

    def observed_once(self, name: str, observer: str, payload: dict, observe: Callable[[], object]) -> object:
        """What `observe()` returned the first time `observer` ran on `name` with `payload` for this student, kept for
        the rest of the student's test cells (and their visible reruns): the answer is observed once, so no cell can
        be shown a different run of the same request. The key is all the request carries to the answer's process
        (the answer cells are the Session's own); the payload as the process reads it, JSON with its keys sorted
        (key order is no part of a request). What raised is not kept, nor what timed out (None: the process silent past
        the deadline; an observation saying "timeout"): the cell that asked was charged for it, and a machine under load
        that stalls once must not cost every later cell that asks the same (issue 24, R24m's s1). The observation is
        kept as the JSON text its size was measured by, and decoded at each use: parsed, it can take about 18 times the
        bytes (R24m's m1). So one process serves every cell, none is loaded afresh for a cell (about 0.7 s a student):
        each request is answered once, and which requests came before it is set by the test cells and the answer's own
        earlier replies, so an answer that remembers them earns nothing one that answers each payload as it likes
        cannot; a fresh process per cell did not stop that anyway (its first request, the pid counter, a coin: issue 24,
        R24l)."""
        key = (name, observer, json.dumps(payload, sort_keys=True))
        if key not in self.observed:
            observation = observe()
            if _timed_out_observation(observation):
                return observation
            text = json.dumps(observation)
            if len(text) > OBSERVATION_BYTES:
                raise AssertionError(
                    f"{name}: your answer sent an observation of {len(text)} bytes, more than the grader keeps "
                    f"({OBSERVATION_BYTES})"
                )
            self.observed[key] = text
        return json.loads(self.observed[key])

    def restart(self) -> None:
        """The answer cells loaded afresh in a new process, the old one killed first: in the sandbox its kill also
        kills whatever it started and empties /tmp and /dev/shm (`answer_zygote`), so nothing it held or wrote reaches
        the new one (chapter 7's resume: `lrcourse.checking.wsd_resume`)."""
        if self.process is not None:
            self.process.close()
        self._load()

    def _within_budget(self, seconds: float) -> tuple[float, bool]:
        """`seconds` cut to what is left of the budget, and whether it was cut; OutOfTime if nothing is left."""
        left = seconds if self.deadline is None else self.deadline - time.monotonic()
        if left <= 0:
            self.out_of_time = True
            raise OutOfTime(f"not checked: your {self.budget} ran out")
        return min(seconds, left), left < seconds

    def _timed(self, process: AnswerProcess, message: dict, seconds: float) -> dict:
        seconds, cut = self._within_budget(seconds)
        try:
            return process.request(message, seconds)
        except Silence:  # its process silent past the deadline
            if cut:
                self.out_of_time = True
                raise OutOfTime(f"stopped: your {self.budget} ran out") from None
            raise

    def resolve(self, name: str):
        """What a test cell sees for `name` (see RemoteAnswer.resolved), asked once per loaded process; a name whose
        read timed out is not asked again for this student (R23p: a prediction whose __float__ sleeps was re-asked and
        killed at every test cell, 387 s of a 420 s budget)."""
        if name in self.unread:
            return self.unread[name]
        if self.process is None or self.process.dead:
            self.resolved = {}
        if name not in self.resolved:
            self.resolved[name] = RemoteAnswer(self, name).resolved()
            if isinstance(self.resolved[name], Undefined) and isinstance(self.resolved[name].why, ReadTimedOut):
                self.unread[name] = self.resolved[name]
        return self.resolved[name]

    def _load(self) -> None:
        self.resolved = {}
        self.process = self.handle.fork()
        sources = [source for _, source in self.answers]
        try:
            reply = self._timed(self.process, {"op": "load", "context": self.context, "answers": sources}, LOAD_SECONDS)
        except OutOfTime as error:
            self.unloadable = str(error)
        except Silence:  # its process silent past the deadline
            self.unloadable = f"your answer cells did not finish running within {LOAD_SECONDS:.0f} s"
        except (EOFError, OSError, wire.Malformed) as error:
            self.unloadable = f"running your answer cells stopped the process ({error})"
        else:
            if not reply.get("ok"):
                self.unloadable = f"the chapter's context cells failed: {wire.decode_error(reply.get('error'))}"
            else:
                self.load_errors = self._cell_errors(reply.get("errors"))
        if self.unloadable:
            raise AssertionError(self.unloadable)

    def _cell_errors(self, errors) -> dict[str, BaseException]:
        """grade_id -> the first error its cell(s) raised, from the load's reply (one entry per answer cell)."""
        found: dict[str, BaseException] = {}
        for (grade_id, _), error in zip(self.answers, errors if isinstance(errors, list) else []):
            if error is not None and grade_id not in found:
                found[grade_id] = wire.decode_error(error)
        return found

    def answer_error(self, name: str) -> BaseException | None:
        """The error the answer cell meant to define `name` raised, if it raised one."""
        return next(
            (
                self.load_errors[cell]
                for cell, names in self.defines.items()
                if name in names and cell in self.load_errors
            ),
            None,
        )

    def close(self) -> None:
        if self.process is not None:
            self.process.close()


class RemoteAnswer(RemoteTarget):
    """A name one of the student's answer cells defines, living in the student's process."""

    def __init__(self, session: Session, name: str):
        self.session, self.name = session, name

    def __repr__(self) -> str:
        return self.name

    def _ask(self, message: dict, seconds: float) -> dict:
        try:
            reply = self.session.request({**message, "target": self.name}, seconds + MARGIN_SECONDS)
        except (EOFError, OSError) as error:
            raise AssertionError(f"{self.name}: the process running your answer stopped ({error})") from None
        except wire.Malformed as error:  # beyond the wire's bounds: refused before it is read (lrcourse.wire)
            raise AssertionError(f"{self.name}: your answer sent what the grader does not read: {error}") from None
        if not reply.get("ok"):
            error = wire.decode_error(reply.get("error"))
            load = self.session.answer_error(self.name) if isinstance(error, NameError) else None
            if load is not None:
                raise checking.CheckFailed(f"{error} (your answer cell raised {type(load).__name__}: {load})")
            raise error
        return reply

    def resolved(self):
        """What the test cell sees: the plain data the name holds (a prediction), or this stand-in to call."""
        try:
            reply = self._ask({"op": "value"}, SECONDS_PER_CASE)
        except ZygoteFault:
            raise
        except Silence:  # its process silent past the deadline (a __float__ that sleeps): not asked again, see resolve
            return Undefined(self.name, ReadTimedOut(f"{self.name}: reading your answer did not finish in time"))
        except (Exception, StudentTimeout) as error:
            return Undefined(self.name, error)  # undefined, broken or unresponsive: any use says why
        if reply.get("callable", True):
            return self
        try:
            return wire.decode(reply.get("value"))
        except (
            Exception
        ) as error:  # a value the grader cannot rebuild costs only its own tests, not the chapter's (R23p)
            return Undefined(
                self.name,
                AssertionError(f"{self.name}: your answer sent what the grader does not read ({str(error)[:200]})"),
            )

    def observe(self, observer: str, payload: dict) -> dict:
        """The observations decoded afresh at each use (a judge that changes what it got changes no other cell's);
        a `once` observer's raw observation is the one the Session keeps (`Session.observed_once`)."""
        if observer in OBSERVED_ONCE:
            raw = self.session.observed_once(self.name, observer, payload, lambda: self._raw(observer, payload))
        else:
            raw = self._raw(observer, payload)
        if raw is None:  # its process silent past the deadline
            return _timed_out(observer_seconds(observer, payload))
        return decode_observation(raw)

    def _raw(self, observer: str, payload: dict):
        """The observation as the answer's process sent it, or None if it was silent past the deadline."""
        seconds = observer_seconds(observer, payload)
        try:
            reply = self._ask({"op": "observe", "observer": observer, "payload": payload}, seconds)
        except Silence:  # its process silent past the deadline
            return None
        return reply.get("observation")

    def factors(self) -> RemoteFactors:
        return RemoteFactors(self)

    def __call__(self, *args, **kwargs):
        optimizers: list = []
        message = {
            "op": "call",
            "args": [_encode_argument(a, optimizers) for a in args],
            "kwargs": {k: _encode_argument(v, optimizers) for k, v in kwargs.items()},
            "seconds": SECONDS_PER_CASE,
        }
        try:
            reply = self._ask(message, SECONDS_PER_CASE)
        except Silence:  # its process silent past the deadline
            raise AssertionError(f"{self.name}(...) did not finish within {SECONDS_PER_CASE:.0f} s") from None
        for optimizer, rates in zip(optimizers, reply.get("optimizers", [])):
            rates = wire.decode(rates)
            for group, rate in zip(optimizer.param_groups, rates if isinstance(rates, list) else []):
                group["lr"] = rate
        if reply.get("timeout"):
            raise AssertionError(f"{self.name}(...) did not finish within {SECONDS_PER_CASE:.0f} s")
        if reply.get("error") is not None:
            raise wire.decode_error(reply["error"])
        return wire.decode(reply.get("value"))


class RemoteFactors:
    """Chapter 7's resume from the grader's side: the answer's factors in its process, one request each
    (`lrcourse.checking.factor_server`), within the seconds each request carries."""

    def __init__(self, answer: RemoteAnswer):
        self.answer = answer

    def ask(self, request: dict) -> dict:
        try:
            return self.answer._ask({"op": "factor", **request}, float(request["seconds"]))
        except Silence:  # its process silent past the deadline
            return {"timeout": True}

    def restart(self) -> None:
        self.answer.session.restart()


class ReadTimedOut(AssertionError):
    """Reading a name's value did not finish in time: that name fails its tests, and is not read again."""


class Undefined(RemoteTarget):
    """A name the student's answer cells do not define (or whose process did not answer): every use of it in
    a test cell fails with the reason, as a NameError would in the notebook."""

    def __init__(self, name: str, why: BaseException):
        self.name, self.why = name, why

    def failure(self) -> AssertionError:
        """What any use of the name raises: the reason it is not defined."""
        if isinstance(self.why, OutOfTime):  # not a check that failed: the budget, said as such
            return OutOfTime(str(self.why))
        return checking.CheckFailed(
            str(self.why)
            if isinstance(self.why, AssertionError)
            else f"{self.name}: {type(self.why).__name__}: {self.why}"
        )

    def _fail(self, *args, **kwargs):
        raise self.failure()

    def __repr__(self) -> str:
        return f"<not defined: {self.why}>"

    observe = factors = __call__ = __iter__ = __len__ = __getitem__ = __float__ = __int__ = __bool__ = __eq__ = _fail
    __lt__ = __le__ = __gt__ = __ge__ = __contains__ = __index__ = _fail
    __hash__ = object.__hash__


def _timed_out_observation(observation) -> bool:
    """An observation of a request that timed out: its process silent past the deadline (None), or the observer's
    guard stopped the answer (decode_observation reads "timeout" as bool(value))."""
    return observation is None or (isinstance(observation, dict) and bool(observation.get("timeout")))


def _timed_out(seconds: float) -> dict:
    """The observation of a request the answer's process did not answer in time."""
    return {
        "timeout": True,
        "states": [],
        "error": None,
        "seconds": seconds,
        "calls": [],
        "value": None,
        "forbidden": None,
        "wrapped": None,
        "last_epoch": None,
        "order_warning": False,
    }


def _encode_argument(value, optimizers: list):
    import torch

    if isinstance(value, torch.optim.Optimizer):
        optimizers.append(value)
        return wire.encode({"optimizer": type(value).__name__, "lrs": [g["lr"] for g in value.param_groups]})
    return wire.encode(value)
