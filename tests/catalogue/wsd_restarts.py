"""Chapter 7's exercise, `wsd_factor`: its phases, or pieces of them, started again long after the end (issue 24, R24w,
R24x). The decay cell's far-past case (40, 40, 40) asks every step to 240, then every 40th step from 260 to 4,980 (20
past each multiple of 40) and step 5,000: any 40 steps in a row up to 5,000 hold one asked, so a whole phase (40
steps), alone or with others, brought back at a step up to 5,000 loses the decay cell (4/6). A piece shorter than 40
steps is caught only where it covers a step asked: R24x's pieces back every 1,000 steps below (the decay from its
second step, the warm-up from 0, the second half of the stable phase or of the decay) do (each covers 20 past a
multiple of 40: 4/6; on every 40th step from 280 they fell between the steps asked: 6/6); a piece that covers no such
step (the first half of the stable phase or of the decay back every 1,000 steps; the warm-up's covers step 5,000)
escapes, as the decay cell's comment says. In the old case
(3, 6, 100), asked every 100th step, the warm-up (3 steps), the stable phase (6) or both came back between the steps
asked: 6/6 (R24w, graded for real; in this process too). Past 5,000 the cell asks steps 6,000, 8,200 and 10,000 only
(R24y): `PAST_5000` breaks nowhere before 5,000 and loses the decay cell at one of them (6/6 without them).

Past 5,000 a restart is caught only at those three steps: the whole schedule restarted with a period over 5,000 only if
one of them falls in the 120 steps after a restart (a period of 5,881 to 6,000, 8,081 to 8,200 or 9,881 to 10,000). Any
other period escapes (R24z: 7,000, back at 7,000 to 7,119, kept 6/6), and no finite set of steps catches every period: a
step s added catches only the periods P with s % P below 120, and the correct factor that replays the schedule from step
0 (`catalogue.wsd_slow`) bounds how far they can go. So no step and no restart is added here past 5,000: the exercise
text states the range instead (up to step 5,000 close enough that a phase brought back whole shows, past it three steps
up to 10,000). The 7,000-step restart is not catalogued: the catalogue has no place for a wrong answer the grader does
not catch (an `Answer`'s grade is held to the cells it names as lost, so one naming none is held to 6/6, as a right one
is). It is wrong only outside the stated range: tests/test_wsd_far_past.py proves that it passes and matches PyTorch to
step 5,000."""

from __future__ import annotations

from catalogue.wsd import wsd, wsd_variant

DECAY = "test_wsd_decay"

PHASE_RESTARTS = [
    wsd(  # R24w's esc_stable_every_1000: back at 1.0 from step 1040 to 1079, 2040 to 2079, ...
        "stable_phase_restarts_every_1000_steps",
        wsd_variant(
            "        if step < warmup_steps + stable_steps:\n",
            "        if warmup_steps <= step % 1000 < warmup_steps + stable_steps:  # back every 1000 steps\n",
        ),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # R24w's esc_warmup_every_1024: the warm-up's line again from step 1024 to 1063, 2048 to 2087, ...
        "warmup_restarts_every_1024_steps",
        wsd_variant(
            "        if step < warmup_steps:\n"
            "            return start_factor + (1 - start_factor) * step / warmup_steps\n",
            "        if step % 1024 < warmup_steps:  # back every 1024 steps\n"
            "            return start_factor + (1 - start_factor) * (step % 1024) / warmup_steps\n",
        ),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # R24w's esc_ws_every_ten_schedules: warm-up and stable again every ten schedules, the decay not
        "warmup_and_stable_restart_every_ten_schedules",
        wsd_variant(
            "        if step < warmup_steps:\n"
            "            return start_factor + (1 - start_factor) * step / warmup_steps\n"
            "        if step < warmup_steps + stable_steps:\n",
            "        if step % (10 * total) < warmup_steps:  # back every ten schedules\n"
            "            return start_factor + (1 - start_factor) * (step % (10 * total)) / warmup_steps\n"
            "        if step % (10 * total) < warmup_steps + stable_steps:\n",
        ),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # R24x's warm-up again every 1000 steps, rising from 0 (as HF's does), not start_factor: above 0 for 39 steps
        "warmup_from_zero_restarts_every_1000_steps",
        wsd_variant(
            "    def factor(step):\n",
            "    def factor(step):\n"
            "        if step >= total and step % 1000 < warmup_steps:  # back every 1000 steps, from 0\n"
            "            return (step % 1000) / warmup_steps\n",
        ),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # R24x: the decay brought back every 1000 steps one step in (t = 1 to decay - 1): above 0 for 39 steps
        "decay_from_its_second_step_every_1000_steps",
        wsd_variant(
            "    def factor(step):\n",
            "    def factor(step):\n"
            "        if step >= total and 0 < step % 1000 < decay_steps:  # back every 1000 steps\n"
            "            return (1 - (step % 1000) / decay_steps) ** 2\n",
        ),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # R24x: the stable phase's second half (the peak, 1.0) again every 1000 steps: 20 steps
        "stable_second_half_restarts_every_1000_steps",
        wsd_variant(
            "    def factor(step):\n",
            "    def factor(step):\n"
            "        if step >= total and warmup_steps + stable_steps // 2 <= step % 1000 < warmup_steps + stable_steps:\n"
            "            return 1.0  # back every 1000 steps\n",
        ),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # R24x: the decay's second half again every 1000 steps: 20 steps above 0
        "decay_second_half_restarts_every_1000_steps",
        wsd_variant(
            "    def factor(step):\n",
            "    def factor(step):\n"
            "        if step >= total and warmup_steps + stable_steps + decay_steps // 2 <= step % 1000 < total:\n"
            "            step = step % 1000  # back every 1000 steps\n",
        ),
        fails=(DECAY,),
        score=4,
    ),
]

# R24y: wrong only past 5,000, where the old case, every 100th step up to 10,000 (before R24w), caught them
PAST_5000 = [
    wsd(  # a cycle of 10,000 steps: back at the warm-up's start on step 10,000
        "restarts_every_10000_steps",
        wsd_variant("    def factor(step):\n", "    def factor(step):\n        step %= 10_000\n"),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # a cycle of 2**13 steps: back in the warm-up (its step 8) on step 8,200
        "restarts_every_8192_steps",
        wsd_variant("    def factor(step):\n", "    def factor(step):\n        step %= 8192\n"),
        fails=(DECAY,),
        score=4,
    ),
    wsd(  # the rates worked out once, for "runs of up to 10,000 steps": step 10,000 raises IndexError
        "rates_table_of_10000_steps",
        wsd_variant(
            "    return factor\n",
            "    table = [factor(step) for step in range(10_000)]\n    return lambda step: table[step]\n",
        ),
        fails=(DECAY,),
        score=4,
    ),
]
