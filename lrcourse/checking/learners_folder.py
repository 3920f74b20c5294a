"""What an answer cell takes from the learner's folder, which the grader lacks (issue 23, R23o W3).

The grader runs the answer cells as saved, after the chapter's context cells, in a sandbox holding the notebook
alone: no module or file of the learner's folder is beside it. An answer cell that imports a module written beside
the notebook (`import answer_mod`, or `%load_ext answer_mod`, whose extension runs in the kernel and does nothing in
the grade), or reads a file of that folder before its answer is bound (`open("g.txt")`, `Path.read_text`, `np.load`,
`torch.load`, ...), passes every visible cell and scores 0. Two readings, each of the class and not of a list of
functions: an import whose module `importlib.util.find_spec` finds in the learner's folder (the course's own
package aside: the grader has it), and the files the cell opened to read in that folder when it last ran
(`lrcourse.files_read`, Python's "open" audit event), the course's run cache aside (the grader trains again where
it lacks a run: the same numbers).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import types

from lrcourse.checking.answer_cell_runs import up_to_the_answer
from lrcourse.checking.answer_magics import magic_line, magic_name
from lrcourse.checking.answer_replay import stores_into
from lrcourse.checking.expect import expect
from lrcourse.checking.saved_answer import SAVE_AND_RERUN, kernel_shell, magic_calls, notebook_folder
from lrcourse.files_read import LIBRARIES, PACKAGE, inside, of_the_learner
from lrcourse.runcache import cache_folder

GRADERS_OWN = frozenset({"lrcourse"})  # modules the grader has, wherever the learner's copy lies
EXTENSION_MAGICS = frozenset({"load_ext", "reload_ext"})
WHY = (
    "The grader has only your notebook: it runs the answer cells as saved, with no file of your folder beside them, "
    "so there the cell stops with an error"
)


def modules_imported(source: str) -> list[str]:
    """The top-level names of the modules the cell (as Python) imports anywhere, and loads with `%load_ext` or
    `%reload_ext`; relative imports aside (a notebook's cell has no package)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.append(node.module)
    for call in magic_calls(source):
        if magic_name(call) in EXTENSION_MAGICS:
            names += magic_line(call).split()[:1]
    return list(dict.fromkeys(name.split(".")[0] for name in names if name))


def in_the_folder(module: str, folder: str) -> bool:
    """`module` (a top-level name) is one Python would import from `folder`: its spec's file or package lies there."""
    if module in GRADERS_OWN:
        return False
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError, AttributeError):  # a module whose spec cannot be read: its import says why
        return False
    if spec is None:
        return False
    places = [spec.origin, *(spec.submodule_search_locations or [])]
    return any(isinstance(place, str) and os.path.isabs(place) and of_the_learner(place, folder) for place in places)


def local_modules(source: str, folder: str | None = None) -> list[str]:
    """The modules the cell imports (`modules_imported`) that come from the learner's folder."""
    folder = folder if folder is not None else notebook_folder()
    return [module for module in modules_imported(source) if in_the_folder(module, folder)]


def expect_no_local_module(source: str, name: str, cell: str = "") -> None:
    """Fail if the cell `source` (as Python) that gives `name` imports a module of the learner's folder; `cell` names
    the cell (else: the one that defines `name`). In a kernel only."""
    if kernel_shell() is None:
        return
    folder = notebook_folder()
    found = local_modules(source, folder)
    expect(
        not found,
        f"{cell or f'The cell that defines {name}'} imports {', '.join(found)}, "
        f"{'a module' if len(found) == 1 else 'modules'} of your folder ({folder}). {WHY} (ModuleNotFoundError) "
        f"and {name} scores 0. Put the values, or the code, in the answer cell itself, then {SAVE_AND_RERUN}.",
    )


def files_read_before(variable: str, index: int, source: str) -> list[str]:
    """The files of the learner's folder the kernel's input In[`index`] (`source`) opened to read, when it ran, before
    `variable` was whole (at a line of its top-level code up to the answer: `answer_cell_runs.up_to_the_answer`; a
    read at an unknown line counts), the run cache aside."""
    shell = kernel_shell()
    recorder = getattr(shell, "lrcourse_files_read", None) if shell is not None else None
    records = getattr(recorder, "by_cell", {}).get(index, []) if recorder is not None else []
    if not records:
        return []
    try:
        statements = up_to_the_answer(ast.parse(source), variable)
        last = max((getattr(statement, "end_lineno", 0) or 0 for statement in statements), default=0)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        last = None
    cache = cache_folder()
    read = []
    for path, line, _ in records:
        if cache is not None and inside(path, str(cache)):
            continue
        if last is None or line is None or line <= last:
            read.append(path)
    return list(dict.fromkeys(read))


def answer_functions(target, bases: bool = True) -> list:
    """`target` if a function, else a class's functions: methods, and those behind a property, a staticmethod or a
    classmethod (R23r M3: a property reading a file was missed), of the class and of its bases (R23s M2: a base's
    method reading notes.txt was missed), those of an installed library's aside (torch's LRScheduler: not the
    learner's code); `bases` False: the class's own. Each with the functions its decorators wrap (`wrapped_chain`)."""
    if hasattr(unwrapped(target), "__code__"):
        return [each for each in wrapped_chain(target) if hasattr(each, "__code__") and not _a_librarys(each)]
    members = []
    for klass in getattr(target, "__mro__", (target,)) if bases else (target,):
        for value in vars(klass).values() if klass is not object else ():
            inner = (
                [value.fget, value.fset, value.fdel]
                if isinstance(value, property)
                else [getattr(value, "__func__", value)]
            )
            inner = [each for member in inner for each in wrapped_chain(member)]
            members += [member for member in inner if hasattr(member, "__code__") and not _a_librarys(member)]
    return members


