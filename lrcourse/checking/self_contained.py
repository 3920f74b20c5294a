"""The answer cell must stand on its own: the grader runs it after the chapter's context cells, and nothing else.

In the notebook a student's answer can lean on a name some earlier exploratory cell defined, pass there,
and fail under `lrcourse grade`. `expect_self_contained` catches that in the kernel, with the reason, for a function or
a class (its cell is in linecache); `expect_data_self_contained` for a name bound to plain data (its cell is the
latest input in IPython's history that assigns it).
"""

from __future__ import annotations

import glob
import json
import linecache
import symtable
import sys

from lrcourse import cells
from lrcourse.checking.expect import expect


def cell_source(target) -> str | None:
    """The source of the notebook cell that defined `target` (IPython keeps each cell's text in linecache)."""
    if callable(target) and hasattr(target, "__code__"):
        functions = [target]
    elif isinstance(target, type):
        functions = [value for value in vars(target).values() if hasattr(value, "__code__")]
    else:
        functions = []
    for function in functions:
        lines = linecache.getlines(function.__code__.co_filename)
        if lines:
            return "".join(lines)
    return None


def names_used_but_not_defined(source: str) -> set[str]:
    """Global names the cell reads without binding them itself."""
    top = symtable.symtable(source, "<answer cell>", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    used = set()

    def visit(table):
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (table is top or symbol.is_global()):
                used.add(symbol.get_name())
        for child in table.get_children():
            visit(child)

    visit(top)
    return used - defined - set(dir(__import__("builtins")))


def context_names() -> set[str] | None:
    """The names the chapter's context cells bind, from the notebook in the working folder."""
    for path in glob.glob("*.ipynb"):
        try:
            notebook_cells = json.load(open(path, encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        sources = [cells.source(cell) for cell in notebook_cells if cells.is_context(cell)]
        if sources:
            return set().union(*(cells.bound_names(source) for source in sources))
    return None


def expect_self_contained(target) -> None:
    """In the notebook: fail if the answer cell that defined `target` reads a name that neither it nor the
    chapter's context cells define. The grader runs the answer cell alone after the context cells, so such an
    answer would pass here and fail there."""
    source, context = cell_source(target), context_names()
    if source is None or context is None:
        return
    try:
        missing = sorted(names_used_but_not_defined(source) - context)
    except SyntaxError:
        return
    name = getattr(target, "__name__", "your answer")
    expect(
        not missing,
        f"The cell that defines {name} uses {', '.join(missing)}, which that cell does not define. "
        "The grader runs only the answer cell, on its own, after the chapter's setup and context cells: define or "
        f"import {'it' if len(missing) == 1 else 'them'} inside the answer cell, and define {name} there.",
    )


def assigning_cell(variable: str) -> str | None:
    """The latest input the kernel ran that assigns `variable` at its top level (IPython's history, `In`), or None
    (no IPython shell: the grader's process, a plain interpreter)."""
    ipython = sys.modules.get("IPython")  # never imported here: a kernel has it loaded, the grader need not
    shell = ipython.get_ipython() if ipython is not None else None
    history = shell.user_ns.get("In") if shell is not None else None
    for source in reversed(history if isinstance(history, list) else []):
        if isinstance(source, str) and _assigns(source, variable):
            return source
    return None


def _assigns(source: str, variable: str) -> bool:
    try:
        symbol = symtable.symtable(source, "<cell>", "exec").lookup(variable)
    except (SyntaxError, KeyError, ValueError):
        return False
    return symbol.is_assigned() or symbol.is_imported()


def expect_data_self_contained(variable: str) -> None:
    """In the notebook: fail if the cell that last assigned the plain-data answer `variable` reads a name that
    neither it nor the chapter's context cells define (R23p: `ratios[5]` from a scratch cell passed here and scored
    0 in the grade, NameError in the answer cell run alone)."""
    source, context = assigning_cell(variable), context_names()
    if source is None or context is None:
        return
    try:  # the history holds a cell as Python: a magic is a call of get_ipython, which the grader's process defines too
        missing = sorted(names_used_but_not_defined(source) - context - {"get_ipython"})
    except SyntaxError:
        return
    expect(
        not missing,
        f"The cell that last assigned {variable} uses {', '.join(missing)}, which that cell does not define. The "
        "grader runs only the answer cell, on its own, after the chapter's setup and context cells (a scratch cell "
        f"below it that assigns {variable} again is not run): compute {variable} inside the answer cell from what "
        "that cell and the setup define, or write its values there.",
    )
