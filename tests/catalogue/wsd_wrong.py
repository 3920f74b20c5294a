"""Chapter 7's exercise, `wsd_factor`: plausible mistakes at each boundary and in the resume. Each names the cells it
loses and the score that leaves it (of 6: warm-up 1, decay 2, edges 1, resume 2): one slip costs the test that
measures it. The resume is judged against the answer's own uninterrupted run, and the edges skip a phase the answer
has wrong in schedules with long phases too (lrcourse/checking/wsd.py), so a decay slip costs the decay's two points
and no more, a decay that depends on the other phases' lengths included (issue 24, review R24d: a pure decay off by one
scored 1 of 6, a call counter 4; R24e: the resume is saved where the answer's own rates still change, so a flat wrong
decay keeps it; R24m: such a decay was held at the edges to the answer's own long schedule, shifted, which a stateful
answer could match, so it lost the edges and the stateful one did not). The peak at step W is the warm-up's
to reach: the warm-up test judges steps 0 to W, the decay test every step after W (R24f: a warm-up reaching the peak a
step late scored 2 of 6, a stable phase a step short 3)."""

from __future__ import annotations

from catalogue.wsd import wsd, wsd_variant
from catalogue.wsd_restarts import PAST_5000, PHASE_RESTARTS

WARMUP, DECAY, EDGES, RESUME = "test_wsd_warmup", "test_wsd_decay", "test_wsd_edges", "test_wsd_resume"

