"""Chapter 7's claims after the review r58e: the test set's seeds' and images' errors combined with each source of
noise counted once, against the line its degrees of freedom give (M1); the summary's validation numbers read as
numbers, not a range (N2); the validation calls said to rest on the seeds' error on those images only (N3)."""

import math

import numpy as np
import pytest
from scipy import stats

from support.chapter_cells import cell_source, chapter_cells
from support.paths import ROOT

CH7 = ROOT / "source" / "07_practice" / "practice.ipynb"
FLOOR, COSINE, ZERO = "linear to 10 %", "cosine to 0", "linear to 0"


def text(cell: str) -> str:
    return " ".join(cell_source("07_practice/practice.ipynb", cell).split())


@pytest.fixture(scope="module")
def chapter():
    return chapter_cells(CH7, ["setup", "data", "linear", "compare", "compare-paired", "compare-test"])


def anova(d):
    """The two-way random-effects estimate written out: (MS_seeds + MS_images - MS_resid) / (S * N), Satterthwaite."""
    s, n = d.shape
    rows, cols = d.mean(axis=1), d.mean(axis=0)
    ms_s, ms_i = n * rows.var(ddof=1), s * cols.var(ddof=1)
    ms_e = ((d - rows[:, None] - cols[None, :] + d.mean()) ** 2).sum() / ((s - 1) * (n - 1))
    total = ms_s + ms_i - ms_e
    df = total**2 / (ms_s**2 / (s - 1) + ms_i**2 / (n - 1) + ms_e**2 / ((s - 1) * (n - 1)))
    return math.sqrt(total / (s * n)), df


def test_ch7_the_test_errors_are_combined_once_each_and_read_against_their_own_line(chapter, capsys):
    """r58e M1: added in squares, the seeds' and the images' errors both hold each model's own noise on each image
    (0.0014 for cosine - floor, its t-ratio 2.0 read against t(4)'s 2.78); counted once it is 0.0013 at about 44
    degrees of freedom, whose 5 % line is 2.02: cosine - floor's t-ratio 2.14 (p 0.038) is on the line, too near to
    call, and short of Bonferroni's 0.05 / 3. The loss differences have both parts positive: two_way is the textbook
    estimate there."""
    images, two_way, shown = chapter["images"], chapter["two_way"], chapter["shown"]
    assert "images_se" not in chapter and "both_se" not in chapter
    for a, b in chapter["PAIRS"]:
        d = np.array([ra["losses"].astype(float) - rb["losses"].astype(float) for ra, rb in zip(images[a], images[b])])
        gap, se, df, parts = two_way(a, b, "losses")
        assert (se, df) == pytest.approx(anova(d), rel=1e-9) and se == pytest.approx(math.sqrt(np.sum(parts**2)))
        seeds_alone, images_alone = math.hypot(parts[0], parts[2]), math.hypot(parts[1], parts[2])
        assert se < math.hypot(seeds_alone, images_alone)  # the old sum in squares counted the models' noise twice
    gap, se, df, parts = two_way(COSINE, FLOOR, "losses")
    assert f"{se:.4f} {df:.1f} {stats.t.ppf(0.975, df):.2f}" == "0.0013 43.6 2.02"
    p = 2 * stats.t.sf(gap / se, df)
    assert 0.035 < p < 0.045 and p > 0.05 / 3 and shown(gap, se, df) == "2.1 SE, too near 2.02 to call"
    assert shown(-0.0020, 0.0013, 53.1) == "within 2.01 SE" and shown(gap, se) == "within 2.78 SE"
    assert [shown(ratio, 1) for ratio in (2.2, 2.4, 3.2, 3.4)] == [
        "within 2.78 SE",
        "2.4 SE, too near 2.78 to call",
        "3.2 SE, too near 2.78 to call",
        "beyond 2.78 SE",
    ]  # at 4 df the verdicts are the chapter's before this change
    capsys.readouterr()
    chapter_cells(CH7, ["setup", "data", "linear", "compare", "compare-paired", "compare-test"])
    out = capsys.readouterr().out
    assert "± 0.0013 seeds and images (43.6 df: 2.1 SE, too near 2.02 to call, t-ratio +2.14, p 0.04)" in out
    assert "± 0.0013 seeds and images (53.1 df: within 2.01 SE, t-ratio -1.55, p 0.13)" in out
    assert "± 0.0005 seeds and images (4.7 df: within 2.61 SE, t-ratio +1.60, p 0.17)" in out
    assert "the seeds' 0.0005, the images' 0.0011, each model's own noise on each image 0.0005" in out
    assert "Bonferroni's line is p < 0.05 / 3 = 0.017 (a t-ratio of 2.49 at cosine - floor's 43.6 df)" in out
    assert "both (within" not in out and "± 0.0014 both" not in out
    closing = text("compare-read")
    assert "**The two errors overlap.**" in closing and "added in squares it counts twice" in closing
    assert "± about 0.0013, resting mostly on the 360 images (about 44 degrees of freedom)" in closing
    assert "the 5 % line is about 2.0, not 2.78. Cosine − floor sits at about 2.1 (p about 0.04)" in closing
    assert "too near to call, and short of Bonferroni's p < 0.05 / 3 for the three test comparisons" in closing
    assert "2 standard errors, not called" not in closing
    summary = text("summary")
    assert "both give ± about 0.0013, a t-ratio of about 2.1 (p about 0.04) against a 5 % line of about 2.0" in summary
    assert "short of Bonferroni's 0.05 / 3 for the three test comparisons" in summary
    assert "2 standard errors, not called" not in summary
    assert "between the t-ratios of the same p-values, 0.08 and 0.03" in text("compare-around-md")
    assert [f"{2 * stats.t.sf(edge, 4):.2f}" for edge in chapter["EDGE"]] == ["0.08", "0.03"]


