"""lrcourse.plots and lrcourse.widgets: labelled figures, panels that redraw on every move."""

import math

import matplotlib

matplotlib.use("Agg")
import ipywidgets  # noqa: E402
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
    return widgets.SliderPanel(
        draw_line,
        {"slope": widgets.float_slider("slope", 1.0, 0.0, 2.0, 0.1), "points": widgets.int_slider("points", 5, 2, 10)},
    )


def test_panel_redraws_when_a_control_moves():
    panel = make_panel()
    before = panel.png
    panel.controls["slope"].value = 2.0
    assert panel.png != before and panel.png[:4] == b"\x89PNG"
    assert "data:image/png;base64," in panel.image.value
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


def test_each_draw_starts_at_the_first_colour_and_line_style():
    def draw(ax, n):
        for k in range(n):
            ax.plot([0, 1], [k, k])

    panel = widgets.SliderPanel(draw, {"n": widgets.int_slider("n", 2, 1, 4)})
    first = [(line.get_color(), line.get_linestyle()) for line in panel.axes.lines]
    panel.controls["n"].value = 3
    again = [(line.get_color(), line.get_linestyle()) for line in panel.axes.lines]
    assert again[:2] == first, (first, again)


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


def test_the_course_palette_is_okabe_ito_with_a_line_style_per_colour():
    plots.apply_style()
    cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()
    assert [c.upper() for c in cycle["color"]] == [
        "#0072B2",
        "#E69F00",
        "#009E73",
        "#D55E00",
        "#CC79A7",
        "#56B4E9",
        "#000000",
        "#F0E442",
    ]
    assert len(set(map(str, cycle["linestyle"]))) == len(cycle["color"]), "each colour gets its own dash"
    fig, ax = plots.figure()
    first, second = ax.plot([0, 1]), ax.plot([1, 0])
    assert first[0].get_linestyle() != second[0].get_linestyle()


@pytest.mark.parametrize("low, high", [(0.02, 0.09), (0.05, 0.11), (0.3, 0.5), (1e-5, 0.1)])
def test_log_axes_show_at_least_two_tick_labels_even_within_a_decade(low, high):
    fig, ax = plots.figure()
    ax.plot([0, 1], [low, high])
    plots.label(ax, "t", "x", "y", log=True)
    fig.canvas.draw()
    visible = [
        t.get_text()
        for t in ax.get_yticklabels() + ax.get_yticklabels(minor=True)
        if t.get_text() and low / 1.2 <= t.get_position()[1] <= high * 1.2
    ]
    assert len(visible) >= 2, visible
    assert not any("$" in text for text in visible), "plain labels, no mathtext"


def test_a_curve_equal_to_an_earlier_one_is_named_in_the_legend():
    fig, ax = plots.figure()
    plots.plot_rates(ax, {"A": np.array([1.0, 0.5]), "B": np.array([1.0, 0.5]), "C": np.array([1.0, 0.1])})
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["A", "B (same as A)", "C"]
    assert ax.lines[1].get_linewidth() < ax.lines[0].get_linewidth(), "the later twin is drawn finer, on top"


def test_alt_text_says_what_the_figure_shows():
    fig, ax = plots.figure()
    ax.plot([1, 2], [0.1, 0.01], label="decay")
    plots.label(ax, "Rates", "epoch", "learning rate", log=True)
    plots.describe(fig, "The rate falls tenfold.")
    text = plots.alt_text(fig)
    assert text.startswith("The rate falls tenfold.")
    assert "“Rates”" in text and "learning rate (log scale) against epoch" in text and "lines: decay" in text
    html = plots.img_html(b"png", 'say "hi" <b>')
    assert 'alt="say &quot;hi&quot; &lt;b&gt;"' in html


def test_figures_display_as_html_with_alt_text_in_ipython():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    plots.apply_style()
    fig, ax = plots.figure()
    ax.plot([0, 1], label="line")
    plots.label(ax, "A line", "step", "value")
    try:
        bundle, _ = shell.display_formatter.format(fig)
    finally:
        InteractiveShell.clear_instance()  # a shell left in the process is there for every later test of this worker
    assert bundle["text/html"].startswith(
        '<img class="lrcourse-figure" alt="Plot “A line” of value against step; lines: line."'
    )
    assert "data:image/png;base64," in bundle["text/html"]


def test_panels_carry_alt_text_on_their_image_and_fallback():
    panel = widgets.SliderPanel(
        draw_line,
        {"slope": widgets.float_slider("slope", 1.0, 0.0, 2.0, 0.1), "points": widgets.int_slider("points", 5, 2, 10)},
        description="A straight line.",
    )
    assert panel.alt.startswith("A straight line. Plot “slope 1.0”") and panel.alt.endswith("slope 1.0")
    assert f'alt="{panel.alt}"' in panel.image.value
    panel.controls["slope"].value = 0.5
    assert "slope 0.5" in panel.alt and 'alt="' in panel._repr_mimebundle_()["text/html"]


