"""Slider panels: a few controls bound to a drawing function, redrawn on every move.

The figure is rendered to PNG and shown in an `ipywidgets.Image`, which updates in place: no
flicker, nothing piles up in the output area, and the time a redraw takes is measured.
"""
from __future__ import annotations

import base64
import io
import math
from time import perf_counter
from typing import Callable

import ipywidgets as widgets
from matplotlib.figure import Figure

from lrcourse.plots import apply_style

DrawFunction = Callable[..., "str | None"]


def log_slider(description: str, value: float, low: float, high: float, **kwargs) -> widgets.FloatLogSlider:
    """A slider over decades: `low` and `high` are the rates at its ends (powers of ten)."""
    return widgets.FloatLogSlider(
        value=value, base=10, min=math.log10(low), max=math.log10(high), step=0.05,
        description=description, readout_format=".2g", **kwargs,
    )


def int_slider(description: str, value: int, low: int, high: int, step: int = 1, **kwargs) -> widgets.IntSlider:
    return widgets.IntSlider(value=value, min=low, max=high, step=step, description=description, **kwargs)


def float_slider(description: str, value: float, low: float, high: float, step: float, **kwargs) -> widgets.FloatSlider:
    return widgets.FloatSlider(value=value, min=low, max=high, step=step, description=description, **kwargs)


class SliderPanel:
    """Controls above a figure; moving any control calls `draw(fig, **values)` and shows the result.

    `draw` receives a cleared figure and the current value of every control by name; it may
    return a short HTML string, shown under the figure (a readout). `seconds` keeps the time of
    every redraw (drawing plus PNG rendering), which the benchmarks read.
    """

    def __init__(self, draw: DrawFunction, controls: dict[str, widgets.ValueWidget],
                 width: float = 7.0, height: float = 3.4, live: bool = True):
        self.draw = draw
        self.controls = controls
        apply_style()
        self.figure = Figure(figsize=(width, height), layout="constrained")
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.readout = widgets.HTML()
        self.seconds: list[float] = []
        for control in controls.values():
            control.continuous_update = live
            control.style.description_width = "initial"
            control.observe(self._on_change, names="value")
        self.widget = widgets.VBox(
            [widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap")),
             self.image, self.readout],
            layout=widgets.Layout(width="100%"),
        )
        self.widget.add_class("lrcourse-panel")
        self.redraw()

    @property
    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def redraw(self) -> None:
        start = perf_counter()
        self.figure.clear()
        text = self.draw(self.figure, **self.values)
        self._place_axes()
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        if self._positions is None:
            self._remember_layout()
        self.image.value = buffer.getvalue()
        self.readout.value = text if isinstance(text, str) else ""
        self.seconds.append(perf_counter() - start)

    # Constrained layout costs more than half of a redraw. Moving a slider keeps the same grid of axes, so
    # the positions it found on the first draw are reused; a different number of axes lays out afresh.
    _positions: list | None = None

    def _remember_layout(self) -> None:
        self._positions = [ax.get_position() for ax in self.figure.axes]
        self.figure.set_layout_engine("none")

    def _place_axes(self) -> None:
        if self._positions is None:
            return
        if len(self.figure.axes) != len(self._positions):
            self._positions = None
            self.figure.set_layout_engine("constrained")
            return
        for ax, position in zip(self.figure.axes, self._positions):
            ax.set_position(position)

    def _on_change(self, change) -> None:
        self.redraw()

    def _repr_mimebundle_(self, **kwargs):
        """The live panel in Jupyter, with the current figure as a PNG for viewers without widgets
        (a notebook shown on a code host, nbviewer): each front end picks what it can render."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        return bundle
