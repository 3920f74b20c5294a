"""Chapter 7's exercise, a warmup-stable-decay factor for `LambdaLR`: the student's `wsd_factor(warmup_steps,
stable_steps, decay_steps, start_factor)` returns the function of the step that a `LambdaLR` multiplies the rate by.

The observer (`wsd_observer`) runs the factor where the student's code lives and returns the rates; the judges here
compare them with PyTorch's SequentialLR of LinearLR, ConstantLR and PolynomialLR(power=2) (grader/references.py, via
`expected`). The warm-up test judges the steps up to the peak the warm-up reaches at step `warmup`, the decay test every
step after it (`_phase_steps`). The resume is judged against the answer's own uninterrupted run, saved where its rates
still change; the edges against PyTorch, except a phase the answer has wrong in schedules with long phases too
(`REGULAR`), which is skipped there, as its own test charges it; the peak, where the two phases meet, passes if either
phase's judge passes. So a slip of a whole phase costs its own test only, a decay that depends on the other phases'
lengths included; one phase at least must be right, or nothing of the edges is PyTorch's to judge. A wrong decay was
once held at the edges to the answer's own long schedule, shifted (a twin run): no request can force a wrong decay to
be the same across requests, and an answer that remembered the previous schedule decayed in the twin as the edge case
did (issue 24, R24m's a3). `REGULAR` are runs the warm-up and decay tests grade, and under the grader each of the
observer's requests is made once per student (`lrcourse.grading.autograde.remote`): the edges judge the very runs those tests
judged, so the leniency rests on what those tests charged.

The warm-up, decay and edges rates are observed in the student's process, so they are what that process reports,
compared with PyTorch's: faking them takes computing the schedule. The resume is not observed there: its run, its
checkpoint, its resume and its steps out of order are the grader's (`wsd_resume`), the answer's process asked only to
build a factor, call it at a step and save or load a callable object's __dict__, and the resumed run and the steps out
of order are asked of a new process, the run's killed first. So an answer cell that replaces the observer
(`OBSERVERS["wsd"]`), reads which leg is running off the frames, or keeps a memo of its run in memory or in a file,
does not get a call counter through (R24m's a1, a5; README, security model; tests/catalogue/wsd_resume_dodges.py).

A run asks the schedule's steps and as many again past its end, then the steps `after`, if any: a sample far past it,
not every step. A factor wrong only between the steps asked, or only past the last, passes, and no finite set of steps
catches a restart of the whole schedule with every period: the course's decay cell asks every 40th step from 260 to
4,980, then 5,000, 6,000, 8,200 and 10,000, so a restart every 7,000 steps (back at 7,000 to 7,119) kept 6/6 (issue
24, R24z). The exercise text states that range rather than every step (tests/test_wsd_far_past.py holds it to the
cell).
"""

from __future__ import annotations

from lrcourse.checking.expect import CheckFailed, answer_raised, close, expect
from lrcourse.checking.expected import ExpectedValues
from lrcourse.checking.observe import observe, target_name
from lrcourse.checking.wsd_observer import SECONDS, WALL_SECONDS, SchedulerUse
from lrcourse.checking.wsd_resume import PER_REQUEST, resume_run
from lrcourse.tolerances import WSD_RTOL

# SchedulerUse is the observer's own class, named here too: code that patches lrcourse.checking.wsd.SchedulerUse
# patches the one the observer uses (tests/catalogue/wsd_dodges.py)
__all__ = ["SchedulerUse", "check_wsd", "check_wsd_edges", "check_wsd_resume"]
SCHEDULE = "PyTorch's SequentialLR of LinearLR, ConstantLR and PolynomialLR"
# Schedules with long phases (every phase several steps long, start_factor < 1), with their lr: a phase the answer has
# wrong in one of them is a slip of the whole phase, not of an edge (check_wsd_edges). They are the first two runs of
# the warm-up test and of the decay test, in that order, with the same payloads, and the observer is registered `once` (under
# the grader each request is made once per student, `lrcourse.grading.autograde.remote`): the edges cell's
# runs of them are the very observations those tests judged, not runs made again, so an answer cannot look wrong here
# only, to be judged leniently (issue 24, reviews R24k, R24l; tests/test_wsd_grader_dodges.py holds the notebook and
# the grader to this)
REGULAR = ((5, 10, 5, 0.1, 0.1), (27, 189, 54, 1 / 27, 0.01))
NO_SCHEDULERS = (
    "This exercise asks you to compute the factor yourself: reading it off PyTorch's schedulers earns no marks."
)


