"""Chapter 7's exercise, `wsd_factor`: a correct answer whose time grows with the step asked, graded for real so that
the decay cell's far-past case (steps to 10,000) is proved to stay within its 5 s of CPU time (issue 24, R24x, R24y;
tests/test_wsd_far_past.py times the case's cost)."""

from __future__ import annotations

from catalogue.answers import Answer

# R24x (probe slow.py): PyTorch's chainable updates replayed from step 0 on every call, in a float64 tensor
REPLAYING = """
import torch


def wsd_factor(warmup_steps, stable_steps, decay_steps, start_factor):
    def factor(step):
        f = torch.tensor(start_factor, dtype=torch.float64)
        for s in range(1, step + 1):
            if s <= warmup_steps:
                f = f * (1 + (1 - start_factor) / (warmup_steps * start_factor + (s - 1) * (1 - start_factor)))
            elif s > warmup_steps + stable_steps and s - warmup_steps - stable_steps <= decay_steps:
                t = s - warmup_steps - stable_steps
                f = f * ((1 - t / decay_steps) / (1 - (t - 1) / decay_steps)) ** 2
            else:
                f = f * torch.tensor(1.0, dtype=torch.float64)
        return f.item()

    return factor
"""

WSD_SLOW_CORRECT = [Answer("replays_the_schedule_from_step_0_on_every_call", "07_practice", "wsd_factor", REPLAYING)]