def pixels(png: bytes) -> np.ndarray:
    from io import BytesIO

    from PIL import Image

    return np.asarray(Image.open(BytesIO(png)).convert("RGBA"))  # a panel's opaque PNG is RGB, savefig's RGBA


def draw_two_axes(axes, slope, span, shade):
    """Lines, a legend, a title and a marker collection on two axes; `span` moves the left one's limits only;
    `shade` adds a span under the grid, which only a full draw can place there."""
    left, right = axes
    left.plot([0, span], [0, slope * span], label=f"slope {slope:g}")
    left.set_xlim(0, span)
    left.set_ylim(0, 20)
    plots.label(left, f"slope {slope:g}", "x", "y")
    right.plot([1, 2, 3], [1e-3 * slope, 1e-2, 1e-1], label="rates")
    right.set_ylim(1e-4, 1)
    plots.mark_epochs(right, [1.5, 2.5], text="marks")
    plots.label(right, "rates", "epoch", "learning rate", log=True)
    if shade:
        right.axvspan(2, 3, alpha=0.1, color="k")


def two_axes_panel():
    return widgets.SliderPanel(
        draw_two_axes,
        {
            "slope": widgets.float_slider("slope", 1.0, 0.5, 2.0, 0.5),
            "span": widgets.int_slider("span", 5, 5, 10, 5),
            "shade": ipywidgets.Checkbox(value=False),
        },
        grid=(1, 2),
    )


def test_a_move_that_keeps_the_frames_draws_only_what_is_on_them():
    panel = two_axes_panel()
    frames = panel.frames.frame_draws
    panel.controls["slope"].value = 2.0  # lines, title, legend change; limits, ticks and labels do not
    assert panel.frames.frame_draws == frames and panel.frames.full_draws == 0
    assert np.array_equal(pixels(panel.png), pixels(plots.png_bytes(panel.figure))), "the same image as a full draw"
    panel.controls["span"].value = 10  # the left axes' limits and ticks change: frames drawn again
    assert panel.frames.frame_draws == frames + 1
    assert np.array_equal(pixels(panel.png), pixels(plots.png_bytes(panel.figure)))
    panel.controls["slope"].value = 0.5
    assert panel.frames.frame_draws == frames + 1
    assert np.array_equal(pixels(panel.png), pixels(plots.png_bytes(panel.figure)))


def test_an_artist_under_the_grid_makes_a_full_draw_with_the_same_image():
    panel = two_axes_panel()
    panel.controls["shade"].value = True
    assert panel.frames.full_draws == 1
    assert np.array_equal(pixels(panel.png), pixels(plots.png_bytes(panel.figure)))
    panel.controls["shade"].value = False  # back to drawing on kept frames, which must be the current ones
    panel.controls["slope"].value = 1.5
    assert panel.frames.full_draws == 1
    assert np.array_equal(pixels(panel.png), pixels(plots.png_bytes(panel.figure)))


def test_a_move_back_to_frames_seen_before_reuses_them():
    panel = two_axes_panel()
    panel.controls["span"].value = 10
    frames = panel.frames.frame_draws
    panel.controls["span"].value = 5  # the first frames again: kept, not drawn again
    panel.controls["slope"].value = 2.0
    panel.controls["span"].value = 10
    assert panel.frames.frame_draws == frames and panel.frames.full_draws == 0
    assert np.array_equal(pixels(panel.png), pixels(plots.png_bytes(panel.figure)))


def test_prepared_positions_need_no_frame_draw_on_a_first_move():
    panel = two_axes_panel()
    panel.prepare([{"span": 10}])
    assert panel.values["span"] == 5 and np.array_equal(pixels(panel.png), pixels(plots.png_bytes(panel.figure)))
    frames = panel.frames.frame_draws
    panel.controls["span"].value = 10
    assert panel.frames.frame_draws == frames and panel.frames.full_draws == 0
    assert np.array_equal(pixels(panel.png), pixels(plots.png_bytes(panel.figure)))


def test_a_graded_kernel_draws_no_position_ahead_and_keeps_the_same_image(monkeypatch):
    """In a kernel the grader forked no slider moves: `prepare` draws only the figure it shows, the image the
    prepared panel shows (pixel for pixel; a frame kept from the positions drawn ahead draws as a full draw)."""
    prepared = two_axes_panel()
    prepared.prepare([{"span": 10}, {"slope": 2.0}])
    monkeypatch.setenv(widgets.GRADED_KERNEL_VARIABLE, "1")
    graded = two_axes_panel()
    frames = graded.frames.frame_draws, graded.frames.full_draws
    graded.prepare([{"span": 10}, {"slope": 2.0}])
    assert (graded.frames.frame_draws, graded.frames.full_draws) == frames  # the figure drawn again on its frame
    assert len(graded.frames.saved) == 1 < len(prepared.frames.saved)
    assert (
        graded.values == prepared.values
        and graded.alt == prepared.alt
        and graded.readout.value == prepared.readout.value
    )
    assert np.array_equal(pixels(graded.png), pixels(prepared.png))


