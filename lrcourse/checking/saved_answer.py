"""The answer cell as the grader will see it: the cell of the notebook saved on disk, not what the kernel last ran.

The grader runs the saved notebook's answer cells (nbgrader's grade_id names each) in order, in one process, after the
chapter's setup and context cells (`grading.autograde.remote`): a name is what the last answer cell that assigns it
gives, and that cell may use what the answer cells above it bind (R23j M2). The kernel's history says what ran, and
that can differ: the answer retyped in a new cell below while the answer cell holds a replay, a scratch cell's name
or a draft, the answer cell edited and run and not saved, or saved as released, its stub (issue 23, R23g W1, R23h,
R23j M1). So the reading exercises' visible checks read the saved cell too, through `saved_answer_cells` (the scheduler
check, `answer_cell_schedulers`, and the self-contained check, `self_contained`, which also wants it to be the cell
that last assigned the answer in the kernel); when no saved answer cell can be read, or the one saved does not bind
the answer, they say so rather than pass.

Where it is read: the folder the kernel started in, which holds its notebook (IPython's `_dh[0]`: `%cd` moves the
working folder, not the notebook). The grader grades only the chapter's own notebook (`graded_name`: nbgrader skips
any other file of the folder, a JupyterLab Duplicate included), so that one alone is read when it is there and holds
the answer's cell (R23o M1: not another chapter's, in a folder named after that one), whichever notebook this kernel runs (R23n W1: an answer worked in `<name>-Copy1.ipynb` passed every visible cell and scored 0;
the messages then name both files); else the kernel's own notebook when Jupyter names it (`__session__`, from
JPY_SESSION_NAME: a stale Duplicate beside it is not the one graded, R23h M1, R23n M2), else every `*.ipynb` there, in
name order. A file is read only if it is a regular file in that folder (a link is followed only to a file in the same
folder), opened without blocking (a FIFO named `*.ipynb` would hang `open`) and at most MAX_BYTES long; any other is
skipped, and the message says why when none is left. Only in a kernel: the trusted verdicts' process decides the
grade from what the answer's process does.
"""

from __future__ import annotations

import ast
import glob
import inspect
import json
import os
import stat
import symtable
import sys
from dataclasses import dataclass, replace

from lrcourse import cells
from lrcourse.checking.answer_cell_runs import run_before_the_answer
from lrcourse.checking.answer_magics import (
    binds_no_name,
    functions_binding_unseen,
    magic_code,
    magic_written,
    unseen_in_code,
)
from lrcourse.checking.answer_replay import changed_in_place
from lrcourse.checking.expect import expect
from lrcourse.files_read import kernel_folder

# The grader refuses a submitted notebook past 50 MB (lrcourse.notebook_limits.MAX_NOTEBOOK_MB)
MAX_BYTES = 50 << 20
TRUSTED_TESTS = "__lrcourse_tests__"  # the name of the namespace the grader runs test cells in (verdicts.Judge)
SAVE_AND_RERUN = "save the notebook (Ctrl+S, or File > Save Notebook) and run this cell again"


@dataclass(frozen=True)
class SavedCell:
    """The answer cell, as saved, that gives the grader its value of a name: the notebook it is in, its text made Python
    as the grader's process makes it, its grade_id, and the names the answer cells before it bind. The grader runs
    every answer cell of the notebook in order, in one process (`grading.autograde.remote`), so the cell that gives the
    name is the last answer cell that assigns it (another's, where its own does not), and what the cells before it bind
    is there when it runs (R23j M2)."""

    notebook: str
    source: str
    grade_id: str = ""
    earlier: frozenset = frozenset()
    above: tuple = ()  # (grade_id, text) of each answer cell before it, in order
    kernel_runs: str = ""  # the notebook this kernel runs, where that is another file than this graded one

    def binding_above(self, name: str) -> tuple[str, str] | None:
        """(grade_id, text) of the last answer cell before this one that binds `name` by an assignment or a `def`
        (an import binds the same module wherever it runs), or None."""
        giving = [(grade_id, text) for grade_id, text in self.above if assigns(text, name) and not imports(text, name)]
        return giving[-1] if giving else None

    def named(self, variable: str) -> str:
        """How a message names this cell: "The answer cell of X saved in NB" (another's: which one)."""
        other = f" (the answer cell that assigns {variable})" if self.grade_id not in ("", variable) else ""
        runs = f" (this kernel runs {self.kernel_runs}; only {self.notebook} is graded: write your answers there)"
        elsewhere = runs if self.kernel_runs else ""
        return f"The answer cell of {self.grade_id or variable} saved in {self.notebook}{other}{elsewhere}"


