"""What the trusted verdicts leave on disk, once the worker has them (`verdicts` decides, and writes nothing).

Two files in the student's autograded folder: the run's record of the verdicts (`VERDICTS`, read back by
`results`), and the graded notebook, whose test cells say where the trusted verdict differs from the kernel's
(the student's feedback shows them).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lrcourse import cells

if TYPE_CHECKING:
    from lrcourse.grading.autograde.verdicts import Verdicts

VERDICTS = ".lrcourse-verdicts.json"


def annotate(path: Path, verdicts: Verdicts) -> None:
    """Where the trusted verdict differs from the kernel's, say so in the graded notebook's test cell (its
    feedback shows it): the kernel's outputs are replaced by the grader's own result."""
    import nbformat

    if not verdicts.corrected or not path.exists():
        return
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        name = cells.nbgrader_id(cell)  # nbgrader's own name only: a student's cell id names no test cell
        if name in verdicts.corrected:
            verdict = verdicts.cells[name]
            note = (
                "The grader checked this cell again outside your notebook, and that result stands: "
                + ("passed." if not verdict.message else "failed.")
                + "\n"
            )
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=note)]
            if verdict.message:
                ename, _, evalue = verdict.detail.partition(": ")
                cell.outputs.append(
                    nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=verdict.detail.splitlines())
                )
    nbformat.write(notebook, path)


def write(folder: Path, verdicts: Verdicts) -> Path:
    """The verdicts as JSON in `folder` (the student's autograded folder): the run's record."""
    path = folder / VERDICTS
    path.write_text(verdicts.to_json())
    return path
