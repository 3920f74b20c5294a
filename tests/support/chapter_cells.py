"""Cells of a source notebook run in the test's own process, for claims checked without a kernel."""

from __future__ import annotations

import linecache
from pathlib import Path

import nbformat
import torch

from support.paths import ROOT


def compiled(source: str, filename: str):
    """`source` compiled under `filename`, its text registered in `linecache` as IPython registers a cell's, so
    `inspect.getsource` finds the functions it defines: the run cache keys a run on that source (falling back to
    the name where there is none), and only the same source finds the runs a kernel trained or the course ships."""
    text = source if source.endswith("\n") else source + "\n"  # as IPython ends a cell: its last line is whole
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)  # no mtime: kept
    return compile(text, filename, "exec")


def chapter_cells(path, ids: list[str]) -> dict:
    """Run these cells of a source notebook, in notebook order, in this process; return their namespace
    (headless plots; the matplotlib style and torch's threads the cells set are put back). Each cell is named by
    its chapter and id: chapters share ids (`setup`, `data`), and a name reused would show one chapter's text for
    another's functions."""
    import matplotlib

    path = Path(path)

    matplotlib.use("Agg")
    namespace, threads = {"__name__": "__main__"}, torch.get_num_threads()
    try:
        with matplotlib.rc_context():
            for cell in nbformat.read(path, as_version=4).cells:
                if cell.id in ids:
                    exec(compiled(cell.source, f"<{path.parent.name}/{cell.id}>"), namespace)
    finally:
        torch.set_num_threads(threads)
    return namespace


def cell_source(notebook: str, cell_id: str) -> str:
    """The text of one cell of a source notebook (`notebook` relative to source/)."""
    cells = nbformat.read(ROOT / "source" / notebook, as_version=4).cells
    return next(cell.source for cell in cells if cell.id == cell_id)


def cell_text(notebook: str, cell_id: str) -> str:
    """`cell_source` with its whitespace collapsed to single spaces: prose compared across its line breaks."""
    return " ".join(cell_source(notebook, cell_id).split())
