"""The globals a function or class answer reads when called are its saved answer cells' (issue 23, R23t W4).

A function reads its globals when it is called, not when it is defined. A helper its answer cell defines (`set_rates`
above `lr_range_test`), defined again later in a scratch cell, is what every visible check calls, while the grader,
which runs the answer cells as saved and no other cell, calls the answer cell's own. The grader runs every answer
cell of the notebook, in order, before any test cell: a name a function reads when called is the last answer cell's
that binds it, its own or one above or below it. So each global that the answer's functions read (their code and the
code nested in it, through the decorators that keep `__wrapped__`: `learners_folder.answer_functions`) and that an
answer cell binds, the last that does by more than an import (a module is the same wherever it is imported), must
have been bound last in this kernel by that cell as saved, run without an error before it bound it: as a data
answer's names read from the cells above are (`self_contained._expect_read_from_its_saved_cell`, R23l M3).
"""

from __future__ import annotations

import dis
import os

from lrcourse import cells
from lrcourse.checking.answer_cell_error import raised_before_binding
from lrcourse.checking.expect import expect
from lrcourse.checking.kernel_history import assigning_entry, same_cell
from lrcourse.checking.learners_folder import answer_functions, codes_within
from lrcourse.checking.saved_answer import (
    SAVE_AND_RERUN,
    SavedCell,
    answer_cells,
    as_python,
    assigns,
    imports,
    kernel_shell,
)

GLOBAL_READS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})  # LOAD_NAME: a class body's, nested in a function


def globals_read(target) -> set[str]:
    """The global names the code of the function or class `target` reads (not an attribute's name, which the code
    keeps beside them), the code nested in it included, its decorators' wrappers read through."""
    codes = codes_within(function.__code__ for function in answer_functions(target))
    return {
        instruction.argval
        for code in codes
        for instruction in dis.get_instructions(code)
        if instruction.opname in GLOBAL_READS and isinstance(instruction.argval, str)
    }


def notebook_cells(cell: SavedCell, notebooks) -> list:
    """The cells of the saved notebook `cell` is in (`notebooks`, from `saved_answer.saved_notebooks`)."""
    for path, found in notebooks[0]:
        if os.path.basename(path) == cell.notebook:
            return found
    return []


def a_test_cells_data(ran: str, name: str, shell, tests: list) -> bool:
    """The kernel's `name` is plain data (no function or class) that a test cell of the chapter bound (`ran`, the
    input that last bound it, is one of the notebook's `tests`): chapter 3's `nan, inf = float("nan"), float("inf")`,
    a value like the one an answer cell's `inf = float('inf')` gives, the test cell's in the kernel only; not refused
    (an answer cell's value unlike the test cell's is then not judged here, only in the grade)."""
    if callable(shell.user_ns.get(name)):
        return False
    texts = []
    for test in tests:
        try:
            texts.append(as_python(cells.source(test)))
        except (ValueError, KeyError, TypeError, AttributeError, SyntaxError):  # a cell that is no cell: skipped
            continue
    return any(same_cell(ran, text) for text in texts)


def giving_cell(answers: list[tuple[str, str]], cell: SavedCell, name: str, answer: str) -> tuple[str, str] | None:
    """(how a message names it, its text) of the answer cell that gives `name` when the grader calls `answer`, whose
    saved answer cell is `cell`: the last of the notebook's `answers` (`notebook_answers`) that binds `name`; None
    where none does, or that one imports it."""
    giving = [(given, text) for given, text in answers if assigns(text, name)]
    if not giving or imports(giving[-1][1], name):
        return None
    given, text = giving[-1]
    if text == cell.source:
        return f"the {cell.named(answer)[4:]}", text
    return (f"the answer cell of {given}" if given else "another answer cell"), text


def expect_globals_from_saved_cells(target, answer: str, saved: list[SavedCell], notebooks) -> None:
    """Fail if a global that the function or class `target` (the answer `answer`) reads, and that an answer cell of
    the notebook of its saved cell (each of `saved`) gives (`giving_cell`), is in this kernel not from that cell as
    saved: bound last by another input (a scratch cell, a test cell), or by that cell edited since it was saved, or by
    a run of it that stopped with an error before binding it (R23t W4: a buggy `set_rates` saved above
    `lr_range_test`, fixed in a scratch cell, passed every visible cell, and the grade called the buggy one); plain
    data a test cell bound since aside (`a_test_cells_data`)."""
    shell = kernel_shell()
    if shell is None or not saved:
        return
    read = globals_read(target) - {answer}
    for cell in saved:
        found_cells = notebook_cells(cell, notebooks)
        answers = answer_cells(found_cells)
        bound = set().union(*(cells.bound_names(text) for _, text in answers))  # each cell parsed once, then by name
        for name in sorted(read & bound):
            giving = giving_cell(answers, cell, name, answer)
            if giving is None:
                continue
            which, text = giving
            found = assigning_entry(name)
            ran = found[1][found[0]] if found is not None else None
            whole = ran is not None and same_cell(ran, text)
            if whole:
                whole = raised_before_binding(shell, found[0], ran, name) is None
            elif ran is not None:
                whole = a_test_cells_data(ran, name, shell, [each for each in found_cells if cells.is_test(each)])
            expect(
                whole,
                f"{answer} uses {name}, which {which} defines, and the {name} in this kernel is not from that cell "
                f"as saved: another cell defined {name} since (a scratch cell, or a cell of the chapter, a test cell "
                f"included, with a {name} of its own: then give yours another name), or that cell was edited since "
                f"it ran, or not yet saved, or stopped with an error before it defined {name}. So what this check "
                f"calls is not what the grader calls: it runs the answer cells as saved and no other cell. Put the "
                f"{name} you want in {which}, run it, then {SAVE_AND_RERUN}.",
            )