def kernel_shell():
    """The IPython shell this kernel runs, or None: a plain interpreter, or a check called from the trusted verdicts'
    test cells (their namespace is named TRUSTED_TESTS), even where some shell lives in that process (an instructor
    grading from a notebook, a test that left one): a shell alone once made the grader read notebooks and fail
    honest students (CI of stop 48)."""
    ipython = sys.modules.get("IPython")  # never imported here: a kernel has it loaded, the grader need not
    shell = ipython.get_ipython() if ipython is not None else None
    frame = inspect.currentframe()
    while shell is not None and frame is not None:
        if frame.f_globals.get("__name__") == TRUSTED_TESTS:
            return None
        frame = frame.f_back
    return shell


def as_python(source: str) -> str:
    """The cell as the grader runs it: IPython's syntax (`%magic`, `!shell`, `x?`) made Python, as the answer's process
    does (`answer_zygote`): else one magic line made the cell unparsable and its replay unseen (R23h W1)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def assigns(source: str, variable: str) -> bool:
    """The cell binds `variable` at its top level (an assignment, an import, a `def`, in any statement), as far as
    its text says; False for text that does not parse."""
    try:
        symbol = symtable.symtable(source, "<cell>", "exec").lookup(variable)
    except (SyntaxError, KeyError, ValueError, MemoryError, RecursionError):  # nested past the parser's stack
        return False
    return symbol.is_assigned() or symbol.is_imported()


def imports(source: str, variable: str) -> bool:
    """The cell binds `variable` at its top level by an import only; False for text that does not parse."""
    try:
        symbol = symtable.symtable(source, "<cell>", "exec").lookup(variable)
    except (SyntaxError, KeyError, ValueError, MemoryError, RecursionError):  # nested past the parser's stack
        return False
    return symbol.is_imported() and not symbol.is_assigned()


def magic_calls(source: str) -> list[ast.Call]:
    """The `get_ipython().<method>(...)` calls in a history entry: IPython writes every magic (and `!`) as one."""
    try:
        return _magic_calls_in(ast.parse(source))
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []


def _magic_calls_in(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Call)
        and isinstance(node.func.value.func, ast.Name)
        and node.func.value.func.id == "get_ipython"
    ]


def grade_changing_magics(source: str, variable: str) -> list[str]:
    """The magics of the cell `source` (as Python: `as_python`) that can change what the grader gets of `variable`,
    each as written (`%time`, `%%time`, `!`). The grader's shell makes every magic do nothing (`answer_zygote`), so
    a magic matters where its work reaches the answer. Only a few are known not to (`answer_magics.binds_no_name`:
    `%load_ext` or `%matplotlib` anywhere, `!echo` before the answer, any shell command after it); any other is
    refused wherever it is (R23o W1: `%run fix.py` after a wrong answer, `%store -r`, `%env NAME value` before one
    reading it). Of those few: time, timeit and prun where their code binds or changes `variable` (`%%time` over the
    answer, `%time x = ...`), and any where it runs before the answer is whole (`answer_cell_runs`) and its value is
    used (`g = %time f()`: None there) or its code binds a name (the answer may read it); and any whose code uses
    exec, eval, globals, setattr, get_ipython and the like (`answer_magics.UNSEEN_BINDERS`), or a function of the cell
    that does, which bind what their text does not show (R23p N1: `%time exec(RIGHT)` after a wrong `def`). `%time f()`
    after the answer costs the grade nothing (R23n M1: every magic was refused)."""
    try:
        tree = ast.parse(source)
        calls = _magic_calls_in(tree)
        before = {id(node) for node in run_before_the_answer(tree, variable)} if calls else set()
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []
    discarded = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    unseen = functions_binding_unseen(tree) if calls else frozenset()
    changing = []
    for call in calls:
        code = magic_code(call, as_python)
        try:
            binds = assigns(code, variable) or changed_in_place([code], variable) or bool(unseen_in_code(code, unseen))
            binds = binds or (id(call) in before and (id(call) not in discarded or bool(cells.bound_names(code))))
        except (MemoryError, RecursionError):  # code nested past the parser's stack binds nothing in the kernel either
            binds = id(call) in before and id(call) not in discarded
        if binds or not binds_no_name(call, id(call) in before):
            changing.append(magic_written(call))
    return changing


def _unseen_in_magics(source: str) -> list[str]:
    """What of `answer_magics.UNSEEN_BINDERS` the code magics of the cell `source` read, for the message."""
    try:
        tree = ast.parse(source)
        functions = functions_binding_unseen(tree)
        found = [
            name for call in _magic_calls_in(tree) for name in unseen_in_code(magic_code(call, as_python), functions)
        ]
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []
    return list(dict.fromkeys(found))


def expect_no_magic(source: str, name: str, cell: str = "") -> None:
    """Fail if the answer's cell uses an IPython magic that can change what the grader gets of `name`
    (`grade_changing_magics`): the grader runs the cell with a shell whose every magic does nothing, so `%%time` over
    the answer defines nothing there and `x = %time f()` binds None. `cell` names the cell (the saved one:
    `SavedCell.named`), else it is the one that defines `name` here."""
    changing = list(dict.fromkeys(grade_changing_magics(source, name)))
    timing = any(magic in ("%time", "%%time") for magic in changing)
    hidden = _unseen_in_magics(source) if changing else []
    expect(
        not changing,
        f"{cell or f'The cell that defines {name}'} uses an IPython magic ({', '.join(changing)}) that changes, or "
        f"may change, what the grader gets of {name}. The grader runs the answer cells with a shell where every magic "
        "and shell command does nothing"
        + (
            ": under %%time the cell defines nothing, `x = %time f()` makes x None and `%time x = f()` binds no x"
            if timing
            else ""
        )
        + (f"; the magic's code uses {', '.join(hidden)}, which can bind what its text does not show" if hidden else "")
        + ". Remove that magic from the answer cell (run it in a scratch cell), and run the answer cell again.",
    )


def notebook_folder(shell=None) -> str:
    """The folder holding the kernel's notebook: where the kernel started (IPython's first directory, `_dh[0]`, which
    `%cd` leaves as it was), else the working folder (`files_read.kernel_folder`)."""
    return kernel_folder(shell if shell is not None else kernel_shell())


def graded_name(folder: str) -> str:
    """The file name of the notebook the grader grades in the chapter's folder `folder`: `<the folder's name without
    its NN_ prefix>.ipynb` (a student's folder is named after the assignment; the rule of
    `grading.source_files.chapter_notebook`, the notebook nbgrader's gradebook holds: it skips every other file)."""
    return f"{os.path.basename(os.path.normpath(folder)).split('_', 1)[-1]}.ipynb"


def kernel_notebook(shell=None) -> str:
    """The file name of the notebook this kernel runs when Jupyter names it (`__session__`, the path it was opened
    under), else ""."""
    shell = shell if shell is not None else kernel_shell()
    session = shell.user_ns.get("__session__") if shell is not None else None
    return os.path.basename(session) if isinstance(session, str) and session.endswith(".ipynb") else ""


def notebook_paths(shell=None, chapters_own: bool = True) -> list[str]:
    """The notebooks to read: the chapter's own (`graded_name`) when it is in the notebook's folder, the one graded
    (not if `chapters_own` is False: `saved_notebooks`); else the kernel's own when Jupyter names it
    (`kernel_notebook`) and it is there; else every `*.ipynb` of that folder, by name."""
    shell = shell if shell is not None else kernel_shell()
    folder = notebook_folder(shell)
    for name in (graded_name(folder) if chapters_own else "", kernel_notebook(shell)):
        if name and os.path.lexists(os.path.join(folder, name)):
            return [os.path.join(folder, name)]
    return sorted(glob.glob(os.path.join(glob.escape(folder), "*.ipynb")))


def read_notebook(path: str, whole: bool = False) -> list | dict | str:
    """The cells of the notebook file `path` (`whole`: its JSON, a dict), or why they cannot be read (a sentence): a
    regular file in its own folder, at most MAX_BYTES, holding JSON with a list of cells. Never blocks: the file is
    looked at before it is opened, and opened non-blocking."""
    name = os.path.basename(path)
    real = os.path.realpath(path)
    if os.path.dirname(real) != os.path.realpath(os.path.dirname(path) or "."):
        return f"{name} is a link out of its folder"
    try:
        if not stat.S_ISREG(os.stat(real).st_mode):
            return f"{name} is not a regular file"
        data = _read_regular(real)
    except OSError as error:
        return f"{name} cannot be read ({error.strerror or error})"
    if data is None:
        return f"{name} is not a regular file of at most {MAX_BYTES >> 20} MB"
    try:
        notebook_cells = (notebook := json.loads(data.decode("utf-8")))["cells"]
    except (ValueError, RecursionError, KeyError, TypeError):
        return f"{name} is not a notebook (no JSON with a list of cells)"
    if not isinstance(notebook_cells, list):
        return f"{name} is not a notebook (its cells are no list)"
    return notebook if whole else notebook_cells


def _read_regular(path: str) -> bytes | None:
    """The bytes of the regular file `path`, or None if the file opened is none or is past MAX_BYTES (checked on
    what was opened: the name may have been swapped since it was looked at)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            return None
        data = file.read(MAX_BYTES + 1)
    return data if len(data) <= MAX_BYTES else None


def saved_notebooks(grade_id: str = "") -> tuple[list[tuple[str, list]], list[str]]:
    """(path, cells) of each notebook read (`notebook_paths`), and why each of the others could not be. A check reads
    them once and passes them on (R23j N3: four reads of each notebook per test cell). The chapter's own notebook is
    read alone only if it holds an answer cell with `grade_id` (where one is given): else it is another chapter's, in a
    folder named after that chapter (R23o M1: every chapter in one folder named `01_learning_rate` failed an honest
    answer of chapter 2, "found no saved notebook"), and the kernel's own notebook is read, else every one there."""
    found, unread = _read_each(notebook_paths())
    if grade_id and len(found) == 1 and not _holds_answer_cell(found[0][1], grade_id):
        folder = notebook_folder()
        if os.path.basename(found[0][0]) == graded_name(folder):
            found, unread = _read_each(notebook_paths(chapters_own=False))
    return found, unread


def _read_each(paths: list[str]) -> tuple[list[tuple[str, list]], list[str]]:
    found, unread = [], []
    for path in paths:
        read = read_notebook(path)
        if isinstance(read, str):
            unread.append(read)
        else:
            found.append((path, read))
    return found, unread


def _holds_answer_cell(notebook_cells: list, grade_id: str) -> bool:
    for cell in notebook_cells:
        try:
            if cells.is_answer(cell) and cells.grade_id(cell) == grade_id:
                return True
        except (ValueError, KeyError, TypeError, AttributeError):  # a cell that is no cell is skipped
            continue
    return False


def saved_in_kernel(grade_id: str = "") -> tuple[list[tuple[str, list]], list[str]]:
    """`saved_notebooks(grade_id)` in a kernel; none elsewhere (the trusted verdicts' process reads no notebook)."""
    return saved_notebooks(grade_id) if kernel_shell() is not None else ([], [])


def saved_answer_cells(variable: str, notebooks=None) -> list[SavedCell]:
    """The answer cell that gives `variable` in each saved notebook read (`notebooks`, from `saved_notebooks`, read
    here if None), as the grader will run it; in a kernel only ([] elsewhere). Fails, in the notebook, saying so,
    where none can be read, or where the one saved does not bind `variable`, does not parse or uses a magic that changes
    what the grader gets (`grade_changing_magics`): the grade reads that cell, whatever the kernel ran since."""
    if kernel_shell() is None:
        return []
    found, unread = notebooks if notebooks is not None else saved_notebooks(variable)
    saved = [cell for path, notebook_cells in found for cell in graded_cell(notebook_cells, variable, path)]
    graded, own = graded_name(notebook_folder()), kernel_notebook()
    if own not in ("", graded):  # the kernel runs another file than the one graded: each message says so (R23n W1)
        saved = [replace(cell, kernel_runs=own) if cell.notebook == graded else cell for cell in saved]
    why = f" ({'; '.join(unread)})" if unread else ""
    expect(
        bool(saved),
        f"This check found no saved notebook holding the answer cell of {variable} in {notebook_folder()}{why}. The "
        f"grader runs that cell as saved, not what this kernel ran: {SAVE_AND_RERUN}.",
    )
    for cell in saved:
        expect_no_magic(cell.source, variable, cell.named(variable))  # the grader's magics do nothing
        expect_binds(cell, variable)
    return saved


def answer_cells(notebook_cells: list) -> list[tuple[str, str]]:
    """(grade_id, source as Python) of each answer cell of a saved notebook, in order; a malformed cell skipped."""
    answers = []
    for cell in notebook_cells:
        try:
            if cells.is_answer(cell):
                answers.append((cells.grade_id(cell), as_python(cells.source(cell))))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return answers


def graded_cell(notebook_cells: list, variable: str, path: str) -> list[SavedCell]:
    """The saved cell that gives `variable` in a notebook that holds its answer cell ([] if none does): the last
    answer cell that assigns it, else its own; with the names the answer cells before that one bind."""
    answers = answer_cells(notebook_cells)
    own = [index for index, (grade_id, _) in enumerate(answers) if grade_id == variable]
    if not own:
        return []
    assigning = [index for index, (_, text) in enumerate(answers) if assigns(text, variable)]
    index = assigning[-1] if assigning else own[0]
    earlier = frozenset().union(*(cells.bound_names(text) for _, text in answers[:index]))
    above = tuple((grade_id or "", text) for grade_id, text in answers[:index])
    return [SavedCell(os.path.basename(path), answers[index][1], answers[index][0] or "", earlier, above)]


def expect_binds(cell: SavedCell, variable: str) -> None:
    """Fail if the saved answer cell does not parse, or binds no `variable` by name (the stub as released, say): the
    grader then has no `variable` from it, though a cell the kernel ran since may pass here. Only the text is read:
    `globals()["x"] = ...` binds x unseen (R23j N1), so this says what the text shows, not a score."""
    try:
        compile(cell.source, "<answer cell>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as error:  # nested past the parser's stack
        expect(
            False,
            f"{cell.named(variable)} does not run: {type(error).__name__} ({_why_not(error)}). The "
            f"grader runs that cell as saved: correct it there, then {SAVE_AND_RERUN}.",
        )
    expect(
        assigns(cell.source, variable),
        f"{cell.named(variable)} does not assign {variable} by name (this check reads the cell's text; the cell as "
        f"released only raises NotImplementedError). The grader runs the answer cells as saved, not the notebook's "
        f"other cells: {variable} written in another cell, or not yet saved, is not graded. Write {variable} in the "
        f"answer cell (the one that said # YOUR CODE HERE), then {SAVE_AND_RERUN}.",
    )


def _why_not(error: Exception) -> str:
    """What a compile error says, or, for the parser's MemoryError or RecursionError, why (their text is empty)."""
    return str(getattr(error, "msg", "") or error) or "nested deeper than Python's parser goes"