def test_ch7_the_accuracy_differences_have_no_test_set_term_of_their_own(chapter):
    """r58e M1: for accuracy the images' error was all the models' own noise (each image's part estimated below zero
    for both cosine pairs): two_way counts a part below zero as zero, so the error is the models' own noise alone."""
    two_way = chapter["two_way"]
    for a, b in [(COSINE, ZERO), (COSINE, FLOOR)]:
        gap, se, df, parts = two_way(a, b, "correct")
        assert parts[0] == parts[1] == 0 and df == 4 * 359 and se == pytest.approx(parts[2])
        assert abs(gap) / se < stats.t.ppf(0.975, df) - 0.3


def test_ch7_two_way_is_unbiased_where_adding_in_squares_is_not(chapter):
    """The estimator itself, on made-up differences with known parts (seeds 0.5, images 1, own noise 2 as standard
    deviations; 5 seeds, 40 images): the mean of two_way's squared error is the true variance of the mean difference,
    the sum in squares over it by the own noise's share."""
    rng = np.random.default_rng(0)
    namespace, s, n = chapter["two_way"].__globals__, 5, 40
    truth = 0.5**2 / s + 1.0**2 / n + 2.0**2 / (s * n)
    two_way, added = [], []
    saved = namespace["images"]
    try:
        for _ in range(2000):
            d = rng.normal(0, 0.5, (s, 1)) + rng.normal(0, 1.0, (1, n)) + rng.normal(0, 2.0, (s, n))
            namespace["images"] = {"a": [{"losses": row} for row in d], "b": [{"losses": 0 * row} for row in d]}
            _, se, _, parts = chapter["two_way"]("a", "b", "losses")
            two_way.append(se**2)
            added.append(parts[0] ** 2 + parts[1] ** 2 + 2 * parts[2] ** 2)
    finally:
        namespace["images"] = saved
    assert np.mean(two_way) == pytest.approx(truth, rel=0.05)
    assert np.mean(added) == pytest.approx(truth + 2.0**2 / (s * n), rel=0.05)


def test_ch7_the_summary_quotes_three_losses_not_a_range_and_the_validation_calls_their_images():
    """r58e N2: "(mean final losses about 0.126 to 0, 0.126 floor, 0.127 cosine)" read as a range, and "within about
    0.001" stood for a gap of 0.0013; N3: the validation calls rest on the seeds' error on those images only."""
    summary = text("summary")
    assert "0.126 to 0," not in summary and "within about 0.001 (1 %)" not in summary
    assert (
        "ended about 1 % apart on validation (mean final losses about 0.126 for linear to 0, 0.126 for the floor and "
        "0.127 for cosine)" in summary
    )
    around = text("compare-around-read")
    assert (
        "(beyond 2.78 standard errors; like every validation call here, an error over the seeds on these 360" in around
    )
    assert "validation images only)" in around