def unwrapped(function):
    """The innermost function under `function`'s decorators (`wrapped_chain`)."""
    return wrapped_chain(function)[-1]


def wrapped_chain(function) -> list:
    """`function`, then each function its decorators wrap, where they keep `__wrapped__` (`@torch.no_grad()`,
    `@torch.inference_mode()`, `functools.wraps`: R23t W3, a wrapper whose code is torch's, shared by every function it
    wraps, so the learner's function was never read, and a file another one read was blamed on it)."""
    chain = [function]
    while not isinstance(chain[-1], type) and len(chain) < 100:
        try:
            inner = getattr(chain[-1], "__wrapped__", None)
        except Exception:  # a learner's object whose attribute raises: read it as it is
            inner = None
        if inner is None or any(inner is seen for seen in chain):
            break
        chain.append(inner)
    return chain


def _a_librarys(function) -> bool:
    """`function`'s code lies in an installed library or the course's own package."""
    file = getattr(function.__code__, "co_filename", "")
    return isinstance(file, str) and os.path.isabs(file) and file.startswith((*LIBRARIES, PACKAGE + os.sep))


def codes_within(codes) -> set:
    """`codes` and every code object nested in them (inner functions, lambdas, comprehensions)."""
    found, todo = set(), list(codes)
    while todo:
        code = todo.pop()
        if code not in found:
            found.add(code)
            todo.extend(constant for constant in code.co_consts if isinstance(constant, types.CodeType))
    return found


def _records():
    """Every record of the kernel's files-read recorder, the running cell's included."""
    shell = kernel_shell()
    recorder = getattr(shell, "lrcourse_files_read", None) if shell is not None else None
    if recorder is None:
        return []
    return [record for records in [*recorder.by_cell.values(), recorder.running or []] for record in records]


def _not_the_cache(read) -> list[str]:
    cache = cache_folder()
    return list(dict.fromkeys(path for path in read if cache is None or not inside(path, str(cache))))


def files_read_by(target) -> list[str]:
    """The files of the learner's folder the code of the function or class `target` (its own code objects and those
    nested in them, R23q W2: not its cell's top-level code, which shares their file) opened to read in any cell the
    kernel ran, the one running included (a test cell calling it), the run cache aside: the grader calls it without
    them."""
    codes = codes_within(function.__code__ for function in answer_functions(target))
    return _not_the_cache(path for path, _, stack in _records() if stack & codes)


def files_read_defining(target, name: str, source: str) -> list[str]:
    """The files of the learner's folder the top-level code of the cell that defines `target` (`source`) opened to
    read up to the end of the statement binding `name` (a default argument or a decorator reads at the `def`), in
    any run of that cell: as `files_read_before` for a data answer; a read after it, a learner's self-test, is not."""
    files = {function.__code__.co_filename for function in answer_functions(target, bases=False)}  # its cell's
    try:
        defining = [
            statement.end_lineno
            for statement in ast.parse(source).body
            if getattr(statement, "name", None) == name or stores_into(statement, name)
        ]
        last = max(defining) if defining else None
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        last = None
    read = []
    for path, line, stack in _records():
        tops = [code for code in stack if code.co_name == "<module>" and code.co_filename in files]
        if tops and (last is None or line is None or line <= last):
            read.append(path)
    return _not_the_cache(read)


def files_shown(read: list[str], folder: str) -> str:
    """The first three files `read`, relative to the learner's `folder`, and "a file" or "files" after them."""
    names = ", ".join(os.path.relpath(path, folder) for path in read[:3]) + (", ..." if len(read) > 3 else "")
    return f"{names}, {'a file' if len(read) == 1 else 'files'}"


def expect_no_file_read_by(target, name: str, source: str = "") -> None:
    """Fail if the function or class `target` (the answer `name`) read a file of the learner's folder when called
    here (`files_read_by`), or its cell (`source`) did before defining it (`files_read_defining`): the grader runs
    that cell and calls `name` with the notebook alone."""
    folder = notebook_folder()
    before = files_read_defining(target, name, source) if source else []
    expect(
        not before,
        f"The cell that defines {name} reads {files_shown(before, folder)} of your folder ({folder}), before it "
        f"defines {name}. {WHY} (FileNotFoundError) and {name} scores 0. Put the values in the cell, run it, "
        f"then {SAVE_AND_RERUN}.",
    )
    read = files_read_by(target)
    expect(
        not read,
        f"{name} reads {files_shown(read, folder)} of your folder ({folder}), when called. "
        f"{WHY} (FileNotFoundError) and the checks that call {name} score 0. Put the values in the cell, run it, "
        f"then {SAVE_AND_RERUN}.",
    )


def expect_no_file_of_the_folder(variable: str, index: int, source: str, cell: str) -> None:
    """Fail if the input In[`index`] that last assigned `variable` (`cell` names it) read a file of the learner's
    folder before `variable` was whole (`files_read_before`)."""
    read = files_read_before(variable, index, source)
    folder = notebook_folder()
    shown = files_shown(read, folder)
    expect(
        not read,
        f"{cell} reads {shown} of your folder ({folder}), before it binds "
        f"{variable}. {WHY} (FileNotFoundError) and {variable} scores 0. Put the values in the cell (write them out, "
        f"or compute them from what the chapter's setup defines), run it, then {SAVE_AND_RERUN}.",
    )
