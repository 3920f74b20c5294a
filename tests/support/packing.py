"""Fidelity students that carry more than one catalogue answer: each student costs a grading of the notebook, so
an answer that is plain data rides with a correct answer of another exercise of its chapter, each judged on its own
exercise's test cells only (tests/test_grading_fidelity.py).

Packed only where neither can change the other's outcome. The passenger's cell binds its exercise's names to a
literal (one assignment that `ast.literal_eval` reads: it can neither raise, nor wait, nor reach anything), it tosses
no coin, and it is not expected to lose every cell of its exercise. Its carrier is a correct answer (it loses nothing,
tosses no coin); no answer of a student, nor its exercise's test cells (in source/, hidden tests included), names the
names of another's exercise, and each is of an exercise of its own. What they still share is the student's process
and time budget: a carrier that ended the process or used up the budget would cost a passenger every cell of its
exercise, which no passenger is expected to lose; anything done to the carrier costs it a cell it is expected to keep.
Either shows as a failure, never as the expected outcome.
"""

from __future__ import annotations

import ast
import re

import nbformat

from lrcourse import cells

import catalogue
from support.course import NOTEBOOK
from support.paths import ROOT

# Chapters 2 and 3 have ten and more plain-data answers; chapters 5 and 6 one or two (left alone: a student or two
# fewer), chapters 1, 4 and 7 none
PACKED_CHAPTERS = ("02_ordered_schedules", "03_adaptive_schedules")


def exercise_names(chapter: str) -> dict[str, set[str]]:
    """Answer cell -> the names the instructor's solution of it defines (as the grader reads them: `Exercise`)."""
    notebook = nbformat.read(ROOT / "source" / chapter / NOTEBOOK[chapter], as_version=4)
    return {
        cells.grade_id(cell): set(cells.defined_names(cell.source)) for cell in notebook.cells if cells.is_answer(cell)
    }


def cell_sources(chapter: str) -> dict[str, str]:
    """Cell id -> its source in source/ (a test cell's hidden tests included)."""
    notebook = nbformat.read(ROOT / "source" / chapter / NOTEBOOK[chapter], as_version=4)
    return {cell.get("id"): cell.source for cell in notebook.cells}


def names_any(text: str, names: set[str]) -> bool:
    return any(re.search(rf"\b{re.escape(name)}\b", text) for name in names)


def is_passenger(answer, names: set[str]) -> bool:
    """A literal bound to exactly its exercise's names, no coin, not expected to lose every cell."""
    try:
        [statement] = ast.parse(answer.source).body
        ast.literal_eval(statement.value if isinstance(statement, ast.Assign) else "not a literal")
    except (SyntaxError, ValueError, AttributeError):
        return False
    if answer.or_fails:
        return False
    return set(cells.defined_names(answer.source)) == names and answer.failing != set(answer.cells)


def is_carrier(answer) -> bool:
    """A catalogue answer that is correct: it loses nothing and tosses no coin."""
    return answer in catalogue.CORRECT and not answer.failing and not answer.or_fails


def apart(one, other, names: dict[str, set[str]], tests: dict[str, str]) -> bool:
    """Neither answer, nor the test cells of its exercise, names the names of the other's exercise."""

    def reads(answer) -> str:
        return "\n".join([answer.source, *(tests[cell] for cell in answer.cells)])

    return not names_any(reads(one), names[other.cell]) and not names_any(reads(other), names[one.cell])


def packed(chapter: str, answers: list) -> list[list]:
    """The answers of `chapter`, each group one student's (the carrier first)."""
    groups = [[answer] for answer in answers]
    if chapter not in PACKED_CHAPTERS:
        return groups
    names, tests = exercise_names(chapter), cell_sources(chapter)
    passengers = [answer for answer in answers if is_passenger(answer, names[answer.cell])]
    carriers = [group for group in groups if is_carrier(group[0]) and group[0] not in passengers]
    for passenger in passengers:
        for group in carriers:
            if all(a.cell != passenger.cell and apart(a, passenger, names, tests) for a in group):
                group.append(passenger)
                groups.remove([passenger])
                break
    return groups
