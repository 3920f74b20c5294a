"""A submitted notebook read safely: the grader's own process parses what a student wrote, so the file's
size, its JSON nesting, its cell count, its attachments and its outputs are bounded before anything costly
touches it.

The order matters: the size first (nothing is read past it), then the nesting, measured on the raw bytes
without parsing (Python's JSON parser and everything after it recurse, and a file nested thousands deep made
the grader itself raise RecursionError), then, once parsing is cheap and shallow, the cells, their attachments
and outputs (100,000 empty cells cost nbgrader minutes and gigabytes outside the sandbox). A notebook over a
limit is refused with a reason (`NotebookRefused`), which fails that student only.
"""

from __future__ import annotations

import json
from pathlib import Path

MAX_NOTEBOOK_MB = 50
MAX_DEPTH = 64  # a notebook of this course nests about 6 deep; widget state a few more
MAX_CELLS = 1000  # the longest chapter has 55
MAX_OUTPUT_MB = 20  # the solutions, plots included, hold about 1 MB of outputs
# The cells' own text: the longest chapter's is 63 kB. Formgrader renders a submission's markdown inside the
# instructor's server, which answers nothing else meanwhile: 10 MB of a student's links held it two minutes.
MAX_SOURCE_MB = 1
# Markdown and raw cells are rendered as markdown there, about 30 s a megabyte of some text, and the page's every
# tag is read again by nbconvert's HTML parser in Python: a chapter has at most 22 kB, a written answer a few.
MAX_MARKDOWN_KB = 128
# Images pasted into markdown cells (`attachments`, base64 in the JSON): no chapter holds any, a written answer a
# screenshot or two. Each page formgrader renders embeds at most 8 MB of images (`bounded_render.PageBudget`), so a
# notebook within the size limit could otherwise carry 40 MB more that nbgrader reads, validates and copies into
# every graded notebook and feedback; and many tiny ones are objects it validates one by one.
MAX_ATTACHMENT_MB = 8
MAX_ATTACHMENTS = 100

CHUNK = 1 << 22  # bytes scanned at once: the scan's memory stays a few tens of MB whatever the file's size


class NotebookRefused(ValueError):
    """Why a submitted notebook is not read (the message names the file and the limit)."""


def nesting_exceeds(data: bytes, limit: int = MAX_DEPTH) -> bool | None:
    """Whether the JSON text `data` nests deeper than `limit` (True), not (False), or cannot be balanced
    JSON (None), without parsing it: a running count of brackets outside strings, in numpy, linear in the
    size (a 50 MB file in well under a second)."""
    import numpy as np

    step = np.zeros(256, dtype=np.int8)  # a bracket's step in depth; every other byte 0
    step[list(b"[{")], step[list(b"]}")] = 1, -1
    # Inside strings, backslashes pair off from the left (outside, valid JSON has none): without the pairs and
    # the escaped quotes, every quote left opens or closes a string.
    text = np.frombuffer(data.replace(b"\\\\", b"").replace(b'\\"', b""), dtype=np.uint8)
    quotes, depth = 0, 0
    for start in range(0, len(text), CHUNK):
        chunk = text[start : start + CHUNK]
        quoted = np.cumsum(chunk == ord('"'), dtype=np.int32) + quotes
        quotes = int(quoted[-1])
        steps = step[chunk]
        steps[(quoted & 1).astype(bool)] = 0  # a bracket inside a string
        levels = np.cumsum(steps, dtype=np.int32) + depth
        if levels.max() > limit:
            return True
        if levels.min() < 0:
            return None
        depth = int(levels[-1])
    return None if depth else False


def read_notebook(path: Path) -> dict:
    """The notebook at `path` as plain JSON, or NotebookRefused saying which limit it breaks."""
    name = path.name
    size = path.lstat().st_size
    if size > MAX_NOTEBOOK_MB << 20:
        raise NotebookRefused(f"{name} is larger than {MAX_NOTEBOOK_MB} MB ({size >> 20} MB)")
    data = path.read_bytes()
    deep = nesting_exceeds(data)
    if deep:
        raise NotebookRefused(f"{name} is nested more than {MAX_DEPTH} levels deep in its JSON")
    try:  # no deeper than MAX_DEPTH up to its first error, if any: the parser says where that is
        raw = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:  # bad UTF-8 or JSON, an integer of too many digits
        raise NotebookRefused(f"{name} is not valid JSON: {error}") from None
    if deep is None:  # parsed, yet unbalanced: never seen, but nothing unmeasured goes on
        raise NotebookRefused(f"{name} is not valid JSON: its brackets do not balance")
    check_cells(name, raw)
    return raw


def check_cells(name: str, raw) -> None:
    """At most MAX_CELLS cells, MAX_SOURCE_MB of their text, the attachments' limits and MAX_OUTPUT_MB of outputs
    in a parsed notebook."""
    found = raw.get("cells") if isinstance(raw, dict) else None
    if not isinstance(found, list):
        return  # not a notebook's shape: the caller's validation says so
    if len(found) > MAX_CELLS:
        raise NotebookRefused(f"{name} has {len(found)} cells, more than {MAX_CELLS}")
    text = prose = 0  # every cell's text, and that of markdown and raw cells
    for cell in (cell for cell in found if isinstance(cell, dict)):
        size = len(json.dumps(cell.get("source", "")))
        text += size
        prose += size if cell.get("cell_type") in ("markdown", "raw") else 0
    if text > MAX_SOURCE_MB << 20:
        raise NotebookRefused(f"{name} holds more than {MAX_SOURCE_MB} MB of cell text ({text >> 10} kB)")
    if prose > MAX_MARKDOWN_KB << 10:
        raise NotebookRefused(f"{name} holds more than {MAX_MARKDOWN_KB} kB of markdown ({prose >> 10} kB)")
    check_attachments(name, found)
    budget = MAX_OUTPUT_MB << 20
    for cell in found:
        outputs = cell.get("outputs") if isinstance(cell, dict) else None
        if outputs:
            budget -= len(json.dumps(outputs))
            if budget < 0:
                raise NotebookRefused(f"{name} holds more than {MAX_OUTPUT_MB} MB of outputs")


def check_attachments(name: str, cells: list) -> None:
    """At most MAX_ATTACHMENTS attachments (images pasted into cells) in all, of MAX_ATTACHMENT_MB together."""
    count, size = 0, 0
    for cell in cells:
        attached = cell.get("attachments") if isinstance(cell, dict) else None
        if not attached:
            continue
        count += len(attached) if isinstance(attached, dict) else 1  # not a mapping: nbformat's validation says so
        size += len(json.dumps(attached))
        if count > MAX_ATTACHMENTS:
            raise NotebookRefused(f"{name} holds more than {MAX_ATTACHMENTS} attachments (images pasted into cells)")
        if size > MAX_ATTACHMENT_MB << 20:
            raise NotebookRefused(
                f"{name} holds more than {MAX_ATTACHMENT_MB} MB of attachments (images pasted into cells)"
            )
