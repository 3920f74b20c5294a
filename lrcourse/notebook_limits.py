"""A submitted notebook read safely: the grader's own process parses what a student wrote, so the file's
size, its JSON nesting and number of values, its cell count, its metadata, attachments and outputs are bounded
before anything costly touches it.

The order matters: the size first (nothing is read past it), then the nesting and the number of values, measured on the
raw bytes without parsing (Python's JSON parser and everything after it recurse, and a file nested thousands deep made
the grader itself raise RecursionError; every value is an object to build and validate), then, once parsing is cheap and
shallow, the cells, their metadata, attachments and outputs (100,000 empty cells cost nbgrader minutes and gigabytes
outside the sandbox). A notebook over a limit is refused with a reason (`NotebookRefused`), which fails that student
only.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from lrcourse.json_scan import scan_json

MAX_NOTEBOOK_MB = 50
MAX_FOLDER_ENTRIES = 10_000  # names in one submission folder: collect reads no more (a name costs memory)
# A JSON escape of a surrogate (`\ud800`): alone, it is text no file can hold, and nbgrader's autograde then fails
# to write the graded notebook (no feedback; formgrader answers 500 for the submission)
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
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
# Every JSON value is an object that parsing, nbformat's validation and nbgrader's copies each pay for: 3 million
# small ones in 44 MB of cell metadata cost the grading command 112 s and 3.1 GB before any grading. The largest
# notebook of the release or solutions holds about 6,200 (solutions of chapter 2, widget state included). Saved
# outputs count too (a printed line is a value), so the cap leaves room for an honest notebook near the 20 MB of
# outputs allowed: a million values cost about 22 s and 1 GB, once, for that student only.
MAX_JSON_VALUES = 1_000_000
# Metadata (nbgrader's, JupyterLab's, tags) is a few hundred bytes a cell; the notebook's own holds the saved widget
# state, 168 kB in the solutions of chapter 2. A student writes none by hand.
MAX_CELL_METADATA_KB = 64
MAX_METADATA_KB = 1024  # the notebook's and its cells' together


class NotebookRefused(ValueError):
    """Why a submitted notebook is not read (the message names the file and the limit)."""


class PastLimit(NotebookRefused):
    """A notebook refused for its size (bytes, values, cells, text, metadata, attachments, outputs), not its form: an
    honest one can be past it (a long printed log, many plots), and the same notebook submitted again is refused
    again, so the student is told what to remove, not that it was a crash while saving (r20v M1)."""


def read_notebook(path: Path) -> dict:
    """The notebook at `path` as plain JSON, or NotebookRefused saying which limit it breaks."""
    size = path.lstat().st_size
    if size > MAX_NOTEBOOK_MB << 20:  # before reading it
        raise PastLimit(f"{path.name} is larger than {MAX_NOTEBOOK_MB} MB ({size >> 20} MB)")
    return parse_notebook(path.name, path.read_bytes())


def parse_notebook(name: str, data: bytes) -> dict:
    """The bytes `data` of the notebook file `name` as plain JSON, or NotebookRefused saying which limit it breaks."""
    if len(data) > MAX_NOTEBOOK_MB << 20:
        raise PastLimit(f"{name} is larger than {MAX_NOTEBOOK_MB} MB ({len(data) >> 20} MB)")
    deep, values = scan_json(data, MAX_DEPTH)
    if deep:
        raise NotebookRefused(f"{name} is nested more than {MAX_DEPTH} levels deep in its JSON")
    if values >= MAX_JSON_VALUES:
        raise PastLimit(
            f"{name} holds more than {MAX_JSON_VALUES:,} JSON values (every cell, its metadata and each line of its "
            "saved outputs count: clear the outputs, remove cells you added, and submit again)"
        )
    try:  # no deeper than MAX_DEPTH up to its first error, if any: the parser says where that is
        raw = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:  # bad UTF-8 or JSON, an integer of too many digits
        raise NotebookRefused(f"{name} {_unreadable(error)}") from None
    if deep is None:  # parsed, yet unbalanced: never seen, but nothing unmeasured goes on
        raise NotebookRefused(f"{name} is not valid JSON: its brackets do not balance")
    if SURROGATE_ESCAPE.search(data) and not whole_text(raw):
        raise NotebookRefused(
            f"{name} holds a lone surrogate (a \\ud800-\\udfff escape), text no file can hold: remove it and submit again"
        )
    check_cells(name, raw)
    return raw


def _unreadable(error: Exception) -> str:
    """Why the JSON parser stopped, in words: an integer too long for Python to read is valid JSON, but no notebook
    holds one (nbformat never writes one): say so rather than the interpreter's advice to raise its limit."""
    if isinstance(error, ValueError) and "integer string conversion" in str(error):
        return f"holds an integer of more than {sys.get_int_max_str_digits():,} digits, which no notebook holds"
    return f"is not valid JSON: {error}"


