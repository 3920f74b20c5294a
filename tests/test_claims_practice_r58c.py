"""Chapter 7's claims after the review r58c: the test set's comparisons weighed against the test images' own sampling
error (M1), the written answer's part (b) not handing out part (a) (M2), GradScaler with a fused optimizer (N2),
gradient accumulation's division (N3), no review ids in the release (N4), the exercise's prediction revealed after
the answer (N5), the bad batch drawn where it happens (N6)."""

import math
import re
import warnings

import nbformat
import pytest
import torch
from torch.optim import lr_scheduler

from support.chapter_cells import cell_source, chapter_cells
from support.paths import ROOT

CH7 = ROOT / "source" / "07_practice" / "practice.ipynb"
RELEASED = ROOT / "notebooks" / "07_practice" / "practice.ipynb"


def rubric(cell: str) -> str:
    return " ".join(cell_source("07_practice/practice.ipynb", cell).split())


def test_ch7_7_2_weighs_the_test_differences_against_the_test_images_own_sampling_error_too():
    """r58c M1: the test set's call (cosine - floor, +0.0027 ± 0.0007 over the 5 seeds) used the seeds' spread alone,
    on one fixed set of 360 images; the images' own sampling error of that difference (each image's loss difference
    averaged over the seeds, its standard error over the images) is 0.0012, larger. How the two are combined (r58e M1:
    not added in squares, each noise counted once) is tests/test_claims_practice_r58e.py's."""
    ids = ["setup", "data", "linear", "compare", "compare-paired", "compare-test"]
    chapter = chapter_cells(CH7, ids)
    floor, cosine = "linear to 10 %", "cosine to 0"
    shown, (*_, (_, images_part, own_part)) = chapter["shown"], chapter["test"][cosine, floor]
    gap, seeds_se, _ = chapter["paired"](chapter["final"][cosine], chapter["final"][floor], lambda r: r["test_loss"])
    assert shown(gap, seeds_se) == "beyond 2.78 SE"  # the seeds alone would call it
    assert f"{gap:+.4f} {seeds_se:.4f}" == "+0.0027 0.0007"
    assert f"{math.hypot(images_part, own_part):.4f}" == "0.0012"  # the images' error alone: larger
    assert all(len(runs) == 5 and all(len(run["losses"]) == 360 for run in runs) for runs in chapter["images"].values())
    closing = " ".join(cell_source("07_practice/practice.ipynb", "compare-read").split())
    assert "the seeds alone would call cosine about 0.003 above the floor (± about 0.0007)" in closing
    assert "the images' own sampling error of that difference is larger (about 0.0012)" in closing
    summary = " ".join(cell_source("07_practice/practice.ipynb", "summary").split())
    assert (
        "the 360 images' own sampling error of that difference (about 0.0012) exceeds the seeds' (about 0.0007)"
        in summary
    )
    assert "correction for six" not in summary


def test_ch7_written_branch_s_part_b_does_not_hand_out_part_a_s_answer():
    """r58c M2: (b) printed `LambdaLR(optimizer, wsd_factor(W, k - W, D2, f))` and said the checkpoint lacked the
    scheduler's state: (a)'s factor arguments and the missing piece. The question (released) names neither; the
    rubric keeps both points."""
    question = rubric("written_wsd_branch").split("### BEGIN SOLUTION")[0]
    for answer in ["k - W", "wsd_factor(W, k", "scheduler's", "state_dict", "last_epoch"]:
        assert answer not in question, answer
    assert "(b) A colleague's branch loads the weights, the optimizer's state and the data order" in question
    assert "around the factor of the run planned for `k + D2` steps" in question
    released = nbformat.read(RELEASED, as_version=4)
    (cell,) = [cell for cell in released.cells if cell.get("id") == "written_wsd_branch"]
    assert "k - W" not in cell.source and "scheduler's" not in cell.source
    solution = rubric("written_wsd_branch").split("### BEGIN SOLUTION")[1]
    assert "the colleague's factor is `wsd_factor(W, k - W, D2, f)`" in solution


