"""Lookups an answer cell makes that the name analysis cannot see (issue 23, R23q W3, R23r M1).

The self-contained checks read the names a cell uses from its code: a name of a scratch cell, a module of the
learner's folder, are named there. A lookup by a string, or in the kernel's own namespace, finds them at run time
without naming them: in the kernel, where the scratch cell ran and the module was imported, it passes; the grader
runs the saved cell alone and stops there (R23q: 0 / 3 in a real grade, every visible cell passed). So the code of
the answer cell that runs before its answer is bound (`answer_cell_runs.run_before_the_answer`), and a function
answer's whole definition with the cell's code above it, may not use:
- `eval`, `exec`, `globals()`, `locals()`, `vars()`, `__import__`, `import_module` by name, `__builtins__`;
- the module `__main__` in any way (`import __main__`, `from __main__ import ...`: the kernel's own names);
- `sys.modules`, `importlib.import_module`, and builtins' eval, exec, globals, locals, vars and `__import__` as
  attributes, these modules' `__dict__`, `vars(sys)`, `getattr(sys, ...)` with a computed or looking-up name; each
  through the aliases the cell's imports make (`import sys as s`, `from sys import modules as m`, `from importlib
  import import_module as im`, `import builtins as b`, `from builtins import eval as e`);
- the attributes `f_globals`, `f_locals`, `f_builtins`, `_getframe`, `currentframe` (a frame's namespace) and
  `user_ns`, `user_global_ns` (IPython's) on any object, also read by `getattr` with that name written, and
  `get_ipython().ev` / `.ex`.
`vars(obj)`, an object's attributes, is no such lookup; neither is an attribute of that name on another object
(`model.eval()`), `getattr` on an object that is not one of those modules, nor any module under an alias
(`import numpy as np`). The check reads the cell's text: it does not follow a value, so a module or frame reached
through another binding (`s = sys`, `ip = get_ipython(); ip.ev(...)`, a module held in a list or an object's
attribute) or an attribute by a computed name on an object not named here (`getattr(frame, "f_" + "globals")`)
passes here and, where it finds a scratch cell's name, scores 0 in the grade (left for a check that runs the saved
cell alone, as the grader does). Reads
that raise no "open" audit event (`lrcourse.files_read`) are not caught here either.
"""

from __future__ import annotations

import ast

from lrcourse.checking.answer_cell_runs import run_before_the_answer
from lrcourse.checking.answer_replay import stores_into
from lrcourse.checking.expect import expect
from lrcourse.checking.saved_answer import SAVE_AND_RERUN, kernel_shell

BY_NAME = ("eval", "exec", "globals", "locals", "__import__", "import_module")  # builtins, and importlib's imported
# A frame's or IPython's namespace, or the function reaching a frame, on whatever object they are read (R23r M1)
NAMESPACES = frozenset(
    {"f_globals", "f_locals", "f_builtins", "user_ns", "user_global_ns", "_getframe", "currentframe"}
)
# module -> its attributes that look a name or module up by a string; any attribute of __main__ is the kernel's name
ON_MODULE = {
    "sys": frozenset({"modules", "__dict__"}),
    "importlib": frozenset({"import_module", "__import__", "__dict__"}),
    "builtins": frozenset({"eval", "exec", "globals", "locals", "vars", "__import__", "__dict__"}),
    "inspect": frozenset({"__dict__"}),
    "__main__": None,
}
SHELL_RUNS = frozenset({"ev", "ex"})  # `get_ipython().ev("scratch")`: evaluated in the kernel's namespace


def aliases_in(tree: ast.AST) -> dict[str, str]:
    """name -> what of ON_MODULE the cell `tree` binds it to by an import anywhere in it: `import sys as s` gives
    {"s": "sys"}, `from sys import modules as m` {"m": "sys.modules"}; a module's own name stands for itself."""
    aliases = {module: module for module in ON_MODULE}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                module = alias.name if alias.asname else alias.name.split(".")[0]
                if module in ON_MODULE:
                    aliases[alias.asname or module] = module
        elif isinstance(node, ast.ImportFrom) and node.module in ON_MODULE and not node.level:
            for alias in node.names:
                named = sorted(ON_MODULE[node.module] or ()) if alias.name == "*" else [alias.name]
                aliases.update({alias.asname or name: f"{node.module}.{name}" for name in named})
    return aliases


