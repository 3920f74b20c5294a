"""A reading exercise's answer cell as a learner writes and saves it: its visible checks read the answer cell of the
notebook saved in the kernel's folder, the cell the grader runs (lrcourse.checking.saved_answer)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from lrcourse import cells, kernel_messages
from lrcourse.checking.saved_answer import as_python, assigns

from support.paths import ROOT

READING_ANSWERS = ("inferred_step_lr", "inferred_plateau_arguments", "diagnosed_loops")


def save_answer_cell(notebook: str | Path, variable: str, text: str) -> None:
    """Write `text` into the answer cell `variable` (its grade_id) of the saved `notebook`, as JupyterLab saves it."""
    saved = nbformat.read(notebook, as_version=4)
    cell = next(c for c in saved.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == variable)
    cell.source = text
    nbformat.write(saved, notebook)


def learners_run(shell, notebook: str | Path):
    """`run(cell, new_cell=False)`: `cell` run as the kernel runs it (kept in its history, `In`), returning the error it
    raised or None. A cell that assigns a reading's answer is typed in that answer cell and the notebook saved, as a
    learner does, unless `new_cell` (a cell added below, the saved answer cell left as it was)."""

    def run(cell: str, new_cell: bool = False):
        body = cell.split("\n", 1)[-1] if cell.startswith("%%") else cell  # a cell magic's body: what it would bind
        for variable in READING_ANSWERS if not new_cell else ():
            if assigns(as_python(body), variable):
                save_answer_cell(notebook, variable, cell)
        return shell.run_cell(cell, store_history=True).error_in_exec

    return run


def start_reading_kernel(folder: Path, monkeypatch, chapter: str, notebook: str, variable: str):
    """A real IPython shell (the instance: the caller clears it) working in `folder`, which holds the chapter's released
    `notebook`, its setup and context cells run; returns its `learners_run` and the visible test cells that read
    `variable`, the reading exercise's."""
    from IPython.core.interactiveshell import InteractiveShell

    shutil.copy(ROOT / "notebooks" / chapter / notebook, folder)
    monkeypatch.chdir(folder)
    released = nbformat.read(folder / notebook, as_version=4)
    InteractiveShell.clear_instance()  # one another test left would keep its first folder (`_dh[0]`), not this one
    shell = InteractiveShell.instance()
    kernel_messages.load_ipython_extension(shell)  # as the setup cell's first `import lrcourse` does in a kernel
    run = learners_run(shell, folder / notebook)
    for cell in released.cells:
        if cell.cell_type == "code" and (cell.get("id") == "setup" or cells.is_context(cell)):
            assert run(cell.source) is None, cell.source
    tests = [c.source for c in released.cells if cells.is_test(c) and variable in c.source]
    assert tests
    return run, tests


def failures(run, tests) -> list[str]:
    """The messages of the visible test cells that fail, as the notebook shows them."""
    errors = [run(test) for test in tests]
    return [str(error) for error in errors if error is not None]
