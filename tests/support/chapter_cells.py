"""Cells of a source notebook run in the test's own process, for claims checked without a kernel."""

from __future__ import annotations

import nbformat
import torch


def chapter_cells(path, ids: list[str]) -> dict:
    """Run these cells of a source notebook, in notebook order, in this process; return their namespace
    (headless plots; the matplotlib style and torch's threads the cells set are put back)."""
    import matplotlib

    matplotlib.use("Agg")
    namespace, threads = {"__name__": "__main__"}, torch.get_num_threads()
    try:
        with matplotlib.rc_context():
            for cell in nbformat.read(path, as_version=4).cells:
                if cell.id in ids:
                    exec(compile(cell.source, f"<{cell.id}>", "exec"), namespace)
    finally:
        torch.set_num_threads(threads)
    return namespace
