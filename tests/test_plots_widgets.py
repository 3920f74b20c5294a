"""lrcourse.plots and lrcourse.widgets: labelled figures, panels that redraw on every move."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

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


def draw_line(fig, slope, points):
    ax = fig.subplots()
    ax.plot(np.arange(points), slope * np.arange(points))
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


def test_panel_keeps_its_first_layout_while_the_axes_stay_the_same():
    panel = make_panel()
    first = panel.figure.axes[0].get_position().bounds
    panel.controls["points"].value = 9
    assert panel.figure.get_layout_engine() is None or panel.figure.get_layout_engine().__class__.__name__ == "PlaceHolderLayoutEngine"
    assert panel.figure.axes[0].get_position().bounds == first


def test_log_axes_get_plain_tick_labels():
    fig, ax = plots.figure()
    ax.plot([1, 2, 3], [1e-3, 1e-2, 1e-1])
    plots.label(ax, "t", "x", "y", log=True)
    assert ax.yaxis.get_major_formatter()(0.001, 0) == "0.001"
