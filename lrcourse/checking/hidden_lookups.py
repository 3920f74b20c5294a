"""Lookups an answer cell makes that the name analysis cannot see (issue 23, R23q W3).

The self-contained checks read the names a cell uses from its code: a name of a scratch cell, a module of the
learner's folder, are named there. `eval("scratch")`, `exec`, `globals()["scratch"]`, `vars()`, `locals()`,
`__import__("answer_mod")`, `importlib.import_module(...)` and `sys.modules[...]` find them through a string, at run
time: in the kernel, where the scratch cell ran and the module was imported, they pass; the grader runs the saved
cell alone and stops there (R23q: 0 / 3 in a real grade, every visible cell passed). So the code of the answer cell
that runs before its answer is bound (`answer_cell_runs.run_before_the_answer`), and a function answer's whole
definition with the cell's code above it, may not use them. `vars(obj)`, an object's attributes, is no such lookup;
neither is an attribute of that name (`model.eval()`). Not every lookup by a string is caught: `__main__.scratch`,
`getattr(__main__, "scratch")`, `builtins.eval`, `get_ipython().user_ns`, a frame's `f_globals`, and `sys` or
`import_module` imported under another name pass here and score 0 in the grade (R23r M1: left for a check that runs
the saved cell alone, as the grader does). Reads that raise no "open" audit event (`lrcourse.files_read`) are not
caught here either.
"""

from __future__ import annotations

import ast

from lrcourse.checking.answer_cell_runs import run_before_the_answer
from lrcourse.checking.answer_replay import stores_into
from lrcourse.checking.expect import expect
from lrcourse.checking.saved_answer import SAVE_AND_RERUN, kernel_shell

BY_NAME = ("eval", "exec", "globals", "locals", "__import__", "import_module")  # builtins, and importlib's imported
ON_MODULE = {("importlib", "import_module"), ("sys", "modules")}


def lookups_in(nodes, walk: bool = True) -> list[str]:
    """The hidden lookups among `nodes` (each read whole, or alone if not `walk`), in order, once each."""
    found = []
    for top in nodes:
        for node in ast.walk(top) if walk else [top]:
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in BY_NAME:
                found.append(f"{node.id}()")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "vars":
                found += [] if node.args else ["vars()"]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if (node.value.id, node.attr) in ON_MODULE:
                    found.append(f"{node.value.id}.{node.attr}")
    return list(dict.fromkeys(found))


def hidden_lookups(source: str, name: str, function: bool = False) -> list[str]:
    """The hidden lookups of the cell `source` (as Python) before `name` is bound; `function`: `name` is a function
    or class the cell defines, whose body runs when the grader calls it, so all of its definition and the cell's code
    above it count."""
    try:
        tree = ast.parse(source)
        if not function:
            return lookups_in(run_before_the_answer(tree, name), walk=False)
        giving = [
            index
            for index, statement in enumerate(tree.body)
            if getattr(statement, "name", None) == name or stores_into(statement, name)
        ]
        return lookups_in(tree.body[: giving[-1] + 1] if giving else tree.body)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []


def expect_no_hidden_lookup(source: str, name: str, cell: str, function: bool = False) -> None:
    """Fail if the cell `source` (`cell` names it) that gives `name` makes a hidden lookup (`hidden_lookups`). In a
    kernel only: the grader's own run of the cell is what it is."""
    if kernel_shell() is None:
        return
    found = hidden_lookups(source, name, function)
    where = f"in {name}'s definition or the cell's code above it" if function else f"before it binds {name}"
    expect(
        not found,
        f"{cell} uses {', '.join(found)} {where}: a lookup by a string, which finds here what a scratch cell defined "
        f"or imported. The grader runs the answer cells as saved, in order, after the chapter's setup and context "
        f"cells, and no other cell: there it finds none of that and {name} scores 0. Write the names and imports "
        f"{name} needs in the answer cell itself, run it, then {SAVE_AND_RERUN}.",
    )
