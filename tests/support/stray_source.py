"""Files an instructor left beside a chapter's notebook in source/ (F7): a rubric and an editor's backup of the
instructor's notebook. nbgrader's autograde would copy both into each graded student's folder, where the
student's kernel runs; a cell of the student's looks for them there."""

from __future__ import annotations

from pathlib import Path

import nbformat

SECRET = "instructor-only-rubric"
FILES = ("rubric.md", "notebook.ipynb~", "#notebook.ipynb#")
LOOK = (
    "import os\n"
    "print('folder:', sorted(os.listdir('.')))\n"
    f"for name in {FILES!r}:\n"
    "    print(name, open(name).read() if os.path.exists(name) else 'absent')"
)


def leave(course: Path, chapter: str) -> None:
    """Write FILES beside the chapter's notebook in source/, each holding SECRET."""
    for name in FILES:
        (course / "source" / chapter / name).write_text(f"{SECRET} ({name})")


def printed(graded: Path) -> str:
    """What the LOOK cell of a graded notebook printed."""
    [cell] = [cell for cell in nbformat.read(graded, as_version=4).cells if cell.source == LOOK]
    return "".join(output.get("text", "") for output in cell.outputs)
