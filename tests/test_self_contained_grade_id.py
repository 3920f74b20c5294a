"""A function answer's self-contained check reads the notebook that holds its own answer cell (C25, after R23o M1):
`expect_self_contained` is given the answer's grade_id, as the data answers' checks are, so a folder named after
another chapter, holding that chapter's notebook, does not make it judge the answer by the other chapter's context
cells. A real IPython shell in the folder, running chapter 4's setup, context and visible test cells."""

from __future__ import annotations

import shutil

import nbformat
import pytest

from lrcourse import cells
from lrcourse.grading.source_files import chapter_notebook

from support.paths import ROOT
from support.saved_cells import failures, save_answer_cell, start_reading_kernel

CHAPTER, VARIABLE, OTHER = "04_custom_schedules", "recipe_from_rates", "02_ordered_schedules"


def solution(chapter: str, grade_id: str) -> str:
    notebook = nbformat.read(ROOT / "source" / chapter / chapter_notebook(ROOT, chapter), as_version=4)
    return next(cell.source for cell in notebook.cells if cells.is_solution(cell) and cell.get("id") == grade_id)


@pytest.mark.parametrize("session", [True, False])
def test_a_function_answer_in_a_folder_named_after_another_chapter_is_judged_by_its_own(tmp_path, monkeypatch, session):
    """Chapter 4's notebook in a folder named `02_ordered_schedules`, chapter 2's notebook beside it: the honest
    `recipe_from_rates`, which reads chapter 4's `math`, was refused ("uses math, which neither that cell nor a saved
    answer cell above it defines": chapter 2's context was read)."""
    from IPython.core.interactiveshell import InteractiveShell

    folder = tmp_path / OTHER
    folder.mkdir()
    shutil.copy(ROOT / "notebooks" / OTHER / chapter_notebook(ROOT, OTHER), folder)
    notebook = chapter_notebook(ROOT, CHAPTER)
    try:
        run, tests = start_reading_kernel(folder, monkeypatch, CHAPTER, notebook, VARIABLE)
        if session:
            assert run(f"__session__ = {str(folder / notebook)!r}") is None  # as ipykernel sets it
        answer = solution(CHAPTER, VARIABLE)
        save_answer_cell(folder / notebook, VARIABLE, answer)
        assert run(answer, new_cell=True) is None
        assert failures(run, tests) == []
    finally:
        InteractiveShell.clear_instance()


def test_every_grade_id_a_check_passes_is_an_answer_cell_of_the_course():
    """The grade_ids the checks hand `expect_self_contained` (directly, through `observe`, or `schedulers.ANSWER_CELLS`)
    name answer cells: a misspelt one would make `saved_notebooks` pass over the chapter's own notebook."""
    import ast

    from lrcourse.checking.schedulers import ANSWER_CELLS

    answers = set()
    for path in (ROOT / "source").glob("*/*.ipynb"):
        answers |= {cells.grade_id(cell) for cell in nbformat.read(path, as_version=4).cells if cells.is_answer(cell)}
    passed = set(ANSWER_CELLS.values())
    for path in (ROOT / "lrcourse" / "checking").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            called = getattr(node, "func", None)
            name = getattr(called, "id", getattr(called, "attr", ""))
            at = {"expect_self_contained": 1, "observe": 3}.get(name) if isinstance(node, ast.Call) else None
            if at is not None and len(node.args) > at and isinstance(node.args[at], ast.Constant):
                passed.add(node.args[at].value)
    assert len(passed) >= 7 and passed <= answers, passed - answers
