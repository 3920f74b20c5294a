"""Chapter 7's answers that fake the resume (issue 24, review R24m): a factor that counts its calls, which deserves
4/6 (right in a run, wrong after a resume and out of order, as `counts_its_calls`), made to look as if it resumed.
When the resume was observed in the answer's own process each got 6/6: an observer replaced in `OBSERVERS` (a1), the
observer's frames read to tell the legs apart (a5), and a memo of what the run answered at each step, kept in a module
global, a file in /tmp, in the working folder or in /dev/shm, or in the environment, from which the resumed factor and
the fresh one answered the steps the run had answered. The resume now runs on the grader's side, and its resumed leg
and its steps out of order in a new answer process, the old one killed first (lrcourse/checking/wsd_resume.py): none
of these reaches it, so each keeps the 4 points its run earns and loses the resume's 2. R24n then carried the memo in
the checkpoint itself (a1: in a callable object's __dict__; a2: a patched factor server's "state" and "load"), which
answered the steps out of order when they ran after the load in the new process: they now run before it."""

from __future__ import annotations

from catalogue.wsd import wsd

RESUME = ("test_wsd_resume",)

# R24m's a1: the real observer run on the plain schedule, its rates copied into the resumed run and the steps out of
# order (/tmp/r24m/a1_forged_resume.py)
FORGED_OBSERVER = """
import lrcourse.checking.observe as _obs
from lrcourse import wire as _wire

_real = _obs.OBSERVERS["wsd"]


def _forged(factory, payload):
    plain = {k: v for k, v in payload.items() if k not in ("resume_at", "probe")}
    observation = _real(factory, plain)
    if "resume_at" in payload and observation.get("states"):
        state = _wire.decode(observation["states"][0])
        rates, at, lr = state["rates"], payload["resume_at"], payload["lr"]
        state["resumed"] = rates[at:]
        observation["states"] = [_wire.encode(state)]
        observation["value"] = _wire.encode([rates[s] / lr for s in payload["probe"]])
    return observation


_obs.OBSERVERS["wsd"] = _forged


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps
    count = [-1]

    def factor(_step):
        count[0] += 1
        step = count[0]
        if step < warmup_steps:
            return start_factor + (1 - start_factor) * step / warmup_steps
        if step < warmup_steps + stable_steps:
            return 1.0
        return max(0.0, (total - step) / decay_steps) ** 2

    return factor
"""

# R24m's a5: which leg builds the factor read off the observer's frames (its locals `leg`, `leg_steps`)
FRAMES_READ = """
import sys


def _local(name):
    frame = sys._getframe(2)
    while frame is not None:
        if name in frame.f_locals:
            return frame.f_locals[name]
        frame = frame.f_back
    return None


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps
    leg, leg_steps = _local("leg"), _local("leg_steps")
    count = [(leg_steps[0] if leg == "resumed" else 0) - 1]

    def rate(step):
        if step < warmup_steps:
            return start_factor + (1 - start_factor) * step / warmup_steps
        if step < warmup_steps + stable_steps:
            return 1.0
        return max(0.0, (total - step) / decay_steps) ** 2

    def factor(_step):
        count[0] += 1
        if leg == "probe":
            return rate(_step)
        return rate(count[0])

    return factor
"""

# A call counter whose answers are kept by the step LambdaLR passed, in STORE: a factor built later for the same
# schedule answers from there the steps an earlier one answered, and counts the rest
MEMO = """
import json
import os

STORE = "{store}"
_memo = {{}}


def _read(key):
    if STORE == "global":
        return dict(_memo.get(key, {{}}))
    if STORE == "environment":
        return json.loads(os.environ.get("WSD_MEMO_" + key, "{{}}"))
    try:
        with open(os.path.join(STORE, "wsd_memo_" + key + ".json")) as memo:
            return json.load(memo)
    except (OSError, ValueError):
        return {{}}


def _write(key, table):
    if STORE == "global":
        _memo[key] = dict(table)
    elif STORE == "environment":
        os.environ["WSD_MEMO_" + key] = json.dumps(table)
    else:
        try:
            with open(os.path.join(STORE, "wsd_memo_" + key + ".json"), "w") as memo:
                json.dump(table, memo)
        except OSError:
            pass


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps
    key = "_".join(str(n) for n in (warmup_steps, stable_steps, decay_steps)) + "_" + str(hash(start_factor))
    table, count = _read(key), [-1]

    def rate(step):
        if step < warmup_steps:
            return start_factor + (1 - start_factor) * step / warmup_steps
        if step < warmup_steps + stable_steps:
            return 1.0
        return max(0.0, (total - step) / decay_steps) ** 2

    def factor(step):
        count[0] += 1
        if str(step) in table:
            return table[str(step)]
        table[str(step)] = rate(count[0])
        _write(key, table)
        return table[str(step)]

    return factor
"""

