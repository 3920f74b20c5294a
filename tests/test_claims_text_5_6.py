"""Chapters 5 and 6's wording and figures after review R23P2 (NITs 1, 2, 4, 6, 7 and M1's text): what the numbers
show, whose protocol and algorithm each is, what the rubrics of written answers accept, integer steps on step axes."""

import ast
import re

import numpy as np

from support.chapter_cells import cell_source, chapter_cells
from support.paths import ROOT

CH5 = "05_training/training.ipynb"
CH6 = "06_choosing_the_rate/choosing_the_rate.ipynb"


def text(chapter: str, cell: str) -> str:
    return " ".join(cell_source(chapter, cell).split())


def test_the_comparison_claims_no_tie_and_credits_the_playbook_with_its_steps_only():
    """NIT 1: differences within their errors are not shown, not a tie; NIT 2: steps 1-3 are the Playbook's."""
    read = text(CH5, "compare-read")
    assert not re.search(r"\btie\b|ties below|tie in accuracy", read)  # "accuracy ... ties" (between epochs) stays
    assert "no schedule's accuracy differs from the constant rate's beyond its errors" in read
    protocol = text(CH5, "compare-md")
    assert "Steps 1-3 below are the protocol Google's *Deep Learning Tuning Playbook* describes" in protocol
    assert "steps 4-5 add" in protocol and "chapter 5's" not in protocol


def test_the_rubrics_say_what_an_unpaired_reading_and_another_next_step_earn():
    """NIT 4: written_spread's unpaired standard error concluding "not shown"; written_rules' other next steps."""
    spread = text(CH5, "written_spread")
    assert "unpaired standard error" in spread and "earns this point" in spread
    assert round(np.sqrt(0.003**2 / 5 + 0.003**2 / 5), 4) == 0.0019 and "≈ 0.0019" in spread
    rules = text(CH6, "written_rules")
    assert "Another sound next step earns this point without the edge remark" in rules
    assert "reading the test set now does not" in rules


def test_the_valley_is_credited_to_esri_and_either_stop_convention_is_stated():
    """NIT 7 (fastai's schedule module credits ESRI; Valley is lr_find's default suggest_funcs); M1's text."""
    credit = "(after ESRI's algorithm, the default suggestion of fastai's `lr_find`, here on consecutive steps)"
    assert credit in text(CH6, "rules-md")  # R23w N2: the chapter's valley runs on consecutive steps
    assert "that step's own `optimizer.step()` may run or not: either is right" in text(CH6, "ex-md")


def test_step_axes_tick_whole_steps():
    """NIT 6: the chained and warm-up figures' step axes showed 2.5, 7.5, ...; every tick is a whole step now."""
    names = chapter_cells(ROOT / "source" / CH6, ["setup"])
    tree = ast.parse(cell_source(CH6, "accumulation"))
    dry_run = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "dry_run")
    exec(compile(ast.Module([dry_run], []), "<dry_run>", "exec"), names)
    exec(cell_source(CH6, "chained"), names)
    fig = names["fig"]
    ticks = fig.axes[0].get_xticks()
    assert len(ticks) > 2 and np.all(ticks == np.round(ticks)), ticks
    assert "ticker.MaxNLocator(integer=True)" in cell_source(CH6, "warmup-runs")
