"""Which cell of a chapter's notebook is what: the one definition the checker, the grader and the tests share.

A chapter's notebook has four kinds of code cell that matter here:

- *context*: the cell with id "setup", and any code cell whose metadata says {"lrcourse": {"context": true}}
  (definitions the chapter shows, such as its model). An answer may use what they define; they run before
  the answer cells, in the student's process and in the grader's.
- *answer*: an nbgrader solution cell that is not graded itself (the student writes it).
- *test*: an nbgrader graded cell that is not a solution (a test cell). Its *visible part* is what the
  student sees and the kernel runs: the cell without the lines between `### BEGIN HIDDEN TESTS` and
  `### END HIDDEN TESTS`, as nbgrader's ClearHiddenTests leaves it (lines after the hidden block stay).

Besides these, a *written answer* is a markdown cell the student writes and a human grades (nbgrader
solution and graded); every nbgrader solution cell, code or written, is a cell the learner writes in.
A cell's name is nbgrader's grade_id: `grade_id` falls back to the cell's own id (an answer found in a
submission whose metadata was lost), `nbgrader_id` does not (only what nbgrader itself graded or recorded).

Cells are read as plain dicts (a notebook's JSON or nbformat's nodes, which are dicts), and defensively:
a submitted notebook is the student's file and may hold anything.
"""

from __future__ import annotations

import ast

HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def source(cell: dict) -> str:
    """A cell's text (JSON keeps it as a list of lines or one string)."""
    text = _dict(cell).get("source", "")
    return "".join(text) if isinstance(text, list) else str(text)


def nbgrader_id(cell: dict) -> str | None:
    """nbgrader's name of a cell (its grade_id), or None: a cell nbgrader does not know has none."""
    return _text(nbgrader_metadata(cell).get("grade_id"))


def grade_id(cell: dict) -> str | None:
    """nbgrader's name of a cell (its grade_id), else the cell's own id (None if neither is a string)."""
    return nbgrader_id(cell) or _text(_dict(cell).get("id"))


def answer_sources(notebook_cells: list) -> dict[str, str]:
    """grade_id -> text of every cell the learner writes in (code and written answers), in notebook order."""
    return {grade_id(cell): source(cell) for cell in notebook_cells if is_solution(cell)}


def grade_ids(notebook_cells: list) -> list[str]:
    """nbgrader's names of a notebook's cells, in notebook order (the order its items are shown in)."""
    return [name for name in map(nbgrader_id, notebook_cells) if name]


def is_code(cell) -> bool:
    return isinstance(cell, dict) and cell.get("cell_type") == "code"


def nbgrader_metadata(cell: dict) -> dict:
    """The cell's nbgrader metadata, {} where it has none (or none that is a dict)."""
    return _dict(_dict(_dict(cell).get("metadata")).get("nbgrader"))


def _lrcourse(cell: dict) -> dict:
    return _dict(_dict(_dict(cell).get("metadata")).get("lrcourse"))


def is_context(cell: dict) -> bool:
    return is_code(cell) and (cell.get("id") == "setup" or bool(_lrcourse(cell).get("context")))


def is_graded(cell: dict) -> bool:
    """A cell nbgrader gives points for: a test cell or a written answer."""
    return bool(nbgrader_metadata(cell).get("grade"))


def is_solution(cell: dict) -> bool:
    """A cell the learner writes in: an answer cell or a written answer (nbgrader's solution cells)."""
    return bool(nbgrader_metadata(cell).get("solution"))


def is_answer(cell: dict) -> bool:
    return is_code(cell) and is_solution(cell) and not is_graded(cell)


def is_test(cell: dict) -> bool:
    """A code test cell: graded, not an answer (nbgrader scores it by the kernel's outputs, not a checksum)."""
    return is_code(cell) and is_graded(cell) and not is_solution(cell)


def is_written_answer(cell: dict) -> bool:
    """A markdown cell the learner writes and a human grades (nbgrader's solution and graded)."""
    return _dict(cell).get("cell_type") == "markdown" and is_solution(cell) and is_graded(cell)


def uses_schedulers(cell: dict) -> bool:
    """An answer cell whose metadata says {"lrcourse": {"uses_schedulers": true}}."""
    return bool(_lrcourse(cell).get("uses_schedulers"))


def visible_part(text: str) -> str:
    """A test cell as the student saw it: without its hidden tests (what the kernel runs)."""
    kept, hiding = [], False
    for line in text.splitlines():
        if line.strip() == HIDDEN[0]:
            hiding = True
        elif line.strip() == HIDDEN[1]:
            hiding = False
        elif not hiding:
            kept.append(line)
    return "\n".join(kept)


def defined_names(text: str) -> list[str]:
    """The names an answer cell defines at its top level (functions, classes, simple assignments)."""
    names = []
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [target.id for target in node.targets if isinstance(target, ast.Name)]
    return names


def imported_modules(text: str) -> list[str]:
    """The modules a context cell imports at its top level (`import a.b`, `from a.b import c`), in order; [] if it
    does not parse."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    modules = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.append(node.module)
    return modules


def bound_names(text: str) -> set[str]:
    """Every name a context cell binds anywhere (imports, definitions, assignments); {} if it does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):  # nested past the parser's stack (R23n N2)
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def global_assigned(text: str) -> set[str]:
    """The names a function of the cell declares `global` (and so may bind when called); {} if it does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return set()
    return {name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names}
