"""Claims of chapters 5 and 7 that the fresh review rv9 (session 56) found stated more firmly than their checks or
their evidence allow (NITs 3, 5 and 6), each checked against the chapter's words and its check cell."""

from support.chapter_cells import cell_source, cell_text

CH5, CH7 = "05_training/training.ipynb", "07_practice/practice.ipynb"


def test_ch5_onecycle_not_shown_at_the_shared_rate_is_within_the_optimism_estimates_own_error():
    """rv9 3: allowed for the best epoch's optimism, OneCycleLR's 2.74 images' standard errors read "not shown" against
    2.78, yet the optimism's own standard error over the five seeds moves that ratio by about 0.13. loss-images prints
    that error beside each ratio (and "at the edge" where 2.78 lies within it), compare-read says so, and compare-check
    asserts each number with its bounds."""
    printing = cell_source(CH5, "loss-images")
    assert "moved = taken_off.std(ddof=1) / math.sqrt(len(taken_off)) / image_se" in printing
    assert 'at the edge: 2.78 lies within {moved:.2f} of it" if abs(fair / image_se - T95) < moved' in printing
    said = cell_text(CH5, "compare-read")
    assert "its standard error over the five seeds moves each of these ratios by 0.11 to 0.14" in said
    assert 'OneCycleLR\'s 0.04 below 2.78, so its "not shown", where the other three "differ", could turn' in said
    assert "StepLR's lies a little more than that error above 2.78" in said
    check = cell_source(CH5, "compare-check")
    assert "assert all(0.105 < moves[name] < 0.145 for name in decaying)" in check
    assert 'assert 0.035 < T95 - allowed["OneCycleLR"][1] < 0.045 < moves["OneCycleLR"]' in check
    assert 'assert moves["StepLR"] < allowed["StepLR"][1] - T95 < 1.5 * moves["StepLR"]' in check
