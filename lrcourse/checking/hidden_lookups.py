"""Lookups an answer cell makes that the name analysis cannot see (issue 23, R23q W3, R23r M1).

The self-contained checks read the names a cell uses from its code: a name of a scratch cell, a module of the
learner's folder, are named there. A lookup by a string, or in the kernel's own namespace, finds them at run time
without naming them: in the kernel, where the scratch cell ran and the module was imported, it passes; the grader
runs the saved cell alone and stops there (R23q: 0 / 3 in a real grade, every visible cell passed). So the code of
the answer cell that runs before its answer is bound (`answer_cell_runs.run_before_the_answer`), and of a function
answer its whole definition, the bodies of the cell's functions it reaches by name (a helper defined below it too,
R23s W1), the code below it binding a name these read, and the code above it that runs (node by node: a function
defined there counts where it is called or reached, R23s W4b), may not use:
- `eval`, `exec`, `globals()`, `locals()`, `vars()`, `__import__`, `import_module` by name, `__builtins__`;
- the module `__main__` in any way (`import __main__`, `from __main__ import ...`: the kernel's own names);
- `sys.modules`, `importlib.import_module`, and builtins' eval, exec, globals, locals, vars and `__import__` as
  attributes, these modules' `__dict__`, `vars(sys)`, `getattr(sys, ...)` with a computed or looking-up name; each
  through the aliases the cell's imports make (`import sys as s`, `from sys import modules as m`, `from importlib
  import import_module as im`, `import builtins as b`, `from builtins import eval as e`);
- the attributes `f_globals`, `f_locals`, `f_builtins`, `_getframe`, `currentframe` (a frame's namespace) and
  `user_ns`, `user_global_ns` (IPython's) on any object, also read by `getattr` with that name written, and
  `get_ipython().ev` / `.ex`.
`len(...)` or `print(...)` of `globals()`, `locals()` or `vars()`, `locals()` or `vars()` in a function's body (its
own names), and `eval`/`exec` of a constant string whose own
code makes none of these lookups, imports nothing and reads only builtins and the cell's names (`eval('0.49 ** 0.5')`,
R23s M1), find no scratch cell's value: they pass. `vars(obj)`, an object's attributes, is no such lookup; neither is
an attribute of that name on another object (`model.eval()`), `getattr` on an object that is not one of those
modules, nor any module under an alias (`import numpy as np`). The check reads the cell's text: it does not follow
a value, so a module or frame reached through another binding (`s = sys`, `ip = get_ipython(); ip.ev(...)`, a module
held in a list or an object's attribute) or an attribute by a computed name on an object not named here
(`getattr(frame, "f_" + "globals")`) passes here and, where it finds a scratch cell's name, scores 0 in the grade
(left for a check that runs the saved cell alone, as the grader does). Reads
that raise no "open" audit event (`lrcourse.files_read`) are not caught here either.
"""

from __future__ import annotations

import ast
import builtins

from lrcourse.checking.answer_cell_runs import nodes_reached, nodes_run, run_before_the_answer
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
# Builtins that only count or print what they are given: `len(globals())` finds no value, here or in the grade
ONLY_READING = frozenset({"len", "print"})
NAMESPACE_CALLS = frozenset({"globals", "locals", "vars"})


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


def lookups_in(nodes, aliases: dict[str, str], walk: bool = True, harmless: frozenset = frozenset()) -> list[str]:
    """The hidden lookups among `nodes` (each read whole, or alone if not `walk`), in order, once each; `aliases`:
    the cell's (`aliases_in`); `harmless`: the ids of nodes found no lookup (`harmless_in`)."""
    every = (node for top in nodes for node in (ast.walk(top) if walk else [top]) if id(node) not in harmless)
    return list(dict.fromkeys(lookup for lookup in map(lambda node: _lookup(node, aliases), every) if lookup))


