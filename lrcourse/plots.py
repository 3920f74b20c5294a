"""Figures in one style: titles, labelled axes, legends, a solid background, a colour-blind-safe palette,
and a text description (alt text) for every figure.

The background is always opaque white with dark text, so a figure reads the same in JupyterLab's
light and dark themes (a transparent figure would put black labels on a dark page).

Colours: the Okabe-Ito palette (distinguishable with every common colour-vision deficiency), each colour
paired with its own line style in the cycle, so lines differ even in grey. Set here once for the whole course.

Alt text: `apply_style()` registers an HTML display for figures, `<img alt="..." src="data:...">`, next to
the usual PNG. JupyterLab renders the HTML (it prefers it to the PNG), so a screen reader reads the alt
text. The description is `describe(fig, text)` when the notebook gave one, followed by what the axes say
(titles, axis names, log scales, legend entries), which is true by construction.
"""

from __future__ import annotations

import base64
import html
import io
import math

import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import numpy as np
from cycler import cycler
from matplotlib.figure import Figure

#: The Okabe-Ito colours by name (Okabe & Ito 2008), in the order the cycle uses them; yellow last (weak on white).
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "black": "#000000",
    "yellow": "#F0E442",
}
#: One line style per colour of the cycle: the n-th line differs in colour and in dash.
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 2))]
GREY = "0.55"  # reference lines (a constant-rate baseline, the loss surface)

STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "text.color": "#222222",
    "axes.labelcolor": "#222222",
    "xtick.color": "#222222",
    "ytick.color": "#222222",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 90,
    "font.size": 10,
    "axes.titlesize": 11,
    # Titles sit just above the axes. The default (None) measures the tick labels on every draw to avoid
    # ones at the top, which the course's plots never have; skipping that makes a slider redraw ~10% faster.
    "axes.titley": 1.0,
    "legend.fontsize": 9,
    "legend.framealpha": 0.9,
    "axes.prop_cycle": cycler(color=list(PALETTE.values())) + cycler(linestyle=LINESTYLES),
}


def apply_style() -> None:
    """Use the course style for every figure made afterwards (notebooks call this once), and show
    figures in the notebook with their alt text."""
    plt.rcParams.update(STYLE)
    _register_alt_text_display()


def describe(fig: Figure, text: str) -> Figure:
    """Give `fig` a short description for screen readers, put before what its axes say."""
    fig._lrcourse_alt = text
    return fig


def shared_xlabel(ax) -> str:
    """The x label of a panel that shares its x axis with `ax` (a stacked figure labels only the bottom one)."""
    return next((other.get_xlabel() for other in ax.get_shared_x_axes().get_siblings(ax) if other.get_xlabel()), "")


def alt_text(fig: Figure, extra: str = "") -> str:
    """What a screen reader says for `fig`: its description, then each panel's title, axes and lines."""
    parts = [getattr(fig, "_lrcourse_alt", "")]
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison:
            continue
        x, y = ax.get_xlabel() or shared_xlabel(ax), ax.get_ylabel()
        scale = " (log scale)" if ax.get_yscale() == "log" else ""
        panel = f"Plot “{ax.get_title()}”" if ax.get_title() else "Plot"
        if x or y:
            panel += f" of {y or 'a value'}{scale} against {x or 'its index'}"
        names = [name for name in ax.get_legend_handles_labels()[1] if not name.startswith("_")]
        if names:
            panel += "; lines: " + ", ".join(names)
        parts.append(panel + ".")
    parts.append(extra)
    return " ".join(part.strip() for part in parts if part and part.strip()) or "A figure."


def png_bytes(fig: Figure, **kwargs) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", **kwargs)
    return buffer.getvalue()


def img_html(png: bytes, alt: str, css_class: str = "") -> str:
    """An <img> element holding `png` inline, with `alt` as its text description."""
    data = base64.b64encode(png).decode("ascii")
    klass = f' class="{css_class}"' if css_class else ""
    return (
        f'<img{klass} alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}" style="max-width:100%">'
    )


def _figure_html(fig: Figure) -> str:
    return img_html(png_bytes(fig, bbox_inches="tight"), alt_text(fig), "lrcourse-figure")