def _module(node: ast.AST | None, aliases: dict[str, str]) -> str | None:
    """The module of ON_MODULE other than __main__ (whose every use is one) that the name `node` stands for."""
    module = aliases.get(node.id) if isinstance(node, ast.Name) else None
    return module if module in ON_MODULE and module != "__main__" else None


def _looks_up(value: ast.AST | None, attribute: str, aliases: dict[str, str]) -> bool:
    """`value.attribute` reaches a frame's or IPython's namespace, is `get_ipython().ev`, or a looking-up attribute
    of a module of ON_MODULE (or of an alias of one)."""
    if attribute in NAMESPACES:
        return True
    if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "get_ipython":
        return attribute in SHELL_RUNS
    module = _module(value, aliases)
    return module is not None and attribute in ON_MODULE[module]


def _written(node: ast.AST, on: ast.AST | None, aliases: dict[str, str]) -> str:
    """`node` as written (cut short), and the module its name `on` stands for if it is an alias (`s.modules (s: sys)`)."""
    text = ast.unparse(node)
    text = text if len(text) <= 60 else text[:57] + "..."
    if not isinstance(on, ast.Name) or aliases.get(on.id, on.id) == on.id:
        return text
    return f"{text} ({on.id}: {aliases[on.id]})"


def _lookup(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """What `node` alone looks up by a string or in the kernel's namespace, as written (`hidden_lookups`)."""
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        meant = aliases.get(node.id)
        if meant == "__main__" or node.id == "__builtins__":
            return _written(node, node, aliases)
        if meant and "." in meant:
            module, attribute = meant.split(".", 1)
            looked = attribute in NAMESPACES or ON_MODULE[module] is None or attribute in ON_MODULE[module]
            return f"{node.id} ({meant})" if looked else None
        return f"{node.id}()" if node.id in BY_NAME else None
    if isinstance(node, ast.Import | ast.ImportFrom):
        modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        return "__main__" if "__main__" in modules else None
    if isinstance(node, ast.Attribute):
        return _written(node, node.value, aliases) if _looks_up(node.value, node.attr, aliases) else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "vars"):
        on = node.args[0] if node.args else None
        name = node.args[1] if len(node.args) > 1 and node.func.id == "getattr" else None
        if node.func.id == "vars" and on is None:
            return "vars()"
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            return _written(node, on, aliases) if _looks_up(on, name.value, aliases) else None
        return _written(node, on, aliases) if _module(on, aliases) else None
    return None


def lookups_in(nodes, aliases: dict[str, str], walk: bool = True) -> list[str]:
    """The hidden lookups among `nodes` (each read whole, or alone if not `walk`), in order, once each; `aliases`:
    the cell's (`aliases_in`)."""
    found = [_lookup(node, aliases) for top in nodes for node in (ast.walk(top) if walk else [top])]
    return list(dict.fromkeys(lookup for lookup in found if lookup))


def hidden_lookups(source: str, name: str, function: bool = False) -> list[str]:
    """The hidden lookups of the cell `source` (as Python) before `name` is bound; `function`: `name` is a function
    or class the cell defines, whose body runs when the grader calls it, so all of its definition and the cell's code
    above it count."""
    try:
        tree = ast.parse(source)
        aliases = aliases_in(tree)
        if not function:
            return lookups_in(run_before_the_answer(tree, name), aliases, walk=False)
        giving = [
            index
            for index, statement in enumerate(tree.body)
            if getattr(statement, "name", None) == name or stores_into(statement, name)
        ]
        return lookups_in(tree.body[: giving[-1] + 1] if giving else tree.body, aliases)
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
        f"{cell} uses {', '.join(found)} {where}: a lookup by a string or in the kernel's own namespace (__main__, "
        f"a frame's or IPython's), which can find here what a scratch cell defined or imported. The grader runs the "
        f"answer cells as saved, in order, after the chapter's setup and context cells, and no other cell: there it "
        f"finds none of that, and {name} scores 0 where it needs it. Write the names and imports {name} needs in the "
        f"answer cell itself, run it, then {SAVE_AND_RERUN}.",
    )