def whole_text(raw) -> bool:
    """Whether every string of the parsed notebook can be written as UTF-8 (a surrogate pair is one character)."""
    try:
        json.dumps(raw, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_cells(name: str, raw) -> None:
    """At most MAX_CELLS cells, MAX_SOURCE_MB of their text, the metadata's and attachments' limits and
    MAX_OUTPUT_MB of outputs in a parsed notebook."""
    found = raw.get("cells") if isinstance(raw, dict) else None
    if not isinstance(found, list):
        return  # not a notebook's shape: the caller's validation says so
    if len(found) > MAX_CELLS:
        raise PastLimit(f"{name} has {len(found)} cells, more than {MAX_CELLS}")
    text = prose = 0  # every cell's text, and that of markdown and raw cells
    for cell in (cell for cell in found if isinstance(cell, dict)):
        size = len(json.dumps(cell.get("source", "")))
        text += size
        prose += size if cell.get("cell_type") in ("markdown", "raw") else 0
    if text > MAX_SOURCE_MB << 20:
        raise PastLimit(f"{name} holds more than {MAX_SOURCE_MB} MB of cell text ({text >> 10} kB)")
    if prose > MAX_MARKDOWN_KB << 10:
        raise PastLimit(f"{name} holds more than {MAX_MARKDOWN_KB} kB of markdown ({prose >> 10} kB)")
    check_metadata(name, raw, found)
    check_attachments(name, found)
    budget = MAX_OUTPUT_MB << 20
    for cell in found:
        outputs = cell.get("outputs") if isinstance(cell, dict) else None
        if outputs:
            budget -= len(json.dumps(outputs))
            if budget < 0:
                raise PastLimit(f"{name} holds more than {MAX_OUTPUT_MB} MB of outputs")


def check_attachments(name: str, cells: list) -> None:
    """At most MAX_ATTACHMENTS attachments (images pasted into cells, one per name and mimetype) in all, of
    MAX_ATTACHMENT_MB together."""
    count, size = 0, 0
    for cell in cells:
        attached = cell.get("attachments") if isinstance(cell, dict) else None
        if not attached:
            continue
        count += attachment_count(attached)
        size += len(json.dumps(attached))
        if count > MAX_ATTACHMENTS:
            raise PastLimit(f"{name} holds more than {MAX_ATTACHMENTS} attachments (images pasted into cells)")
        if size > MAX_ATTACHMENT_MB << 20:
            raise PastLimit(f"{name} holds more than {MAX_ATTACHMENT_MB} MB of attachments (images pasted into cells)")


def attachment_count(attached) -> int:
    """The images in one cell's attachments: each name maps mimetypes to an image (a name of 500,000 mimetypes is
    500,000 objects to validate); anything not of that shape counts one, nbformat's validation refuses it."""
    if not isinstance(attached, dict):
        return 1
    return sum(len(bundle) if isinstance(bundle, dict) else 1 for bundle in attached.values())


def check_metadata(name: str, raw: dict, cells: list) -> None:
    """At most MAX_CELL_METADATA_KB of metadata in a cell, MAX_METADATA_KB in the notebook and its cells together."""
    total = len(json.dumps(raw.get("metadata", {})))
    for index, cell in enumerate(cells):
        size = len(json.dumps(cell.get("metadata", {}))) if isinstance(cell, dict) else 0
        if size > MAX_CELL_METADATA_KB << 10:
            raise PastLimit(
                f"{name}: cell {index + 1} holds more than {MAX_CELL_METADATA_KB} kB of metadata ({size >> 10} kB)"
            )
        total += size
    if total > MAX_METADATA_KB << 10:
        raise PastLimit(f"{name} holds more than {MAX_METADATA_KB} kB of metadata ({total >> 10} kB)")
