"""Chapter 7's budget (`lrcourse.checking.wsd_observer.SECONDS`, `wsd_resume.Budget`): the answer's own work counted in
its process's CPU time, not on the clock, so that a loaded machine does not take the budget from a correct answer
(R24s: a factor of 7 ms a call lost every cell at a load of 9.5 on 2 cores); the clock only as the backstop
(WALL_SECONDS) that ends a factor that waits without computing. The resume's legs also allow PER_REQUEST a request, and
their budget starts after the grader's first optimizer step (R24o). The resume's tests count the answer's work and the
round trips on clocks of the test's own, so their outcome does not depend on the machine's load; the guard's and the
observer's run for real, in a process that sleeps or is stopped (descheduled) but computes little."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from lrcourse.checking import CheckFailed, check_wsd, wsd_observer, wsd_resume
from lrcourse.checking.factor_server import LocalFactors
from lrcourse.checking.guard import Guard, StudentTimeout

from catalogue.wsd import WSD_REFERENCE

# R24o's case, the chapter's: 541 steps, saved at 243
PAYLOAD = {"warmup": 27, "stable": 189, "decay": 54, "start_factor": 1 / 27, "lr": 0.1, "steps": 541, "resume_at": 243}
PAYLOAD["probe"] = [540, 272, 243, 26, 0, 269, 13, 27, 243, 216, 1]
TRIP = 0.003  # a request's round trip and the guard's own entry in the answer's process (1-2 ms at a load of 7-12)


class Clocks:
    """The budget's clocks, moved by the answer's work and the round trips only: `now` on the clock, `cpu` the answer's
    process's CPU time. The test does not wait, and the machine's load does not change its outcome."""

    def __init__(self):
        self.now, self.cpu = 0.0, 0.0

    def monotonic(self) -> float:
        return self.now

    def process_time(self) -> float:
        return self.cpu


def slow_wsd_factor(clocks: Clocks, cpu_a_call: float, wall_a_call: float):
    """The catalogue's reference factor, each call taking `cpu_a_call` of CPU time and `wall_a_call` on the clock."""
    namespace: dict = {}
    exec(WSD_REFERENCE, namespace)

    def wsd_factor(*arguments):
        reference = namespace["wsd_factor"](*arguments)

        def factor(step):
            clocks.cpu += cpu_a_call
            clocks.now += wall_a_call
            return reference(step)

        return factor

    return wsd_factor


def resumed(monkeypatch, cpu_a_call: float, wall_a_call: float) -> dict:
    """The resume of R24o's case, the answer's factors served "over the wire", on the test's clocks."""
    clocks = Clocks()

    class OverTheWire(LocalFactors):
        """The answer's factors served in this process, each request after a round trip."""

        def ask(self, request: dict) -> dict:
            clocks.now += TRIP
            return super().ask(request)

    monkeypatch.setattr(wsd_resume, "time", clocks)
    monkeypatch.setattr(wsd_observer, "time", clocks)  # run_guarded's account of the CPU time a request took
    monkeypatch.setattr(wsd_resume, "factor_source", OverTheWire)
    return wsd_resume.resume_run(slow_wsd_factor(clocks, cpu_a_call, wall_a_call), dict(PAYLOAD))


@pytest.mark.parametrize(
    "cpu_a_call, keeps",
    [
        (0.0075, True),  # R24o's slow_inside_the_budget: 541 calls, 4.1 s of CPU time of the leg's 5 (and 5 ms a call)
        (0.015, False),  # 8.1 s: clearly over the observer's budget, and over the resume's (7.7 s)
    ],
)
def test_a_leg_s_budget_is_the_answer_s_cpu_time_and_an_allowance_a_request(monkeypatch, cpu_a_call, keeps):
    observation = resumed(monkeypatch, cpu_a_call, cpu_a_call)
    assert observation["timeout"] is not keeps
    assert observation["error"] is None
    if keeps:
        [state] = observation["states"]
        assert len(state["resumed"]) == PAYLOAD["steps"] - PAYLOAD["resume_at"]


@pytest.mark.parametrize(
    "wall_a_call, keeps",
    [
        (0.03, True),  # descheduled: 1 ms of work a call, 30 ms on the clock, 18 s a leg: within the backstop
        (0.06, False),  # 34 s a leg on the clock: past the backstop (30 s and 5 ms a request), however little CPU
    ],
)
def test_time_on_the_clock_counts_only_against_the_backstop(monkeypatch, wall_a_call, keeps):
    observation = resumed(monkeypatch, 0.001, wall_a_call)
    assert observation["timeout"] is not keeps
    assert observation["error"] is None


