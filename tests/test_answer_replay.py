"""A plain-data answer that a later cell changed in place, one verdict in the kernel and in the grade (issue 23, R23s):
the grader runs the answer cell alone, so the kernel's checks judge what that cell gives, not a value a scratch cell
below it changed. A real IPython shell, as in a learner's kernel."""

from pathlib import Path

import pytest

from lrcourse import checking

from support.answer_process import graders_namespace
from support.saved_cells import learners_run


def _kernel_with(tmp_path, monkeypatch, notebook: str):
    """A real IPython shell whose working folder holds the chapter's notebook (its context cells), and its `run`: a
    cell as the kernel runs it, kept in its history (`In`); one that assigns the answer is typed in the answer cell
    and saved, unless `new_cell` (`support.saved_cells`)."""
    import shutil

    from IPython.core.interactiveshell import InteractiveShell

    from lrcourse.build import ROOT

    shutil.copy(ROOT / "notebooks" / notebook, tmp_path)
    monkeypatch.chdir(tmp_path)
    shell = InteractiveShell.instance()
    return shell, learners_run(shell, tmp_path / Path(notebook).name)  # an answer typed in its cell, saved


def test_a_plain_data_answer_a_later_cell_changed_in_place_fails_in_the_kernel(tmp_path, monkeypatch):
    """R23s (issue 23): `inferred_step_lr["gamma"] = 0.7` in a scratch cell below a wrong answer cell passed every
    check in the kernel, which judged the changed value, and lost the point in the grade, which runs the answer cell
    alone. The kernel runs a plain answer cell again on its own and compares; a right answer written plainly passes,
    and so does a later cell that reads it, or puts a key back in another order (the grader reads the same dict)."""
    from IPython.core.interactiveshell import InteractiveShell

    from lrcourse.checking.step_lr_reading import check_step_reading

    cell = 'inferred_step_lr = {"step_size": 5, "gamma": 0.5, "hand_set_rate": 0.25}\n'
    assert graders_namespace(cell)["inferred_step_lr"]["gamma"] == 0.5
    shell, run = _kernel_with(tmp_path, monkeypatch, "02_ordered_schedules/ordered_schedules.ipynb")
    try:
        run(cell)
        for change in ('inferred_step_lr["gamma"] = 0.7', "inferred_step_lr.update(gamma=0.7)"):
            run(change)  # a scratch cell below the answer
            assert shell.user_ns["inferred_step_lr"]["gamma"] == 0.7
            with pytest.raises(checking.CheckFailed, match="A later cell changed inferred_step_lr in place.*Put the"):
                check_step_reading(shell.user_ns["inferred_step_lr"], "gamma", 0.7, "")
        run(cell.replace("0.5", "0.28 / 0.4"))  # right, written plainly
        run("print(inferred_step_lr)")
        run('inferred_step_lr["gamma"] = inferred_step_lr.pop("gamma")')  # the same values, another order
        check_step_reading(shell.user_ns["inferred_step_lr"], "gamma", 0.7, "")
        run(
            'inferred_step_lr |= {"gamma": 0.7}', new_cell=True
        )  # in place too, and it assigns the name: reads it first
        with pytest.raises(checking.CheckFailed, match="reads inferred_step_lr before assigning it"):
            check_step_reading(shell.user_ns["inferred_step_lr"], "gamma", 0.7, "")
    finally:
        InteractiveShell.clear_instance()


def test_an_answer_cell_that_is_not_plain_data_is_read_for_a_later_change_in_place(tmp_path, monkeypatch):
    """R23s: an answer cell that calls a method (`str.split`) is not run again in the kernel; the cells run after it are
    read for a statement that changes the answer in place, and one fails the check. A later cell that only reads the
    answer, or changes another name, passes."""
    from IPython.core.interactiveshell import InteractiveShell

    from lrcourse.checking.answer_replay import plain_cell
    from lrcourse.checking.plateau_reading import check_diagnosis_form

    cell = 'diagnosed_loops = dict(zip("ABCD", "training loss|one epoch late|accuracy|correct".split("|")))\n'
    assert not plain_cell(cell)
    shell, run = _kernel_with(tmp_path, monkeypatch, "03_adaptive_schedules/adaptive_schedules.ipynb")
    try:
        run(cell)
        run("seen = dict(diagnosed_loops)\nseen['A'] = 'correct'\nprint(sorted(diagnosed_loops))")
        check_diagnosis_form(shell.user_ns["diagnosed_loops"])
        run('diagnosed_loops["A"], diagnosed_loops["D"] = "correct", "training loss"')
        with pytest.raises(checking.CheckFailed, match="A later cell changed diagnosed_loops in place"):
            check_diagnosis_form(shell.user_ns["diagnosed_loops"])
    finally:
        InteractiveShell.clear_instance()


def test_a_later_cell_that_changes_what_the_answer_reads_is_named_in_the_message(tmp_path, monkeypatch):
    """R23x: a right answer computed from the chapter's log, then a what-if cell that edits the log in place: the
    answer's cell run again gives another value than the answer holds. The message names the log as well as the
    answer (the answer itself was not touched) and says to run the notebook again from the top."""
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    from lrcourse.build import ROOT
    from lrcourse.checking.step_lr_reading import check_step_reading

    notebook = nbformat.read(ROOT / "notebooks/02_ordered_schedules/ordered_schedules.ipynb", as_version=4)
    log = next(cell.source for cell in notebook.cells if cell.get("id") == "read-log")
    cell = 'inferred_step_lr = {"step_size": 5, "gamma": logged_rates[5] / logged_rates[0], "hand_set_rate": 0.25}\n'
    shell, run = _kernel_with(tmp_path, monkeypatch, "02_ordered_schedules/ordered_schedules.ipynb")
    try:
        run(log)
        run(cell)
        check_step_reading(shell.user_ns["inferred_step_lr"], "gamma", 0.7, "")
        run("logged_rates[0] = 0.5")  # a what-if cell below the answer
        with pytest.raises(checking.CheckFailed, match=r"or changed what its cell reads \(logged_rates.*from the top"):
            check_step_reading(shell.user_ns["inferred_step_lr"], "gamma", 0.7, "")
    finally:
        InteractiveShell.clear_instance()
