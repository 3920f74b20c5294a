"""What the sliders of chapters 1 and 3 print, checked against the values they stand for."""

import re

import numpy as np

from support.chapter_cells import cell_source


def test_ch1_slider1_readout_never_contradicts_the_regime_it_names():
    """Ch1 slider1 (R23e): at lr = 10**-0.3 = 0.501 the readout printed r = -1 next to "diverges", while the text says
    r = -1 bounces forever. On every rate the slider offers, and at the boundaries themselves, the printed lr and r
    are on the same side of each boundary as the true values."""
    namespace = {}
    source = cell_source("01_learning_rate/learning_rate.ipynb", "slider1")
    exec(source.split("def draw_descent")[0], namespace)  # only `distinct`: the panel needs no display here
    distinct = namespace["distinct"]
    curvature = 4.0
    rates = [10 ** (k * 0.05) for k in range(-60, 1)] + [0.25, 0.5, 0.5004, 0.2501, 0.2499]
    sign = np.sign
    for lr in rates:
        r = 1 - lr * curvature
        shown_lr, shown_r = float(distinct(lr, (0.25, 0.5))), float(distinct(r, (1.0, 0.0, -1.0)))
        for boundary in (0.25, 0.5):
            assert sign(shown_lr - boundary) == sign(lr - boundary), (lr, shown_lr)
        for boundary in (1.0, 0.0, -1.0):
            assert sign(shown_r - boundary) == sign(r - boundary), (lr, r, shown_r)
    assert distinct(1 - 10**-0.3 * curvature, (1.0, 0.0, -1.0)) == "-1.005"
    # R23g: the slider's own readout, next to the HTML one, has the digits to keep 0.501 apart from 0.5 too
    readout = re.search(r'log_slider\("learning rate",[^)]*readout_format="([^"]+)"', source)
    assert readout, "slider1's lr slider sets no readout_format"
    for lr in rates[:61]:
        for boundary in (0.25, 0.5):
            assert sign(float(f"{lr:{readout.group(1)}}") - boundary) == sign(lr - boundary), (lr, readout.group(1))


def test_ch3_slider_readout_at_the_last_epoch_is_the_rate_its_step_sets():
    """Ch3 slider (R23g): "lr for the next epoch" at the last epoch printed that epoch's own rate; it must be the rate
    the step sets, here a reduction at step 100 (patience 0, factor 0.9)."""
    import matplotlib.pyplot as plt

    from lrcourse.schedules import plateau_run

    namespace = {}
    exec(cell_source("03_adaptive_schedules/adaptive_schedules.ipynb", "setup"), namespace)
    exec(cell_source("03_adaptive_schedules/adaptive_schedules.ipynb", "slider").split("plateau_panel =")[0], namespace)
    arguments = dict(mode="min", factor=0.9, patience=0, threshold=1e-4, threshold_mode="rel", cooldown=0, min_lr=0.0,
                     eps=1e-8)  # fmt: skip
    figure, axes = plt.subplots(2, 1)
    text = namespace["draw_plateau"](axes, epoch=99, **arguments)
    plt.close(figure)
    after = plateau_run(101, lr=0.1, seed=0, **arguments)
    assert after["reduced"][99] and after["lr"][100] < after["lr"][99]
    assert text.endswith(f"lr for the next epoch = {after['lr'][100]:.3g}"), text


def test_ch3_slider_names_the_selected_epoch_s_line_in_its_legends_and_alt_text():
    """Ch3 slider (R23t item 4): the black line at the selected epoch had no legend entry and the alt text did not
    mention it. Both panels' legends list it, and the panel's alt text names it (its description and the lines)."""
    from lrcourse.widgets import SliderPanel

    namespace = {}
    exec(cell_source("03_adaptive_schedules/adaptive_schedules.ipynb", "setup"), namespace)
    source = cell_source("03_adaptive_schedules/adaptive_schedules.ipynb", "slider")
    exec(source.split("plateau_panel.prepare")[0], namespace)
    panel = namespace["plateau_panel"]
    assert isinstance(panel, SliderPanel)
    for ax in panel.figure.axes:
        assert ax.get_legend() is not None
        assert "selected epoch" in [text.get_text() for text in ax.get_legend().get_texts()]
        [line] = [line for line in ax.lines if line.get_label() == "selected epoch"]
        assert list(line.get_xdata()) == [30, 30] and line.get_color() == "black"
    assert panel.alt.count("selected epoch") == 2, panel.alt
    assert "a solid black line marks the epoch selected" in panel.alt
