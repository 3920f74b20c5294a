"""A catalogue student's submission without the chapter's demonstration cells that no kept cell needs.

Most of a catalogue student's kernel time is the chapter's own demonstrations (its curves, sliders and training
runs), not the graded cells; the trusted verdicts never run them (`lrcourse.grading.autograde.verdicts`: context
and answer cells only). A code cell is kept if it is a context cell, carries nbgrader metadata (answer, test or
locked cell), or binds a name a kept cell may read; markdown cells cost nothing and stay. What a cell may read is
every identifier in its text (comments and strings too: more, never fewer), a test cell's hidden tests included
(the kernel runs them: nbgrader puts them back from the gradebook). A code cell whose bindings cannot be read (it
does not parse) is kept. The fidelity classes grade the solution both ways and hold them alike cell by cell
(tests/test_grading_fidelity.py), and tests/test_demonstrations.py holds these rules on every chapter.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import nbformat

from lrcourse import cells

from support.course import NOTEBOOK
from support.paths import ROOT

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@functools.cache  # a pure function of the text: the fidelity class asks it of the same cells for every student
def names_of(text: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """(the names a cell binds anywhere, the names it reads from the notebook's globals: each name it loads and binds
    nowhere itself), from one walk of its tree; None if it does not parse."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    loaded, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return frozenset(bound), frozenset(loaded - bound)


def read_names(text: str) -> set[str]:
    """The names a cell reads from the notebook's globals; every identifier in its text if it does not parse (a
    broken answer: more, never fewer)."""
    names = names_of(text)
    return set(IDENTIFIER.findall(text)) if names is None else set(names[1])


def always_kept(cell) -> bool:
    """A cell stripping never removes: not code, a context cell, or any cell nbgrader knows."""
    return not cells.is_code(cell) or cells.is_context(cell) or bool(cells.nbgrader_metadata(cell))


def instructor_sources(chapter: str) -> dict[str, str]:
    """cell id -> its source in source/ (a test cell with its hidden tests, which the kernel runs too)."""
    notebook = nbformat.read(ROOT / "source" / chapter / NOTEBOOK[chapter], as_version=4)
    return {cell.get("id"): cell.source for cell in notebook.cells}


def binds(cell) -> set[str] | None:
    """The names a code cell binds anywhere; None if it does not parse (then it is kept)."""
    names = names_of(cell.source)
    return None if names is None else set(names[0])


def needed(notebook_cells: list, hidden: dict[str, str]) -> list[bool]:
    """For each cell, whether it stays: always kept, or binding a name a kept cell reads (to a fixed point).
    `hidden`: cell id -> the instructor's source, whose names a kept cell of that id reads too."""
    keep = [always_kept(cell) for cell in notebook_cells]
    bound = [None if kept else binds(cell) for cell, kept in zip(notebook_cells, keep)]
    keep = [kept or names is None for kept, names in zip(keep, bound)]
    reads = [cell_reads(cell, hidden) for cell in notebook_cells]
    read = set().union(*(names for names, kept in zip(reads, keep) if kept))
    while grown := [i for i, kept in enumerate(keep) if not kept and bound[i] & read]:
        for i in grown:
            keep[i], read = True, read | reads[i]
    return keep


def cell_reads(cell, hidden: dict[str, str]) -> set[str]:
    """What a code cell reads, its hidden tests included; nothing for markdown."""
    if not cells.is_code(cell):
        return set()
    return read_names(cell.source) | read_names(hidden.get(cell.get("id"), ""))


def strip_demonstrations(path: Path, chapter: str) -> list[str]:
    """The submitted notebook at `path` rewritten without the cells no kept cell needs; the ids of those removed."""
    notebook = nbformat.read(path, as_version=4)
    keep = needed(notebook.cells, instructor_sources(chapter))
    removed = [cell.get("id") for cell, kept in zip(notebook.cells, keep) if not kept]
    notebook.cells = [cell for cell, kept in zip(notebook.cells, keep) if kept]
    nbformat.write(notebook, path)
    return removed
