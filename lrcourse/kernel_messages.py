"""How the course's failures show in a learner's kernel: the message first, none of the checker's internals.

IPython draws a traceback under every error a cell raises. For the course's own failures that is noise: a
check's message sat under ~20 lines of the checker's frames, and an unanswered exercise (nbgrader's stub
`raise NotImplementedError()`) turned every test cell after it into a traceback. So, in an IPython kernel:

- a failed check (`lrcourse.checking.CheckFailed`) renders itself (`_render_traceback_`, which IPython asks
  of any exception it shows) as the frames of the learner's own cells, then `CheckFailed: <the message>`;
- an unanswered exercise is one line, "not answered yet ...": the stub itself, a test cell calling a stub,
  and a test cell reading an answer's name that is not defined (`show_unanswered_briefly`, run when
  `lrcourse` is imported: every chapter's setup cell does; the grader's kernels, forked from a process that
  imported `lrcourse` before any shell existed, load this module as an IPython extension). Any other error
  shows as IPython would.

Only the traceback's lines change: the error's name and value stay what the kernel reports, so nbgrader
scores and reports every cell as before. Outside IPython (the grader, pytest) nothing here runs.
"""

from __future__ import annotations

import ast
import builtins
import glob
import json
import linecache
import re
import sys
import types
from pathlib import Path

from lrcourse import cells
from lrcourse.files_read import record_files_read

STUB = "raise NotImplementedError()"  # nbgrader's code stub (nbgrader_config.py), as the learner sees it
PACKAGE = str(Path(__file__).resolve().parent)
LIBRARIES = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
TOP_LEVEL_NAME = re.compile(r"^(?:class|def)\s+([A-Za-z_]\w*)|^([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)", re.M)