def test_few_frames_are_kept():
    panel = widgets.SliderPanel(
        draw_two_axes,
        {
            "slope": widgets.float_slider("slope", 1.0, 0.5, 2.0, 0.5),
            "span": widgets.int_slider("span", 5, 5, 50, 5),
            "shade": ipywidgets.Checkbox(value=False),
        },
        grid=(1, 2),
    )
    panel.frames.keep = 3
    panel.prepare([{"span": span} for span in range(5, 55, 5)])
    assert len(panel.frames.saved) == 3


def draw_with_second_scale(axes, peak, decay):
    """A rate on the left, the same rate times 0.01 on a secondary axis (made once), limits set by `peak`."""
    if not axes.child_axes:
        second = axes.secondary_yaxis("right", functions=(lambda lr: lr * 0.01, lambda shrink: shrink / 0.01))
        second.set_ylabel("shrink per step")
    axes.plot([0, 10, 100], [0, peak, peak * (1 - decay)], label="rate")
    axes.set_ylim(0, 1.05 * peak)
    plots.label(axes, f"peak {peak:g}, decay {decay:g}", "step", "learning rate")


def test_a_secondary_axis_is_part_of_its_parents_frame():
    panel = widgets.SliderPanel(
        draw_with_second_scale,
        {
            "peak": ipywidgets.SelectionSlider(options=[0.01, 0.1], value=0.01),
            "decay": widgets.float_slider("decay", 0.5, 0.0, 1.0, 0.5),
        },
    )
    second = panel.axes.child_axes[0].yaxis
    before = second.get_view_interval().copy()
    frames = panel.frames.frame_draws
    panel.controls["decay"].value = 1.0  # the frames stand: drawn on them
    assert panel.frames.frame_draws == frames and panel.frames.full_draws == 0
    assert np.array_equal(pixels(panel.png), pixels(plots.png_bytes(panel.figure)))
    panel.controls["peak"].value = 0.1  # the left limits and so the right scale change: both drawn again
    assert panel.frames.frame_draws == frames + 1
    assert np.array_equal(pixels(panel.png), pixels(plots.png_bytes(panel.figure)))
    assert np.allclose(second.get_view_interval(), 10 * before), "the secondary scale followed the new limits"


def test_coarse_limits_hold_the_data_and_move_in_steps():
    assert plots.coarse_limits([0.11, 1.615], 0.25, include=0) == (0.0, 1.75)
    assert plots.coarse_limits([0.3, 1.5], 0.25) == (0.25, 1.75)  # 1.5 on a step: room above it
    assert plots.coarse_limits([0.3, 1.4], 0.25) == plots.coarse_limits([0.26, 1.45], 0.25)
    low, high = plots.decade_limits([0.1, 7.8e-4, 0.0])  # the zero cannot show on a log axis
    assert math.isclose(low, 10**-4.1) and math.isclose(high, 10**-0.9)
    assert plots.decade_limits([0.1, 7.8e-4], include=1e-5)[0] == 1e-5
    assert plots.decade_limits([0.2, 1.5], include=(0.1, 2.5)) == (0.1, 2.5)  # a span shown whatever the data
    low, high = plots.decade_limits([0.05, 1.5], include=(0.1, 2.5))  # beyond it, in whole decades
    assert math.isclose(low, 10**-2.1) and high == 2.5
    assert plots.decade_limits([0.1, 3e-6]) == plots.decade_limits([0.05, 1.5e-6])


def draw_noisy_limits(ax, noise):
    """The same line but for rounding noise in its lowest value, as a schedule computed two ways gives."""
    ax.plot([0, 1, 2], [0.1, 0.05, noise * 1e-17])
    plots.label(ax, f"noise {noise}", "epoch", "learning rate")


def test_rounding_noise_in_the_limits_keeps_the_frames():
    panel = widgets.SliderPanel(draw_noisy_limits, {"noise": widgets.int_slider("noise", 0, 0, 3)})
    frames, before = panel.frames.frame_draws, panel.axes.get_ylim()
    panel.controls["noise"].value = 3
    assert panel.axes.get_ylim() != before, "the limits moved, by rounding noise only"
    assert panel.frames.frame_draws == frames
    assert np.array_equal(pixels(panel.png), pixels(plots.png_bytes(panel.figure)))
