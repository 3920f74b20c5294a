"""Figures in one style: titles, labelled axes, legends, a solid background.

The background is always opaque white with dark text, so a figure reads the same in JupyterLab's
light and dark themes (a transparent figure would put black labels on a dark page).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import numpy as np

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
}


def apply_style() -> None:
    """Use the course style for every figure made afterwards (notebooks call this once)."""
    plt.rcParams.update(STYLE)


def figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 3.4, **kwargs):
    """A styled figure and its axes (an array when there is more than one)."""
    apply_style()  # global, not plt.rc_context: leaving that context can close the inline figures
    return plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **kwargs)


def label(ax, title: str, xlabel: str, ylabel: str, log: bool = False, legend: bool = True) -> None:
    """Title, axis labels, an optional log y-axis, and a legend when there are labelled lines."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
        # Plain labels (0.01, 1e-05): the default 10^x labels go through mathtext, which costs a slider
        # panel about a third of its redraw time.
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")


def plot_rates(ax, curves: dict[str, np.ndarray], title: str = "Learning rate per epoch", log: bool = False) -> None:
    """One step-shaped line per schedule: the rate holds for a whole epoch."""
    for name, rates in curves.items():
        ax.plot(np.arange(len(rates)), rates, drawstyle="steps-post", label=name, linewidth=1.8)
    label(ax, title, "epoch", "learning rate", log=log)


def mark_epochs(ax, epochs, color: str = "tab:red", text: str | None = None) -> None:
    """Vertical dashed lines at the given epochs (e.g. where ReduceLROnPlateau reduced the rate).

    One collection for all of them, spanning the axes' height whatever its limits: drawn faster
    than a line per epoch, which matters in a slider panel.
    """
    if len(epochs):
        ax.vlines(epochs, 0, 1, transform=ax.get_xaxis_transform(), color=color, linestyle="--", linewidth=1,
                  label=text)
