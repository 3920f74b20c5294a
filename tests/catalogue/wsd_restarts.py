"""Chapter 7's exercise, `wsd_factor`: its warm-up, stable phase or both started again long after the end (issue 24,
R24w). The decay cell's far-past case (40, 40, 40) asks every 40th step to 10,000, no wider than a phase, so each loses
the decay cell (4/6). In the old case (3, 6, 100), asked every 100th step, the warm-up (3 steps), the stable phase (6)
or both came back between the steps asked: 6/6 (R24w, graded for real; in this process too)."""

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
]
