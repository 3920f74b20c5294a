"""A finished submit whose notebook cannot be graded: a submission folder `lrcourse collect` refuses (issue 20).

nbgrader submit copies the notebook as it is on disk. One saved while the server crashed or the disk filled is
empty or cut short; a student may also submit an empty or garbled file on purpose after a good submission (for a
later time?). Its folder is complete (nbgrader's secret is there: not `unfinished_submit`'s case), and taken as
her newest it would supersede her good submission with one `lrcourse grade` fails. So a notebook that `lrcourse
grade` could not read (`intake.notebook_problem`: empty, not JSON, not nbformat 4, invalid, or past a
`notebook_limits` limit, where the reason says what to remove instead) refuses its folder with the reason, as an
unfinished submit is refused, and her previous accepted submission is collected instead; if she has none, the refusal is what the collect record holds of her,
and the instructor sees it. An empty notebook is refused when the folder is checked (its size is known without
reading it), so it never takes the place of an older submission; any other when the folder is read: each student's
accepted folders are read newest first until one reads, so a few broken ones after it leave her good submission
the one collected (F14: three cut short once crowded it out); past her read budget (`collect.Bounds.read_seconds`:
a flood of slow broken ones, r20am 1) her older folders are refused unread.
"""

from __future__ import annotations

import os

from lrcourse.grading.intake import notebook_problem

NOTEBOOK_SUFFIX = ".ipynb"
TAKEN_INSTEAD = "the student's previous accepted submission, if any, is taken instead"
BROKEN = (
    "its notebook cannot be graded ({problem}: a crash while saving, or not a notebook): " + TAKEN_INSTEAD + "; ask "
    "the student to submit again"
)
# r20v M1: a notebook of 21 MB of saved outputs was told "a crash while saving", and the same one submitted again is
# refused again
PAST_LIMIT = (
    "its notebook cannot be graded ({problem}): " + TAKEN_INSTEAD + "; ask the student to clear the outputs (Kernel > "
    "Restart Kernel and Clear Outputs of All Cells) or remove what she added past the limit, save, and submit again"
)


def empty_notebook(entries: dict[str, os.stat_result]) -> str | None:
    """Why a checked folder's entries (by name: their stat, nothing read) cannot be graded for an empty notebook."""
    empty = sorted(name for name, seen in entries.items() if name.endswith(NOTEBOOK_SUFFIX) and seen.st_size == 0)
    return BROKEN.format(problem=f"{empty[0]} is empty, 0 bytes") if empty else None


def broken(files: dict[str, bytes]) -> str | None:
    """Why a submission read (its files by name) cannot be graded for one of its notebooks, or None."""
    for name in sorted(files):
        if name.endswith(NOTEBOOK_SUFFIX):
            problem = notebook_problem(name, files[name]) if files[name] else (f"{name} is empty, 0 bytes", False)
            if problem:
                why, past_limit = problem
                return (PAST_LIMIT if past_limit else BROKEN).format(problem=why)
    return None
