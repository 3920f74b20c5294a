"""Did the answer cell's last run in the kernel stop with an error before its answer was whole? Then the kernel's
value of the answer is an earlier cell's, and a check of it judges that cell, not the one saved (issue 23, R23j M1
(b'): a right answer run, then its cell edited to one that raised `ValueError`, run and saved, passed every visible
cell and was graded 0).

IPython keeps no record of which inputs raised, and the checker keeps no state of its own. What the kernel does keep
is the last error it showed (`sys.last_value`), whose traceback passes through IPython's `run_code` with the cell's
execution count in its `result`, then the cell's own frame at the line that raised. That names the cell and the line.
A check that fails on such an error carries it on as its own context (`carry`, not shown: `CheckFailed` renders its
own traceback), so the next test cell of the exercise finds it too. Any other error shown since hides it: the check
then judges the kernel's value, as it did before.
"""

from __future__ import annotations

import ast
import sys

from lrcourse.checking.answer_cell_runs import up_to_the_answer

MAX_CHAIN = 20  # the errors followed through their context: a chain of the check's own failures, one per test cell


def raised_before_the_answer(shell, execution: int, source: str, variable: str) -> BaseException | None:
    """The error the IPython `shell`'s input number `execution` (its history entry `source`) stopped with, if it is
    the last error shown (or one a failed check carried on) and it stopped before the cell's last statement that stores
    into `variable` was done; else None."""
    try:
        statements = up_to_the_answer(ast.parse(source), variable)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    last = max((statement.end_lineno or statement.lineno for statement in statements), default=0)
    for error in errors_shown():
        line = _line_in_cell(error, shell, execution)
        if line is not None:
            return error if line <= last else None
    return None


def errors_shown() -> list[BaseException]:
    """The last error the kernel showed, then those it carries as its context, most recent first."""
    chain: list[BaseException] = []
    error = getattr(sys, "last_value", None)
    while isinstance(error, BaseException) and len(chain) < MAX_CHAIN and not any(error is seen for seen in chain):
        chain.append(error)
        error = error.__context__
    return chain


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


def carry(failure: BaseException, error: BaseException) -> BaseException:
    """`failure` with `error` as its context, unshown: the next check finds `error` through it (`errors_shown`)."""
    failure.__context__ = error
    failure.__suppress_context__ = True
    return failure
