"""Chapter 7's checks against answers that tell the grader's observations apart (issue 24, review R24k): the steps
out of order reach the factor as a run's do, the edges judge only runs the warm-up and decay tests grade, and nothing
when neither phase is right; and a checkpoint's copy that fails says so. The trusted verdicts of these answers, each
`once` request made once per student, are graded in tests/test_grading_fidelity.py::TestPractice (catalogue: WSD_GRADER_DODGES)."""

from __future__ import annotations

import sys

import nbformat
import numpy as np
import pytest
import torch

from lrcourse.checking import CheckFailed, check_wsd_edges, check_wsd_resume

from catalogue.wsd import WSD_REFERENCE
from catalogue.wsd_wrong import WSD_WRONG

EDGES = [(1, 0, 1, 0.5), (1, 3, 1, 0.3), (4, 0, 1, 1.0), (2, 0, 1, 0.5)]


def answer(source: str):
    """The `wsd_factor` an answer cell defines, run after what the chapter's setup imports (numpy, torch)."""
    namespace = {"np": np, "torch": torch}
    exec(source, namespace)
    return namespace["wsd_factor"]


def wrong(name: str):
    return answer(next(a.source for a in WSD_WRONG if a.name == name))


def test_a_factor_returning_a_tensor_that_requires_grad_resumes():
    """R24k's nit was that torch.save writes such a state and the copy in memory the tests kept did not; the resume now
    runs on the judge's side, where the factor's value arrives as the number it is (issue 24)."""
    weight = torch.ones((), requires_grad=True)
    reference = answer(WSD_REFERENCE)
    graded = lambda *arguments: lambda step: weight * reference(*arguments)(step)  # noqa: E731
    check_wsd_resume(graded, warmup=5, stable=10, decay=5, start_factor=0.1, resume_at=17)


def test_the_steps_out_of_order_reach_the_factor_by_the_same_frames_as_the_run():
    """R24k's a8 told the direct calls from the run by their caller, R24m's a5 read which leg ran off the observer's
    frames; now every call, run, resumed or out of order, is one request to the answer's process, served by the same
    code, line for line, and nothing of the grader's run is in that process's frames (issue 24)."""
    from lrcourse.checking.wsd_resume import resume_run

    chains = {"in order": set(), "out of order": set()}
    names = set()

    def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
        reference = answer(WSD_REFERENCE)(warmup_steps, stable_steps, decay_steps, start_factor)
        last = [-1]

        def factor(step):
            frame, chain = sys._getframe(1), []
            while frame is not None and frame.f_code.co_name != "serve":
                chain.append((frame.f_code.co_filename, frame.f_code.co_name, frame.f_lineno))
                names.update(frame.f_locals)
                frame = frame.f_back
            chains["in order" if step in (last[0], last[0] + 1) else "out of order"].add(tuple(chain))
            last[0] = step
            return reference(step)

        return factor

    probe = [40, 22, 17, 0, 19, 5, 17, 15, 1]
    payload = {"warmup": 5, "stable": 10, "decay": 5, "start_factor": 0.1, "lr": 0.1, "steps": 41}
    observation = resume_run(wsd_factor, payload | {"resume_at": 17, "probe": probe})
    assert observation["error"] is None and chains["out of order"], observation
    assert chains["out of order"] <= chains["in order"], chains["out of order"] - chains["in order"]
    assert not names & {"leg", "leg_steps", "payload", "resume_at", "probe"}, names


def test_the_edges_long_schedules_are_the_first_runs_of_the_warm_up_and_decay_tests():
    """REGULAR must be runs the warm-up and decay tests grade, the first ones, in order, with the same payloads: each
    `once` request is made once per student, so the edges cell judges those tests' own observations (the test
    below)."""
    from lrcourse.build import ROOT
    from lrcourse.checking import wsd as judges
    from lrcourse.checking.observe import OBSERVED_ONCE

    cells = {cell.id: cell.source for cell in nbformat.read(ROOT / "source/07_practice/practice.ipynb", 4).cells}
    assert "wsd" in OBSERVED_ONCE  # each request made once per student (lrcourse/grading/autograde/remote.py)
    for cell in ("test_wsd_warmup", "test_wsd_decay"):
        runs = []

        def recording(factor, warmup, stable, decay, start_factor, lr=0.1, phases=None, hint="", after=(), runs=runs):
            runs.append((warmup, stable, decay, start_factor, lr))

        source = cells[cell].replace("from lrcourse.checking import check_wsd, passed", "")
        exec(source, {"check_wsd": recording, "passed": print, "wsd_factor": None})
        assert tuple(runs[: len(judges.REGULAR)]) == judges.REGULAR, (cell, runs)


