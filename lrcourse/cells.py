"""Which cell of a chapter's notebook is what: the one definition the checker, the grader and the tests share.

A chapter's notebook has four kinds of code cell that matter here:

- *context*: the cell with id "setup", and any code cell whose metadata says {"lrcourse": {"context": true}}
  (definitions the chapter shows, such as its model). An answer may use what they define; they run before
  the answer cells, in the student's process and in the grader's.
- *answer*: an nbgrader solution cell that is not graded itself (the student writes it).
- *test*: an nbgrader graded cell that is not a solution (a test cell). Its *visible part* is what the
  student sees and the kernel runs: the cell without the lines between `### BEGIN HIDDEN TESTS` and
  `### END HIDDEN TESTS`, as nbgrader's ClearHiddenTests leaves it (lines after the hidden block stay).

Cells are read as plain dicts (a notebook's JSON or nbformat's nodes, which are dicts), and defensively:
a submitted notebook is the student's file and may hold anything.
"""

from __future__ import annotations

import ast

HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def source(cell: dict) -> str:
    """A cell's text (JSON keeps it as a list of lines or one string)."""
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else str(text)


def grade_id(cell: dict) -> str | None:
    """nbgrader's name of a cell (its grade_id), else the cell's own id."""
    return _dict(_dict(cell.get("metadata")).get("nbgrader")).get("grade_id", cell.get("id"))


def is_code(cell) -> bool:
    return isinstance(cell, dict) and cell.get("cell_type") == "code"


def _nbgrader(cell: dict) -> dict:
    return _dict(_dict(cell.get("metadata")).get("nbgrader"))


def _lrcourse(cell: dict) -> dict:
    return _dict(_dict(cell.get("metadata")).get("lrcourse"))


def is_context(cell: dict) -> bool:
    return is_code(cell) and (cell.get("id") == "setup" or bool(_lrcourse(cell).get("context")))


def is_answer(cell: dict) -> bool:
    return is_code(cell) and bool(_nbgrader(cell).get("solution")) and not _nbgrader(cell).get("grade")


def is_test(cell: dict) -> bool:
    return is_code(cell) and bool(_nbgrader(cell).get("grade")) and not _nbgrader(cell).get("solution")


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


def bound_names(text: str) -> set[str]:
    """Every name a context cell binds anywhere (imports, definitions, assignments); {} if it does not parse."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
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
