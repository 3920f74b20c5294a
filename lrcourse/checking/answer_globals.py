"""The globals a function or class answer reads when called are its saved answer cells' (issue 23, R23t W4).

A function reads its globals when it is called, not when it is defined. A helper its answer cell defines
(`set_rates` above `lr_range_test`), defined again later in a scratch cell, is what every visible check calls, while
the grader, which runs the answer cells as saved and no other cell, calls the answer cell's own. The grader runs
every answer cell of the notebook, in order, before any test cell: a name a function reads when called is the last
answer cell's that binds it, its own or one above or below it. So each global that the answer's functions read
(their code and the code nested in it, through the decorators that keep `__wrapped__`:
`learners_folder.answer_functions`; and, for each such global that is a function or class of the kernel, what it
reads in turn: R23u W2) and that an answer cell binds, the last that does, must have been bound last in this kernel
by an input that binds it as that cell as saved does (`same_binding`: that cell, or the same statements binding it,
as another answer cell with the same helper, R23u W1, or a copy in a scratch cell, M2; for a name the cell imports,
an import of the same thing, R23u W4), run without an error before it bound it: as a data answer's names read from
the cells above are (`self_contained._expect_read_from_its_saved_cell`, R23l M3).
"""

from __future__ import annotations

import ast
import dis
import functools
import inspect
import linecache
import os
import sys

from lrcourse import cells
from lrcourse.checking.answer_cell_error import raised_before_binding
from lrcourse.checking.answer_replay import changed_in_place
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


def binding_statements(text: str, name: str) -> list[str]:
    """`ast.dump` of each top-level statement of `text` that binds `name` ([] where it does not parse): two cells
    whose lists are equal bind the same `name` (M2: a helper copied unchanged into a scratch cell)."""
    try:
        body = ast.parse(text).body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []
    return [ast.dump(node) for node in body if assigns(ast.unparse(node), name)]


