"""Claims of chapters 1, 2 and 4 that the fresh reviews rv12 and rv34 (session 55) found stated too broadly, each
checked against the pinned PyTorch and the chapter's words."""

import inspect

import numpy as np
from torch.optim import lr_scheduler, swa_utils

from support.chapter_cells import cell_source, cell_text, chapter_cells
from support.figure_legends import legend_clear_of_lines
from support.optimizers import one_parameter_sgd
from support.paths import ROOT

CH1, CH2, CH4 = (
    "01_learning_rate/learning_rate.ipynb",
    "02_ordered_schedules/ordered_schedules.ipynb",
    "04_custom_schedules/custom_schedules.ipynb",
)

text, optimizer = cell_text, one_parameter_sgd


def rates(scheduler, opt, steps: int = 6, edit: dict | None = None) -> list[float]:
    used = []
    for step in range(steps):
        if edit and step in edit:
            opt.param_groups[0]["lr"] = edit[step]
        used.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return used


def test_ch1_swalr_without_annealing_writes_its_own_rate_when_created_which_1_4_names():
    """rv12 N6."""
    for anneal_epochs, written in [(0, 0.02), (5, 0.1)]:
        opt = optimizer()
        swa_utils.SWALR(opt, swa_lr=0.02, anneal_epochs=anneal_epochs)
        assert opt.param_groups[0]["lr"] == written
    assert "`SWALR` does by its `swa_lr` when `anneal_epochs=0`" in text(CH1, "pytorch-md")


def test_ch1_noise_is_this_model_s_reason_not_a_law_and_the_scaling_rule_is_credited():
    """rv12 N1, N8, N9 (the last 100 of 301 values are steps 201-300)."""
    for cell in ("noise-read", "summary"):
        assert "Noise is the main reason" not in text(CH1, cell) and "On this model, noise" in text(CH1, cell)
    assert "Goyal et al. 2017" in text(CH1, "pytorch-md")
    assert len(range(301)[-100:]) == 100 and range(301)[-100:][0] == 201
    assert "steps 201-300" in text(CH1, "noise-read") and "200-300" not in cell_source(CH1, "noise-floor")


def test_ch2_multistep_lr_documents_its_multiset_which_2_3_says():
    """rv12 N3: not an accident of the implementation."""
    doc = " ".join(inspect.getdoc(lr_scheduler.MultiStepLR.get_lr).split())
    assert "appears in :attr:`milestones` ``n`` times, we scale by :attr:`gamma` to the power of ``n``" in doc
    opt = optimizer()
    assert np.allclose(
        rates(lr_scheduler.MultiStepLR(opt, [3, 1, 3], gamma=0.5), opt), [0.1, 0.05, 0.05, 0.0125] + [0.0125] * 2
    )
    assert "happens to" not in text(CH2, "multi-md") and "docstring" in text(CH2, "multi-md")


def test_ch2_chained_factors_multiply_only_for_chainable_schedulers_and_a_lambda_lr_hides_a_hand_edit():
    """rv12 N4, N5: both rules are stated for chainable schedulers, as the text now says."""
    opt = optimizer()
    chained = lr_scheduler.ChainedScheduler(
        [lr_scheduler.ExponentialLR(opt, 0.9), lr_scheduler.LambdaLR(opt, lambda e: 0.5)]
    )
    assert np.allclose(rates(chained, opt, steps=4), [0.05] * 4)  # not 0.1 * 0.5 * 0.9 ** e
    said = text(CH2, "chainable-md")  # rv14b W1: not "chainable ones like these four": the cosine's step is no factor
    assert "those whose step multiplies the current rate by a factor" in said and "like these four" not in said
    assert "`CosineAnnealingLR`'s step is a factor only with `eta_min = 0` and within `T_max`" in said  # rv27c W3
    assert "the factors multiply: chapter 4" in text("06_choosing_the_rate/choosing_the_rate.ipynb", "chained-md")
    assert "a chained cosine is not the product of the curves" in text(CH4, "chained-md")
    opt = optimizer()
    scheduler = lr_scheduler.LambdaLR(opt, lambda e: 0.9**e)
    rates(scheduler, opt, steps=2, edit={1: 0.3})
    assert np.allclose(scheduler.get_last_lr(), [0.081])  # the edit to 0.3 never shows
    assert "for this chapter's schedulers, a rate changed by hand" in text(CH2, "lastlr-md")


def test_ch2_the_cosine_default_is_worded_as_chapters_5_to_7_support_it():
    assert "robust default" not in text(CH2, "summary") and "not a schedule shown to win" in text(CH2, "summary")
    assert "robust default" not in text(CH4, "summary")
    compare = text("05_training/training.ipynb", "compare-read")  # rv14b M1: chapter 5 quoted the old advice
    assert "robust default" not in compare and "a common default whose peak rate must be tuned" in compare


def test_ch4_swalr_carries_on_from_the_current_rate_at_a_milestone_which_4_3_names():
    """rv34 N3, N4."""
    opt = optimizer()
    first = lr_scheduler.ConstantLR(opt, factor=0.25, total_iters=2)
    sequence = lr_scheduler.SequentialLR(opt, [first, swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=2)], [2])
    assert np.allclose(rates(sequence, opt), [0.025, 0.025, 0.025, 0.0375, 0.05, 0.05])
    assert "chapter 7's `SWALR` moves from the current rate" in text(CH4, "compose-md")
    assert "recomputes the rate from its `base_lrs`" in text(CH4, "lambda-md")


def test_ch1_the_bowls_legends_hide_no_vertex_of_any_path():
    """rv14b N1: the 0.21 panel's one-line legend ("... leaves the frame after step 2") spanned the frame's width
    and hid the path's step-1 vertex at (-1.42, -0.99); each path keeps to x < 0, so a narrow legend at lower
    right hides none."""
    figure = chapter_cells(ROOT / "source" / CH1, ["setup", "twod"])["fig"]
    counts = legend_clear_of_lines(figure)
    assert len(counts) == 3 and not any(counts), counts
