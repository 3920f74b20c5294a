"""A notebook that fails nbformat's schema is refused on the schema's compiled check alone (r20ao 1): nbformat then
searches the error again with jsonschema for a better message, about a millisecond an output, and one notebook of
40,500 outputs held collect (which reads it) 30 s for the class; one of 97,200, 84 s. A valid notebook still goes
through nbformat's own checks (cell ids...). The cost is in the README, measured, not asserted here."""

from __future__ import annotations

import json

import nbformat
import pytest

from lrcourse.grading import intake


def many_outputs() -> dict:
    notebook = nbformat.v4.new_notebook()
    for index in range(50):
        cell = nbformat.v4.new_code_cell("x", id=f"c{index}")
        cell.outputs = [nbformat.v4.new_output("error", ename="E", evalue="v", traceback=["t"]) for _ in range(20)]
        notebook.cells.append(cell)
    return json.loads(nbformat.writes(notebook))


@pytest.mark.parametrize("broken", ["a key no cell has", "an output type nbformat has not"])
def test_a_schema_error_is_refused_without_nbformats_error_search(monkeypatch, broken):
    raw = many_outputs()
    if broken == "a key no cell has":
        raw["cells"][-1]["extra"] = 1
    else:
        raw["cells"][-1]["outputs"][-1]["output_type"] = "bogus"

    def searched(*args, **kwargs):
        raise AssertionError("nbformat's validate (and its jsonschema error search) ran on a refused notebook")

    monkeypatch.setattr(nbformat, "validate", searched)
    said = intake.not_nbformat_4("n.ipynb", raw)
    assert (
        said
        == "n.ipynb is not a valid notebook: data.cells[49] must be valid exactly by one definition (0 matches found)"
    )


def test_a_valid_notebook_still_passes_nbformats_own_checks(monkeypatch):
    raw = many_outputs()
    assert intake.not_nbformat_4("n.ipynb", raw) is None
    checked = []
    validate = nbformat.validate
    monkeypatch.setattr(nbformat, "validate", lambda notebook: checked.append(1) or validate(notebook))
    assert intake.not_nbformat_4("n.ipynb", raw) is None and checked  # reads and validate both check
