"""Notebooks as the tests compare them: read as nbformat 4, their cells' content, nbgrader's metadata."""

from __future__ import annotations

from pathlib import Path

import nbformat


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def code_and_markdown(notebook) -> list[tuple[str, str, str]]:
    return [
        (cell.get("id"), cell.cell_type, cell.source)
        for cell in notebook.cells
        if cell.cell_type in ("code", "markdown")
    ]


def nbgrader_meta(cell) -> dict:
    meta = dict(cell.metadata.get("nbgrader", {}))
    meta.pop("checksum", None)  # depends on the nbgrader run, not on the content we compare
    return meta