# --------------------------------------------------------------------------------------------
# The judges
# --------------------------------------------------------------------------------------------
def _call(warmup: int, stable: int, decay: int, start_factor: float, lr: float) -> str:
    return (
        f"LambdaLR(SGD(lr={lr}), wsd_factor(warmup_steps={warmup}, stable_steps={stable}, decay_steps={decay}, "
        f"start_factor={start_factor}))"
    )


def _phase(step: int, warmup: int, stable: int, decay: int) -> str:
    """Where `step` lies in the schedule, as the messages name it."""
    total = warmup + stable + decay
    if step < warmup:
        return f"the warm-up's step {step + 1} of {warmup} (steps 0 to {warmup - 1})"
    if step < warmup + stable:
        where = f"the stable phase's step {step - warmup + 1} of {stable} (steps {warmup} to {warmup + stable - 1})"
    elif step < total:
        first = warmup + stable
        where = f"the decay's step {step - first + 1} of {decay} (steps {first} to {total - 1})"
    else:
        where = f"{step - total + 1} step(s) after the schedule's last step ({total - 1})"
    return f"the peak the warm-up reaches and {where}" if step == warmup else where


def _steps(total: int) -> int:
    """The steps a run checks: the schedule's, then as many again past its end, where the rate must stay at zero
    (a factor that comes back up a few steps after the end is caught too)."""
    return 2 * total + 1


def _observe(factory, warmup, stable, decay, start_factor, lr, resume_at=None, probe=(), after=()) -> tuple[dict, str]:
    """The student's run, checked for what every cell needs (it ran, within time, without PyTorch's schedulers);
    `after`: steps far past the end the run goes on to, in this order."""
    payload = {"warmup": warmup, "stable": stable, "decay": decay, "start_factor": start_factor, "lr": lr}
    payload["steps"] = _steps(warmup + stable + decay)
    if after:
        payload["after"] = list(after)
    if resume_at is not None:
        payload |= {"resume_at": resume_at, "probe": list(probe)}
    call = _call(warmup, stable, decay, start_factor, lr)
    observation = observe(factory, "wsd", payload, "wsd_factor") if resume_at is None else resume_run(factory, payload)
    within = (
        f"{SECONDS:.0f} s of its process's CPU time"
        + ("" if resume_at is None else f" and {PER_REQUEST * 1000:.0f} ms a call")
        + f" ({WALL_SECONDS:.0f} s on the clock: time spent waiting is not counted up to there)"
    )
    count = payload["steps"] + len(after)
    expect(not observation["timeout"], f"{call} did not run its {count} steps within {within}")
    error = observation["error"]
    if type(error).__name__ == "ForbiddenUse":  # the process that grades the answer has no PyTorch schedulers
        raise CheckFailed(f"wsd_factor used PyTorch's schedulers: {error}")
    if observation.get("calls"):
        names = {name.split(".")[0] for name in observation["calls"]}
        ran = sorted(name for name in names if not name.startswith("_") and name != "LRScheduler") or ["its code"]
        raise CheckFailed(f"wsd_factor ran PyTorch's schedulers ({', '.join(ran)}). {NO_SCHEDULERS}")
    if error is not None:
        said = (
            f"{call}: {error}"
            if type(error).__name__ == "Uncheckpointable"
            else f"{call} raised {type(error).__name__}: {error}"
        )
        raise answer_raised(target_name(factory), error, said)
    [state] = observation["states"] or [{}]
    rates = state.get("rates") if isinstance(state, dict) else None
    expect(isinstance(rates, list) and len(rates) == count, f"{call}: the run stopped early")
    return {"payload": payload, "rates": rates, "resumed": state.get("resumed"), "probed": observation["value"]}, call


def _expected_rates(payload: dict) -> list:
    """PyTorch's SequentialLR(LinearLR, ConstantLR, PolynomialLR(power=2)) for the case, from the grader's references."""
    keys = ("warmup", "stable", "decay", "start_factor", "lr", "steps")
    return ExpectedValues().reference_wsd({key: payload[key] for key in keys})["lrs"]


