"""The limits a submitted notebook is read within (`notebook_limits`), alone and without kernels: size, nesting
measured before parsing, cells, cell text, attachments and outputs. `test_untrusted_inputs.py` fails a student
over one of them; `test_hostile.py` grades such notebooks in a real class."""

from __future__ import annotations

import json
import time

import pytest

from lrcourse.grading import notebook_limits
from lrcourse.grading.notebook_limits import NotebookRefused, nesting_exceeds, read_notebook

from support.oversized import RELEASE, nested, with_attachments
from support.paths import ROOT


# --------------------------------------------------------------------------------------------
# notebook_limits
# --------------------------------------------------------------------------------------------
def test_nesting_is_measured_without_parsing():
    assert nesting_exceeds(nested(64).encode()) is False
    assert nesting_exceeds(nested(65).encode()) is True
    mixed = '{"a": [{"b": ' * 32 + "1" + "}]" * 32 + "}"  # 65 levels, objects and lists alternating
    assert nesting_exceeds(("{" + mixed[1:]).encode()) is True
    assert nesting_exceeds(('{"a": ' * 32 + "1" + "}" * 32).encode()) is False
    siblings = "[" + ",".join([nested(60)] * 1000) + "]"  # wide, not deep
    assert nesting_exceeds(siblings.encode()) is False


def test_brackets_inside_strings_do_not_count_and_unbalanced_text_is_refused():
    quoted = json.dumps({"source": "[" * 10_000 + '\\" {{ ' + "]" * 3})
    assert nesting_exceeds(quoted.encode()) is False
    assert nesting_exceeds(b"[" * 100 + b"]") is True
    assert nesting_exceeds(b"[[[]") is None
    assert nesting_exceeds(b"]]][[[") is None
    assert nesting_exceeds(b'"unterminated ' + b"[" * 100) is False  # in its string: the parser rejects it


def test_an_escaped_quote_flood_is_scanned_in_linear_time():
    start = time.monotonic()
    assert nesting_exceeds(b'"' + b'\\"' * 5_000_000) is False
    assert time.monotonic() - start < 5


def test_the_release_reads_as_json(tmp_path):
    raw = read_notebook(RELEASE)
    assert raw["nbformat"] == 4 and len(raw["cells"]) > 10


def test_a_deeply_nested_notebook_is_refused_before_json_parses_it(tmp_path):
    path = tmp_path / "deep.ipynb"
    text = RELEASE.read_text().replace('"metadata": {', '"metadata": {"deep": ' + nested(200_000) + ",", 1)
    path.write_text(text)
    with pytest.raises(NotebookRefused, match="nested more than 64 levels"):
        read_notebook(path)


def test_a_hundred_thousand_cells_are_refused_quickly(tmp_path):
    cell = '{"cell_type": "markdown", "id": "c", "metadata": {}, "source": ""}, '
    path = tmp_path / "many.ipynb"
    path.write_text(RELEASE.read_text().replace('"cells": [', '"cells": [' + cell * 100_000, 1))
    start = time.monotonic()
    count = len(json.loads(RELEASE.read_text())["cells"]) + 100_000
    with pytest.raises(NotebookRefused, match=f"{count} cells, more than 1000"):
        read_notebook(path)
    assert time.monotonic() - start < 5  # nbgrader took minutes on it


def test_size_outputs_and_unconvertible_numbers_are_refused(tmp_path):
    big = tmp_path / "big.ipynb"
    with open(big, "wb") as handle:  # sparse: its size is never read
        handle.truncate((notebook_limits.MAX_NOTEBOOK_MB << 20) + 1)
    with pytest.raises(NotebookRefused, match="larger than 50 MB"):
        read_notebook(big)
    raw = json.loads(RELEASE.read_text())
    code = next(cell for cell in raw["cells"] if cell["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * (21 << 20)}]
    printed = tmp_path / "printed.ipynb"
    printed.write_text(json.dumps(raw))
    with pytest.raises(NotebookRefused, match="more than 20 MB of outputs"):
        read_notebook(printed)
    code["outputs"] = []
    markdown = next(cell for cell in raw["cells"] if cell["cell_type"] == "markdown")
    markdown["source"] = "[a link](https://example.org/x) " * 40_000  # formgrader would render it in the server
    written = tmp_path / "written.ipynb"
    written.write_text(json.dumps(raw))
    with pytest.raises(NotebookRefused, match="more than 1 MB of cell text"):
        read_notebook(written)
    markdown["source"] = "[a](" * 40_000  # 160 kB: about 5 s of markdown rendering a page view
    written.write_text(json.dumps(raw))
    with pytest.raises(NotebookRefused, match="more than 128 kB of markdown"):
        read_notebook(written)
    assert read_notebook(RELEASE)["cells"]
    digits = tmp_path / "digits.ipynb"
    digits.write_text('{"nbformat": ' + "9" * 100_000 + "}")
    with pytest.raises(NotebookRefused, match="not valid JSON"):
        read_notebook(digits)


@pytest.mark.parametrize(
    "count, each, why",
    [
        (2, 9 << 19, "more than 8 MB of attachments"),  # two pasted images of 4.5 MB: 9 MB in a 9 MB file
        (101, 10, "more than 100 attachments"),  # tiny ones, each an object nbgrader validates
    ],
)
def test_attachments_past_their_limits_are_refused_though_the_file_is_within_its_size(tmp_path, count, each, why):
    path = tmp_path / "pasted.ipynb"
    path.write_text(json.dumps(with_attachments(count, each)))
    assert path.stat().st_size < notebook_limits.MAX_NOTEBOOK_MB << 20
    with pytest.raises(NotebookRefused) as refused_here:
        read_notebook(path)
    assert str(refused_here.value) == f"pasted.ipynb holds {why} (images pasted into cells)"


def test_attachments_within_their_limits_are_read_and_the_chapters_hold_none(tmp_path):
    """100 pasted images of 80 kB (7.8 MB) are read; the release and the solutions hold no attachment at all."""
    path = tmp_path / "pasted.ipynb"
    path.write_text(json.dumps(with_attachments(100, 80_000)))
    assert sum(len(cell.get("attachments", {})) for cell in read_notebook(path)["cells"]) == 100
    for chapter in sorted([*ROOT.glob("notebooks/*/*.ipynb"), *ROOT.glob("solutions/*/*.ipynb")]):
        assert not any("attachments" in cell for cell in json.loads(chapter.read_text())["cells"]), chapter
