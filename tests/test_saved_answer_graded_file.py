"""The reading exercises' visible checks read the notebook the grader grades, the chapter's own (R23n W1, M2): nbgrader
grades only the notebooks of its gradebook and skips any other file of the student's folder, so an answer worked in a
JupyterLab Duplicate (`<name>-Copy1.ipynb`) scores 0 however well it runs, and a stale Duplicate beside the chapter's
notebook is never graded. A real IPython shell, as in a learner's kernel, in a folder named after the chapter, as
nbgrader fetches it."""

from __future__ import annotations

import shutil

import pytest

from lrcourse.checking import saved_answer
from lrcourse.grading.source_files import chapter_notebook

from catalogue import step_lr_reading
from support.paths import ROOT
from support.saved_cells import failures, learners_run, save_answer_cell, start_reading_kernel

CHAPTER, NOTEBOOK, VARIABLE = "02_ordered_schedules", "ordered_schedules.ipynb", "inferred_step_lr"
COPY = "ordered_schedules-Copy1.ipynb"


@pytest.fixture
def chapter(tmp_path, monkeypatch):
    """(the chapter's folder, named as nbgrader fetches it, with the released notebook and its stub Duplicate beside
    it; the `run` and visible test cells of a real IPython shell started there, its answers saved in the chapter's
    notebook)."""
    from IPython.core.interactiveshell import InteractiveShell

    folder = tmp_path / CHAPTER
    folder.mkdir()
    run, tests = start_reading_kernel(folder, monkeypatch, CHAPTER, NOTEBOOK, VARIABLE)
    shutil.copy(folder / NOTEBOOK, folder / COPY)  # File > Duplicate, the answer still the stub
    yield folder, run, tests
    InteractiveShell.clear_instance()


def test_an_answer_worked_in_a_duplicate_fails_naming_the_graded_notebook(chapter):
    """R23n W1: the answer saved and run in the Duplicate the kernel runs (`__session__` names it), the chapter's
    notebook still the stub: every visible cell passed and the grade was 0 of 3. The checks read the graded notebook,
    and say the kernel runs another; the same answer saved there passes."""
    from IPython.core.interactiveshell import InteractiveShell

    folder, _, tests = chapter
    in_copy = learners_run(InteractiveShell.instance(), folder / COPY)  # its answers saved in the Duplicate
    assert in_copy(f"__session__ = {f'{CHAPTER}/{COPY}'!r}") is None  # as ipykernel sets it from JPY_SESSION_NAME
    assert in_copy(step_lr_reading.ANSWER) is None
    said = failures(in_copy, tests)
    assert len(said) == len(tests), said
    for message in said:
        assert f"this kernel runs {COPY}; only {NOTEBOOK} is graded: write your answers there" in message, message
    save_answer_cell(folder / NOTEBOOK, VARIABLE, step_lr_reading.ANSWER)  # the answer put in the graded notebook
    assert failures(in_copy, tests) == []


def test_a_stale_duplicate_beside_the_graded_notebook_is_not_read_when_jupyter_names_none(chapter):
    """R23n M2: a kernel Jupyter names no notebook for (no JPY_SESSION_NAME: nbclient, plain jupyter_client) read every
    notebook of the folder, and the stub Duplicate failed an honest student with advice that could not help. The
    chapter's notebook, the one graded, is read alone when it is there."""
    folder, run, tests = chapter
    assert run(step_lr_reading.ANSWER) is None  # run and saved in the chapter's notebook
    assert failures(run, tests) == []
    save_answer_cell(folder / NOTEBOOK, VARIABLE, step_lr_reading.REPLAY + step_lr_reading.ANSWER)  # graded: 0
    said = failures(run, tests)
    assert len(said) == len(tests), said
    assert f"The answer cell of {VARIABLE} saved in {NOTEBOOK} uses PyTorch's schedulers" in said[0], said[0]


@pytest.mark.parametrize("name", sorted(path.name for path in (ROOT / "source").iterdir() if path.is_dir()))
def test_the_graded_name_is_the_graders_chapter_notebook(name):
    """`saved_answer.graded_name` (the checker may not import the grader) names the notebook the grader grades."""
    assert saved_answer.graded_name(str(ROOT / "notebooks" / name)) == chapter_notebook(ROOT, name)
    assert saved_answer.graded_name(f"/home/student/{name}/") == chapter_notebook(ROOT, name)


@pytest.mark.parametrize("session", [True, False])
def test_a_folder_named_after_another_chapter_reads_the_kernels_own_notebook(tmp_path, monkeypatch, session):
    """R23o M1: every chapter in one folder named `01_learning_rate` (self-study), chapter 1's notebook in it: the
    checks read chapter 1's notebook alone, the graded name of that folder, and failed an honest answer of chapter 2
    ("found no saved notebook"), with or without Jupyter naming the kernel's notebook. That notebook is read alone only
    when it holds the answer's cell; else the kernel's own, or every notebook there."""
    from IPython.core.interactiveshell import InteractiveShell

    other = "01_learning_rate"
    folder = tmp_path / other
    folder.mkdir()
    shutil.copy(ROOT / "notebooks" / other / chapter_notebook(ROOT, other), folder)
    try:
        run, tests = start_reading_kernel(folder, monkeypatch, CHAPTER, NOTEBOOK, VARIABLE)
        if session:
            assert run(f"__session__ = {str(folder / NOTEBOOK)!r}") is None  # as ipykernel sets it
        assert run(step_lr_reading.ANSWER) is None  # run and saved in the learner's chapter 2 notebook
        assert failures(run, tests) == []
        save_answer_cell(folder / NOTEBOOK, VARIABLE, step_lr_reading.REPLAY + step_lr_reading.ANSWER)  # graded: 0
        said = failures(run, tests)
        assert len(said) == len(tests) and f"saved in {NOTEBOOK} uses PyTorch's schedulers" in said[0], said
    finally:
        InteractiveShell.clear_instance()