def _phase_steps(warmup: int, steps: int) -> dict[str, range]:
    """The steps of each phase a test checks: the warm-up's, from step 0 to the peak it reaches at step `warmup`
    (LinearLR's total_iters); the decay's, every step after the peak (the rest of the stable phase, the decay and the
    steps past its end). The peak is the warm-up's to reach: a warm-up that reaches it late is wrong there, and that
    costs the warm-up's point, not the decay's (issue 24, review R24f)."""
    return {"warm-up": range(0, warmup + 1), "decay": range(warmup + 1, steps)}


def _first_difference(got: list, want: list, steps) -> int | None:
    return next((step for step in steps if not close(got[step], want[step], WSD_RTOL)), None)


def _rate(value) -> str:
    if isinstance(value, dict) and "raised" in value:
        return f"not a number: the factor raised {value['raised']}"
    return f"{value:.10g}" if isinstance(value, float) else f"{value} (not a number)"


def _apart(got, want) -> str:
    """How far apart two rates are, so that a message never seems to show the same number twice."""
    if not (isinstance(got, float) and isinstance(want, float)) or got == want:
        return ""
    scale = max(abs(got), abs(want))
    return f" (relative difference {abs(got - want) / scale:.2g}, allowed {WSD_RTOL:g})"


def check_wsd(
    wsd_factor,
    warmup: int,
    stable: int,
    decay: int,
    start_factor: float,
    lr: float = 0.1,
    phases=None,
    hint="",
    after=(),
) -> None:
    """The rates of LambdaLR(SGD(lr), wsd_factor(...)) must be PyTorch's SequentialLR's at every step of `phases`
    ("warm-up": steps 0 to `warmup`, the peak it reaches included; "decay": every step after the peak, through the
    stable phase, the decay and as many steps again past its end, then the steps `after`, far past it, if any; None:
    every step)."""
    run, call = _observe(wsd_factor, warmup, stable, decay, start_factor, lr, after=after)
    want = _expected_rates(run["payload"]) + _rates_after(run["payload"], after)
    ranges = _phase_steps(warmup, len(want))
    steps = range(len(want)) if phases is None else sorted({s for phase in phases for s in ranges[phase]})
    index = _first_difference(run["rates"], want, steps)
    if index is not None:
        step = [*range(run["payload"]["steps"]), *after][index]
        note = f" ({hint})" if hint else ""
        raise CheckFailed(
            f"{call}: at step {step}, {_phase(step, warmup, stable, decay)}, the optimizer's rate is "
            f"{_rate(run['rates'][index])}; the schedule's ({SCHEDULE}) is {_rate(want[index])}"
            f"{_apart(run['rates'][index], want[index])}{note}"
        )


def _rates_after(payload: dict, after) -> list:
    """PyTorch's rates at the steps `after`, from a reference run as long as the last of them."""
    if not after:
        return []
    rates = _expected_rates({**payload, "steps": max(after) + 1})
    return [rates[step] for step in after]


def _regular_runs(wsd_factor) -> list[tuple[tuple, list, list, str]]:
    """The answer's runs of the schedules of `REGULAR`, each at its own lr: (case, its rates, PyTorch's, the call)."""
    runs = []
    for *case, lr in REGULAR:
        run, call = _observe(wsd_factor, *case, lr)
        runs.append((tuple(case), run["rates"], _expected_rates(run["payload"]), call))
    return runs


def _right_phases(runs: list) -> list[str]:
    """The phases ("warm-up", "decay") in which the answer runs at PyTorch's rates in every one of `runs`."""
    wrong = set()
    for (warmup, *_), got, want, _ in runs:
        for phase, steps in _phase_steps(warmup, len(want)).items():
            if _first_difference(got, want, steps) is not None:
                wrong.add(phase)
    return [phase for phase in ("warm-up", "decay") if phase not in wrong]


