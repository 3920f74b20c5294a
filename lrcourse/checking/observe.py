"""Where a student's code runs: here (a notebook's kernel) or in the student's process (`lrcourse grade`).

Every check has two halves. An *observer* runs the student's code and records what it did as plain data
(`lrcourse.wire`); a *judge* compares that with PyTorch where the judge runs. `observe` is the seam: for a
name of the kernel's own it runs the observer right here; for a `RemoteTarget` (a stand-in the grader makes
for a name that lives in the student's process) it asks that process, which runs the same observer by
name (`OBSERVERS`), waiting at most the seconds that observer declared (`observer_seconds`). Either way
the judge gets the observations decoded by `decode_observation`, so the student's process can send
nothing but data to compare.
"""

from __future__ import annotations

from collections.abc import Callable

from lrcourse import wire
from lrcourse.checking.guard import per_case_seconds
from lrcourse.checking.learners_folder import expect_no_file_read_by
from lrcourse.checking.saved_answer import kernel_shell
from lrcourse.checking.self_contained import expect_self_contained

# Observer name -> observer, as the student's process runs them on request; filled by `@observer`.
OBSERVERS: dict[str, Callable[[object, dict], dict]] = {}
# Observer name -> its budget in seconds for a request's payload; filled by `@observer`.
BUDGETS: dict[str, Callable[[dict], float]] = {}
# Observers whose requests, under the grader, are made once per student; filled by `@observer(once=True)`.
OBSERVED_ONCE: set[str] = set()


def observer(name: str, seconds: float | Callable[[dict], float] | None = None, once: bool = False):
    """Register an observer under the name the grader's requests use, with the seconds one request may take
    (the budget its guard gives the student's code): a number, a function of the payload, or by default the
    budget of one call (`per_case_seconds`: the payload's, else the default). `once`: under the grader, each request to
    it is made once per student, and every test cell that makes it again judges that same observation
    (`Session.observed_once`): chapter 7's edges judge runs the warm-up and decay tests also grade, and the answer must
    not show them another run. A process loaded afresh for each cell did not suffice: it can still be told apart, by
    its first request, the pid counter or a coin (R24l); and once each request is made once, what ran before in the
    process tells an answer nothing its arguments do not (see `lrcourse.grading.autograde.remote`)."""

    def register(function):
        OBSERVERS[name] = function
        if once:
            OBSERVED_ONCE.add(name)
        if seconds is None:
            BUDGETS[name] = per_case_seconds
        elif callable(seconds):
            BUDGETS[name] = seconds
        else:
            BUDGETS[name] = lambda payload: float(seconds)
        return function

    return register


def observer_seconds(name: str, payload: dict) -> float:
    """The seconds `name` declared for this payload: what the grader waits for (its margin added)."""
    return BUDGETS.get(name, per_case_seconds)(payload)


class RemoteTarget:
    """A name defined in a student's process that the grader drives from outside (see
    `lrcourse.grading.autograde.remote`): observers run over there, judges here."""

    name = "?"

    def observe(self, observer: str, payload: dict) -> dict:
        raise NotImplementedError

    def factors(self):
        """The answer's factors served by its process, request by request (`factor_server`; chapter 7's resume):
        `ask(request) -> reply`, and `restart()`, which replaces that process by a new one."""
        raise NotImplementedError


def target_name(target) -> str:
    """The name a student's answer goes by, wherever it lives."""
    if isinstance(target, RemoteTarget):
        return target.name
    return getattr(target, "__name__", type(target).__name__)


def observe(target, observer: str, payload: dict, grade_id: str = "") -> dict:
    """Run `observer` on the student's `target` wherever that lives; the observations, decoded. `grade_id`: the
    answer cell's, for the self-contained check (`expect_self_contained`). In a kernel, the files of the folder the
    answer read in this run are checked after it (R23t M2: a function reading one only when called passed the first
    test cell, whose check ran before any call, and the grader stopped every cell with FileNotFoundError)."""
    if isinstance(target, RemoteTarget):
        return target.observe(observer, payload)
    check_self_contained(target, grade_id)
    raw = OBSERVERS[observer](target, payload)
    if kernel_shell() is not None:  # R23t M2: the first call's reads, which the check above came too early to see
        expect_no_file_read_by(target, target_name(target))
    return decode_observation(raw)


def check_self_contained(target, grade_id: str = "") -> None:
    """In the notebook, fail if the answer cell that defined `target` leans on what the grader will not have (a name
    of a scratch cell, a module or file of the learner's folder: `expect_self_contained`, the cell of `grade_id`).
    Every check that runs a function or class answer makes it through `observe`; a test cell that calls the answer
    itself (chapter 1's) calls this first, and again after its calls: a file of the folder the answer reads when
    called is recorded by then (R23t M2). Under the grader (a `RemoteTarget`) the saved answer cells are what ran."""
    if not isinstance(target, RemoteTarget):
        expect_self_contained(target, grade_id)


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
            result[key] = None if value is None else str(value)[: wire.MAX_TEXT]
        elif key == "calls":
            result[key] = [str(call)[:200] for call in value[:20]]
        elif key == "seconds":
            result[key] = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0
        elif key == "last_epoch":
            result[key] = wire.decode(value)
        elif key == "returned_lists":
            result[key] = [wire.decode(item) for item in value[:100_000]] if isinstance(value, list) else None
    return result
