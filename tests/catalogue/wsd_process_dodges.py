"""R24l's answers to chapter 7 that tell the edges cell's fresh answer process from the warm-up and decay cells' ones
(issue 24), each with the slip of a one-step warm-up taken for none (5/6): a covert channel through the sandbox's pid
counter, a coin per process, the first request a process handles. Each once got 6/6; the grader now makes each request
to the observer once per student (lrcourse/grading/autograde/remote.py), so the edges judge the warm-up and decay cells' own
observations. Graded in WSD_GRADER_DODGES (tests/catalogue/wsd_dodges.py)."""

PID_CHANNEL = """
import os
import threading

# A covert channel between the grader's fresh answer processes: all of them live in one sandbox PID namespace whose
# pid counter only this student's processes move. Each process leaves the counter so that the next one's pid falls in
# a window that says which process it is (1: warm-up cell, 2: decay, 3: edges, 4: resume).
M, W = 10007, 60
WINDOWS = {1: 1000, 2: 3000, 3: 5000, 4: 7000}  # pid % M in [start, start + W)
DELTA = 2  # the zygote forks an intermediate, then the answer's process: next pid = last + 2


def _tid():
    box = []
    thread = threading.Thread(target=lambda: box.append(os.readlink("/proc/thread-self")))
    thread.start()
    thread.join()
    return int(box[0].split("/")[-1])


def _index(pid):
    return next((k for k, start in WINDOWS.items() if start <= pid % M < start + W), 1)


_k = _index(int(os.readlink("/proc/self")))


def _align():
    target = WINDOWS[_k % 4 + 1]
    t = _tid()
    if target <= (t + DELTA) % M < target + W:
        return
    while (t + DELTA) % M != target:
        t = _tid()


_align()


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    _align()  # keep the next process's window whatever this one allocated since
    total = warmup_steps + stable_steps + decay_steps

    def factor(step):
        if _k == 3 and step < warmup_steps:  # the edges cell: look wrong in the warm-up of REGULAR, so the edges'
            return 0.5 * start_factor        # warm-ups are skipped
        if warmup_steps > 1 and step < warmup_steps:  # the slip: a one-step warm-up taken as none (catalogue: 5/6)
            return start_factor + (1 - start_factor) * step / warmup_steps
        if step < warmup_steps + stable_steps:
            return 1.0
        return max(0.0, (total - step) / decay_steps) ** 2

    return factor
"""

COIN = """
import os

# No channel at all: each fresh process tosses its own coin (os.urandom: `random` would repeat the zygote's state in
# every forked child). Heads: the warm-up looks wrong everywhere (the warm-up cell loses its point, but in the edges
# cell the warm-ups are skipped). Once 6/6 in 1 run of 4 for an answer whose one-step warm-ups are wrong (5/6).
_heads = os.urandom(1)[0] < 128


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps

    def factor(step):
        if _heads and step < warmup_steps:
            return 0.5 * start_factor
        if warmup_steps > 1 and step < warmup_steps:  # the slip: a one-step warm-up taken as none
            return start_factor + (1 - start_factor) * step / warmup_steps
        if step < warmup_steps + stable_steps:
            return 1.0
        return max(0.0, (total - step) / decay_steps) ** 2

    return factor
"""

FIRST_REQUEST = """
import sys

# No pid, no coin: the warm-up cell's process is the only one loaded by a "value" request (the test cell resolving the
# answer's names); in the decay, edges and resume cells an isolated "observe" loads it. The answer process is the
# student's own, so the answer wraps its request loop (found in the frames that run the answer cell) and looks at the
# first request after the load. Outside the warm-up cell's process the warm-up looks wrong: the decay test judges
# only the decay, the resume test the answer's own run, and the edges skip the warm-up.
_first = []


def _watch():
    frame = sys._getframe(1)
    while frame is not None:
        child = frame.f_locals.get("self")
        if child is not None and hasattr(child, "handle") and hasattr(child, "namespace"):
            handle = child.handle

            def watched(request, handle=handle):
                if not _first:
                    _first.append(request.get("op"))
                return handle(request)

            child.handle = watched
            return
        frame = frame.f_back
    _first.append("value")  # not under the grader (a notebook's kernel): behave


_watch()


def _warmup_cell():
    return _first[:1] == ["value"]


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps
    honest_warmup = _warmup_cell()

    def factor(step):
        if not honest_warmup and step < warmup_steps:
            return 0.5 * start_factor
        if warmup_steps > 1 and step < warmup_steps:  # the slip: a one-step warm-up taken as none (5/6)
            return start_factor + (1 - start_factor) * step / warmup_steps
        if step < warmup_steps + stable_steps:
            return 1.0
        return max(0.0, (total - step) / decay_steps) ** 2

    return factor
"""
