"""Chapter 2's "Words used": what a fixed schedule's rate depends on (r58a N2). It said "only on how many times
`scheduler.step()` has been called", which section 2.6 contradicts; it now says the step count, the scheduler's own
arguments and the rates it finds in the optimizer (the current rate, or `initial_lr`), never how training goes."""

import nbformat
import torch
from torch.optim import lr_scheduler

from support.paths import ROOT

CH2 = ROOT / "source" / "02_ordered_schedules" / "ordered_schedules.ipynb"


def words_used() -> str:
    title = nbformat.read(CH2, as_version=4).cells[0].source
    return " ".join(title.split("**Words used in this course.**")[1].split("A **metric-driven schedule**")[0].split())


def rates(make, steps: int = 3, edit: float | None = None, before=None) -> list[float]:
    """The rates of a scheduler after `steps` steps, the rate edited by hand to `edit` first, or another scheduler
    (`before`) run for two steps first; `step()` gets no metric, so nothing of training can reach it."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    if before is not None:
        first = before(optimizer)
        for _ in range(2):
            optimizer.step()
            first.step()
    scheduler = make(optimizer)
    if edit is not None:
        optimizer.param_groups[0]["lr"] = edit
    seen = []
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        seen.append(optimizer.param_groups[0]["lr"])
    return seen


def test_a_fixed_schedule_depends_on_the_count_and_on_the_rates_it_finds():
    said = words_used()
    assert "depends only on how many times" not in said, said
    assert "the rates it finds in the optimizer (the current rate, or the stored `initial_lr`)" in said, said
    assert "a hand edit, or another scheduler on the same optimizer, can change its rates (section 2.6)" in said, said
    step = lambda optimizer: lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)  # noqa: E731
    same_count = [rates(step), rates(step, edit=0.3), rates(step, before=step)]
    assert same_count[0] != same_count[1] != same_count[2] != same_count[0]  # the current rate: 3 step counts alike
    flat = lambda optimizer: lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)  # noqa: E731
    assert rates(flat, edit=0.3) == [0.1] * 3  # from initial_lr: a hand edit is undone at the next step
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    optimizer.param_groups[0]["initial_lr"] = 0.4  # as an earlier scheduler leaves it
    assert lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0).get_last_lr() == [0.4]