def _edge_judgements(step: int, case: tuple, got, want, right: list[str]) -> list[str | None]:
    """What each phase that `step` belongs to says of the answer's rate there (None: it passes). The warm-up's steps
    run to the peak, the decay's from it, so the peak belongs to both. A phase right in long schedules is held to
    PyTorch; a phase wrong there is skipped (its own test charges it)."""
    warmup = case[0]
    pytorch = f"the schedule's ({SCHEDULE}) is {_rate(want[step])}{_apart(got[step], want[step])}"
    judgements = []
    for phase, belongs in (("warm-up", step <= warmup), ("decay", step >= warmup)):
        if belongs:
            wrong = phase in right and not close(got[step], want[step], WSD_RTOL)
            judgements.append(pytorch if wrong else None)
    return judgements


def _require_a_right_phase(right: list[str], runs: list) -> None:
    """The edges are judged against PyTorch only in a phase right in schedules with long phases: with neither the
    warm-up nor the decay right there, no step of the edges would be, and the point would reward an answer for agreeing
    with itself (issue 24, review R24k: a step function, 1 then 0.5, kept it)."""
    if not right:
        calls = " and ".join(call for *_, call in runs)
        raise CheckFailed(
            f"In {calls}, neither your warm-up nor your stable phase and decay give PyTorch's rates (the warm-up and "
            "decay tests charge that), so no step of the edges could be judged against PyTorch: this point is for "
            "edges at PyTorch's rates, in at least one of the two phases"
        )


def check_wsd_edges(wsd_factor, cases, lr: float = 0.1, hint: str = "") -> None:
    """`cases` of (warmup, stable, decay, start_factor) at the edges: each step PyTorch's, except in a phase the answer
    has wrong in schedules with long phases (`REGULAR`), which its own test charges: there it is skipped
    (`_edge_judgements`). A step fails only if every phase it belongs to says so: a slip of a whole phase costs its own
    test only; an edge that only short phases show loses the edges; with neither phase right, nothing is left to judge
    and the edges are lost (`_require_a_right_phase`)."""
    runs = _regular_runs(wsd_factor)
    right = _right_phases(runs)
    _require_a_right_phase(right, runs)
    note = f" ({hint})" if hint else ""
    for case in cases:
        run, call = _observe(wsd_factor, *case, lr)
        got, want = run["rates"], _expected_rates(run["payload"])
        for step in range(len(got)):
            judgements = _edge_judgements(step, case, got, want, right)
            if all(judgements):
                raise CheckFailed(
                    f"{call}: at step {step}, {_phase(step, *case[:3])}, the optimizer's rate is {_rate(got[step])}; "
                    + "; and ".join(dict.fromkeys(judgements))  # at the peak both phases say the same
                    + note
                )


def _agree(got, want) -> bool:
    """Two rates of the answer's own runs agree: numbers within WSD_RTOL, anything else only if it is the same."""
    return close(got, want, WSD_RTOL) if isinstance(want, float) else got == want


def _changes_after(rates: list, step: int) -> bool:
    """The answer's own rates change somewhere after `step`: a resume from there that went wrong would show."""
    return any(not _agree(rate, rates[step]) for rate in rates[step + 1 :])


def _checkpoint_step(rates: list, resume_at: int) -> int | None:
    """Where to save the run: at `resume_at` if the answer's own rates change after it, else at the last step before
    it after which they change (a decay that is all zeros there still has a warm-up or a drop to resume across);
    None if they never change (a constant factor: any resume, right or wrong, gives the same rates)."""
    if _changes_after(rates, resume_at):
        return resume_at
    return next((step for step in range(resume_at - 1, -1, -1) if _changes_after(rates, step)), None)


def _resume_probe(warmup: int, stable: int, decay: int, resume_at: int) -> list[int]:
    """The steps a new LambdaLR around a fresh factor is stepped through, in this order (its last_epoch set to the step
    before each; the last run's step first, and in the course's cases, whose warm-ups have 4 steps or more, no step
    the one after the step before it: with 1 or 2 some are): a factor that counts its calls gives the rates of steps
    1, 2, 3, ... instead. Saved at the warm-up's last step (`_checkpoint_step`, where the answer's own rates are flat
    after `resume_at`), `resume_at` is `warmup - 1` and that step is asked twice in a row; a counter of its calls, or of
    its calls at a new step, is still wrong at the other steps (6 or more of the 11 in the course's cases: R24u's nit,
    issue 24; tests/test_wsd_checks.py), so the repeat stays. The warm-up's steps come out of order too, its last before its first and one in its middle
    after them: a count of the warm-up steps seen (a set of them, or the largest) gives 0 and 1 at steps 0 and 1 as
    a fresh run's does, but not at the others (issue 24, R24s: w_warmup_counts_distinct_steps kept the resume when
    0 then 1 were the only warm-up steps asked)."""
    total = warmup + stable + decay
    return [
        _steps(total) - 1,
        total + 2,
        resume_at,
        warmup - 1,
        0,
        total - 1,
        warmup // 2,
        warmup,
        resume_at,
        warmup + stable,
        1,
    ]