def shell():
    """The running IPython shell, or None (without importing IPython where nothing did)."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def learners_frame(frame) -> bool:
    """A frame of the learner's cells: not the course's package, not a library, not one IPython hides."""
    filename = frame.f_code.co_filename
    return (
        not filename.startswith(PACKAGE)
        and not filename.startswith(LIBRARIES)
        and not frame.f_locals.get("__tracebackhide__")
    )


def learners_traceback(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback `tb` with only the learner's frames, in the same order."""
    kept = []
    while tb is not None:
        if learners_frame(tb.tb_frame):
            kept.append(tb)
        tb = tb.tb_next
    chain = None
    for entry in reversed(kept):
        chain = types.TracebackType(chain, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return chain


def check_traceback(error: BaseException) -> list[str]:
    """What IPython shows for a failed check: the learner's frames and `<name>: <message>`, not the checker's
    (nor the errors the checker handled on the way: its own business)."""
    plain = [f"{type(error).__name__}: {error}"]
    ipython = shell()
    if ipython is None:
        return plain
    error.__suppress_context__ = True
    try:
        return ipython.InteractiveTB.structured_traceback(
            type(error), error, learners_traceback(error.__traceback__), tb_offset=0
        )
    except Exception:  # never let the display hide the message
        return plain


def unanswered(exercise: str | None = None) -> str:
    """The one line an unanswered exercise shows."""
    which = f" (exercise {exercise})" if exercise else ""
    return f"not answered yet{which}: write your answer in place of `{STUB}` and run its cell"


def undefined(name: str, failure: str | None = None) -> str:
    """The one line a test cell shows when the answer's name is not defined: its answer cell failed (`failure`, what
    it raised), else unanswered or not run (the kernel cannot tell which, so the line says both)."""
    if failure is not None:
        return (
            f"answer cell failed (exercise {name}): `{name}` is not defined because its cell raised {failure}; "
            "fix that error and run the cell again"
        )
    return (
        f"not answered yet (exercise {name}): `{name}` is not defined. Write its answer cell in place of `{STUB}` "
        "and run it (if that cell shows an error, fix that first)"
    )


class FailedAnswers:
    """What each cell that failed would have bound, and what it raised (IPython's post_run_cell): a test cell
    reading such a name names that error (a syntax error in `MyStepLR`'s cell), not "not answered yet". `raised`
    keeps, by name, the input number of the last cell binding it whose run stopped with an error, and that error (its
    traceback names the line): the checks read it (`checking.answer_cell_error`), since an error this shell's handler
    draws (the stub's one line) leaves no `sys.last_value`, and a later error would replace it (issue 23, R23l M1)."""

    def __init__(self):
        self.failures: dict[str, str] = {}  # name -> the error its cell raised, as one line
        self.raised: dict[str, tuple[int, BaseException]] = {}  # name -> (the cell's input number, its error)

    def after_cell(self, result) -> None:
        error = result.error_before_exec or result.error_in_exec
        count = getattr(result, "execution_count", None)
        for name in defined_names(getattr(result.info, "raw_cell", "") or ""):
            if error is None:
                self.failures.pop(name, None)
                self.raised.pop(name, None)
            else:
                self.failures[name] = one_line(error)
                if result.error_in_exec is not None and type(count) is int:
                    self.raised[name] = (count, result.error_in_exec)

    def show_briefly(self, ipython, etype, value, tb, tb_offset=None):
        """IPython's custom handler: an unanswered or failed exercise in one line, anything else as IPython shows it."""
        line = unanswered_line(value, tb, self.failures)
        if line is None:
            ipython.showtraceback((etype, value, tb), tb_offset=tb_offset)
        else:
            ipython._showtraceback(etype, value, [line])


def defined_names(source: str) -> set[str]:
    """The names a cell binds; for a cell that does not parse, the classes, functions and names it assigns at its
    top level, read from its lines."""
    names = cells.bound_names(source)
    return names or {match[0] or match[1] for match in TOP_LEVEL_NAME.findall(source)}


def one_line(error: BaseException) -> str:
    where = f" (line {error.lineno})" if isinstance(error, SyntaxError) and error.lineno else ""
    message = error.msg if isinstance(error, SyntaxError) else str(error)
    first_line = (message.splitlines() or [""])[0]  # the message is one line of a test cell's output
    return f"{type(error).__name__}: {first_line}{where}"[:200]


def stub_raised(tb: types.TracebackType | None) -> str | None:
    """If the innermost frame is the stub in a learner's cell: '' at a cell's top level, else the exercise
    (the function, or the class of the method) whose body is still the stub; None if not the stub."""
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    if not learners_frame(tb.tb_frame) or linecache.getline(code.co_filename, tb.tb_lineno).strip() != STUB:
        return None
    return "" if code.co_name == "<module>" else code.co_qualname.split(".")[0]


def tested_names(folder: str = ".") -> set[str]:
    """The names the test cells of the notebooks in `folder` read and no cell but an answer binds: the answers'."""
    read, bound = set(), set()
    for path in glob.glob(str(Path(folder) / "*.ipynb")):
        try:
            notebook_cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        for cell in notebook_cells:
            if cells.is_test(cell):
                read |= loaded_names(cells.source(cell))
            if cells.is_code(cell) and not cells.is_answer(cell):
                bound |= cells.bound_names(cells.source(cell))
    return read - bound - set(dir(builtins))


def loaded_names(text: str) -> set[str]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def unanswered_line(error: BaseException, tb, failures: dict[str, str] | None = None) -> str | None:
    """The one line for an error that means "not answered yet" (or that an answer's cell failed: `failures`, by
    name), or None for any other error."""
    if isinstance(error, NotImplementedError):
        exercise = stub_raised(tb)
        return None if exercise is None else unanswered(exercise)
    name = getattr(error, "name", None)
    if isinstance(error, NameError) and name in tested_names():
        return undefined(name, (failures or {}).get(name))
    return None


def load_ipython_extension(ipython) -> None:
    """NotImplementedError and NameError pass through `FailedAnswers.show_briefly` (IPython's one custom handler),
    which learns from every cell run what failed; once per shell. The files of the learner's folder each cell reads
    are recorded too (`files_read`: the grader has none of them)."""
    record_files_read(ipython)
    if getattr(ipython, "lrcourse_failed_answers", None) is not None:
        return
    ipython.lrcourse_failed_answers = recorder = FailedAnswers()
    ipython.events.register("post_run_cell", recorder.after_cell)
    ipython.set_custom_exc((NotImplementedError, NameError), recorder.show_briefly)


def show_unanswered_briefly() -> None:
    """In an IPython shell, `load_ipython_extension`; elsewhere nothing."""
    ipython = shell()
    if ipython is not None and hasattr(ipython, "set_custom_exc"):
        load_ipython_extension(ipython)
