"""A figure rendered again and again with its frames kept: when a redraw leaves every axes' frame as it was
(its position, limits, scales, ticks, tick labels and axis labels), only what sits on the frame is drawn, over a
copy of the frames saved by the last full draw (blitting). Drawing the frames (ticks, their labels, grid lines,
axis labels) is most of a slider panel's redraw, and most moves change only the lines, the title and the legend.

The image is the one a full draw gives, pixel for pixel (tests/test_plots_widgets.py compares them): a full draw
also draws each axes' background and axis before everything else on it. Where that would not hold, the figure is
drawn whole: an artist below the axis (a smaller zorder, e.g. a span shaded under the grid), an image, or an
artist of the figure itself (a suptitle, a figure legend), which a full draw puts over every axes.

A few frames are kept, by their state, not only the last: a panel whose axes take a handful of states (limits
that change in coarse steps, one per value of a selection) draws each state's frames once, and a move back to
a state seen before costs no more than a move that keeps the frames. A child axes (`secondary_yaxis`, e.g. a
second scale for the same values) belongs to its parent's frame: its scale follows the parent's limits.
"""

from __future__ import annotations

from collections import OrderedDict

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure

from lrcourse.glyphs import GlyphCanvas
from lrcourse.png import png


def _frame_artists(ax: Axes) -> list[Artist]:
    """What a frame is drawn from: the axes' background, its axes (ticks, tick labels, grid, axis labels) and its
    child axes (a secondary axis: drawn whole, as its parent's limits set it)."""
    return [ax.patch, ax.xaxis, ax.yaxis, *ax.child_axes] if ax.axison else [ax.patch, *ax.child_axes]


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
    # limits to 12 significant digits: autoscaling's rounding noise (1e-16 apart) moves nothing by a billionth of a
    # pixel
    limits = tuple(float(f"{value:.12g}") for value in axis.get_view_interval())
    return (axis.get_scale(), limits, *ticks, label.get_text(), label.get_visible())


def _axes_key(ax: Axes) -> tuple:
    """The state of one axes' frame, and of its child axes'."""
    ax.apply_aspect()  # as `Axes.draw` does first: an equal-aspect axes (a secondary axis: its limits) set here
    key = [ax.get_visible(), ax.axison, ax.get_position().bounds]
    if ax.get_visible() and ax.axison:
        key += [_axis_key(ax.xaxis), _axis_key(ax.yaxis)]
    return (*key, *(_axes_key(child) for child in ax.child_axes))


def _frame_key(figure: Figure) -> tuple:
    """The state of every frame: equal keys draw equal frames."""
    return tuple(_axes_key(ax) for ax in figure.axes)


def _blittable(figure: Figure) -> bool:
    """Whether drawing the frames first gives the full draw's image (see the module's docstring)."""
    if figure.texts or figure.legends or figure.images or figure.lines or figure.patches or figure.subfigs:
        return False
    for ax in figure.axes:
        if ax.images or any(not _blittable_child(child) for child in ax.child_axes):
            return False
        # the background is drawn first whatever its zorder; the axes are sorted in among the rest
        top = max((a.get_zorder() for a in _frame_artists(ax)[1:]), default=float("-inf"))
        if any(a.get_zorder() <= top for a in _on_frame(ax)):
            return False
    return True


def _blittable_child(child: Axes) -> bool:
    """A child axes is drawn with its parent's frame: it may carry nothing a move could change but its scale
    (its zorder is checked with the parent's frame)."""
    drawn = child.lines or child.patches or child.collections or child.texts or child.images or child.child_axes
    return not drawn and child.legend_ is None and not child.title.get_text()


class FrameCache:
    """Renders `figure` to PNG, drawing its frames again only when they changed (`png()`).

    `full_draws` and `frame_draws` count the renders of each kind, for tests and benchmarks. Up to `keep` frames
    are kept, the least recently used dropped first (each is a copy of the canvas: ~1.5 MB for a 9 x 5 in figure).
    """

    def __init__(self, figure: Figure, keep: int = 12):
        self.figure = figure
        self.canvas = GlyphCanvas(figure)  # keeps the text it laid out and the glyphs it rendered
        self.keep = keep
        self.saved: OrderedDict[tuple, object] = OrderedDict()  # frame key -> the canvas region `copy_from_bbox` saved
        self.full_draws = self.frame_draws = 0

    def png(self) -> bytes:
        """The figure as PNG, the pixels `savefig` writes at the figure's dpi (`lrcourse.png`: twice as fast).

        A figure with a layout engine is drawn whole once, which lays it out, and then keeps that layout (the
        engine is removed): the frames stay where they are, and a move does not pay for a layout pass again.
        """
        self._lay_out()
        if not _blittable(self.figure):
            self.full_draws += 1
            self.canvas.draw()
        else:
            self._draw_on_frames()
        return png(self.canvas.buffer_rgba(), dpi=self.figure.dpi)

    def prepare(self) -> None:
        """Draw and keep the frames of the figure as it stands, without rendering it (a panel's positions ahead
        of a first move there)."""
        self._lay_out()
        if _blittable(self.figure):
            self._frames(_frame_key(self.figure))

    def _lay_out(self) -> None:
        if self.figure.get_layout_engine() is not None:
            self.canvas.draw()
            self.figure.set_layout_engine(None)  # None, not "none", which still lays out
            self.saved.clear()  # frames drawn before the layout sit elsewhere

    def _frames(self, key: tuple):
        """The saved frames for `key`, drawn now if none are kept (the canvas then holds them)."""
        if key in self.saved:
            self.saved.move_to_end(key)
            return self.saved[key]
        self._draw_frames()
        self.saved[key] = self.canvas.copy_from_bbox(self.figure.bbox)
        while len(self.saved) > self.keep:
            self.saved.popitem(last=False)
        return self.saved[key]

    def _draw_on_frames(self) -> None:
        self.canvas.restore_region(self._frames(_frame_key(self.figure)))
        renderer = self.canvas.get_renderer()
        for ax in self.figure.axes:
            if ax.get_visible():
                for artist in _on_frame(ax):
                    artist.draw(renderer)

    def _draw_frames(self) -> None:
        """Draw the figure without what sits on its frames (animated artists are left out)."""
        self.frame_draws += 1
        on_frames = [artist for ax in self.figure.axes for artist in _on_frame(ax)]
        try:
            for artist in on_frames:
                artist.set_animated(True)
            self.canvas.draw()
        finally:
            for artist in on_frames:
                artist.set_animated(False)