WSD_WRONG = [
    wsd(  # 7.1's warm-up, (s + 1) / W: LinearLR's total_iters=W reaches the peak at step W, not W - 1
        "warmup_reaches_the_peak_a_step_early",
        wsd_variant(
            "start_factor + (1 - start_factor) * step / warmup_steps",
            "min(1.0, start_factor + (1 - start_factor) * (step + 1) / warmup_steps)",
        ),
        fails=(WARMUP,),
        score=5,
    ),
    wsd(  # the warm-up spread over W + 1 steps, the peak at step W + 1 (reviewer R24f): wrong at step W too, which is
        # the warm-up's (the peak it reaches), not the decay test's (every step after W). At the edges a wrong warm-up
        # is not judged, and the peak, where warm-up and decay meet, passes by the decay's judge. Was 2: step W lay in
        # the decay test's range, and the edges, taking the decay for wrong, held it to the answer's own
        "warmup_reaches_the_peak_a_step_late",
        wsd_variant(
            "        if step < warmup_steps:\n            return start_factor + (1 - start_factor) * step / warmup_steps",
            "        if step <= warmup_steps:\n            return start_factor + (1 - start_factor) * step / (warmup_steps + 1)",
        ),
        fails=(WARMUP,),
        score=5,
    ),
    wsd(  # 7.1's warm-up, the peak at step W - 1: wrong in every schedule, and at W = 1 it divides by zero. The step
        # that raises is a step that is not a number; the edges skip a wrong warm-up and still pass (issue 24)
        "warmup_over_W_minus_1",
        wsd_variant(
            "start_factor + (1 - start_factor) * step / warmup_steps",
            "start_factor + (1 - start_factor) * step / (warmup_steps - 1)",
        ),
        fails=(WARMUP,),
        score=5,
    ),
    wsd(
        "warmup_from_zero",
        wsd_variant("start_factor + (1 - start_factor) * step / warmup_steps", "step / warmup_steps"),
        fails=(WARMUP,),
        score=5,
    ),
    wsd(  # W points from start_factor to 1 inclusive: the peak at step W - 1, a step early, every inner step too high
        "warmup_by_linspace",
        wsd_variant(
            "return start_factor + (1 - start_factor) * step / warmup_steps",
            "return float(np.linspace(start_factor, 1.0, warmup_steps)[step])",
        ),
        fails=(WARMUP,),
        score=5,
    ),
    wsd(  # the decay off by one (reviewer R24d's decay_off_by_one_but_pure): a function of the step alone, so it
        # resumes exactly and its edges are its own decay's; it loses the decay's points only
        "decay_one_step_ahead",
        wsd_variant("(total - step) / decay_steps", "(total - 1 - step) / decay_steps"),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # the stable phase a step short (reviewer R24f): its last step runs the decay's formula, ((D + 1) / D) ** 2,
        # above the peak. The same slip in every schedule, counted from the decay's start, like the decay a step ahead:
        # the decay test charges it, and at the edges the steps after the peak are not judged again. Was 3: the edges
        # compared the stable phase from its start, where the answer's own has no bump
        "stable_phase_a_step_short",
        wsd_variant(
            "        if step < warmup_steps + stable_steps:\n", "        if step < warmup_steps + stable_steps - 1:\n"
        ),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # zero at the last step of the run instead of just after it
        "decay_reaches_zero_on_the_last_step",
        wsd_variant("(total - step) / decay_steps", "(total - 1 - step) / max(1, decay_steps - 1)"),
        fails=(DECAY,),
        score=4,
    ),
    wsd(
        "decays_to_a_floor",
        wsd_variant("max(0.0, (total - step) / decay_steps)", "max(0.1, (total - step) / decay_steps)"),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # right to the decay's last step, then held at its rate, (1 / D) ** 2, after the end as LinearLR holds its
        # last factor (reviewer R24g's bad_hold_min): the decay test charges the steps past the end. With
        # decay_steps=1 the held rate is the peak's, so an edge case's own decay never falls; the decay is wrong in
        # the long schedules, so its steps at the edges are not judged: it keeps them. Was 3, with a false "Write the
        # decay first" (the edges judged that on the one-step decay)
        "decay_holds_its_last_step_after_the_end",
        wsd_variant(
            "return max(0.0, (total - step) / decay_steps) ** 2",
            "return (1 - min(step - warmup_steps - stable_steps, decay_steps - 1) / decay_steps) ** 2",
        ),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # memoised in a mutable default shared by every call of wsd_factor (reviewer R24j): the schedules the tests
        # build after the first read its stale rates, wrong in every phase; resumed in a new process, whose memo holds
        # other schedules' rates than the run's did, it gives other rates than its run (once, with the resume in the
        # run's own process, it kept the resume's 2 points: issue 24, lrcourse/checking/wsd_resume.py)
        "memoised_in_a_shared_default",
        wsd_variant(
            "def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):",
            "def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor, _cache={}):",
            "    return factor\n",
            "    return lambda step: _cache.setdefault(step, factor(step))\n",
        ),
        fails=(WARMUP, DECAY, EDGES, RESUME),
        score=0,
    ),
    wsd(  # squared without the clamp: the parabola comes back up after the end
        "decay_not_clamped_at_zero",
        wsd_variant("max(0.0, (total - step) / decay_steps)", "(total - step) / decay_steps"),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # the progress squared, 1 - (t / D) ** 2, not the remainder: falls slowly first (reviewer R24d)
        "decay_squares_the_progress",
        wsd_variant(
            "max(0.0, (total - step) / decay_steps) ** 2",
            "1 - min(1.0, max(0.0, 1 - (total - step) / decay_steps)) ** 2",
        ),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # floor division: 1 at the decay's first step, 0 from the next. Flat (0) where the resume saves the run by
        # default, so the test saves it earlier, before the drop; a function of the step, it resumes exactly
        "decay_by_floor_division",
        wsd_variant("max(0.0, (total - step) / decay_steps)", "max(0, (total - step) // decay_steps)"),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # what the release gives to copy: 7.1's hugging_face_factor (its decay over all the steps after the warm-up,
        # (T - s) / (T - W)), a stable phase put in front of it and squared for power=2; 4.3's warm-up. The decay asked
        # for is PolynomialLR's, counted from the end of the stable phase, which no release cell writes out. Its decay
        # is wrong in the long schedules, so the edges judge its warm-up only, which is right. Was 3: its decay
        # depends on the warm-up and stable steps, unlike its own long one shifted, and lost the edges too (R24m: no
        # run can hold a wrong decay to itself, a stateful answer matched its twin)
        "copied_from_the_release",
        """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps

    def factor(step):
        if step < warmup_steps:
            return start_factor + (1 - start_factor) * step / warmup_steps
        if step < warmup_steps + stable_steps:
            return 1.0
        return max(0.0, float(total - step) / float(max(1, total - warmup_steps))) ** 2

    return factor
""",
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # the warm-up only, the rest a placeholder as the exercise suggests: the edges judge its warm-up, as they
        # judge the decay of a warm-up placeholder (below); the resume is saved in the warm-up, where its rate still
        # changes, and a function of the step resumes exactly. Was 3: "Write the decay first" (the twin needed a decay)
        "warmup_only",
        wsd_variant("return max(0.0, (total - step) / decay_steps) ** 2", "return 1.0"),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # the other way round (reviewer R24e's p_warmup_placeholder): the warm-up a placeholder 1.0, stable phase and
        # decay right: it loses the warm-up only
        "warmup_a_placeholder",
        wsd_variant("return start_factor + (1 - start_factor) * step / warmup_steps", "return 1.0"),
        fails=(WARMUP,),
        score=5,
    ),
    wsd(  # the decay counted from the end of the warm-up, stable_steps forgotten (reviewer R24e's
        # w_decay_count_from_W): 0 from the decay's first step in the usual schedules. A function of the step, it
        # resumes exactly (saved at the drop from the stable phase, where its rate still changes); its decay is wrong
        # in the long schedules, so the edges judge its warm-up only. Was 3: a decay that depends on the other phases'
        # lengths lost the edges too (R24m)
        "decay_counted_from_the_warmup_end",
        wsd_variant(
            "return max(0.0, (total - step) / decay_steps) ** 2",
            "return max(0.0, 1 - (step - warmup_steps) / decay_steps) ** 2",
        ),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # R24m's a3 control: the decay divided by decay + stable steps, so it depends on the stable phase's length;
        # the decay test charges it, the edges judge its warm-up only. Was 3 (the edges held it to its own long
        # schedule, shifted); its stateful twin (wsd_dodges: remembers_the_edge_case_for_its_twin) scored 4 then and
        # scores the same now
        "decay_divided_by_decay_plus_stable",
        wsd_variant("(total - step) / decay_steps", "(total - step) / (decay_steps + stable_steps)"),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # SequentialLR's milestones without the stable one when stable_steps is 0, but phase 1 still read as the
        # stable phase: with no stable phase the decay never comes (reviewer's s0.py, issue 24)
        "no_stable_phase_shifts_the_phase_index",
        """
import bisect


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    milestones = [warmup_steps, warmup_steps + stable_steps] if stable_steps else [warmup_steps]

    def factor(step):
        phase = bisect.bisect_right(milestones, step)
        if phase == 0:
            return start_factor + (1 - start_factor) * step / warmup_steps
        if phase == 1:
            return 1.0
        return (1 - min(step - warmup_steps - stable_steps, decay_steps) / decay_steps) ** 2

    return factor
""",
        fails=(EDGES,),
        score=5,
    ),
    wsd(  # right in every regular schedule; a one-step warm-up taken for none: wrong at the edges only
        "one_step_warmup_taken_as_none",
        wsd_variant("        if step < warmup_steps:\n", "        if warmup_steps > 1 and step < warmup_steps:\n"),
        fails=(EDGES,),
        score=5,
    ),
    wsd(  # right in one go; resumed, the new closure's count starts again at 0: a warm-up mid-decay
        "counts_its_calls",
        """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    total = warmup_steps + stable_steps + decay_steps
    calls = 0

    def factor(_):
        nonlocal calls
        step, calls = calls, calls + 1
        if step < warmup_steps:
            return start_factor + (1 - start_factor) * step / warmup_steps
        if step < warmup_steps + stable_steps:
            return 1.0
        return max(0.0, (total - step) / decay_steps) ** 2

    return factor
""",
        fails=(RESUME,),
        score=4,
    ),
    wsd(  # LambdaLR's state_dict() saves the object's count, so it even resumes; called any other way it is lost
        "callable_object_counts_its_calls",
        """
class WSD:
    def __init__(self, warmup_steps, stable_steps, decay_steps, start_factor):
        self.warmup, self.stable, self.decay, self.start = warmup_steps, stable_steps, decay_steps, start_factor
        self.step = -1

    def __call__(self, _):
        self.step += 1
        if self.step < self.warmup:
            return self.start + (1 - self.start) * self.step / self.warmup
        if self.step < self.warmup + self.stable:
            return 1.0
        return max(0.0, (self.warmup + self.stable + self.decay - self.step) / self.decay) ** 2


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return WSD(warmup_steps, stable_steps, decay_steps, start_factor)
""",
        fails=(RESUME,),
        score=4,
    ),
    wsd(  # any falling function of the step resumes exactly, and the resume test judges the resume only, so it
        # earns those 2 points; every phase is wrong, so the edges have nothing right to judge
        "a_falling_function_of_the_step",
        """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return lambda step: 1 / (1 + step)
""",
        fails=(WARMUP, DECAY, EDGES),
        score=2,
    ),
    wsd(  # R24s: the warm-up from the number of distinct warm-up steps seen (a set): a fresh factor asked steps 0 then 1
        # counts right, so it kept the resume while those were the only warm-up steps asked out of order; the warm-up's
        # last step asked before its first, and one in its middle, show the count (wsd._resume_probe)
        "warmup_counts_distinct_steps",
        """
class WSD:
    '''The warm-up counts the distinct warm-up steps it has seen (a set: LambdaLR may ask a step twice), the rest is
    a function of the step. Resumed inside the warm-up in a new process, its warm-up starts again.'''

    def __init__(self, warmup_steps, stable_steps, decay_steps, start_factor):
        self.w, self.s, self.d, self.f = warmup_steps, stable_steps, decay_steps, start_factor
        self.seen = set()

    def __call__(self, step):
        if step < self.w:
            self.seen.add(step)
            p = len(self.seen) - 1
            return self.f + (1 - self.f) * p / self.w
        if step < self.w + self.s:
            return 1.0
        return max(0.0, 1 - (step - self.w - self.s) / self.d) ** 2


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    return WSD(warmup_steps, stable_steps, decay_steps, start_factor)
""",
        fails=(RESUME,),
        score=4,
    ),
    wsd(  # R24s: a warm-up table of 32 entries, wrong only where warmup_steps > 32 (the longest warm-up was 27): the
        # hidden warm-up case of 64 steps shows it; right in the long schedules, so the edges judge it by PyTorch
        "warmup_table_of_32_steps",
        """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    # warm-up table sized for "typical" warm-ups: wrong where warmup_steps > 32 (none of the tests' schedules)
    warm = [start_factor + (1 - start_factor) * s / warmup_steps for s in range(min(warmup_steps, 32))]
    total = warmup_steps + stable_steps + decay_steps

    def factor(step):
        if step < warmup_steps:
            return warm[step] if step < len(warm) else 1.0
        if step < warmup_steps + stable_steps:
            return 1.0
        return max(0.0, (total - step) / decay_steps) ** 2

    return factor
""",
        fails=(WARMUP,),
        score=5,
    ),
    wsd(  # R24t: a cycle of three schedules. The decay cell's steps far past the end are 40 apart up to 5,000, each
        # phase 40 steps: any restart of period up to 5,000 is asked while above 0 (R24u, R24w, R24x, issue 24)
        "restarts_every_three_schedules",
        wsd_variant("    def factor(step):\n", "    def factor(step):\n        step %= 3 * total\n"),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # R24t: a cycle of a round number of steps, 1000, far beyond any run the tests step through
        "restarts_every_thousand_steps",
        wsd_variant("    def factor(step):\n", "    def factor(step):\n        step %= 1000\n"),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # R24u: a cycle of 1500 steps, which no step far past the end met when they were every step to 69 and
        # round numbers (6/6): now one of every 40 steps to 5,000 is asked
        "restarts_every_1500_steps",
        wsd_variant("    def factor(step):\n", "    def factor(step):\n        step %= 1500\n"),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # R24u: a cycle of seven schedules (77 steps in the old far-past schedule of 11, which missed its restarts: 6/6)
        "restarts_every_seven_schedules",
        wsd_variant("    def factor(step):\n", "    def factor(step):\n        step %= 7 * total\n"),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # R24v: the decay alone starts again every 1000 steps. In the old far-past case (3, 100, 6) it came back
        # above 0 for 6 steps only, between the steps asked every 100 (6/6); in (3, 6, 100) for 100, which hold one
        "decay_restarts_every_1000_steps",
        wsd_variant(
            "return max(0.0, (total - step) / decay_steps) ** 2",
            "t = (step - warmup_steps - stable_steps) % 1000\n"
            "        return max(0.0, (decay_steps - t) / decay_steps) ** 2",
        ),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # R24s: the schedule restarted every 2 * total + 1 steps, right over the run of 2 * total + 1 steps the tests
        # made: the hidden decay case's steps far past the end (`after`) show it
        "restarts_after_twice_the_schedule",
        """
def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    '''Restarts the whole schedule once a cycle (its length twice the schedule's, plus one) is over: wrong from
    step 2 * total + 1 on, where PyTorch's stays at 0.'''
    total = warmup_steps + stable_steps + decay_steps

    def factor(step):
        step = step % (2 * total + 1)
        if step < warmup_steps:
            return start_factor + (1 - start_factor) * step / warmup_steps
        if step < warmup_steps + stable_steps:
            return 1.0
        return max(0.0, (total - step) / decay_steps) ** 2

    return factor
""",
        fails=(DECAY,),
        score=4,
    ),
    *PHASE_RESTARTS,
    *PAST_5000,
]