@pytest.mark.parametrize("fused", [False, True])
def test_ch7_grad_scaler_skips_a_fused_optimizer_s_step_inside_it_and_warns_of_nothing(fused):
    """r58c N2, torch 2.13: GradScaler does not call a plain AdamW's step() on an overflow, and the scheduler's first
    step() then warns; a fused AdamW's step() is called all the same, with the overflow flag: it moves no weight and
    counts no step, and nothing warns, not even for the first step skipped."""
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.AdamW([weight], lr=0.1, fused=fused)
    calls = []
    optimizer.register_step_pre_hook(lambda *_: calls.append(1))
    scheduler = lr_scheduler.StepLR(optimizer, 1)
    scaler = torch.amp.GradScaler("cpu", init_scale=4.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optimizer.zero_grad()
        (scaler.scale(weight.sum()) * math.inf).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
    assert torch.equal(weight.detach(), torch.ones(3)) and scaler.get_scale() == 2.0
    assert len(calls) == (1 if fused else 0)
    assert (optimizer.state[weight]["step"].item() == 0.0) if fused else (weight not in optimizer.state)
    ordered = [w for w in caught if "before `optimizer.step()`" in str(w.message)]
    assert len(ordered) == (0 if fused else 1)
    text = " ".join(cell_source("07_practice/practice.ipynb", "amp-md").split())
    assert "a fused optimizer, such as `AdamW(fused=True)`, is called all the same" in text
    assert "with a fused optimizer not even then (its `step()` was called)" in text
    summary = " ".join(cell_source("07_practice/practice.ipynb", "summary").split())
    assert "PyTorch warns only when the first step is skipped, and not even then for a fused optimizer" in summary


def test_ch7_accumulated_gradients_are_the_batch_s_only_divided_and_the_short_group_only_by_its_images():
    """r58c N3: 7.8's gradient accumulation. Four mean-loss gradients of 32 images summed are 4x the 128 images'
    gradient, divided by k = 4 each they are it; the epoch's last group (32 + 21 images) is its 53 images' mean
    gradient with each summed loss divided by 53, not divided by its 2 micro-batches (nor by k, half of that)."""
    chapter = chapter_cells(CH7, ["setup", "data"])
    inputs, targets = chapter["train_set"]
    model = chapter["make_model"](0)

    def gradient(parts, reduction="mean", divide=1.0):
        model.zero_grad()
        for part in parts:
            loss = torch.nn.functional.cross_entropy(model(inputs[part]), targets[part], reduction=reduction)
            (loss / divide).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters()]).clone()

    micro = [slice(32 * i, 32 * (i + 1)) for i in range(4)]
    whole = gradient([slice(0, 128)])
    assert torch.allclose(gradient(micro), 4 * whole, rtol=1e-4, atol=1e-7)
    assert torch.allclose(gradient(micro, divide=4), whole, rtol=1e-4, atol=1e-7)
    assert len(targets) == 1077 and len(targets) - 33 * 32 == 21
    short = [slice(1024, 1056), slice(1056, 1077)]
    images_mean = gradient([slice(1024, 1077)])
    assert torch.allclose(gradient(short, reduction="sum", divide=53), images_mean, rtol=1e-4, atol=1e-7)
    by_batches = gradient(short, divide=2)
    assert (by_batches - images_mean).norm() > 0.05 * images_mean.norm()
    assert torch.allclose(gradient(short, divide=4), by_batches / 2, rtol=1e-5, atol=1e-8)
    text = " ".join(cell_source("07_practice/practice.ipynb", "counting-md").split())
    assert "`k = 4` micro-batches, each loss divided by `k`" in text and "it is `k` times that" in text
    assert 'only if each micro-batch\'s summed loss (`reduction="sum"`) is divided by 53' in text


def test_ch7_released_cells_name_no_internal_review():
    """r58c N4: no review ids ("rv67 N1", "R24zd M1") in the released chapter 7."""
    released = nbformat.read(RELEASED, as_version=4)
    pattern = re.compile(r"\b(rv\d+|R\d+[a-z]+|r\d+[a-z])\w*\b")
    assert [(cell.get("id"), match) for cell in released.cells for match in pattern.findall(cell.source)] == []


