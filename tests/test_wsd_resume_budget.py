"""Chapter 7's resume: what its budget covers (`lrcourse.checking.wsd_resume.Budget`): the answer's own work, as
the observer's, plus each request's round trip over the wire, counted after the grader's first optimizer step (R24o).
The answer's work and the round trips are counted on a clock of the test's own, so the outcome does not depend on
the machine's load."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lrcourse.checking import wsd_resume
from lrcourse.checking.factor_server import LocalFactors

from catalogue.wsd import WSD_REFERENCE

# R24o's case, the chapter's: 541 steps, saved at 243
PAYLOAD = {"warmup": 27, "stable": 189, "decay": 54, "start_factor": 1 / 27, "lr": 0.1, "steps": 541, "resume_at": 243}
PAYLOAD["probe"] = [540, 272, 243, 0, 269, 27, 243, 216, 1]
TRIP = 0.003  # a request's round trip and the guard's own entry in the answer's process (1-2 ms at a load of 7-12)


class Clock:
    """The budget's clock, moved by the answer's work and the round trips only: the test does not wait, and the
    machine's load does not change its outcome."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


def slow_wsd_factor(clock: Clock, seconds_a_call: float):
    """The catalogue's reference factor, each call costing `seconds_a_call` on the test's clock."""
    namespace: dict = {}
    exec(WSD_REFERENCE, namespace)

    def wsd_factor(*arguments):
        reference = namespace["wsd_factor"](*arguments)

        def factor(step):
            clock.now += seconds_a_call
            return reference(step)

        return factor

    return wsd_factor


@pytest.mark.parametrize(
    "seconds_a_call, keeps",
    [
        (0.0075, True),  # R24o's slow_inside_the_budget: 541 calls in 4.1 s of the observer's 5 (5.7 s with the trips)
        (0.015, False),  # 8.1 s: clearly over the observer's budget, and over the resume's (9.7 s of 7.7)
    ],
)
def test_a_leg_s_budget_is_the_answer_s_work_and_a_round_trip_a_request(monkeypatch, seconds_a_call, keeps):
    clock = Clock()

    class OverTheWire(LocalFactors):
        """The answer's factors served in this process, each request after a round trip."""

        def ask(self, request: dict) -> dict:
            clock.now += TRIP
            return super().ask(request)

    monkeypatch.setattr(wsd_resume, "time", clock)
    monkeypatch.setattr(wsd_resume, "factor_source", OverTheWire)  # the factory's factors, served "over the wire"
    observation = wsd_resume.resume_run(slow_wsd_factor(clock, seconds_a_call), dict(PAYLOAD))
    assert observation["timeout"] is not keeps
    assert observation["error"] is None
    if keeps:
        [state] = observation["states"]
        assert len(state["resumed"]) == PAYLOAD["steps"] - PAYLOAD["resume_at"]


def test_the_grader_s_first_optimizer_step_is_paid_before_the_budget_starts():
    """torch._dynamo, imported by a process's first optimizer.step() (seconds), is already there when the first leg's
    budget starts, in a fresh process as the grader's."""
    script = """
import sys
from lrcourse.checking import wsd_resume
seen = []
class Recording(wsd_resume.Budget):
    def __init__(self):
        seen.append("torch._dynamo" in sys.modules)
        super().__init__()
wsd_resume.Budget = Recording
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return lambda step: max(0.0, 1 - step / 10)
payload = {"warmup": 2, "stable": 3, "decay": 5, "start_factor": 0.5, "lr": 0.1, "steps": 21, "resume_at": 7,
           "probe": [20, 12, 7, 0, 9, 2, 7, 5, 1]}
observation = wsd_resume.resume_run(wsd_factor, payload)
assert not observation["timeout"] and observation["error"] is None, observation
print(seen[0])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "True"
