"""Did the answer cell's last run in the kernel stop with an error before its answer was whole? Then the kernel's
value of the answer is an earlier cell's, and a check of it judges that cell, not the one saved (issue 23, R23j M1
(b'): a right answer run, then its cell edited to one that raised `ValueError`, run and saved, passed every visible
cell and was graded 0; R23l M1: the released stub left above the answer, graded 0 of 3).

IPython keeps no record of which inputs raised; the course's kernel extension does, on the shell
(`kernel_messages.FailedAnswers.raised`: by name, the input number of the last cell binding it that stopped with an
error, and that error). Its traceback passes through IPython's `run_code` with the cell's execution count in its
`result`, then the cell's own frame at the line that raised: that names the cell and the line. `sys.last_value` is
not enough: the extension's handler draws the stub's error without setting it, and any later error replaces it.
"""

from __future__ import annotations

import ast

from lrcourse.checking.answer_cell_runs import up_to_the_answer


def raised_before_the_answer(shell, execution: int, source: str, variable: str) -> BaseException | None:
    """The error the IPython `shell`'s input number `execution` (its history entry `source`) stopped with, if the
    shell's record (`recorded_error`) holds one for that input and it stopped before the cell's last statement that
    stores into `variable` was done; else None."""
    error = recorded_error(shell, execution, variable)
    if error is None:
        return None
    try:
        statements = up_to_the_answer(ast.parse(source), variable)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    last = max((statement.end_lineno or statement.lineno for statement in statements), default=0)
    line = _line_in_cell(error, shell, execution)
    return error if line is not None and line <= last else None


def raised_before_binding(shell, execution: int, source: str, name: str) -> BaseException | None:
    """As `raised_before_the_answer`, where the cell may bind `name` by a `def` or a `class` at its top level, which
    `up_to_the_answer` does not read as a binding (R23t W4: a helper above the answer, then a self-test that raised):
    the error, if the cell stopped at a line up to the end of its last such statement."""
    try:
        defining = [node for node in ast.parse(source).body if getattr(node, "name", None) == name]
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if not defining:
        return raised_before_the_answer(shell, execution, source, name)
    error = recorded_error(shell, execution, name)
    line = _line_in_cell(error, shell, execution) if error is not None else None
    return error if line is not None and line <= (defining[-1].end_lineno or defining[-1].lineno) else None


def recorded_error(shell, execution: int, variable: str) -> BaseException | None:
    """The error input number `execution` stopped with, as the course's kernel extension recorded it for `variable`
    (`lrcourse_failed_answers.raised` on the shell), or None: no record, or one of another input."""
    raised = getattr(getattr(shell, "lrcourse_failed_answers", None), "raised", None)
    entry = raised.get(variable) if isinstance(raised, dict) else None
    if not isinstance(entry, tuple) or len(entry) != 2 or entry[0] != execution:
        return None
    return entry[1] if isinstance(entry[1], BaseException) else None


def _line_in_cell(error: BaseException, shell, execution: int) -> int | None:
    """The line of the cell `shell` ran as input `execution` at which `error` was raised, if it was raised there (a
    shell of its own: another shell of the same process counts its inputs from 1 too)."""
    traceback = error.__traceback__
    running = False
    while traceback is not None:
        code = traceback.tb_frame.f_code
        if code.co_name == "run_code":  # IPython's, running one cell: its `result` holds the execution count
            names = traceback.tb_frame.f_locals
            count = getattr(names.get("result"), "execution_count", None)
            running = names.get("self") is shell and type(count) is int and count == execution
        elif running and code.co_name == "<module>":
            return traceback.tb_lineno
        traceback = traceback.tb_next
    return None