# R24n's a1: a call counter object whose __dict__ carries a memo {step: factor} of what it answered, which the
# checkpoint copies to the new process; loaded, the memo goes to a module global, from which a fresh factor built later
# in that process answers the steps the run answered (/tmp/r24n/att/a1_dict_memo.py)
MEMO_IN_THE_CHECKPOINT = """
_SEEN = {}


class _Counter:
    def __init__(self, warmup_steps, stable_steps, decay_steps, start_factor):
        self.key = f"{warmup_steps}_{stable_steps}_{decay_steps}_{start_factor!r}"
        self.w, self.s, self.d, self.f = warmup_steps, stable_steps, decay_steps, start_factor
        self.count = -1
        self.memo = {}

    def _rate(self, n):
        if n < self.w:
            return self.f + (1 - self.f) * n / self.w
        if n < self.w + self.s:
            return 1.0
        return max(0.0, (self.w + self.s + self.d - n) / self.d) ** 2

    def __call__(self, step):
        table = _SEEN.setdefault(self.key, {})
        table.update(self.memo)            # what the checkpoint brought
        self.count += 1
        if str(step) in table:
            value = table[str(step)]
        else:
            value = self._rate(self.count)  # the count, not the step
        self.memo[str(step)] = value
        table[str(step)] = value
        return value


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return _Counter(warmup_steps, stable_steps, decay_steps, start_factor)
"""

# R24n's a2: the plain call counter (a closure) with the factor server patched in its own process, so that "state"
# and "load" carry its memo and count as a callable object's __dict__ would (/tmp/r24n/att/a2_patched_server.py)
SERVER_PATCHED = """
import lrcourse.checking.factor_server as _fs

_MEMO, _COUNT, _BASE = {}, {}, {}
_real_serve = _fs.FactorServer.serve


def _serve(self, request):
    do = request.get("do")
    if do == "state":
        from lrcourse import wire
        return {"ok": True, "value": wire.encode({"memo": dict(_MEMO), "count": dict(_COUNT)}), "error": None,
                "timeout": False, "calls": []}
    if do == "load":
        from lrcourse import wire
        state = wire.decode(request["state"])
        _MEMO.update(state.get("memo", {}))
        _BASE.update(state.get("count", {}))
        return {"ok": True, "value": wire.encode(None), "error": None, "timeout": False, "calls": []}
    return _real_serve(self, request)


_fs.FactorServer.serve = _serve


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps
    key = f"{warmup_steps}_{stable_steps}_{decay_steps}_{start_factor!r}"
    count = [-1]

    def factor(step):
        count[0] += 1
        table = _MEMO.setdefault(key, {})
        if str(step) in table:
            value = table[str(step)]
        else:
            n = count[0] + _BASE.get(key, 0)  # its calls, not the step
            if n < warmup_steps:
                value = start_factor + (1 - start_factor) * n / warmup_steps
            elif n < warmup_steps + stable_steps:
                value = 1.0
            else:
                value = max(0.0, (total - n) / decay_steps) ** 2
            table[str(step)] = value
        _COUNT[key] = count[0]
        return value

    return factor
"""

WSD_RESUME_DODGES = [
    wsd("resume_forged_by_a_replaced_observer", FORGED_OBSERVER, fails=RESUME, score=4),
    wsd("resume_told_by_the_observer_s_frames", FRAMES_READ, fails=RESUME, score=4),
    *(
        wsd(f"resume_from_a_memo_in_{where}", MEMO.format(store=store), fails=RESUME, score=4)
        for where, store in [
            ("a_module_global", "global"),
            ("tmp", "/tmp"),
            ("the_working_folder", "."),
            ("dev_shm", "/dev/shm"),
            ("the_environment", "environment"),
        ]
    ),
    wsd("resume_from_a_memo_in_the_checkpoint", MEMO_IN_THE_CHECKPOINT, fails=RESUME, score=4),
    wsd("resume_from_a_memo_by_a_patched_server", SERVER_PATCHED, fails=RESUME, score=4),
]