def test_the_edges_judge_nothing_when_neither_phase_is_right_in_the_long_schedules():
    """R24k's a1: a step function, right nowhere, kept the edges by agreeing with itself (issue 24)."""
    step_function = answer(
        "def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):\n"
        "    return lambda step: 1.0 if step < warmup_steps + stable_steps else 0.5\n"
    )
    with pytest.raises(CheckFailed, match="neither your warm-up nor your stable phase and decay give PyTorch's rates"):
        check_wsd_edges(step_function, EDGES)
    check_wsd_edges(wrong("warmup_from_zero"), EDGES)  # one phase right is enough to judge the edges by
    check_wsd_edges(wrong("decay_one_step_ahead"), EDGES)


def test_the_edges_cell_judges_the_very_observations_the_warm_up_and_decay_tests_judged(monkeypatch):
    """R24l: a fresh process for the edges cell could still be told from the warm-up and decay cells' (the first request
    it handles, the sandbox's pid counter, a coin of its own). Each `once` request is made once per student: the
    edges cell's long schedules are the warm-up cell's own observations, asked once and kept (issue 24).
    The answer's process runs here, in-process, its requests straight to its handler."""
    import json
    import socket

    from lrcourse.build import ROOT
    from lrcourse.checking import wsd as judges
    from lrcourse.grading.autograde import remote
    from lrcourse.grading.sandbox.answer_zygote import Child

    cell = [""]
    asked, judged = [], []  # (cell, payload as JSON, the observation the process sent); (cell, the one decoded)

    class InProcess:
        dead = False

        def __init__(self, channel):
            self.child = Child(channel)

        def request(self, message, seconds):
            reply = self.child.handle(message)
            if message.get("op") == "observe":
                asked.append((cell[0], json.dumps(message["payload"], sort_keys=True), reply["observation"]))
            return reply

        def close(self):
            self.dead = True

    decode = remote.decode_observation
    monkeypatch.setattr(remote, "decode_observation", lambda raw: judged.append((cell[0], raw)) or decode(raw))
    ours, theirs = socket.socketpair()
    handle = type("ZygoteHandleStandIn", (), {"fork": lambda self: InProcess(theirs)})()
    session = remote.Session(handle, [], [("wsd_factor", WSD_REFERENCE)], defines={"wsd_factor": ["wsd_factor"]})
    cells = {c.id: c.source for c in nbformat.read(ROOT / "source/07_practice/practice.ipynb", 4).cells}
    try:
        for cell[0] in ("test_wsd_warmup", "test_wsd_decay", "test_wsd_edges"):
            exec(cells[cell[0]], {"wsd_factor": session.resolve("wsd_factor")})
    finally:
        session.close()
        ours.close()
        theirs.close()
    for *case, lr in judges.REGULAR:
        warmup, stable, decay, start_factor = case
        payload = {"warmup": warmup, "stable": stable, "decay": decay, "start_factor": start_factor, "lr": lr}
        key = json.dumps(payload | {"steps": 2 * sum(case[:3]) + 1}, sort_keys=True)
        requests = [(where, raw) for where, sent, raw in asked if sent == key]
        assert [where for where, _ in requests] == ["test_wsd_warmup"], (case, requests)  # asked once, by the first
        uses = [where for where, raw in judged if raw == requests[0][1]]  # decoded from the kept JSON text
        assert {"test_wsd_decay", "test_wsd_edges"} <= set(uses), (case, uses)  # judged there: decoded, not asked
    assert any(where == "test_wsd_edges" for where, *_ in asked)  # the edge cases themselves were asked there


class ScriptedProcess:
    """The answer's process as the Session sees it: the load succeeds; each "observe" request gets the next of
    `replies` (a reply, or an exception to raise, such as Silence: the process silent past the deadline)."""

    dead = False

    def __init__(self, replies: list):
        self.replies, self.observed = replies, 0

    def request(self, message, seconds):
        if message["op"] == "load":
            return {"ok": True, "errors": [None]}
        self.observed += 1
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def close(self):
        self.dead = True


def scripted_session(replies: list):
    from lrcourse.grading.autograde import remote

    process = ScriptedProcess(replies)
    handle = type("ZygoteHandleStandIn", (), {"fork": lambda self: process})()
    session = remote.Session(handle, [], [("wsd_factor", WSD_REFERENCE)], defines={"wsd_factor": ["wsd_factor"]})
    return session, remote.RemoteAnswer(session, "wsd_factor"), process


PAYLOAD = {"warmup": 27, "stable": 189, "decay": 54, "start_factor": 1 / 27, "lr": 0.01, "steps": 541}


