"""Slider panels: a few controls bound to a drawing function, redrawn on every move.

The figure is rendered to PNG and shown as an `<img>` with alt text in an `ipywidgets.HTML`, which
updates in place: nothing piles up in the output area, and the time a redraw takes is measured. The
figure and its axes are made once and redrawn in place, so a move costs only the drawing itself, and the axes'
frames (ticks, labels, grid) are drawn again only when a move changed them (`lrcourse.frames`), once per state
of the axes: a notebook whose axes take a few states (limits in coarse steps, `plots.decade_limits`) draws them
ahead with `prepare`, so even a first move there draws only what changed.
(`ipywidgets.Image` has no alt attribute, so a screen reader could not say what the plot shows.)
The alt text is the panel's `description`, what its axes say (`plots.alt_text`) and the readout.
"""

from __future__ import annotations

import base64
import math
import os
import re
from collections.abc import Callable, Iterable
from time import perf_counter

import ipywidgets as widgets
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lrcourse.frames import FrameCache
from lrcourse.plots import alt_text, apply_style, describe, img_html

DrawFunction = Callable[..., "str | None"]
# Set to "1" in every kernel the grader forks (lrcourse/grading/sandbox/kernel_zygote.py): a graded notebook is run,
# never shown, so no one moves its sliders and drawing positions ahead (`SliderPanel.prepare`) would be wasted.
GRADED_KERNEL_VARIABLE = "LRCOURSE_GRADED_KERNEL"


def _empty(ax: Axes) -> None:
    """Remove what the last draw put on `ax` and undo its settings, but keep the axes themselves.

    Unlike `ax.clear()`, the axis ticks survive, and building them anew costs a third of a redraw.
    """
    for artist in [*ax.lines, *ax.patches, *ax.collections, *ax.texts, *ax.images, *ax.tables, *ax.artists]:
        artist.remove()
    if ax.legend_ is not None:
        ax.legend_.remove()
    ax.set_title("")
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_xscale("linear")  # also restores the default tick locators and formatters
    ax.set_yscale("linear")
    ax.ignore_existing_data_limits = True  # the next plotted data sets the limits afresh
    ax.set_autoscale_on(True)
    ax.set_prop_cycle(None)  # each draw starts at the palette's first colour and line style


def log_slider(
    description: str, value: float, low: float, high: float, readout_format: str = ".2g", **kwargs
) -> widgets.FloatLogSlider:
    """A slider over decades: `low` and `high` are the rates at its ends (powers of ten).

    `readout_format` is the widget's own readout: give it more digits where two significant ones would print a
    boundary the text draws (10**-0.3 = 0.501 reads "0.5" at ".2g")."""
    return widgets.FloatLogSlider(
        value=value,
        base=10,
        min=math.log10(low),
        max=math.log10(high),
        step=0.05,
        description=description,
        readout_format=readout_format,
        **kwargs,
    )


def int_slider(description: str, value: int, low: int, high: int, step: int = 1, **kwargs) -> widgets.IntSlider:
    return widgets.IntSlider(value=value, min=low, max=high, step=step, description=description, **kwargs)


def float_slider(description: str, value: float, low: float, high: float, step: float, **kwargs) -> widgets.FloatSlider:
    return widgets.FloatSlider(value=value, min=low, max=high, step=step, description=description, **kwargs)


class SliderPanel:
    """Controls above a figure; moving any control calls `draw(axes, **values)` and shows the result.

    The panel makes its axes once (`grid` rows and columns, as `Figure.subplots` takes them) and
    hands the same axes to every call of `draw`, emptied of what the last call drew: one `Axes` for a
    1 x 1 grid, else the array `subplots` returns. `draw` receives the current value of every
    control by name and may return a short HTML string, shown under the figure (a readout).
    `seconds` keeps the time of every redraw (drawing plus PNG rendering), which the benchmarks read.
    `description` starts the image's alt text; `png` holds the current image, `alt` its alt text.
    """

    def __init__(
        self,
        draw: DrawFunction,
        controls: dict[str, widgets.ValueWidget],
        grid: tuple[int, int] = (1, 1),
        width: float = 7.0,
        height: float = 3.4,
        live: bool = True,
        description: str = "",
        **subplots,
    ):
        self.draw = draw
        self.description = description
        self.controls = controls
        apply_style()
        # Laid out once, on the first draw: a slider move keeps the same axes, so it need not pay again
        # for constrained layout (more than half of a redraw) nor for new axes' ticks (another third).
        self.figure = describe(Figure(figsize=(width, height), layout="constrained"), description)
        self.axes = self.figure.subplots(*grid, **subplots)
        self.frames = FrameCache(self.figure)  # redraws the axes' frames only when a move changed them
        self.image = widgets.HTML(layout=widgets.Layout(max_width="100%"))
        self.image.add_class("lrcourse-image")
        self.png, self.alt = b"", ""
        self.readout = widgets.HTML()
        self.seconds: list[float] = []
        for control in controls.values():
            control.continuous_update = live
            control.style.description_width = "initial"
            control.observe(self._on_change, names="value")
        self.widget = widgets.VBox(
            [
                widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap")),
                self.image,
                self.readout,
            ],
            layout=widgets.Layout(width="100%"),
        )
        self.widget.add_class("lrcourse-panel")
        self.redraw()

    @property
    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def redraw(self) -> None:
        start = perf_counter()
        text = self._draw(self.values)
        self.png = self.frames.png()
        self.alt = alt_text(self.figure, extra=re.sub(r"<[^>]+>", "", text))
        self.image.value = img_html(self.png, self.alt)
        self.readout.value = text
        self.seconds.append(perf_counter() - start)

    def prepare(self, positions: Iterable[dict]) -> None:
        """Draw ahead the frames (ticks, tick labels, grid) of each position: values for some controls, the others
        as they stand. A first move to a position whose axes differ then costs what a move that keeps them costs.
        The figure is drawn again as the controls stand.

        Not in a graded kernel (`GRADED_KERNEL_VARIABLE`): no slider moves there, and the image it keeps is the same
        pixel for pixel either way (`lrcourse.frames` draws a kept frame as a full draw would), so grading pays only
        for the figure it shows (a third of chapter 3's notebook run, say)."""
        if os.environ.get(GRADED_KERNEL_VARIABLE) != "1":
            for position in positions:
                self._draw({**self.values, **position})
                self.frames.prepare()
        self.redraw()

    def _draw(self, values: dict) -> str:
        """Empty the axes and call `draw` with `values`; its readout, or ""."""
        axes = list(self.figure.axes)
        for ax in axes:
            _empty(ax)
        text = self.draw(self.axes, **values)
        if self.figure.axes != axes:
            raise ValueError(
                f"{self.draw.__name__} added or removed axes: draw into the axes it is given "
                "(ask the panel for more with grid=(rows, columns))"
            )
        return text if isinstance(text, str) else ""

    def _on_change(self, change) -> None:
        self.redraw()

    def _repr_mimebundle_(self, **kwargs):
        """The live panel in Jupyter, with the current figure (HTML with alt text, and a PNG) for viewers
        without widgets (a notebook shown on a code host, nbviewer): each front end picks what it can render."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["image/png"] = base64.b64encode(self.png).decode("ascii")
        data["text/html"] = img_html(self.png, self.alt, "lrcourse-figure")
        return bundle