def test_a_reply_that_does_not_say_its_cpu_time_is_the_process_s_failure(monkeypatch):
    class Silent(LocalFactors):
        def ask(self, request: dict) -> dict:
            return {key: value for key, value in super().ask(request).items() if key != "cpu"}

    monkeypatch.setattr(wsd_resume, "factor_source", Silent)
    with pytest.raises(Exception, match="CPU time"):
        wsd_resume.resume_run(slow_wsd_factor(Clocks(), 0.0, 0.0), dict(PAYLOAD))


def test_the_guard_ends_work_by_its_cpu_time_and_waiting_by_the_clock():
    """With `cpu_seconds`, computing past it ends the code; waiting (a sleep, no CPU time) does not, until the clock's
    `seconds` run out."""
    began = time.monotonic()
    with pytest.raises(StudentTimeout), Guard(10.0, cpu_seconds=0.2).running():
        while True:
            pass
    assert time.monotonic() - began < 5.0  # the CPU time ended it, not the 10 s on the clock
    with Guard(5.0, cpu_seconds=0.2).running():
        time.sleep(0.5)  # past its CPU time on the clock, within it in CPU time: not ended
    began = time.monotonic()
    with pytest.raises(StudentTimeout), Guard(0.5, cpu_seconds=60.0).running():
        time.sleep(10)
    assert time.monotonic() - began < 5.0
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0) and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


SLEEPY = """
import time


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps

    def factor(step):
        time.sleep(0.15)  # waits, computing nothing: 41 steps and LambdaLR's first call, 6.3 s on the clock
        if step < warmup_steps:
            return start_factor + (1 - start_factor) * step / warmup_steps
        if step < warmup_steps + stable_steps:
            return 1.0
        return max(0.0, (total - step) / decay_steps) ** 2

    return factor
"""


def test_an_observation_counts_cpu_time_not_time_waiting():
    """A correct factor that sleeps 0.15 s a call runs the chapter's visible schedule (41 steps) in more than SECONDS
    on the clock, but in far less CPU time: it passes, as the messages say (time spent waiting is not counted, up to
    WALL_SECONDS)."""
    namespace: dict = {}
    exec(SLEEPY, namespace)
    began = time.monotonic()
    check_wsd(namespace["wsd_factor"], warmup=5, stable=10, decay=5, start_factor=0.1, phases=("decay",))
    assert time.monotonic() - began > wsd_observer.SECONDS


def test_a_descheduled_observation_keeps_its_budget():
    """The answer's process stopped (SIGSTOP) for longer than SECONDS in the middle of an observation, as a loaded
    machine deschedules it: its CPU time stays small, and the check passes (it failed when the budget was the clock's)."""
    script = """
import os, signal, sys, time
sys.path.insert(0, sys.argv[1])
from catalogue.wsd import WSD_REFERENCE
from lrcourse.checking import check_wsd
namespace = {}
exec(WSD_REFERENCE, namespace)
def wsd_factor(*arguments):
    reference = namespace["wsd_factor"](*arguments)
    def factor(step):
        if step == 20:
            os.write(1, b"stop me\\n")  # past the guard's capture of sys.stdout
            time.sleep(0.5)  # stopped by the test meanwhile, for 6 s
        return reference(step)
    return factor
check_wsd(wsd_factor, warmup=5, stable=10, decay=5, start_factor=0.1, phases=("decay",))
print("passed", flush=True)
"""
    tests = os.path.dirname(os.path.abspath(__file__))
    process = subprocess.Popen(
        [sys.executable, "-c", script, tests], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    if process.stdout.readline().strip() != "stop me":
        process.kill()
        pytest.fail(process.communicate()[1][-2000:])
    os.kill(process.pid, signal.SIGSTOP)
    threading.Event().wait(wsd_observer.SECONDS + 1)
    os.kill(process.pid, signal.SIGCONT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-2000:]
    assert out.strip() == "passed"


def test_a_factor_past_its_cpu_time_still_fails():
    """The counterpart: a correct factor that computes 0.2 s a call runs past SECONDS of CPU time and fails, saying
    what the budget counts."""
    busy = SLEEPY.replace(
        "time.sleep(0.15)",
        "until = time.process_time() + 0.2\n        while time.process_time() < until:\n            pass",
    )
    namespace: dict = {}
    exec(busy, namespace)
    with pytest.raises(CheckFailed, match="CPU time"):
        check_wsd(namespace["wsd_factor"], warmup=5, stable=10, decay=5, start_factor=0.1, phases=("decay",))


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
           "probe": [20, 12, 7, 1, 0, 9, 1, 2, 7, 5, 1]}
observation = wsd_resume.resume_run(wsd_factor, payload)
assert not observation["timeout"] and observation["error"] is None, observation
print(seen[0])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "True"
