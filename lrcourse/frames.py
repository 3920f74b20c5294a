"""A figure rendered again and again with its frames kept: when a redraw leaves every axes' frame as it was
(its position, limits, scales, ticks, tick labels and axis labels), only what sits on the frame is drawn, over a
copy of the frames saved by the last full draw (blitting). Drawing the frames (ticks, their labels, grid lines,
axis labels) is most of a slider panel's redraw, and most moves change only the lines, the title and the legend.

The image is the one a full draw gives, pixel for pixel (tests/test_plots_widgets.py compares them): a full draw
also draws each axes' background and axis before everything else on it. Where that would not hold, the figure is
drawn whole: an artist below the axis (a smaller zorder, e.g. a span shaded under the grid), an image, or an
artist of the figure itself (a suptitle, a figure legend), which a full draw puts over every axes.
"""

from __future__ import annotations

import io

import matplotlib.image as mimage
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _frame_artists(ax: Axes) -> list[Artist]:
    """What a frame is drawn from: the axes' background and its axes (ticks, tick labels, grid, axis labels)."""
    return [ax.patch, ax.xaxis, ax.yaxis] if ax.axison else [ax.patch]


def _on_frame(ax: Axes) -> list[Artist]:
    """What a full draw of `ax` draws after its frame, in the same order (by zorder, stably, as `Axes.draw`)."""
    frame = _frame_artists(ax)
    artists = [a for a in ax.get_children() if a not in frame and a.get_visible() and not a.get_animated()]
    if not (ax.axison and ax.get_frame_on()):
        artists = [a for a in artists if a not in ax.spines.values()]
    return sorted(artists, key=lambda a: a.get_zorder())


def _axis_key(axis: Axis) -> tuple:
    """Everything of an axis that its drawing depends on and a slider move may change."""
    ticks = []
    for minor in (False, True):
        locs = list(axis.get_ticklocs(minor=minor))
        formatter = axis.get_minor_formatter() if minor else axis.get_major_formatter()
        ticks.append((tuple(locs), tuple(formatter.format_ticks(locs))))
    label = axis.label
    return (axis.get_scale(), tuple(axis.get_view_interval()), *ticks, label.get_text(), label.get_visible())


def _frame_key(figure: Figure) -> tuple:
    """The state of every frame: equal keys draw equal frames."""
    key = []
    for ax in figure.axes:
        ax.apply_aspect()  # as `Axes.draw` does first: an equal-aspect axes sets its position or limits here
        key.append((ax.get_visible(), ax.axison, ax.get_position().bounds))
        if ax.get_visible() and ax.axison:
            key.append((_axis_key(ax.xaxis), _axis_key(ax.yaxis)))
    return tuple(key)


def _blittable(figure: Figure) -> bool:
    """Whether drawing the frames first gives the full draw's image (see the module's docstring)."""
    if figure.texts or figure.legends or figure.images or figure.lines or figure.patches or figure.subfigs:
        return False
    for ax in figure.axes:
        if ax.images or ax.child_axes:
            return False
        # the background is drawn first whatever its zorder; the axes are sorted in among the rest
        top = max((a.get_zorder() for a in _frame_artists(ax)[1:]), default=float("-inf"))
        if any(a.get_zorder() <= top for a in _on_frame(ax)):
            return False
    return True


class FrameCache:
    """Renders `figure` to PNG, drawing its frames again only when they changed (`png()`).

    `full_draws` and `frame_draws` count the renders of each kind, for tests and benchmarks.
    """

    def __init__(self, figure: Figure):
        self.figure = figure
        self.canvas = FigureCanvasAgg(figure)
        self.key: tuple | None = None
        self.frames = None  # the canvas holding only the frames, saved by `copy_from_bbox`
        self.full_draws = self.frame_draws = 0

    def png(self, **pil_kwargs) -> bytes:
        """The figure as PNG (as `savefig` writes it at the figure's dpi), with `pil_kwargs` for Pillow.

        A figure with a layout engine is drawn whole once, which lays it out, and then keeps that layout (the
        engine is removed): the frames stay where they are, and a move does not pay for a layout pass again.
        """
        if self.figure.get_layout_engine() is not None:
            self.canvas.draw()
            self.figure.set_layout_engine(None)  # None, not "none", which still lays out
            self.key = None
        if not _blittable(self.figure):
            self.key = None
            self.full_draws += 1
            self.canvas.draw()
        else:
            self._draw_on_frames()
        buffer = io.BytesIO()
        mimage.imsave(
            buffer, self.canvas.buffer_rgba(), format="png", dpi=self.figure.dpi, origin="upper", pil_kwargs=pil_kwargs
        )
        return buffer.getvalue()

    def _draw_on_frames(self) -> None:
        key = _frame_key(self.figure)
        if key != self.key:
            self._draw_frames()
            self.key = key
        else:
            self.canvas.restore_region(self.frames)
        renderer = self.canvas.get_renderer()
        for ax in self.figure.axes:
            if ax.get_visible():
                for artist in _on_frame(ax):
                    artist.draw(renderer)

    def _draw_frames(self) -> None:
        """Draw the figure without what sits on its frames (animated artists are left out), and keep a copy."""
        self.frame_draws += 1
        on_frames = [artist for ax in self.figure.axes for artist in _on_frame(ax)]
        try:
            for artist in on_frames:
                artist.set_animated(True)
            self.canvas.draw()
        finally:
            for artist in on_frames:
                artist.set_animated(False)
        self.frames = self.canvas.copy_from_bbox(self.figure.bbox)
