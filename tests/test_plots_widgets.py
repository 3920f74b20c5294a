"""lrcourse.plots and lrcourse.widgets: labelled figures, panels that redraw on every move."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lrcourse import plots, widgets  # noqa: E402


def test_plot_rates_labels_axes_and_legend():
    fig, ax = plots.figure()
    plots.plot_rates(ax, {"a": np.array([1.0, 0.5]), "b": np.array([1.0, 0.1])}, log=True)
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "learning rate"
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]


def test_figures_have_an_opaque_white_background_for_dark_themes():
    fig, _ = plots.figure()
    assert fig.get_facecolor() == (1.0, 1.0, 1.0, 1.0)
    assert matplotlib.rcParams["savefig.transparent"] is False


def draw_line(ax, slope, points):
    ax.plot(np.arange(points), slope * np.arange(points), label="line")
    ax.legend()
    ax.set_title(f"slope {slope}")
    if slope > 1.5:
        ax.set_yscale("log")
        ax.set_ylim(0.5, 100)
    return f"slope {slope}"


def make_panel():
    return widgets.SliderPanel(draw_line, {
        "slope": widgets.float_slider("slope", 1.0, 0.0, 2.0, 0.1),
        "points": widgets.int_slider("points", 5, 2, 10),
    })


def test_panel_redraws_when_a_control_moves():
    panel = make_panel()
    before = panel.image.value
    panel.controls["slope"].value = 2.0
    assert panel.image.value != before and panel.image.value[:4] == b"\x89PNG"
    assert panel.readout.value == "slope 2.0"
    assert len(panel.seconds) == 2


def test_panel_offers_a_png_fallback_for_viewers_without_widgets():
    bundle = make_panel()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "image/png" in bundle


def test_log_slider_spans_the_given_rates():
    slider = widgets.log_slider("lr", 0.1, 1e-3, 1.0)
    assert (slider.min, slider.max, slider.base) == (-3, 0, 10)


def test_panel_keeps_its_axes_and_first_layout():
    panel = make_panel()
    ax = panel.axes
    first = ax.get_position().bounds
    panel.controls["points"].value = 9
    assert panel.axes is ax and panel.figure.axes == [ax]
    assert panel.figure.get_layout_engine() is None  # no layout pass (nor a second draw) per move
    assert ax.get_position().bounds == first


def test_each_draw_starts_from_empty_axes_with_default_settings():
    panel = make_panel()
    panel.controls["slope"].value = 2.0  # log scale, fixed limits
    assert panel.axes.get_yscale() == "log" and panel.axes.get_ylim() == (0.5, 100)
    panel.controls["slope"].value = 1.0
    ax = panel.axes
    assert len(ax.lines) == 1 and ax.get_legend() is not None and ax.get_title() == "slope 1.0"
    assert ax.get_yscale() == "linear" and ax.get_autoscaley_on()
    assert ax.get_ylim()[1] == np.float64(4.2)  # autoscaled to the new line (0..4, with margins) only


def test_a_panel_with_a_grid_passes_the_array_of_axes():
    seen = []

    def draw(axes, n):
        seen.append(axes.shape)
        for ax in axes:
            ax.plot(range(n))

    panel = widgets.SliderPanel(draw, {"n": widgets.int_slider("n", 3, 2, 5)}, grid=(2, 1), sharex=True)
    panel.controls["n"].value = 4
    assert seen == [(2,), (2,)] and all(len(ax.lines) == 1 for ax in panel.axes)


def test_a_draw_that_adds_axes_gets_a_clear_error():
    def draw(ax, n):
        ax.figure.add_subplot(2, 1, 2)

    with pytest.raises(ValueError, match="added or removed axes"):
        widgets.SliderPanel(draw, {"n": widgets.int_slider("n", 3, 2, 5)})


def test_log_axes_get_plain_tick_labels():
    fig, ax = plots.figure()
    ax.plot([1, 2, 3], [1e-3, 1e-2, 1e-1])
    plots.label(ax, "t", "x", "y", log=True)
    assert ax.yaxis.get_major_formatter()(0.001, 0) == "0.001"


def test_epoch_marks_span_the_axes_without_changing_its_limits():
    fig, ax = plots.figure()
    ax.plot([0, 10], [5.0, 6.0])
    plots.mark_epochs(ax, [2, 7], text="reduction")
    ax.autoscale_view()
    low, high = ax.get_ylim()
    assert 4.9 < low < 5.0 and 6.0 < high < 6.1
    (marks,) = ax.collections
    assert [segment[0][0] for segment in marks.get_segments()] == [2, 7]
    assert ax.get_legend_handles_labels()[1] == ["reduction"]
