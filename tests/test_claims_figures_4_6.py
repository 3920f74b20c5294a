"""Chapters 4 and 6's text and figures outside the exercises, checked (issue 23, R23i): legends off the curves, the
accumulation's end against OneCycleLR's peak, what a range test leaves changed (the random number generators)."""

import math

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

from support.chapter_cells import cell_source, chapter_cells
from support.figure_legends import legend_clear_of_lines
from support.paths import ROOT

CH4 = ROOT / "source" / "04_custom_schedules" / "custom_schedules.ipynb"
CH6 = ROOT / "source" / "06_choosing_the_rate" / "choosing_the_rate.ipynb"


def text(chapter: str, cell: str) -> str:
    return " ".join(cell_source(chapter, cell).split())


@pytest.mark.parametrize(
    "chapter, cells",
    [(CH4, ["setup", "shapes", "compose"]), (CH6, ["setup", "data", "train", "accumulation"])],
    ids=["ch4-compose", "ch6-accumulation"],
)
def test_the_legend_lies_off_every_curve(chapter, cells):
    """R23i NIT4: ch4's compose legend sat on the curves at steps 12-20, ch6's accumulation legend on both curves."""
    fig = chapter_cells(chapter, cells)["fig"]
    counts = legend_clear_of_lines(fig)
    assert counts and not any(counts), counts


def test_a_batch_sized_one_cycle_ends_after_its_peak_only_where_a_short_group_adds_steps():
    """R23i NIT6: 50 epochs of 9 batches in groups of 4 make 150 optimizer steps; a OneCycleLR sized in batches (450)
    ends there just after its peak (30 %), while with 8 batches (100 steps of 400) it ends before its peak."""

    def ends(batches: int) -> tuple[int, int]:
        steps = 50 * math.ceil(batches / 4)
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
        schedule = lr_scheduler.OneCycleLR(optimizer, max_lr=0.01, total_steps=50 * batches)
        rates = []
        for _ in range(50 * batches):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            schedule.step()
        return steps, int(np.argmax(rates))

    nine, eight = ends(9), ends(8)
    assert nine[1] < nine[0] and nine[0] - nine[1] < 0.05 * 450  # just after the peak
    assert eight[0] < eight[1] and eight[0] / 400 == 0.25  # a quarter of the schedule, before the peak
    said = text("06_choosing_the_rate/choosing_the_rate.ipynb", "accumulation-md")
    assert "here the run ends soon after the peak" in said and "a quarter of the schedule, before the peak" in said


def test_a_range_test_advances_the_batches_generator_which_the_summary_says():
    """R23i NIT3: "restore everything" overclaimed: the reference answer puts back the weights, the state and the groups,
    but the batches' own generator has moved on (and a DataLoader(shuffle=True) draws from the global one)."""
    from catalogue.training import RANGE_REFERENCE

    names = chapter_cells(CH6, ["setup", "data"])
    exec(RANGE_REFERENCE, names)
    model = names["make_model"](0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.003)
    batches = names["Batches"](names["train_set"], seed=0)
    before = batches.generator.get_state().clone()
    names["lr_range_test"](model, optimizer, batches, 1e-5, 10.0, 30, 0.98, 4.0)
    assert not torch.equal(before, batches.generator.get_state())
    global_before = torch.get_rng_state()
    loader = torch.utils.data.DataLoader(torch.arange(8), batch_size=4, shuffle=True)
    list(loader)
    assert not torch.equal(global_before, torch.get_rng_state())
    summary = text("06_choosing_the_rate/choosing_the_rate.ipynb", "summary")
    assert "restore everything" not in summary and "torch.get_rng_state()" in summary
    assert "restores everything" not in text("06_choosing_the_rate/choosing_the_rate.ipynb", "range-md")


def test_ex6_states_the_cells_points_and_no_cost_of_particular_mistakes():
    """R23i NIT1, NIT5: ex-md said a LambdaLR multiplying an initial_lr it neither set nor divided by costs 3 of the 7
    points (it costs 5: the groups' too); what particular mistakes cost is the grader's business. The split it states
    is the cells' points."""
    import nbformat

    said = text("06_choosing_the_rate/choosing_the_rate.ipynb", "ex-md")
    assert "of the 7 points" not in said and "cost the groups' 2" not in said
    points = {
        cell.id: cell.metadata["nbgrader"]["points"]
        for cell in nbformat.read(CH6, 4).cells
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.id.startswith("test_range_")
    }
    assert points == {
        "test_range_rates": 1,
        "test_range_losses": 1,
        "test_range_groups": 2,
        "test_range_restores": 2,
        "test_range_suggestion": 1,
    }
    assert (
        "Points: the rates 1, the smoothed losses and the stop 1, the groups' ratio 2, the restore 2, the suggestion 1"
        in said
    )


def test_lesson_text_keeps_corner_cases_after_the_first_code_and_grader_talk_out():
    """R23i NIT5: ch4's compose-md gave about 25 lines of initial_lr corner cases (OneCycleLR inside SequentialLR)
    before section 4.3's first code cell; they follow the section's picture now, in a note of their own. Ch6's
    train-read told the reader what chapter 5's check cell asserts: bookkeeping, not the lesson."""
    import nbformat

    ids = [cell.id for cell in nbformat.read(CH4, 4).cells]
    assert "OneCycleLR` anywhere in the list" not in text("04_custom_schedules/custom_schedules.ipynb", "compose-md")
    note = text("04_custom_schedules/custom_schedules.ipynb", "onecycle-in-sequence-md")
    assert note.startswith("**A corner case: `OneCycleLR` in the list.**") and "0.01, 0.01" in note
    assert (
        ids.index("compose-md") < ids.index("linear-base") < ids.index("compose") < ids.index("onecycle-in-sequence-md")
    )
    assert "check cell asserts" not in text("06_choosing_the_rate/choosing_the_rate.ipynb", "train-read")


def test_the_stop_rule_runs_on_past_a_nan_loss_which_the_text_says():
    """R23i NIT2: a smoothed loss that turns NaN compares false with any threshold (and stays NaN), so the chapter's
    stop_step and the exercise's running-minimum loop both run on past it; range-md says so."""
    from catalogue.training import RANGE_REFERENCE

    names = chapter_cells(CH6, ["setup", "data", "range"])
    assert names["stop_step"](np.array([2.0, 1.0, math.nan, math.nan, math.nan]), 4.0) == 4  # the last step: no stop
    exec(RANGE_REFERENCE, names)
    model = torch.nn.Linear(64, 10)
    inputs, targets = names["train_set"]
    poisoned = [(inputs[:128], targets[:128]), (inputs[128:256] * math.nan, targets[128:256])]
    result = names["lr_range_test"](
        model, torch.optim.SGD(model.parameters(), lr=0.1), poisoned, 1e-3, 1.0, 6, 0.9, 4.0
    )
    assert len(result["losses"]) == 6 and math.isnan(result["losses"][-1])  # ran every step
    said = text("06_choosing_the_rate/choosing_the_rate.ipynb", "range-md")
    assert "a loss that turns NaN compares false with any threshold" in said
