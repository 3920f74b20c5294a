"""lrcourse.glyphs: a canvas that keeps its text layouts and glyph bitmaps draws the pixels of a plain Agg canvas."""

from io import BytesIO

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from lrcourse import plots, widgets  # noqa: E402
from lrcourse.glyphs import GlyphCanvas  # noqa: E402


def text_of_every_kind(canvas_class):
    """A figure with plain, rotated, accented, mathtext and unantialiased text, on a canvas of `canvas_class`."""
    plots.apply_style()
    figure = Figure(figsize=(7, 3.4))  # no layout engine: the second draw puts every text where the first did
    canvas = canvas_class(figure)
    left, right = figure.subplots(1, 2)
    for i, start in enumerate([0.0, 0.37, 0.713]):
        left.plot([start, 1, 2], [1, 0, i], label=f"line {i}: lr = {start:.3g} ±2, fög")
        left.text(start, 0.5 + i / 7, f"Wéird {start}", rotation=17 * i)
    plots.label(left, "lr = 0.112: weight per step", "step", "learning rate / initial rate")
    right.set_title(r"$\alpha = 0.3$ and $\sqrt{x}$")
    right.text(0.1, 0.5, "not antialiased", antialiased=False)
    plots.log_axis(right, "x")
    right.set_xlim(1e-3, 1)
    return canvas


def test_kept_glyphs_draw_the_pixels_of_a_plain_agg_canvas():
    plain = text_of_every_kind(FigureCanvasAgg)
    plain.draw()
    kept = text_of_every_kind(GlyphCanvas)
    kept.draw()
    assert np.array_equal(np.asarray(kept.buffer_rgba()), np.asarray(plain.buffer_rgba()))
    glyphs, layouts = dict(kept.renderer.glyphs), dict(kept.renderer.layouts)
    assert len(glyphs) > 100 and len(layouts) > 20
    kept.draw()  # drawn from what the first draw kept: no glyph rendered, no string laid out again
    assert kept.renderer.glyphs == glyphs and kept.renderer.layouts == layouts
    assert np.array_equal(np.asarray(kept.buffer_rgba()), np.asarray(plain.buffer_rgba()))


def draw_titled_lines(ax, slope):
    ax.plot([0, 5], [0, 5 * slope], label=f"slope {slope:g}")
    ax.set_ylim(0, 20)
    plots.label(ax, f"a line of slope {slope:g}", "x", "y")


def test_a_panel_moved_shows_what_a_plain_agg_canvas_draws():
    panel = widgets.SliderPanel(draw_titled_lines, {"slope": widgets.float_slider("slope", 1.0, 0.5, 2.0, 0.5)})
    for slope in (2.0, 0.5, 1.5):  # a title and a legend entry that change, the frames kept
        panel.controls["slope"].value = slope
    plain = FigureCanvasAgg(panel.figure)
    plain.draw()
    shown = np.asarray(Image.open(BytesIO(panel.png)).convert("RGBA"))  # the panel's PNG is RGB (opaque)
    assert panel.frames.frame_draws == 1 and np.array_equal(shown, np.asarray(plain.buffer_rgba()))