def test_ch7_the_prediction_is_revealed_after_the_answer_cell_not_before_it(capsys):
    """r58c N5: the cell after the prediction printed PyTorch's composition at every step of (4, 3, 4, 0.2), its
    phase boundaries, just before the answer cell. Nothing between the prediction and the answer cell prints; the
    cell after the answer (ex-try) shows PyTorch's steps at the peak next to the prediction."""
    cells = nbformat.read(CH7, as_version=4).cells
    ids = [cell.get("id") for cell in cells]
    between = cells[ids.index("predicted_peak_steps") + 1 : ids.index("wsd_factor")]
    assert [cell.get("id") for cell in between if cell.cell_type == "code"] == ["ex-predict-reveal"]
    assert all("print(" not in cell.source and "dry_run(" not in cell.source for cell in between)
    chapter_cells(CH7, ["setup", "data", "linear", "predicted_peak_steps", "ex-predict-reveal", "wsd_factor"])
    capsys.readouterr()
    chapter_cells(CH7, ["setup", "data", "linear", "predicted_peak_steps", "ex-predict-reveal", "wsd_factor", "ex-try"])
    shown = capsys.readouterr().out
    assert "the prediction: steps at the peak of PyTorch's (4, 3, 4, 0.2): [4, 5, 6, 7]" in shown
    assert "you predicted: [4, 5, 6, 7]" in shown
    predict = " ".join(cell_source("07_practice/practice.ipynb", "ex-predict-md").split())
    assert "before you write the factor: the cell after your answer steps PyTorch's composition" in predict


def test_ch7_the_bad_batch_is_drawn_where_it_happens(monkeypatch):
    """r58c N6: the dotted line stood at the end of epoch 18; the bad batch is its 4th of 9, so the line stands at
    17 + 3/9 on the epoch axis (where validation loss k is drawn at the end of epoch k)."""
    import lrcourse.plots

    shown = []
    monkeypatch.setattr(lrcourse.plots, "show", lambda fig, description="": shown.append((fig, description)))
    cells = ["setup", "data", "linear", "compare", "compare-paired", "amp", "stability", "stability-plot"]
    chapter = chapter_cells(CH7, cells)
    ((fig, description),) = shown
    loss_ax = fig.axes[0]
    (line,) = [line for line in loss_ax.lines if "bad batch" in line.get_label()]
    assert chapter["BAD_EPOCH"] == 17 and chapter["BAD_BATCH"] == 3 and chapter["STEPS_PER_EPOCH"] == 9
    assert line.get_xdata()[0] == pytest.approx(17 + 3 / 9)
    assert line.get_label() == "the bad batch: epoch 18's batch 4 of 9"
    assert "its batch 4 of 9 (a dotted line at 17.33 on the epoch axis)" in description


def test_ch7_calls_no_schedule_the_most_common():
    """r58c N1: 7.1 called linear warm-up and decay "the most common schedule" while 7.2 called cosine to 10 % "the
    common default": both are common, neither is claimed the most."""
    linear = " ".join(cell_source("07_practice/practice.ipynb", "linear-md").split())
    compare = " ".join(cell_source("07_practice/practice.ipynb", "compare-md").split())
    assert "most common" not in linear and "A common schedule in today's training configs" in linear
    assert "It is the default of Hugging Face's `Trainer`" in linear
    assert "the common default" not in compare and "of which cosine to 10 % is a common default" in compare


def test_no_released_chapter_names_an_internal_review():
    """r58c N4, over every chapter: chapter 5's compare-check also named one ("rv10 NIT 3")."""
    pattern = re.compile(r"\b(rv\d+|R\d+[a-z]+|r\d+[a-z])\w*\b")
    found = [
        (path.parent.name, cell.get("id"), match)
        for path in sorted((ROOT / "notebooks").glob("*/*.ipynb"))
        for cell in nbformat.read(path, as_version=4).cells
        for match in pattern.findall(cell.source)
    ]
    assert found == []
