"""Whether a figure's legends hide any drawn vertex of its lines, measured where the figure lays them out."""

import numpy as np


def line_points(ax) -> np.ndarray:
    """Every drawn vertex of the axes' lines in display coordinates, the corners of step-drawn lines included."""
    points = []
    for line in ax.get_lines():
        x, y = (np.asarray(v, dtype=float) for v in line.get_data())
        if line.get_drawstyle() == "steps-post" and len(x) > 1:  # the corner where each step's level meets the next
            x, y = np.concatenate([x, x[1:]]), np.concatenate([y, y[:-1]])
        if line.get_transform() != ax.transData:  # axvline: data x, axes y
            y = np.linspace(0, 1, 50)
            x = np.full_like(y, x[0])
            points.append(line.get_transform().transform(np.column_stack([x, y])))
            continue
        points.append(ax.transData.transform(np.column_stack([x, y])))
    return np.concatenate(points)


def legend_clear_of_lines(fig) -> list[int]:
    """How many line vertices lie inside each legend of the figure (its axes' and its own)."""
    fig.draw_without_rendering()  # lays the figure out as its display does (constrained layout)
    counts = []
    for ax in fig.axes:
        points = line_points(ax)
        for legend in [ax.get_legend(), *fig.legends]:
            if legend is None:
                continue
            box = legend.get_window_extent()
            inside = (
                (points[:, 0] >= box.x0)
                & (points[:, 0] <= box.x1)
                & (points[:, 1] >= box.y0)
                & (points[:, 1] <= box.y1)
            )
            counts.append(int(inside.sum()))
    return counts