def check_wsd_resume(
    wsd_factor, warmup: int, stable: int, decay: int, start_factor: float, resume_at: int, lr: float = 0.1
) -> None:
    """Saved at step `resume_at` (optimizer's and scheduler's state_dict()) and resumed in new objects around a new
    factor, and a fresh factor called at steps in any order, both in a new process under the grader (`wsd_resume`):
    the rates of the same answer's uninterrupted run (not PyTorch's: a wrong decay is the decay test's). The run is saved where the answer's own rates still change
    afterwards (`_checkpoint_step`: mid-decay, or earlier where a wrong decay is flat), so a wrong resume would show."""
    probe = _resume_probe(warmup, stable, decay, resume_at)
    run, call = _observe(wsd_factor, warmup, stable, decay, start_factor, lr, resume_at, probe)
    saved_at = _checkpoint_step(run["rates"], resume_at)
    expect(
        saved_at is not None,
        f"{call}: your rate is {_rate(run['rates'][0])} at every step, so a resume, right or wrong, would give the same "
        "rates: this test judges the resume of a run whose rate changes (it judges the resume, not the values: see "
        "the warm-up and decay tests for those)",
    )
    if saved_at != resume_at:  # the answer's own rates are flat after resume_at: save the run where they are not
        resume_at, probe = saved_at, _resume_probe(warmup, stable, decay, saved_at)
        run, call = _observe(wsd_factor, warmup, stable, decay, start_factor, lr, resume_at, probe)
    rates, resumed = run["rates"], run["resumed"]
    expect(isinstance(resumed, list) and len(resumed) == len(rates) - resume_at, f"{call}: the resumed run stopped")
    step = next((step for step in range(len(resumed)) if not _agree(resumed[step], rates[resume_at + step])), None)
    if step is not None:
        at = resume_at + step
        raise CheckFailed(
            f"{call}, saved at step {resume_at} (the optimizer's and the scheduler's state_dict()) and resumed in a "
            f"new optimizer and a new LambdaLR around a new wsd_factor(...): at step {at}, "
            f"{_phase(at, warmup, stable, decay)}, the resumed rate is {_rate(resumed[step])}, the uninterrupted run's "
            f"{_rate(rates[at])}{_apart(resumed[step], rates[at])}. The factor must depend on the step LambdaLR passes "
            "it, and on nothing else (a callable object's saved __dict__ is loaded whole, or not at all if one of its "
            "attributes cannot be carried as it is: then the new factor keeps all it built)."
        )
    probed = run["probed"]
    expect(isinstance(probed, list) and len(probed) == len(probe), f"{call}: the steps out of order gave no answer")
    for at, got in zip(probe, probed):
        want = rates[at] / lr if isinstance(rates[at], float) else rates[at]
        expect(
            isinstance(got, float),
            f"A new LambdaLR around a new wsd_factor({warmup}, {stable}, {decay}, {start_factor}) stepped to step {at} "
            f"(its last_epoch set to {at - 1}, then step()) gave the factor "
            f"{_rate(got)}: the factor must return a real number (a float; a one-element tensor or a numpy "
            "number is read as one)",
        )
        if not (isinstance(want, float) and close(got, want, WSD_RTOL)):
            raise CheckFailed(
                f"A new LambdaLR around a new wsd_factor({warmup}, {stable}, {decay}, {start_factor}) stepped through the "
                f"steps {probe} in this order (its last_epoch set to the step before each, then step()): at step {at} "
                f"the factor was {_rate(got)}, while in the run LambdaLR's factor at "
                f"step {at} was {_rate(want)}{_apart(got, want)}. The factor must depend on the step it is given, and "
                "on nothing else (no count of its calls)."
            )
