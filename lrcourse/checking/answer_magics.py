"""What an IPython magic call in an answer cell is, for the grade: how the learner wrote it, the Python it runs, and
whether it is one of the few known to bind no name of the kernel's (R23o W1). IPython writes every magic and shell
command as a `get_ipython().<method>(...)` call; the grader's shell makes each do nothing (`answer_zygote`).

An allowlist, not a reading of the magic's text: `%run`, `%run -i`, `%store -r`, `%rerun`, a macro or an alias bind or
write what their text does not show, and `%env NAME value` sets what the answer may read; each passed every visible
cell while the grade differed (R23o W1). A magic not listed here is refused wherever it is in the answer cell. A code
magic (time, timeit, prun) is read for what its code binds, so one whose code can bind unseen (exec, eval, globals,
setattr, get_ipython...: `UNSEEN_BINDERS`, or a function of the cell using them) is refused too (R23p N1)."""

from __future__ import annotations

import ast
import re

CODE_MAGICS = frozenset({"time", "timeit", "prun"})  # run Python of their own, which is read for what it binds
# They bind no name the answer reads: they show, configure the display, or load the autoreload extension
NAMELESS_MAGICS = frozenset(
    {
        "matplotlib",
        "config",
        "load_ext",
        "reload_ext",
        "autoreload",
        "precision",
        "xmode",
        "who",
        "whos",
        "who_ls",
        "pinfo",
        "pinfo2",
        "pdef",
        "pdoc",
        "psource",
        "history",
        "pwd",
        "cd",
        "alias_magic",
        "lsmagic",
        "store",  # not with -r (`store_restores`)
        "env",  # with no argument (it shows the environment; `%env NAME value` sets it)
    }
)
SHELL_MAGICS = frozenset({"sx", "system"})
SHELL_METHODS = frozenset({"system", "getoutput"})  # `!cmd` and `x = !cmd`
# Shell commands that only print: before the answer, any other may write a file or an environment it reads
PRINTING_COMMANDS = frozenset({"echo", "ls", "pwd", "cat", "head", "tail", "wc", "date", "whoami", "nproc", "uname"})
_OPTION_VALUES = {"timeit": "nrp", "prun": "lsTD"}  # the options of these that take a value
# Names through which a code magic's code binds or changes what its text does not show (R23p N1: `%time exec(RIGHT)`
# after a wrong `def` passed every visible cell, and the grader, where the magic does nothing, has the wrong one)
UNSEEN_BINDERS = frozenset(
    {
        "exec",
        "eval",
        "compile",
        "globals",
        "locals",
        "vars",
        "setattr",
        "delattr",
        "getattr",
        "__import__",
        "get_ipython",
        "__builtins__",
        "builtins",
        "__dict__",
        "__main__",
        "sys",
        "importlib",
    }
)


def magic_name(call: ast.Call) -> str | None:
    """The magic's name (`time` for `%time` and `%%time`), or None for a shell command written with `!`."""
    name = call.args[0] if call.args else None
    if call.func.attr in ("run_cell_magic", "run_line_magic") and isinstance(name, ast.Constant):
        return str(name.value)
    return None


def magic_written(call: ast.Call) -> str:
    """How the learner wrote the magic: `%name`, `%%name`, `!` (a shell command), or the shell's method called."""
    name = magic_name(call)
    if name is None:
        return "!" if call.func.attr in SHELL_METHODS else f"get_ipython().{call.func.attr}"
    return f"{'%%' if call.func.attr == 'run_cell_magic' else '%'}{name}"


def _text(call: ast.Call, at: int) -> str:
    text = call.args[at] if len(call.args) > at else None
    return text.value if isinstance(text, ast.Constant) and isinstance(text.value, str) else ""


def magic_line(call: ast.Call) -> str:
    """The text after the magic's name on its line (a shell command's whole text)."""
    return _text(call, 1 if magic_name(call) is not None else 0)


def magic_code(call: ast.Call, as_python) -> str:
    """The Python a time, timeit or prun call runs, as far as its text says: a cell magic's body made Python
    (`as_python`), a line magic's line without its options (R23o N2: `%prun -q x = ...` binds x); "" for any other."""
    if magic_name(call) not in CODE_MAGICS:
        return ""
    if call.func.attr == "run_cell_magic":
        try:
            return as_python(_text(call, 2))
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return ""
    line, valued = magic_line(call).lstrip(), _OPTION_VALUES.get(magic_name(call), "")
    while (option := re.match(r"-([A-Za-z]+)\s*", line)) is not None:
        line = line[option.end() :]
        if option.group(1)[-1] in valued and len(option.group(1)) == 1:  # `-n 1`: its value is the next word
            line = line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else ""
    return line


def binds_no_name(call: ast.Call, before_the_answer: bool) -> bool:
    """The magic is one known to bind no name of the kernel's and to set nothing the answer may read (a code magic's
    code is read apart); a shell command counts where it runs after the answer is whole, or only prints."""
    name, line = magic_name(call), magic_line(call)
    words = line.split()
    if name is None and call.func.attr not in SHELL_METHODS:  # the shell's own method, called by hand
        return False
    if name is None or name in SHELL_MAGICS:
        printing = bool(words) and words[0] in PRINTING_COMMANDS and not re.search(r"[<>|;&`$]", line)
        return not before_the_answer or printing
    if name == "store":
        return not any(word.startswith("-") and "r" in word for word in words)
    if name == "env":
        return not words
    return name in CODE_MAGICS or name in NAMELESS_MAGICS


# Of those, the ones a function of the cell that a code magic calls may not use (getattr and sys are common in honest
# answers, and reach the kernel's names only beside one of these)
UNSEEN_IN_FUNCTIONS = UNSEEN_BINDERS - {"getattr", "sys", "importlib"}


def unseen_binders(tree: ast.AST, functions: frozenset = frozenset(), names: frozenset = UNSEEN_BINDERS) -> list[str]:
    """The names of `names` the code `tree` reads, calls, imports or reaches as an attribute, and the functions of
    `functions` (the cell's own that use them: `functions_binding_unseen`) it reads."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and (node.id in names or node.id in functions):
            found.append(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in names:
            found.append(node.attr)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [module.split(".")[0] for module in modules if module.split(".")[0] in names]
    return list(dict.fromkeys(found))


def unseen_in_code(code: str, functions: frozenset = frozenset()) -> list[str]:
    """`unseen_binders` of a code magic's code, as text ([] where it is no Python)."""
    try:
        return unseen_binders(ast.parse(code), functions)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []


def functions_binding_unseen(tree: ast.AST) -> frozenset:
    """The functions and classes the cell `tree` defines whose code reads one of `UNSEEN_IN_FUNCTIONS` (`def f():
    exec(RIGHT)` then `%time f()`)."""
    defined = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return frozenset(
        node.name
        for node in ast.walk(tree)
        if isinstance(node, defined) and unseen_binders(node, names=UNSEEN_IN_FUNCTIONS)
    )