def harmless_in(tree: ast.AST, aliases: dict[str, str], bound: frozenset = frozenset(), depth: int = 0) -> frozenset:
    """The ids of the nodes of `tree` that look like lookups and find nothing a scratch cell gave (R23s W4b, M1):
    `globals()`, `locals()`, `vars()` only counted or printed (`len(globals())`), `locals()` and `vars()` in a
    function's or class's body (its own names), and `eval` or `exec` of a constant
    string whose own code makes no hidden lookup, imports nothing and reads only builtins and names the cell binds
    (`eval('0.49 ** 0.5')`); `bound`: names bound around `tree` (the cell holding an eval's string)."""
    bound = bound | bound_in(tree)
    harmless = {id(node) for node in _own_namespace_calls(tree, bound)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.func.id in bound:
            continue
        if node.func.id in ONLY_READING:
            for argument in node.args:
                if _plain_call(argument, NAMESPACE_CALLS, bound, 0):
                    harmless.update((id(argument), id(argument.func)))
        elif _plain_call(node, ("eval", "exec"), bound | frozenset(aliases), 1) and depth < 4:
            if _constant_harmless(node.args[0].value, node.func.id, aliases, bound, depth + 1):
                harmless.update((id(node), id(node.func)))
    return frozenset(harmless)


def _own_namespace_calls(tree: ast.AST, bound: frozenset):
    """The calls `locals()` and `vars()`, and their names, in a function's or class's body: that scope's own names,
    never the kernel's (`def pack(**kw): return dict(locals()['kw'])`)."""
    for scope in ast.walk(tree):
        if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            for node in _same_scope(scope):
                if _plain_call(node, ("locals", "vars"), bound, 0):
                    yield from (node, node.func)


def _same_scope(scope: ast.AST):
    """The nodes of `scope`'s body that run in its own namespace: not those of a function or class nested in it
    (walked as scopes of their own) nor its decorators, defaults and bases (the enclosing scope's)."""
    body = scope.body if isinstance(scope.body, list) else [scope.body]
    todo = list(body)
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            todo.extend(ast.iter_child_nodes(node))


def _plain_call(node: ast.AST, names, rebound: frozenset, constants: int) -> bool:
    """`node` calls one of the builtins `names` (not rebound by the cell) with `constants` constant strings alone."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names):
        return False
    plain = all(isinstance(arg, ast.Constant) and isinstance(arg.value, str) for arg in node.args)
    return node.func.id not in rebound and not node.keywords and len(node.args) == constants and plain


def _constant_harmless(code: str, mode: str, aliases: dict[str, str], bound: frozenset, depth: int) -> bool:
    """The constant `code` an `eval` or `exec` (`mode`) runs makes no hidden lookup, imports nothing and reads only
    builtins and names bound in the cell (`bound`) or in it."""
    try:
        tree = ast.parse(code, mode=mode)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    aliases = {**aliases, **aliases_in(tree)}
    harmless = harmless_in(tree, aliases, bound, depth)
    if lookups_in([tree], aliases, harmless=harmless):
        return False
    if any(isinstance(node, ast.Import | ast.ImportFrom) for node in ast.walk(tree)):
        return False
    names = (node for node in ast.walk(tree) if isinstance(node, ast.Name) and id(node) not in harmless)
    read = {node.id for node in names if isinstance(node.ctx, ast.Load)}
    return read <= BUILTIN_NAMES | bound | bound_in(tree)


BUILTIN_NAMES = frozenset(dir(builtins)) - frozenset(BY_NAME) - {"vars", "__builtins__"}


def bound_in(tree: ast.AST) -> frozenset:
    """The names `tree` binds anywhere: assigned, defined, imported, a function's parameters."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
    return frozenset(names)


def hidden_lookups(source: str, name: str, function: bool = False) -> list[str]:
    """The hidden lookups of the cell `source` (as Python) before `name` is bound; `function`: `name` is a function
    or class the cell defines, whose body runs when the grader calls it, so all of its definition and the cell's code
    above it count."""
    try:
        tree = ast.parse(source)
        aliases = aliases_in(tree)
        harmless = harmless_in(tree, aliases)
        if not function:
            return lookups_in(run_before_the_answer(tree, name), aliases, walk=False, harmless=harmless)
        giving = [
            index
            for index, statement in enumerate(tree.body)
            if getattr(statement, "name", None) == name or stores_into(statement, name)
        ]
        if not giving:
            return lookups_in(tree.body, aliases, harmless=harmless)
        above = nodes_run(tree.body[: giving[-1]], tree)  # R23s W4b: what runs before the def, node by node
        answer = _answer_runs(tree, giving[-1])
        return lookups_in([*above, *answer], aliases, walk=False, harmless=harmless)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []


def _answer_runs(tree: ast.Module, index: int) -> list[ast.AST]:
    """What runs when the grader calls the function or class `tree.body[index]` defines: all of it, the bodies of
    the cell's functions it reaches by name, wherever they are (R23s W1: a helper below it), and what the top-level
    code below it that binds a name these read runs (`helper = eval("scratch_fn")` under the def)."""
    answer = nodes_reached(list(ast.walk(tree.body[index])), tree)
    below = list(tree.body[index + 1 :])
    while True:
        read = {node.id for node in answer if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
        binding = [statement for statement in below if bound_in(statement) & read]
        if not binding:
            return answer
        below = [statement for statement in below if statement not in binding]
        answer += nodes_run(binding, tree)


def expect_no_hidden_lookup(source: str, name: str, cell: str, function: bool = False) -> None:
    """Fail if the cell `source` (`cell` names it) that gives `name` makes a hidden lookup (`hidden_lookups`). In a
    kernel only: the grader's own run of the cell is what it is."""
    if kernel_shell() is None:
        return
    found = hidden_lookups(source, name, function)
    where = (
        f"in {name}'s definition or the cell's code above it (or a function of the cell these call)"
        if function
        else f"before it binds {name}"
    )
    expect(
        not found,
        f"{cell} uses {', '.join(found)} {where}: a lookup by a string or in the kernel's own namespace (__main__, "
        f"a frame's or IPython's), which can find here what a scratch cell defined or imported. The grader runs the "
        f"answer cells as saved, in order, after the chapter's setup and context cells, and no other cell: there it "
        f"finds none of that, so if {name} needs what it finds here, {name} then scores 0 there. Write the names "
        f"and imports {name} needs in the answer cell itself, run it, then {SAVE_AND_RERUN}.",
    )
