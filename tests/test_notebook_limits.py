"""The limits a submitted notebook is read within (`notebook_limits`), alone and without kernels: size, nesting
measured before parsing, cells, cell text, attachments and outputs. `test_untrusted_inputs.py` fails a student
over one of them; `test_hostile.py` grades such notebooks in a real class."""

from __future__ import annotations

import json
import time

import pytest

from lrcourse import notebook_limits
from lrcourse.json_scan import nesting_exceeds, scan_json
from lrcourse.notebook_limits import MAX_DEPTH, NotebookRefused, read_notebook

from support.oversized import RELEASE, nested, with_attachments
from support.paths import ROOT


# --------------------------------------------------------------------------------------------
# notebook_limits
# --------------------------------------------------------------------------------------------
def exceeds(data: bytes) -> bool | None:
    return nesting_exceeds(data, MAX_DEPTH)


def test_nesting_is_measured_without_parsing():
    assert exceeds(nested(64).encode()) is False
    assert exceeds(nested(65).encode()) is True
    mixed = '{"a": [{"b": ' * 32 + "1" + "}]" * 32 + "}"  # 65 levels, objects and lists alternating
    assert exceeds(("{" + mixed[1:]).encode()) is True
    assert exceeds(('{"a": ' * 32 + "1" + "}" * 32).encode()) is False
    siblings = "[" + ",".join([nested(60)] * 1000) + "]"  # wide, not deep
    assert exceeds(siblings.encode()) is False


def test_brackets_inside_strings_do_not_count_and_unbalanced_text_is_refused():
    quoted = json.dumps({"source": "[" * 10_000 + '\\" {{ ' + "]" * 3})
    assert exceeds(quoted.encode()) is False
    assert exceeds(b"[" * 100 + b"]") is True
    assert exceeds(b"[[[]") is None
    assert exceeds(b"]]][[[") is None
    assert exceeds(b'"unterminated ' + b"[" * 100) is False  # in its string: the parser rejects it


def test_an_escaped_quote_flood_is_scanned_in_linear_time():
    start = time.monotonic()
    assert exceeds(b'"' + b'\\"' * 5_000_000) is False
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


@pytest.mark.parametrize("added", [10_000, 100_000])
def test_many_cells_are_refused_quickly(tmp_path, added):
    """10,000 empty cells are within the count of JSON values and the cell count refuses them; the issue's 100,000
    (7 MB) are past the count of values, refused before parsing, with what counts and what to do."""
    cell = '{"cell_type": "markdown", "id": "c", "metadata": {}, "source": ""}, '
    path = tmp_path / "many.ipynb"
    path.write_text(RELEASE.read_text().replace('"cells": [', '"cells": [' + cell * added, 1))
    start = time.monotonic()
    count = len(json.loads(RELEASE.read_text())["cells"]) + added
    reason = (
        f"{count} cells, more than 1000"
        if added == 10_000
        else "more than 1,000,000 JSON values \\(every cell, its metadata .*remove cells you added"
    )
    with pytest.raises(NotebookRefused, match=reason):
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
    with pytest.raises(NotebookRefused, match="holds an integer of more than 4,300 digits, which no notebook"):
        read_notebook(digits)  # valid JSON: not called invalid, nor told to raise Python's limit (r20e N4)


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


def chapter_notebooks() -> list:
    return sorted([*ROOT.glob("notebooks/*/*.ipynb"), *ROOT.glob("solutions/*/*.ipynb")])


def test_a_million_small_metadata_values_are_refused_before_parsing_and_the_chapters_are_far_below(tmp_path):
    """3 million values in cell metadata (44 MB) cost the grading command 112 s and 3.1 GB; counted on the raw
    bytes they are refused in seconds. The chapters hold at most a thirtieth of the cap."""
    raw = json.loads(RELEASE.read_text())
    raw["cells"][0]["metadata"]["x"] = [{"a": index} for index in range(1_000_000)]
    path = tmp_path / "meta.ipynb"
    path.write_text(json.dumps(raw))
    start = time.monotonic()
    with pytest.raises(NotebookRefused, match="more than 1,000,000 JSON values"):
        read_notebook(path)
    assert time.monotonic() - start < 5
    quoted = json.dumps({"source": ",:" * 300_000})  # separators inside a string are text, not values
    assert scan_json(quoted.encode(), MAX_DEPTH) == (False, 2)  # its "{" and its ":"
    for chapter in chapter_notebooks():
        separators = scan_json(chapter.read_bytes(), MAX_DEPTH)[1]
        assert separators < notebook_limits.MAX_JSON_VALUES // 30, (chapter, separators)
        read_notebook(chapter)


