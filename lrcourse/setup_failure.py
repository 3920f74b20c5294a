"""Why the saved-notebook check (`saved_check`) could not run a setup or context cell: one sentence naming the cell
as the learner sees it (by its first line: JupyterLab shows no cell id), the error, and what to do.

Who trusts whom: nobody; the cells run are the learner's own, or the chapter's, in the learner's own process. This
module only reads a traceback and some cell text.
"""

from __future__ import annotations

from lrcourse import cells

# The saved notebook's context digest is not the package's: a wheel not rebuilt (R23z M1), an older notebook (R23a M1).
OTHER_RELEASE = "of another release of the chapter than the lrcourse package installed here (either may be the older)"
ASK = "ask your instructor (your notebook may need the chapter's current release, or lrcourse here a reinstall)"


def context_failure(error: BaseException, context: list[str], chapters: bool, other: bool = False) -> str:
    """The sentence for `error` raised by one of the setup and context cells run (`context`: the chapter's where
    `chapters`, else the saved notebook's), naming the cell by its first line (JupyterLab shows no cell id); "" where
    no context cell raised it (R23z N4: `import nosuchmodule_xyz` in a setup cell ended in a traceback); `other`: the
    notebook is of another release than the package's, its own cells run (R23a M2: it said "undo what you changed")."""
    codes, trace = [], error.__traceback__
    while trace is not None:
        codes.append(trace.tb_frame.f_code)
        trace = trace.tb_next
    unparsed = isinstance(error, SyntaxError) and error.filename == "<context cell>"
    cell = ""
    for source in context:
        try:
            code = compile(source, "<context cell>", "exec")
        except (SyntaxError, ValueError):
            code = None
        if (code is None and unparsed) or (code is not None and code in codes):
            cell = source
            break
    if not cell:
        return ""
    first = first_line({"source": cell})
    raised = f"{type(error).__name__}: {str(error)[:200]}"
    if other:
        return f"Your notebook's setup cell that starts `{first}` fails ({raised}): it is {OTHER_RELEASE}: {ASK}."
    if chapters:
        return (
            f"The chapter's setup cell that starts `{first}` fails here ({raised}): ask your instructor "
            "(the lrcourse package or the Python environment installed here lacks what it needs)."
        )
    return (
        f"Your notebook's setup cell that starts `{first}` fails ({raised}); the grader runs the chapter's own instead: "
        "undo what you changed there (an import added there: put it in your answer cell), save, and run this cell "
        "again."
    )


def first_line(cell: dict) -> str:
    """How a message names a cell: its first line that is not blank (JupyterLab shows no cell id), cut at 80."""
    return next((line.strip() for line in cells.source(cell).splitlines() if line.strip()), "")[:80]