def _register_alt_text_display() -> None:
    """Inside IPython: display every matplotlib figure as HTML with alt text (the PNG stays in the bundle
    for viewers that do not render HTML)."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing is displayed
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    shell.display_formatter.formatters["text/html"].for_type(Figure, _figure_html)


def show(fig: Figure, description: str = "") -> None:
    """Display `fig` now, with `description` as the start of its alt text, and close it (so the inline
    backend does not show it a second time)."""
    from IPython.display import display

    if description:
        describe(fig, description)
    _register_alt_text_display()
    display(fig)
    plt.close(fig)


def figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 3.4, **kwargs):
    """A styled figure and its axes (an array when there is more than one)."""
    apply_style()  # global, not plt.rc_context: leaving that context can close the inline figures
    made = plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **kwargs)
    _register_alt_text_display()  # again: the inline backend, set up by the first figure, resets the formatters
    return made


def label(ax, title: str, xlabel: str, ylabel: str, log: bool = False, legend: bool = True) -> None:
    """Title, axis labels, an optional log y-axis, and a legend when there are labelled lines."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log:
        log_axis(ax)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")


class PlainLogFormatter(ticker.LogFormatter):
    """Log-axis labels as plain numbers (0.01, 0.03, 1e-05).

    The default 10^x labels go through mathtext, which costs a slider panel about a third of its redraw
    time. Like matplotlib's own log formatter it also labels minor ticks (2, 3, 5 ... times a power of ten)
    when the axis spans less than about a decade, so a narrow log axis never shows a single label.
    """

    def _num_to_string(self, x, vmin, vmax):
        return f"{x:g}"


def log_axis(ax, which: str = "y") -> None:
    """A log scale on `ax`'s x or y axis with plain labels, at least two of them visible."""
    getattr(ax, f"set_{which}scale")("log")
    axis = getattr(ax, f"{which}axis")
    axis.set_major_formatter(PlainLogFormatter(labelOnlyBase=False))
    axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(1.2, 0.5)))


def plot_rates(
    ax, curves: dict[str, np.ndarray], title: str = "Learning rate per epoch", log: bool = False, xlabel: str = "epoch"
) -> None:
    """One step-shaped line per schedule: the rate holds for a whole epoch (or step: say which in `xlabel`).

    Curves equal to an earlier one (to 1e-9) are drawn on top of it with a finer line and named
    "(same as ...)" in the legend, so no line hides under another unannounced.
    """
    drawn: list[tuple[str, np.ndarray]] = []
    for name, rates in curves.items():
        rates = np.asarray(rates)
        twin = next(
            (
                other
                for other, seen in drawn
                if seen.shape == rates.shape and np.allclose(seen, rates, rtol=1e-9, atol=0)
            ),
            None,
        )
        shown = f"{name} (same as {twin})" if twin else name
        ax.plot(np.arange(len(rates)), rates, drawstyle="steps-post", label=shown, linewidth=1.0 if twin else 1.8)
        drawn.append((name, rates))
    label(ax, title, xlabel, "learning rate", log=log)


def coarse_limits(values, step: float, include=()) -> tuple[float, float]:
    """Linear axis limits that always hold `include` (a value such as 0, or a span to show whatever the data)
    and, where the values go beyond it, reach the next multiple of `step` with room (2 % of a step) between a
    value and the edge. A slider panel that sets these keeps its ticks from move to move until the data cross a
    step, so its frames need not be drawn again (`lrcourse.frames`)."""
    values = np.ravel(values).astype(float)
    low, high = math.floor(values.min() / step - 0.02) * step, math.ceil(values.max() / step + 0.02) * step
    return _holding(low, high, values, np.ravel(include).astype(float))


def decade_limits(values, include=()) -> tuple[float, float]:
    """Log axis limits that always hold `include` and, where the positive values go beyond it, reach whole
    decades widened by a tenth of a decade: they change only when the data cross a power of ten (see
    `coarse_limits`)."""
    values = np.ravel(values).astype(float)
    values = values[values > 0]
    low, high = math.floor(math.log10(values.min())) - 0.1, math.ceil(math.log10(values.max())) + 0.1
    return _holding(10**low, 10**high, values, np.ravel(include).astype(float))


def _holding(low: float, high: float, values: np.ndarray, include: np.ndarray) -> tuple[float, float]:
    """`include`'s ends in place of `low` and `high` where the values stay within them."""
    if include.size:
        low = include.min() if values.min() >= include.min() else low
        high = include.max() if values.max() <= include.max() else high
    return float(low), float(high)


def mark_epochs(ax, epochs, color: str = PALETTE["vermillion"], text: str | None = None) -> None:
    """Vertical dashed lines at the given epochs (e.g. where ReduceLROnPlateau reduced the rate).

    One collection for all of them, spanning the axes' height whatever its limits: drawn faster
    than a line per epoch, which matters in a slider panel.
    """
    if len(epochs):
        ax.vlines(
            epochs, 0, 1, transform=ax.get_xaxis_transform(), color=color, linestyle="--", linewidth=1, label=text
        )
