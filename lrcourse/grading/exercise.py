"""An assignment's exercises from the instructor's side, and a submission's answers from the student's file.

Which cell is what is `lrcourse.cells`'s one definition; this module reads the instructor's notebook in
source/ (context and answer cells), nbgrader's gradebook (test cells, hidden tests included, and points),
and the submitted notebook (the student's answer cells, by grade_id).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lrcourse import cells
from lrcourse.grading.source_files import chapter_notebook
from lrcourse.notebook_limits import read_notebook


@dataclass
class TestCell:
    name: str
    source: str
    points: float

    @property
    def visible_source(self) -> str:
        return cells.visible_part(self.source)


@dataclass
class Exercise:
    """What the grader needs of one chapter: context, answer cells (and the names they define), tests."""

    notebook: str
    context: list[str]
    answers: dict[str, list[str]]  # answer cell grade_id -> names it defines
    tests: list[TestCell]
    # An answer that receives a PyTorch scheduler from the test (a training loop) keeps torch.optim.lr_scheduler
    # in its process: its cell's metadata says {"lrcourse": {"uses_schedulers": true}}. Other answers have none.
    allows_schedulers: bool = False

    @property
    def context_modules(self) -> list[str]:
        """What the context cells import, each once: the answers' zygote imports it before it forks (`Judge.ready`)."""
        return list(dict.fromkeys(name for source in self.context for name in cells.imported_modules(source)))


def load_exercise(course: Path, assignment: str, gradebook) -> Exercise:
    """The context and answer cells from source/, the test cells and points from nbgrader's gradebook.

    The context is what an answer may use besides itself: the cell with id "setup" and any code cell whose
    metadata says {"lrcourse": {"context": true}} (definitions the chapter shows, such as its model), run in
    notebook order before the answer cells, in the student's process and in the grader's. Keep them cheap.
    """
    import nbformat

    own = chapter_notebook(course, assignment)  # not a stray copy beside it (the release refuses those)
    if own is None:
        raise FileNotFoundError(f"source/{assignment}/ has no notebook of its own (source_files.chapter_notebook)")
    path = course / "source" / assignment / own
    notebook = nbformat.read(path, as_version=4)
    stored = gradebook.find_notebook(path.stem, assignment)
    solutions = {cell.name for cell in stored.solution_cells}
    sources = {cell.name: cell.source for cell in stored.source_cells}
    tests = [
        TestCell(cell.name, sources[cell.name], float(cell.max_score))
        for cell in stored.grade_cells
        if cell.cell_type == "code" and cell.name not in solutions
    ]
    order = {name: i for i, name in enumerate(cells.grade_ids(notebook.cells))}
    tests.sort(key=lambda test: order.get(test.name, len(order)))
    return notebook_exercise(path.stem, notebook.cells, tests)


def notebook_exercise(name: str, notebook_cells: list, tests: list[TestCell], names=None) -> Exercise:
    """The exercise of a notebook's cells with these `tests`: its context cells, its answer cells with the names
    `names(cell)` gives for each (default: what the cell defines, `cells.defined_names`), and whether one uses
    PyTorch's schedulers. The instructor's notebook here; the learner's saved one in `lrcourse.saved_check`."""
    names = names or (lambda cell: cells.defined_names(cells.source(cell)))
    context = [cells.source(cell) for cell in notebook_cells if cells.is_context(cell)]
    answers, allows_schedulers = {}, False
    for cell in notebook_cells:
        if cells.is_answer(cell):
            answers[cells.grade_id(cell)] = names(cell)
            allows_schedulers |= cells.uses_schedulers(cell)
    return Exercise(name, context, answers, tests, allows_schedulers)


def submitted_answers(path: Path, answer_ids) -> list[tuple[str, str]]:
    """The student's answer cells as (grade_id, source), in notebook order, found by their nbgrader grade_id (or
    cell id); the file is read within `notebook_limits` (NotebookRefused says why not)."""
    raw = read_notebook(path)
    found = raw.get("cells", []) if isinstance(raw, dict) else []
    return [
        (cells.grade_id(cell), cells.source(cell))
        for cell in found
        if cells.is_code(cell) and cells.grade_id(cell) in answer_ids
    ]