def imported_as(text: str, name: str) -> tuple | None:
    """What the last import of `text` that binds `name` imports ((module, level, name)); None where none does."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    found = None
    for node in (each for each in ast.walk(tree) if isinstance(each, (ast.Import, ast.ImportFrom))):
        for alias in node.names:
            if isinstance(node, ast.Import) and (alias.asname or alias.name.split(".")[0]) == name:
                found = (alias.name if alias.asname else name, 0, None)
            elif isinstance(node, ast.ImportFrom) and (alias.asname or alias.name) == name:
                found = (node.module, node.level, alias.name)
    return found


def giving_cell(answers: list[tuple[str, str]], cell: SavedCell, name: str, answer: str) -> tuple[str, str, bool]:
    """(how a message names it, its text, whether it is below `cell`) of the answer cell that gives `name` when the
    grader calls `answer`, whose saved answer cell is `cell`: the last of the notebook's `answers`
    (`notebook_answers`) that binds `name`; None where none does."""
    giving = [(index, given, text) for index, (given, text) in enumerate(answers) if assigns(text, name)]
    if not giving:
        return None
    index, given, text = giving[-1]
    if text == cell.source:
        return f"the {cell.named(answer)[4:]}", text, False
    below = any(other == cell.source for _, other in answers[:index])
    return (f"the answer cell of {given}" if given else "another answer cell"), text, below


def import_gives(key: tuple | None):
    """What an import `imported_as` describes binds, from the modules already imported (None where unknown: a
    relative import, a module not imported yet)."""
    if key is None or key[1]:
        return None
    module = sys.modules.get(key[0])
    if key[2] is None or module is None:
        return module
    return getattr(module, key[2], None) or sys.modules.get(f"{key[0]}.{key[2]}")


def same_binding(ran: str | None, text: str, name: str, value=None) -> bool:
    """The kernel's last input binding `name`, `ran`, binds it as the giving cell `text` does: the same cell, the same
    statements binding it (W1: chapter 3's class and floor cells, each with the same helper; M2: a helper copied
    unchanged into a scratch cell), or, where the giving cell imports it, the kernel's `value` is what that import
    gives (a module is the same wherever it is imported, `from torch import nn` as `import torch.nn as nn`; R23u W4:
    an imported helper redefined by a `def` in a scratch cell is not)."""
    if ran is None:
        return False
    if same_cell(ran, text):
        return True
    if imports(text, name):
        gives = import_gives(imported_as(text, name))
        if gives is not None:
            return value is gives
        return imports(ran, name) and imported_as(ran, name) == imported_as(text, name)
    statements = binding_statements(text, name)
    return bool(statements) and binding_statements(ran, name) == statements


def reached(target, shell, bound: set[str]) -> set[str]:
    """The globals `target` reads (`globals_read`), and those of each function or class of the kernel defined in it
    (`__main__`) that such a global, bound by an answer cell, holds, and so on (R23u W2: a helper's helper)."""
    read, todo, seen = set(), [target], set()
    while todo:
        now = todo.pop()
        if id(now) in seen:
            continue
        seen.add(id(now))
        names = globals_read(now)
        read |= names
        todo += [value for value in hidden_within(now) if kernels(value)]
        todo += [value for value in map(shell.user_ns.get, sorted(names & bound)) if kernels(value)]
    return read


def kernels(value) -> bool:
    """`value` is a function or class defined in the kernel (`__main__`)."""
    return (inspect.isfunction(value) or inspect.isclass(value)) and value.__module__ == "__main__"


def hidden_within(target) -> list:
    """What a wrapper that keeps no `__wrapped__` calls: a `functools.partial`'s function, and what the closures of
    `target`'s functions hold (R23u W6: `largest_stable_lr = logged(largest_stable_lr)` hid its helper)."""
    if isinstance(target, functools.partial):
        return [target.func]
    functions = [target] if inspect.isfunction(target) else answer_functions(target)
    return [cell.cell_contents for function in functions for cell in function.__closure__ or () if filled(cell)]


def filled(cell) -> bool:
    """A closure cell holds a value (an empty one raises)."""
    try:
        contents = cell.cell_contents
    except ValueError:
        return False
    return contents is not cell


def expect_methods_from_saved_cells(target, answer: str, saved: list[SavedCell]) -> None:
    """Fail if a function of the class `target` (the answer `answer`), its own, came from a cell that is neither its
    saved answer cell nor an answer cell above it (R23u W3: `MyReduceLROnPlateau.step = _Fixed.step` from a scratch
    cell passed every visible cell, and the grader called the saved class's `step`); a function whose cell is in no
    linecache (a cell magic's body) is not judged here."""
    if not isinstance(target, type) or not saved:
        return
    texts = [each.source for each in saved] + [text for each in saved for _, text in each.above]
    for function in answer_functions(target, bases=False):
        lines = linecache.getlines(function.__code__.co_filename)
        expect(
            not lines or any(same_cell("".join(lines), text) for text in texts),
            f"The {function.__name__} of {answer} in this kernel ({function.__qualname__}) was defined by a cell that "
            f"is not the {saved[0].named(answer)[4:]} (a scratch cell set it on the class, or a file). The grader runs "
            f"the answer cells as saved and no other cell, and calls the {function.__name__} that cell defines: "
            f"define it in the class in the answer cell, run it, then {SAVE_AND_RERUN}.",
        )


def texts_of(found_cells: list, kind) -> list[str]:
    """The Python of each of a saved notebook's cells that `kind` (`cells.is_context`, ...) takes; a malformed one
    skipped."""
    texts = []
    for each in found_cells:
        try:
            if kind(each):
                texts.append(as_python(cells.source(each)))
        except (ValueError, KeyError, TypeError, AttributeError, SyntaxError):
            continue
    return texts


def expect_context_globals(names: set[str], answer: str, shell, found_cells: list) -> None:
    """Fail if one of `names` (globals the answer reads that no answer cell binds) that a context cell of the chapter
    binds was bound last in this kernel by an input that binds it otherwise than every such cell and is no test cell
    (R23u M1: `loss_fn = lambda out, y: 0.0 * out.sum()` in a scratch cell failed an honest `lr_range_test` with a
    message blaming its smoothing, while the grader, with the chapter's `loss_fn`, scored it full)."""
    contexts, tests = texts_of(found_cells, cells.is_context), texts_of(found_cells, cells.is_test)
    for name in sorted(names):
        given = [text for text in contexts if assigns(text, name)]
        found = assigning_entry(name) if given else None
        if found is None:
            continue
        ran, value = found[1][found[0]], shell.user_ns.get(name)
        expect(
            any(same_binding(ran, text, name, value) for text in given) or any(same_cell(ran, t) for t in tests),
            f"{answer} uses {name}, and the {name} in this kernel is not the chapter's: a cell since assigned it "
            f"(In[{found[0]}]). The grader runs the chapter's own cell that defines {name}, so what this check "
            f"calls is not what the grader calls: run the chapter's cell that defines {name} again (or the notebook "
            f"from the top), then run this cell again.",
        )


def expect_globals_from_saved_cells(target, answer: str, saved: list[SavedCell], notebooks) -> None:
    """Fail if a global that the function or class `target` (the answer `answer`) reads, and that an answer cell of
    the notebook of its saved cell (each of `saved`) gives (`giving_cell`), is in this kernel not from that cell as
    saved (`same_binding`): bound last by another input (a scratch cell, a test cell) binding it otherwise, or by that
    cell edited since it was saved, or by a run of it that stopped with an error before binding it (R23t W4: a buggy
    `set_rates` saved above `lr_range_test`, fixed in a scratch cell, passed every visible cell, and the grade called
    the buggy one); plain data a test cell bound since aside (`a_test_cells_data`). Where that cell is below the
    answer's and has not run in this kernel, the message says so (R23u W1)."""
    shell = kernel_shell()
    if shell is None or not saved:
        return
    expect_methods_from_saved_cells(target, answer, saved)
    for cell in saved:
        found_cells = notebook_cells(cell, notebooks)
        answers = answer_cells(found_cells)
        bound = set().union(*(cells.bound_names(text) for _, text in answers))  # each cell parsed once, then by name
        read = reached(target, shell, bound) - {answer}
        expect_context_globals(read - bound, answer, shell, found_cells)
        for name in sorted(read & bound):
            giving = giving_cell(answers, cell, name, answer)
            if giving is None:
                continue
            which, text, below = giving
            found = assigning_entry(name)
            ran = found[1][found[0]] if found is not None else None
            if ran is None and imports(text, name):
                continue  # bound by no input of this kernel: nothing to compare with
            whole = same_binding(ran, text, name, shell.user_ns.get(name))
            if whole:
                whole = raised_before_binding(shell, found[0], ran, name) is None
            elif ran is not None:
                whole = a_test_cells_data(ran, name, shell, [each for each in found_cells if cells.is_test(each)])
            history = found[1] if found is not None else []
            later = [each for each in history[found[0] + 1 :] if isinstance(each, str)] if found is not None else []
            value = shell.user_ns.get(name)  # a module's attribute set since is not its data (R23v W4)
            kept = changed_in_place([saved_text for _, saved_text in answers], name)  # a log it appends to (R23v M1)
            expect(  # R23u W5: plain data a helper reads, changed in place since (`SETTINGS["numerator"] = 2.0`)
                not whole or callable(value) or inspect.ismodule(value) or kept or not changed_in_place(later, name),
                f"{answer} uses {name}, which {which} defines, and a cell run since changed {name} in place: "
                f"the grader uses the value that cell gives, as saved, and runs no other cell. Put the {name} you want "
                f"in {which}, run it, then {SAVE_AND_RERUN}.",
            )
            if not whole and below and not any(isinstance(each, str) and same_cell(each, text) for each in history):
                expect(
                    False,
                    f"{answer} uses {name}, and {which}, below, defines {name} again, differently, and has not run "
                    f"in this kernel: the grader runs it before any test, so {answer} calls its {name}. Run it, or "
                    f"give the two {name}s different names, then {SAVE_AND_RERUN}.",
                )
            expect(
                whole,
                f"{answer} uses {name}, which {which} defines, and the {name} in this kernel is not from that cell "
                f"as saved: another cell defined {name} since (a scratch cell, or a cell of the chapter, a test cell "
                f"included, with a {name} of its own: then give yours another name), or that cell was edited since "
                f"it ran, or not yet saved, or stopped with an error before it defined {name}. So what this check "
                f"calls is not what the grader calls: it runs the answer cells as saved and no other cell. Put the "
                f"{name} you want in {which}, run it, then {SAVE_AND_RERUN}.",
            )