def ran(rates: list) -> dict:
    from lrcourse import wire

    return {
        "ok": True,
        "observation": {
            "states": [wire.encode({"rates": rates, "resumed": []})],
            "error": None,
            "timeout": False,
            "value": wire.encode(None),
            "calls": [],
            "seconds": 5.0,
        },
    }


@pytest.mark.parametrize("stall", ["guard", "silence"])
def test_a_request_that_timed_out_once_is_asked_again_in_the_next_cell(stall):
    """R24m's s1: a right factor whose process stalled once (6 s against a 5 s budget) kept that timeout for every
    cell that asked the same, 2 of 6. A timeout is not kept, as an exception is not: the cell that asked is charged,
    the next one asks again; what came back is kept from then on (issue 24)."""
    from lrcourse.grading.sandbox.zygote import Silence

    stalled = {"ok": True, "observation": {"timeout": True, "states": [], "error": None, "seconds": 5.0}}
    session, wsd_factor, process = scripted_session([stalled if stall == "guard" else Silence(), ran([0.5, 0.25])])
    assert wsd_factor.observe("wsd", PAYLOAD)["timeout"]  # the first cell: timed out, charged there
    again = wsd_factor.observe("wsd", PAYLOAD)  # the next cell asks again
    assert not again["timeout"] and again["states"] == [{"rates": [0.5, 0.25], "resumed": []}], again
    assert process.observed == 2
    assert wsd_factor.observe("wsd", PAYLOAD)["states"] == again["states"]  # kept from then on: not asked a third time
    assert process.observed == 2
    session.close()


def test_an_observation_is_kept_as_its_json_text_and_decoded_at_each_use():
    """R24m's m1: 1 MB of JSON (the bound) of empty dicts, kept parsed, took about 18 times that in the worker; the
    Session keeps the JSON text it measured and decodes it at each use, so what a student's cache holds is bounded by
    the bytes counted (issue 24)."""
    import json

    session, wsd_factor, process = scripted_session([ran([0.5, 0.25])])
    first, second = (wsd_factor.observe("wsd", PAYLOAD) for _ in range(2))
    assert process.observed == 1 and first == second
    [kept] = session.observed.values()
    assert isinstance(kept, str) and json.loads(kept) == ran([0.5, 0.25])["observation"]
    session.close()


def test_the_resumed_run_and_the_steps_out_of_order_are_asked_of_a_new_process_the_run_s_closed_first():
    """Chapter 7's resume under the grader (issue 24, R24m): the run's factor calls go to the answer's process, the
    resumed run's and the steps out of order's to a new one, forked only once the first was closed (in the sandbox
    that kill sweeps what the first left), and what crosses is the checkpoint. A factor that keeps a memo of its
    run in a module global (R24m's kind) finds it empty there and loses the resume; the same in one process passes."""
    import socket

    from lrcourse.grading.autograde import remote
    from lrcourse.grading.sandbox.answer_zygote import Child

    from catalogue.wsd import WSD_CORRECT
    from catalogue.wsd_resume_dodges import WSD_RESUME_DODGES

    events = []

    class InProcess:
        """A new answer process: a Child of its own, so a module global of the answer's is its own too."""

        dead = False

        def __init__(self, number, channel):
            self.number, self.child = number, Child(channel)
            events.append(("fork", number))

        def request(self, message, seconds):
            if message.get("op") == "factor":
                events.append((message["do"], self.number))
            return self.child.handle(message)

        def close(self):
            self.dead = True
            events.append(("close", self.number))

    ours, theirs = socket.socketpair()
    forks = iter(range(1, 100))
    handle = type("ZygoteHandleStandIn", (), {"fork": lambda self: InProcess(next(forks), theirs)})()
    memo = next(a.source for a in WSD_RESUME_DODGES if a.name == "resume_from_a_memo_in_a_module_global")
    callable_object = next(a.source for a in WSD_CORRECT if a.name == "callable_object")
    carried = next(a.source for a in WSD_RESUME_DODGES if a.name == "resume_from_a_memo_in_the_checkpoint")
    resumed_wrong = r"saved at step 17 .* the resumed rate is"
    for source, fails, loads in [
        (WSD_REFERENCE, None, 0),
        (callable_object, None, 1),
        (memo, resumed_wrong, 0),
        # R24n's a1, its memo carried in the checkpoint: the steps out of order, run before the load, now count in
        # that process's memo too, and the resumed run, answered from it, goes wrong at step 19 (6/6 before)
        (carried, resumed_wrong, 1),
    ]:
        events.clear()
        session = remote.Session(handle, [], [("wsd_factor", source)], defines={"wsd_factor": ["wsd_factor"]})
        try:
            if fails is None:
                check_wsd_resume(session.resolve("wsd_factor"), 5, 10, 5, 0.1, 17)
            else:
                with pytest.raises(CheckFailed, match=fails):
                    check_wsd_resume(session.resolve("wsd_factor"), 5, 10, 5, 0.1, 17)
        finally:
            session.close()
        first, second = events[0][1], events[0][1] + 1
        assert events[: events.index(("close", first)) + 2][-2:] == [("close", first), ("fork", second)], events
        run = events[: events.index(("close", first))]
        assert {number for what, number in run if what != "fork"} == {first}, run  # the run: the first process only
        assert [what for what, _ in run].count("state") == 1  # the checkpoint: what state_dict() saves of it, once
        rest = events[events.index(("fork", second)) :]
        assert {number for what, number in rest if what not in ("close",)} == {second}, rest
        assert [what for what, _ in rest].count("new") == 2  # the resumed run's factor and the fresh one's
        assert [what for what, _ in rest].count("load") == loads  # a callable object's __dict__, into the new one
        asked = [what for what, _ in rest if what in ("new", "call", "load")]
        probed = asked[: asked.index("new", 1)]  # the fresh factor's steps out of order come first, before any load
        assert probed == ["new", *["call"] * len(probed[1:])] and len(probed) > 9, asked  # 9 steps out of order
    ours.close()
    theirs.close()
    local = answer(memo)
    check_wsd_resume(local, 5, 10, 5, 0.1, 17)  # in one process the memo answers for the resume: a call counter through


