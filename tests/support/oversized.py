"""Notebooks past the grader's reading limits (`notebook_limits`), built from a released chapter: for the limits'
own tests and for intake's, which fails the student who submits one."""

from __future__ import annotations

import json

from support.paths import ROOT

RELEASE = next((ROOT / "notebooks" / "02_ordered_schedules").glob("*.ipynb"))


def nested(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


def with_attachments(count: int, each: int) -> dict:
    """The release with `count` images of `each` bytes (base64) pasted into its markdown cells, a few a cell."""
    raw = json.loads(RELEASE.read_text())
    cells = [cell for cell in raw["cells"] if cell["cell_type"] == "markdown"]
    for index in range(count):
        attached = cells[index % len(cells)].setdefault("attachments", {})
        attached[f"image{index}.png"] = {"image/png": "A" * each}
    return raw
