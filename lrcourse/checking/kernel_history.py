"""Which of the kernel's inputs gave an answer, and which saved answer cell gives it in the grade (issue 23).

The checks judge the value the kernel holds; the grader judges what the answer cell as saved gives. IPython keeps each
input, made Python, in its history (`In`): the latest one that assigns a name (itself, or in the body of a cell magic)
is the cell whose code the kernel's value came from. A function or class answer is known by its object, not by the
name the test cell wrote: the name is the one its saved answer cell binds that holds that object here (R23s W2:
`MyReduceLROnPlateau = ScratchBase` is `ScratchBase.__name__`), and the cell that gives it in the grade is the last
answer cell that assigns that name, else the answer cell of its grade_id (as `saved_answer.graded_cell`).
"""

from __future__ import annotations

import ast
import os

from lrcourse import cells
from lrcourse.checking.saved_answer import SavedCell, answer_cells, assigns, kernel_shell, magic_calls


def assigning_cell(variable: str) -> str | None:
    """The latest input the kernel ran that assigns `variable` at its top level, itself or in the body of a cell magic
    (IPython's history, `In`), or None (no IPython shell: the grader's process, a plain interpreter)."""
    found = assigning_entry(variable)
    return found[1][found[0]] if found is not None else None


def assigning_entry(variable: str) -> tuple[int, list] | None:
    """(where in the kernel's history the latest input that assigns `variable` is, that history), or None."""
    shell = kernel_shell()
    history = shell.user_ns.get("In") if shell is not None else None
    history = history if isinstance(history, list) else []
    for index in reversed(range(len(history))):
        source = history[index]
        if isinstance(source, str) and any(assigns(text, variable) for text in (source, *_magic_bodies(source, shell))):
            return index, history
    return None


def history_cell(variable: str, index: int) -> str:
    """How a message names the input that last assigned `variable` here: a scratch cell that reran the answer under
    `%%time` is not the answer cell (R23l N2)."""
    return f"The cell that last assigned {variable} in this kernel (In[{index}])"


def _magic_bodies(source: str, shell) -> list[str]:
    """The Python of each cell magic's body in a history entry (`%%time` is `run_cell_magic('time', '', body)`)."""
    bodies = []
    for call in magic_calls(source):
        body = call.args[2] if call.func.attr == "run_cell_magic" and len(call.args) == 3 else None
        if isinstance(body, ast.Constant) and isinstance(body.value, str):
            bodies.append(shell.transform_cell(body.value))  # the body may hold magics of its own
    return bodies


def same_cell(ran: str, saved: str) -> bool:
    """The history entry `ran` and the saved cell `saved` run the same code: the same syntax tree, so a comment or a
    new layout added since the run is the same cell (R23l N1); their normalised texts where either does not parse."""
    try:
        return ast.dump(ast.parse(ran)) == ast.dump(ast.parse(saved))
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return _normalised(ran) == _normalised(saved)


def _normalised(source: str) -> str:
    """A cell's text as compared with IPython's history: no trailing spaces, no blank lines before or after."""
    return "\n".join(line.rstrip() for line in source.splitlines()).strip("\n")


def defined_answer(target, grade_id: str, notebooks) -> tuple[str, list[SavedCell]]:
    """(the name the function or class answer `target` is bound to, the saved cell that gives that name in each saved
    notebook holding the answer cell `grade_id`: `notebooks`, from `saved_answer.saved_notebooks`). The name is the
    first, sorted, that the answer cell of `grade_id` binds and that holds `target` in the kernel, `target.__name__`
    where it is one of those or none is; no cells outside a kernel or without a `grade_id`, nor where no answer cell
    binds the name and `target` is no cell's (a library's class a cell checks)."""
    name = getattr(target, "__name__", "your answer")
    shell = kernel_shell()
    if shell is None or not grade_id:
        return name, []
    saved, named = [], False
    for path, notebook_cells in notebooks[0]:
        answers = answer_cells(notebook_cells)
        own = [index for index, (given, _) in enumerate(answers) if given == grade_id]
        if not own:
            continue
        if not named:
            holding = sorted(
                bound for bound in cells.bound_names(answers[own[0]][1]) if shell.user_ns.get(bound) is target
            )
            name, named = name if name in holding or not holding else holding[0], True
        giving = [index for index, (_, text) in enumerate(answers) if assigns(text, name)]
        if not giving and getattr(target, "__module__", None) != "__main__":
            continue  # no answer cell binds it, and no cell defined it: a library's, not an answer
        index = giving[-1] if giving else own[0]  # a cell defined it, and the answer cell as saved does not
        earlier = frozenset().union(*(cells.bound_names(text) for _, text in answers[:index]))
        above = tuple((given or "", text) for given, text in answers[:index])
        another = (answers[index][0] or "") if index not in own else ""  # a message names another grade_id's cell
        saved.append(SavedCell(os.path.basename(path), answers[index][1], another, earlier, above))
    return name, saved
