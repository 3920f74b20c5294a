"""`check_saved_notebook()`: the chapter's last cell runs the saved notebook as the grader does, on the visible tests.

The checks each test cell calls (`lrcourse.checking`, `check_self_contained`) look at the kernel's history and try to
predict what the grader will get from the saved answer cells; a prediction can be wrong (README: the checks' limits).
This is not a prediction. It reads the notebook as saved on disk, builds the chapter's exercise from it (its setup and
context cells, its answer cells, its visible test cells and their points: `lrcourse.cells`) and hands it to the
grader's own judge (`grading.autograde.verdicts.Judge`): a fresh Python process runs the setup and context cells, then
the saved answer cells, and nothing else of the notebook; each visible test cell runs against that process as it runs
in `lrcourse grade`. A scratch cell, a cell run and not saved, data changed in place since: none of them reaches it,
as none reaches the grader. What it does not do: run the hidden tests (`make check` in a checkout of the course does),
or use the instructor's copies of the test cells (a test cell edited in the notebook runs here as edited, and not in
the grade). The setup and context cells run are the chapter's own, as the grader runs the instructor's whatever the
saved notebook holds (`chapters_cells`; a line says which saved one differs, `context_notes`): from the checkout this
package is installed from, else, as on a hub's wheel, from the chapters' facts shipped with it (`chapter_facts`). Only a
notebook neither whose folder nor whose name is a chapter's runs its own saved ones (as edited: not as in the grade),
and so does one whose release is not the shipped facts' (`OTHER`: a wheel not rebuilt after a release, R23z M1).

Who trusts whom: nobody is protected from anybody here. The code run is the learner's own, in a process of the
learner's own, with the learner's rights and no sandbox (`Judge(limits=None)`, as `make check NO_SANDBOX=1` runs
it): what an answer cell does there it could as well do in the kernel. The grade is decided elsewhere, by the
grader's copy of this path in its sandbox; a learner who fools this check fools only themself. It writes nothing:
the notebook is read (`checking.saved_answer.read_notebook`: a regular file of its folder, never blocking), and the
answers' process works in an empty scratch folder of its own, as the grader's has none of the learner's files, with
the sandbox's environment (no variable of the kernel's). Not a sandbox: a file named by its absolute path, or a
package installed only in the learner's environment, still reaches it here and not in the grade. The
setup and context cells run again in the kernel's own process (the judge's side runs them there, as the grader's
process does), so what they set, such as the random seed, is set again.

Which notebook: the one the in-cell checks read (`saved_answer.notebook_paths`: the chapter's own when it is in the
kernel's folder, else the one Jupyter names, else the folder's only one holding answer cells), or the `path` given
(plain Python has no kernel to ask). What it prints: one line per visible test cell, in notebook order, then the
count; a problem that stops it (no saved notebook, one that does not read, an answers' process that does not start)
is one sentence saying what to do, printed, not raised: the cell itself never fails (Run All goes on). In the
grader's own run of the notebook (`lrcourse grade`, `lrcourse check`: a graded kernel, `GRADED_KERNEL_VARIABLE`) it
does nothing and imports nothing of the grader: the grader judges the answers itself, and a second judge would cost the
student's time budget.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lrcourse import cells, chapter_facts
from lrcourse.checking.saved_answer import (
    as_python,
    expect_no_magic,
    graded_name,
    kernel_notebook,
    kernel_shell,
    notebook_folder,
    notebook_paths,
    read_notebook,
)
from lrcourse.setup_failure import ASK, OTHER_RELEASE, context_failure, first_line

if TYPE_CHECKING:  # the grader's side is imported when the check runs, never in a graded kernel
    from lrcourse.grading.exercise import Exercise

SAVE = "save the notebook (Ctrl+S, or File > Save Notebook) and run this cell again"
HIDDEN = (
    "The hidden tests are not run here (`make check` in a checkout of the course runs them); a test cell that "
    "passes above but fails here will fail in the grade too: its message says which name."
)

NOT_ANSWERED = "NotImplementedError"
SETUP_RUN = "the chapter's setup cells"
# A notebook of no chapter known: the saved ones run, which the grader does not (R23y M2).
SAVED_SETUP_RUN = "your notebook's setup cells, which the grader replaces with the chapter's"
# The saved notebook's context digest is not the package's (`setup_failure.OTHER_RELEASE`).
OTHER = (
    f"  This notebook is {OTHER_RELEASE}: this check ran your notebook's own setup cells and the grader runs the "
    f"course's current ones, so the check may differ from the grade: {ASK}."
)
# A saved notebook of another release than the checkout's whose setup cells differ from the chapter's (R23c N5).
EARLIER_COPY = (
    "Your saved notebook is of another release of the chapter than this course's copy (the course changed since you "
    "copied the notebook?), and its setup cells are not the chapter's: the grader runs the chapter's own, and so does "
    "this check (if you added an import there, put it in your answer cell)."
)
GRADERS_RUN = "Not run in the grader's run of your notebook: the grader judges your saved answer cells itself."


class NotChecked(Exception):
    """Why the saved notebook could not be checked: one sentence saying what to do."""


def check_saved_notebook(path: str | os.PathLike | None = None) -> None:
    """Print, for each visible test cell of the saved notebook (the kernel's, or `path`), whether it passes when the
    notebook runs as the grader runs it, then the count; or one sentence saying why it could not run and what to do."""
    from lrcourse.widgets import GRADED_KERNEL_VARIABLE

    if os.environ.get(GRADED_KERNEL_VARIABLE) == "1":
        print(GRADERS_RUN)
        return
    try:
        lines = saved_notebook_report(path)
    except NotChecked as why:
        lines = [str(why)]
    print("\n".join(lines))


def saved_notebook_report(path: str | os.PathLike | None = None) -> list[str]:
    """The lines `check_saved_notebook` prints; NotChecked says why there are none."""
    notebook_path = os.fspath(path) if path is not None else kernel_saved_notebook()
    whole = read_notebook(notebook_path, whole=True)
    if isinstance(whole, str):
        raise NotChecked(f"The saved notebook could not be read: {whole}. {SAVE[0].upper()}{SAVE[1:]}.")
    found = whole["cells"]
    chapters_copy = chapters_cells(notebook_path, chapter_facts.notebook_digest(whole))
    chapter = saved_context(chapters_copy or [])
    exercise = saved_exercise(os.path.splitext(os.path.basename(notebook_path))[0], found, chapter or None)
    if not exercise.tests:
        raise NotChecked(
            f"{os.path.basename(notebook_path)} has no test cells to run: give the path of the chapter's notebook, "
            "check_saved_notebook('chapter.ipynb'), or run this cell from it."
        )
    answers = saved_answers(found)
    try:
        verdicts = judged(exercise, answers)
    except Exception as error:
        why = context_failure(error, exercise.context, bool(chapter), other=chapters_copy is None)
        if not why:
            raise
        raise NotChecked(why) from None
    lines = [f"Your saved notebook {os.path.basename(notebook_path)}, run as the grader runs it:"]
    own = kernel_notebook() if path is None else ""
    if own not in ("", os.path.basename(notebook_path)):  # a Duplicate open: the one graded is checked (R23n W1)
        lines[0] = f"This kernel runs {own}; the grader grades {os.path.basename(notebook_path)}, checked here:"
    lines[:0] = renamed(notebook_path) if path is None else []
    lines += [f"  {why}" for why in magic_notes(found, os.path.basename(notebook_path))]
    if chapters_copy is None:
        lines.append(OTHER)
    else:
        notes = context_notes(found, chapters_copy, chapter_facts.notebook_digest(whole))
        lines += [f"  {why}" for why in notes]
    passed = 0
    for test in exercise.tests:
        verdict = verdicts.cells[test.name]
        if verdict.trusted_score == verdict.points and not verdict.message:
            passed += 1
            lines.append(f"  {test.name}: passed")
        else:
            lines.append(f"  {test.name}: FAILED: {failure(verdict.message)}")
    lines.append(
        f"{passed} of {len(exercise.tests)} visible test cells pass on your saved notebook, run as the grader runs it "
        f"({SETUP_RUN if chapter else SAVED_SETUP_RUN}, then your answer cells, in a fresh Python; "
        "no other cell)."
    )
    lines.append(HIDDEN)
    return lines


def renamed(notebook_path: str) -> list[str]:
    """One line when the notebook checked is not the one the grader grades in a chapter's folder (`graded_name`: a
    notebook renamed, the chapter's own gone: R23w W3, the check said 4 of 4 and the grade was 0); else none. A
    chapter's folder is one named as a chapter (`chapter_facts.shipped`), not a copy of one (R23x M3)."""
    folder, name = os.path.dirname(os.path.abspath(notebook_path)), os.path.basename(notebook_path)
    graded = graded_name(folder)
    if name == graded or os.path.basename(folder) not in chapter_facts.shipped():  # no name known
        return []
    return [
        f"The grader grades {graded} only, and this folder has none: rename {name} back to {graded} "
        "(File > Rename Notebook), or your grade is 0. Checked here as if it were:"
    ]


def magic_notes(notebook_cells: list, notebook: str) -> list[str]:
    """For each saved answer cell whose IPython magics change what the grader gets (`%%time` over the answer: it
    defines nothing there), the in-cell checks' sentence saying so (`saved_answer.expect_no_magic`); the test cells
    then fail with a NameError that does not name the magic (R23w N3)."""
    from lrcourse.checking.expect import CheckFailed

    notes = []
    for cell in _cells(notebook_cells):
        if not cells.is_answer(cell):
            continue
        grade_id = cells.grade_id(cell) or ""
        try:
            source = as_python(cells.source(cell))
        except (SyntaxError, ValueError, MemoryError, RecursionError):  # the answers' process says why it fails
            continue
        for name in answer_names(cell, set()):
            try:
                expect_no_magic(source, name, f"The answer cell of {grade_id or name} saved in {notebook}")
            except CheckFailed as why:
                notes.append(str(why))
                break
    return notes


def chapters_notebook(notebook_path: str) -> str:
    """The chapter's own copy of the notebook at `notebook_path` in the course's checkout this package is installed
    from (`source/<chapter>/`, the instructor's, else the release's `notebooks/<chapter>/`: their setup and context
    cells are the same), found by the notebook's name or the one graded in its folder; "" outside a checkout, or where
    that copy is this very file (a learner working in the checkout's release)."""
    import glob
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    folder = os.path.dirname(os.path.abspath(notebook_path))
    names = dict.fromkeys((os.path.basename(notebook_path), graded_name(folder)))
    for tree in ("source", "notebooks"):
        for name in names:
            for found in sorted((root / tree).glob(f"*/{glob.escape(name)}")):
                if found.is_file() and not os.path.samefile(found, notebook_path):
                    return str(found)
    return ""


def chapters_cells(notebook_path: str, digest: str = "") -> list | None:
    """The chapter's own setup and context cells, read once: they are what the grader runs whatever the saved
    notebook's are (R23x M1: an import added to the saved setup cell passed here and scored 0). From the chapter's
    copy in the checkout this package is installed from (`chapters_notebook`), else from the facts shipped with the
    package (a hub's wheel has no checkout, R23y M1: `chapter_facts`, found by the notebook's name, else its folder);
    none where the chapter is not known (the saved notebook's then run); None where the saved notebook's `digest` of
    its context cells is not the facts' (a release other than the package's, R23z M1: the saved ones then run)."""
    chapter = chapters_notebook(notebook_path)
    own = read_notebook(chapter) if chapter else []
    if isinstance(own, list) and own:
        return own
    folder = os.path.dirname(os.path.abspath(notebook_path))
    names = list(dict.fromkeys((os.path.basename(notebook_path), graded_name(folder))))
    facts = chapter_facts.shipped()  # read once
    fact = facts.get(chapter_facts.chapter_of(os.path.basename(folder), names, facts), {})
    if fact and digest and digest != fact.get("digest"):
        return None
    return chapter_facts.context_cells(fact)


def context_notes(notebook_cells: list, own: list, digest: str = "") -> list[str]:
    """One line for each setup or context cell of the saved notebook that is not the chapter's (`chapters_notebook`),
    edited or gone: the grader runs the chapter's own, so an import added there and used in an answer scores 0 while
    it passes here (R23w W2); none when the chapter's cells, `own` (`chapters_cells`), are not known. A notebook whose
    `digest` (its metadata's) is not that of `own` is of another release: the course changed those cells since it was
    copied, not the learner (R23c N5: a self-study notebook copied before a `git pull` was told "what you changed")."""
    saved = {cell.get("id"): cells.source(cell).strip() for cell in _cells(notebook_cells) if cells.is_context(cell)}
    notes = []
    for cell in _cells(own):
        named = "setup cell" if cell.get("id") == "setup" else f"context cell that starts `{first_line(cell)}`"
        if cells.is_context(cell) and cell.get("id") not in saved:  # deleted, or pasted back as a new cell (R23x M2)
            notes.append(
                f"Your saved notebook has no {named} of the chapter's (deleted, pasted back as a new cell, or your "
                "notebook is of an earlier release): the grader runs the chapter's own, and so does this check (an "
                "import added there: put it in your answer cell)."
            )
        elif cells.is_context(cell) and saved[cell.get("id")] != cells.source(cell).strip():
            notes.append(
                f"Your saved notebook's {named} is not the chapter's: the grader runs the chapter's own, not yours, "
                "and so does this check: what you changed there is not in the grade (an import added there: put it in "
                "your answer cell)."
            )
    if notes and digest and digest != chapter_facts.context_digest(chapter_facts.context_of(_cells(own))):
        return [EARLIER_COPY]  # the course changed them since the notebook was copied, maybe not the learner
    return notes


def failure(message: str) -> str:
    """A failed verdict's first line as the learner reads it: an answer cell still as released raises a bare
    NotImplementedError, said as what it means."""
    message = message.strip().removesuffix(":")
    return f"{message} (an answer cell still as released: not answered yet)" if message == NOT_ANSWERED else message


def kernel_saved_notebook() -> str:
    """The path of the saved notebook of the running kernel, as the in-cell checks find it; NotChecked if none."""
    shell = kernel_shell()
    if shell is None:
        raise NotChecked(
            "No notebook kernel runs this: give the path of the saved notebook, "
            "check_saved_notebook('path/to/chapter.ipynb')."
        )
    folder = notebook_folder(shell)
    paths = notebook_paths(shell)
    read = {path: read_notebook(path) for path in paths}
    readable = [path for path, found in read.items() if not isinstance(found, str)]
    chosen = [path for path in readable if any(map(cells.is_answer, read[path]))] or readable
    if len(chosen) == 1:
        return chosen[0]
    if not chosen:
        why = "; ".join(found for found in read.values() if isinstance(found, str))
        raise NotChecked(
            f"Found no saved notebook in {folder}{f' ({why})' if why else ''}: {SAVE}, or give its path, "
            "check_saved_notebook('path/to/chapter.ipynb')."
        )
    names = ", ".join(os.path.basename(path) for path in chosen)
    own = kernel_notebook(shell)
    raise NotChecked(
        f"{folder} holds several notebooks ({names}) and none is named {graded_name(folder)}, the one graded: give the "
        f"path of the one to check, check_saved_notebook('{own or os.path.basename(chosen[0])}')."
    )


def saved_exercise(name: str, notebook_cells: list, context: list[str] | None = None) -> Exercise:
    """The exercise as the grader builds it (`grading.exercise`), from the saved notebook: its context and answer
    cells, and its test cells as saved (the visible part, in notebook order, with nbgrader's points); `context`: the
    chapter's own setup and context cells in place of the saved ones."""
    from dataclasses import replace

    from lrcourse.grading.exercise import TestCell, notebook_exercise

    context = saved_context(notebook_cells) if context is None else context
    context_names = set().union(*(cells.bound_names(text) for text in context))
    tests = [
        TestCell(cells.grade_id(cell) or f"cell {index}", cells.visible_part(cells.source(cell)), _points(cell))
        for index, cell in enumerate(notebook_cells, 1)
        if cells.is_test(cell)
    ]
    exercise = notebook_exercise(
        name, _cells(notebook_cells), tests, names=lambda cell: answer_names(cell, context_names)
    )
    return replace(exercise, context=context)


def saved_context(notebook_cells: list) -> list[str]:
    return [cells.source(cell) for cell in _cells(notebook_cells) if cells.is_context(cell)]


def answer_names(cell: dict, context_names: set) -> list[str]:
    """The names the grader's test cells take from this answer cell: the grader reads them from the instructor's
    solution, which the learner has not; here, those the saved cell defines (`cells.defined_names`) and its
    grade_id where that is a name (a prediction's, whose cell as released defines none), not a context cell's name
    (the grader's test cells see the chapter's own there)."""
    try:
        found = cells.defined_names(as_python(cells.source(cell)))
    except (SyntaxError, ValueError, MemoryError, RecursionError):  # the answers' process reports why it fails
        found = []
    grade_id = cells.grade_id(cell) or ""
    found += [grade_id] if grade_id.isidentifier() else []
    return [name for name in dict.fromkeys(found) if name not in context_names]


def saved_answers(notebook_cells: list) -> list[tuple[str, str]]:
    """The answer cells as (grade_id, source), in notebook order, as the grader reads a submission
    (`grading.exercise.submitted_answers`)."""
    return [(cells.grade_id(cell), cells.source(cell)) for cell in _cells(notebook_cells) if cells.is_answer(cell)]


def judged(exercise: Exercise, answers: list[tuple[str, str]]):
    """The grader's verdicts (`Judge.decide`) on `answers`, unsandboxed, the Judge closed after. The answers' process
    starts in an empty scratch folder, removed after, as the grader's has none of the learner's files (an answer that
    reads notes.txt of the folder fails here as in the grade), with the sandbox's environment, HOME that folder
    (`bwrap.sandbox_environment`: a variable set in the kernel, `%env`, reaches it no more than the grade, R23w M1);
    the kernel's working folder is put back. A file named by its absolute path still reaches it: no sandbox here."""
    import tempfile

    from lrcourse.grading.autograde.verdicts import Judge
    from lrcourse.grading.sandbox.bwrap import sandbox_environment
    from lrcourse.grading.sandbox.zygote import ZygoteFault

    with tempfile.TemporaryDirectory(prefix="lrcourse-saved-check-") as scratch:
        judge, folder = Judge(limits=None, env=sandbox_environment(home=scratch)), os.getcwd()
        try:
            os.chdir(scratch)  # the zygote, its children and the test cells start here
            return judge.decide(exercise, answers)
        except ZygoteFault as error:
            raise NotChecked(
                f"The Python process that runs your answer cells did not start ({str(error)[:300]}): restart the "
                "kernel (Kernel > Restart Kernel) and run this cell again."
            ) from None
        finally:
            os.chdir(folder)
            judge.close()


def _cells(notebook_cells: list) -> list[dict]:
    return [cell for cell in notebook_cells if isinstance(cell, dict)]


def _points(cell: dict) -> float:
    try:
        return float(cells.nbgrader_metadata(cell).get("points", 0))
    except (TypeError, ValueError):
        return 0.0