@pytest.mark.parametrize(
    "where, size, why", [("cell", 65 << 10, "cell 1 holds more than 64 kB"), ("notebook", 1 << 20, "more than 1024 kB")]
)
def test_metadata_past_its_limits_is_refused(tmp_path, where, size, why):
    raw = json.loads(RELEASE.read_text())
    target = raw["cells"][0] if where == "cell" else raw
    target["metadata"]["note"] = "x" * size  # one value: only the bytes are over
    path = tmp_path / "meta.ipynb"
    path.write_text(json.dumps(raw))
    with pytest.raises(NotebookRefused, match=f"{why} of metadata"):
        read_notebook(path)


def test_the_chapters_metadata_is_far_below_its_limits():
    """nbgrader's and JupyterLab's metadata, and the saved widget state of the solutions (168 kB), pass."""
    for chapter in chapter_notebooks():
        raw = json.loads(chapter.read_text())
        cells = [len(json.dumps(cell.get("metadata", {}))) for cell in raw["cells"]]
        assert max(cells) < notebook_limits.MAX_CELL_METADATA_KB << 7, chapter  # a eighth of the cap
        assert sum(cells) + len(json.dumps(raw["metadata"])) < notebook_limits.MAX_METADATA_KB << 8, chapter


def test_one_attachment_name_of_many_mimetypes_counts_each_image(tmp_path):
    """`{"i.png": {mimetype: image, ...}}` is one name yet as many objects as mimetypes: 500,000 cost 52 s."""
    raw = json.loads(RELEASE.read_text())
    markdown = next(cell for cell in raw["cells"] if cell["cell_type"] == "markdown")
    markdown["attachments"] = {"i.png": {f"a/{index}": "" for index in range(101)}}
    path = tmp_path / "pasted.ipynb"
    path.write_text(json.dumps(raw))
    with pytest.raises(NotebookRefused, match="more than 100 attachments"):
        read_notebook(path)
    markdown["attachments"] = {"i.png": {f"a/{index}": "" for index in range(100)}}
    path.write_text(json.dumps(raw))
    assert read_notebook(path)["cells"]


def test_values_that_nesting_makes_without_separators_count_too(tmp_path):
    """`[[[]]]` is three values and no separator: 150,000 chains of ten empty lists (3 MB) were 1.5 million values
    that a count of `,` and `:` saw as 150,000 (an attacker's 8.5 million passed it: 46 s and 2.4 GB)."""
    chains = "[" + ",".join(["[" * 10 + "]" * 10] * 150_000) + "]"
    text = RELEASE.read_text().replace('"metadata": {', '"metadata": {"x": ' + chains + ",", 1)
    path = tmp_path / "nested.ipynb"
    path.write_text(text)
    assert scan_json(text.encode(), MAX_DEPTH)[1] > notebook_limits.MAX_JSON_VALUES
    with pytest.raises(NotebookRefused, match="more than 1,000,000 JSON values"):
        read_notebook(path)


@pytest.mark.parametrize("where", ["source", "metadata", "key"])
def test_a_lone_surrogate_is_refused_and_a_pair_is_read(tmp_path, where):
    """F6: a `\\ud800` escape in a written answer or metadata parsed, then nbgrader could not write the graded
    notebook back (no feedback, formgrader's page 500): refused with the reason. An emoji escaped as a pair is text."""
    raw = json.loads(RELEASE.read_text())
    cell = raw["cells"][0]
    if where == "source":
        cell["source"] = "my answer \ud800"
    elif where == "metadata":
        cell["metadata"]["note"] = "\udcff"
    else:
        raw["metadata"]["\udfff"] = 1
    path = tmp_path / "answer.ipynb"
    path.write_text(json.dumps(raw))
    with pytest.raises(NotebookRefused, match="lone surrogate"):
        read_notebook(path)
    cell.update(source="a pair \U0001f600", metadata={})
    raw["metadata"].pop("\udfff", None)
    path.write_text(json.dumps(raw))
    assert read_notebook(path)["cells"][0]["source"] == "a pair \U0001f600"
