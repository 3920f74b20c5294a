"""The example class for the instructor walkthrough (`lrcourse demo`).

`examples/class/<assignment>/` holds one file per student: `<student>.py` holds the student's answers, each
section for the exercise cell named on its first line (`# cell: <grade_id>`), pasted into the released notebook;
`<student>.ipynb` is submitted as it is (a malformed notebook, for instance). Building the notebooks at
demo time keeps the examples in step with the released notebooks.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat


def submit_example_class(course: Path, examples: Path) -> list[str]:
    """Write every example student's submission into course/submitted/; return the assignments."""
    assignments = []
    for folder in sorted(p for p in examples.iterdir() if p.is_dir()):
        assignment = folder.name
        release = next((course / "notebooks" / assignment).glob("*.ipynb"))
        for answer in sorted(folder.iterdir()):
            target = course / "submitted" / answer.stem / assignment / release.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if answer.suffix == ".ipynb":
                shutil.copy(answer, target)
            elif answer.suffix == ".py":
                nbformat.write(_with_answer(release, answer.read_text()), target)
        assignments.append(assignment)
    return assignments


def _with_answer(release: Path, text: str) -> nbformat.NotebookNode:
    """The released notebook with each `# cell: <grade_id>` section of `text` pasted into that cell."""
    notebook = nbformat.read(release, as_version=4)
    sections, current = {}, None
    for line in text.splitlines():
        if line.startswith("# cell:"):
            current = line.removeprefix("# cell:").strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    for cell_id, lines in sections.items():
        cells = [cell for cell in notebook.cells if cell.get("id") == cell_id]
        if not cells:
            raise ValueError(f"{release.name} has no cell {cell_id!r}")
        cells[0].source = "\n".join(lines).strip() + "\n"
    return notebook
