"""What the fidelity classes leave out of a catalogue student's submission (support/demonstrations.py): only code
cells nbgrader does not know, outside the context, that bind nothing a kept cell reads; never a graded, answer, test
or context cell. The fidelity classes grade the solution both ways and hold them alike (test_grading_fidelity.py)."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from lrcourse import cells
from lrcourse.build import chapters

from support.course import NOTEBOOK, solution_answers
from support.demonstrations import binds, cell_reads, instructor_sources, needed, strip_demonstrations
from support.gradedclass import ANSWERS
from support.paths import ROOT


def released_with(chapter: str, answers: dict[str, str]):
    notebook = nbformat.read(ROOT / "notebooks" / chapter / NOTEBOOK[chapter], as_version=4)
    for cell in notebook.cells:
        if cell.get("id") in answers:
            cell.source = answers[cell.id]
    return notebook


def submissions(chapter: str):
    """The chapter's solution and each of its catalogue answers, as the fidelity class submits them."""
    yield "solution", released_with(chapter, solution_answers(chapter))
    for answer in ANSWERS:
        if answer.chapter == chapter:
            yield answer.name, released_with(chapter, {answer.cell: answer.source})


@pytest.mark.parametrize("chapter", chapters())
def test_no_graded_answer_or_context_cell_and_nothing_a_kept_cell_reads_is_left_out(chapter):
    hidden = instructor_sources(chapter)
    for name, notebook in submissions(chapter):
        keep = needed(notebook.cells, hidden)
        kept = [cell for cell, k in zip(notebook.cells, keep) if k]
        left_out = [cell for cell, k in zip(notebook.cells, keep) if not k]
        assert all(cell.cell_type == "code" for cell in left_out), name
        assert not [cell.id for cell in left_out if cells.is_context(cell) or cells.nbgrader_metadata(cell)], name
        reads = set().union(*(cell_reads(cell, hidden) for cell in kept))
        needed_but_left = {cell.id: binds(cell) & reads for cell in left_out if binds(cell) & reads}
        assert needed_but_left == {}, name
        assert left_out, f"{chapter}: no demonstration left out of {name}"


def notebook_of(*sources: str, answer: str = "x = 1"):
    """A notebook of plain code cells, then an answer cell and a test cell that reads `needed`."""
    answer_cell = new_code_cell(answer, id="answer", metadata={"nbgrader": {"solution": True, "grade_id": "answer"}})
    test = new_code_cell(
        "assert needed()", id="test", metadata={"nbgrader": {"grade": True, "grade_id": "test", "points": 1}}
    )
    plain = [new_code_cell(source, id=f"c{i}") for i, source in enumerate(sources)]
    return new_notebook(cells=[new_markdown_cell("# title"), *plain, answer_cell, test])


def left_out(notebook, hidden=None) -> list[str]:
    keep = needed(notebook.cells, hidden or {})
    return [cell.id for cell, k in zip(notebook.cells, keep) if not k]


def test_a_cell_binding_what_a_kept_cell_reads_stays_and_so_does_what_it_reads():
    notebook = notebook_of("base = 2", "def needed():\n    return base", "shown = needed()", "print(shown)")
    assert left_out(notebook) == ["c2", "c3"]


def test_the_answer_and_the_hidden_tests_count_as_readers():
    notebook = notebook_of("def needed():\n    return True", "helper = 3", "secret = 4", answer="x = helper")
    assert left_out(notebook, {"test": "assert needed()\n### BEGIN HIDDEN TESTS\nassert secret\n"}) == []


def test_a_name_bound_in_a_function_of_its_own_is_not_a_read_of_the_notebook():
    notebook = notebook_of("def needed():\n    return True", "rate = 1", answer="def f(rate):\n    return rate")
    assert left_out(notebook) == ["c1"]


def test_a_cell_that_does_not_parse_stays_and_a_kept_one_that_does_not_reads_every_word():
    notebook = notebook_of("def needed():\n    return True", "%time x = 1", "later = 1", answer="y = later +")
    assert left_out(notebook) == []


def test_stripping_rewrites_the_file_without_what_it_leaves_out(tmp_path):
    chapter = "02_ordered_schedules"
    path = tmp_path / NOTEBOOK[chapter]
    nbformat.write(released_with(chapter, solution_answers(chapter)), path)
    removed = strip_demonstrations(path, chapter)
    ids = [cell.id for cell in nbformat.read(path, as_version=4).cells]
    assert removed and not set(removed) & set(ids)
    assert {"setup", "my_step_lr", "test_my_step_lr_one_group", "read-log"} <= set(ids)