def test_a_resume_whose_time_ran_out_is_run_once_more_from_a_new_process(monkeypatch):
    """A stall of the machine in the resume's legs (a StudentTimeout) once cost its 2 points with no second try
    (R24n): the legs run again once, from a new process; a second timeout is the answer's, and a wrong answer is
    judged as it came (not run again)."""
    from lrcourse.checking import wsd_resume
    from lrcourse.checking.factor_server import LocalFactors

    stalls, restarts = [0], [0]

    class Stalling(LocalFactors):
        """The kernel's factors, the first `stalls` calls of a step answered "timeout", as a loaded machine does."""

        def ask(self, request):
            if request["do"] == "call" and stalls[0] > 0:
                stalls[0] -= 1
                return {"ok": True, "value": None, "error": None, "timeout": True, "calls": []}
            return super().ask(request)

        def restart(self):
            restarts[0] += 1
            super().restart()

    monkeypatch.setattr(wsd_resume, "LocalFactors", Stalling)
    payload = {"warmup": 5, "stable": 10, "decay": 5, "start_factor": 0.1, "lr": 0.1, "steps": 41}
    payload |= {"resume_at": 17, "probe": [40, 22, 17, 0, 19, 5, 17, 15, 1]}
    reference = answer(WSD_REFERENCE)
    for stalled, timeout, restarted in [(1, False, 2), (10**6, True, 1), (0, False, 1)]:
        stalls[0], restarts[0] = stalled, 0
        observation = wsd_resume.resume_run(reference, payload)
        assert observation["timeout"] is timeout and restarts[0] == restarted, (stalled, observation, restarts)
        assert (observation["value"] is None) is timeout, observation
    counting = answer(next(a.source for a in WSD_WRONG if a.name == "counts_its_calls"))
    stalls[0], restarts[0] = 0, 0
    assert wsd_resume.resume_run(counting, payload)["value"] is not None and restarts[0] == 1  # judged, not retried


def test_the_dodge_told_by_the_decay_runs_switches_after_the_decay_cell_as_the_chapter_is_now():
    """The catalogue's `edges_cell_told_by_the_decay_runs_before_it` keys on the decay cell's last schedule: when that
    cell changed (A19's far-past case) its switch stopped firing and the entry tested no dodge. Run in-process through
    the chapter's own cells, the switched factor fools the in-kernel edges check (the dodge works where it aims);
    graded for real it loses the edges cell (test_grading_fidelity.py::TestPractice)."""
    from lrcourse.build import ROOT

    from catalogue.wsd_dodges import WSD_GRADER_DODGES

    source = next(a.source for a in WSD_GRADER_DODGES if a.name == "edges_cell_told_by_the_decay_runs_before_it")
    namespace = {"np": np, "torch": torch}
    exec(source, namespace)
    cells = {cell.id: cell.source for cell in nbformat.read(ROOT / "source/07_practice/practice.ipynb", 4).cells}
    for cell in ("test_wsd_warmup", "test_wsd_decay", "test_wsd_edges"):
        exec(cells[cell], namespace)  # raises CheckFailed if the factor it is handed is the buggy one there
