"""What a graded class looks like, read back: per-item grades from nbgrader's gradebook, the run's failures,
the trusted verdicts, and the failure messages in the autograded notebooks.

Everything about grades goes through `nbgrader.api.Gradebook`, so SQLite and PostgreSQL gradebooks read
alike. `export` and `class_report` turn these into files; nothing here writes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lrcourse.cells import grade_ids, nbgrader_id
from lrcourse.grading.autograde.verdict_files import VERDICTS
from lrcourse.grading.outcomes import outcomes_csv
from lrcourse.grading.spreadsheet import read_rows

PENDING = "pending"  # a manually graded item nobody has graded yet
MESSAGE_LENGTH = 160
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NUMBER = re.compile(r"\d+(\.\d+)?(e-?\d+)?")


@dataclass(frozen=True)
class Item:
    """One graded cell of an assignment: an autograded test cell, or a manually graded answer or task."""

    assignment: str
    notebook: str
    name: str  # nbgrader's grade_id
    max_score: float
    cell_type: str  # "code" or "markdown"
    single_notebook: bool = True

    @property
    def column(self) -> str:
        inner = self.name if self.single_notebook else f"{self.notebook}/{self.name}"
        return f"{self.assignment}/{inner}"

    @property
    def key(self) -> tuple[str, str]:
        return self.notebook, self.name

    @property
    def autograded(self) -> bool:
        """A test cell, which the grader scores; else a written answer or task, which a human grades (this course
        grades no code answer by hand)."""
        return self.cell_type == "code"


@dataclass
class AssignmentGrades:
    """An assignment's grades: per student, per item, the score (or PENDING), and the total as grades.csv has it."""

    name: str
    max_score: float
    items: list[Item]
    scores: dict[str, dict[tuple[str, str], float | str]] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)

    @property
    def students(self) -> list[str]:
        return sorted(self.totals)

    def pending(self, student: str) -> list[Item]:
        return [item for item in self.items if self.scores[student].get(item.key) == PENDING]

    def autograded_total(self, student: str) -> tuple[float, float]:
        """The student's score and the most it can be over the autograded items only: what a self-check can say
        (the written answers wait for a human grader)."""
        items = [item for item in self.items if item.autograded]
        scores = self.scores.get(student, {})
        score = sum(value for item in items if isinstance(value := scores.get(item.key), (int, float)))
        return float(score), float(sum(item.max_score for item in items))


# --------------------------------------------------------------------------------------------
# The gradebook
# --------------------------------------------------------------------------------------------
def read_assignment(
    gradebook, assignment: str, order: dict[str, list[str]] | None = None, ungraded: bool = False
) -> AssignmentGrades:
    """Per-item grades of every submission of `assignment`; `order` (notebook -> grade_ids) orders the items;
    `ungraded`: the 0-point test cells (ungraded predictions) are items too."""
    record = gradebook.find_assignment(assignment)
    result = AssignmentGrades(assignment, record.max_score, assignment_items(record, order or {}, ungraded))
    for submission in gradebook.assignment_submissions(assignment):
        student = submission.student_id
        result.scores[student] = {
            (grade.notebook.name, grade.name): grade_value(grade)
            for notebook in submission.notebooks
            for grade in notebook.grades
        }
        result.totals[student] = max(0.0, submission.score - (submission.late_submission_penalty or 0.0))
    return result


def assignment_items(record, order: dict[str, list[str]], ungraded: bool = False) -> list[Item]:
    """The items that carry points (and, with `ungraded`, the 0-point test cells too), in `order`."""
    notebooks = sorted(record.notebooks, key=lambda n: n.name)
    items = []
    for notebook in notebooks:
        cells = [
            cell
            for cell in notebook.grade_cells + notebook.task_cells
            if cell.max_score or (ungraded and cell.cell_type == "code")
        ]
        position = {name: index for index, name in enumerate(order.get(notebook.name, []))}
        cells.sort(key=lambda cell: (position.get(cell.name, len(position)), cell.name))
        items += [
            Item(record.name, notebook.name, cell.name, cell.max_score, cell.cell_type, len(notebooks) == 1)
            for cell in cells
        ]
    return items


def grade_value(grade) -> float | str:
    """The item's score, or PENDING while it waits for a human grader."""
    return PENDING if grade.needs_manual_grade else grade.score


def source_order(source: Path, assignment: str) -> dict[str, list[str]]:
    """notebook name -> grade_ids in the order the instructor's notebook in `source` (the course's source/) has them."""
    import nbformat

    order = {}
    for path in sorted((source / assignment).glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        order[path.stem] = grade_ids(notebook.cells)
    return order


@dataclass
class ClassGrades:
    """One read of the gradebook: the requested assignments' grades, every student, the gradebook's order."""

    assignments: list[AssignmentGrades]  # in the order requested (default: the gradebook's)
    students: list[str]  # every student the gradebook knows, submitted or not
    order: list[str]  # every assignment's name, in the gradebook's order
    not_plain: list[str] = field(default_factory=list)  # names left out: not one plain folder name (`plain_name`)

    def assignment(self, name: str) -> AssignmentGrades:
        return next(grades for grades in self.assignments if grades.name == name)

    def in_gradebook_order(self) -> list[AssignmentGrades]:
        position = {name: index for index, name in enumerate(self.order)}
        return sorted(self.assignments, key=lambda grades: position.get(grades.name, len(position)))


def plain_name(name: str) -> bool:
    """Whether an assignment's name is one plain folder name. The gradebook's names make paths (source/<name>,
    reports/<name>.csv and .html), and a course's gradebook is its owner's to write: as root, a name `../../x` put
    root's page outside the course and read notebooks wherever it pointed (R20s W2)."""
    return not why_not_plain(name)


def why_not_plain(name: str) -> str:
    """Why an assignment's name makes no path (`plain_name`), else "": not one folder name, or longer than 200 bytes
    (room for `.html` in a file name of 255 bytes: a longer one graded, then its report failed, R20u N4)."""
    if not_one_folder(name):
        return "its name is not one plain folder name"
    if len(name.encode(errors="surrogatepass")) > 200:
        return "its name is longer than 200 bytes (its report, <name>.html, would not fit a file name)"
    return ""


def read_gradebook(course: Path, db_url: str, assignments: list[str] | None = None) -> ClassGrades:
    """Every requested assignment (default: all in the gradebook), and the students, in one read; an assignment
    whose name is not one plain folder name is left out, named in `not_plain`."""
    from lrcourse.gradebook_db import gradebook

    with gradebook(db_url) as book:
        order = [a.name for a in book.assignments]
        asked = assignments or order
        named = [name for name in asked if plain_name(name)]
        grades = [read_assignment(book, name, source_order(course / "source", name)) for name in named]
        left_out = [name for name in asked if not plain_name(name)]
        return ClassGrades(grades, [s.id for s in book.students], [n for n in order if plain_name(n)], left_out)


# --------------------------------------------------------------------------------------------
# The run's own records: failures, trusted verdicts, failure messages
# --------------------------------------------------------------------------------------------
def failed_students(course: Path, assignment: str) -> dict[str, str]:
    """student -> reason, for the students `lrcourse grade` could not grade (reports/<assignment>.csv)."""
    path = outcomes_csv(course, assignment)
    if not path.exists():
        return {}
    return {row["student"]: row["reason"] for row in read_rows(path) if row["status"] == "failed"}


def graded_folder(course: Path, student: str, assignment: str) -> Path | None:
    """`<course>/autograded/<student>/<assignment>`, or None where the student's id is not one plain folder name: the
    gradebook is the course owner's (or a TA group's) to write, and an id `../../other/autograded/victim` read another
    course's root-only notebook into the class report (R20v W1 d). `not_read` names such ids."""
    return None if not_one_folder(student) else course / "autograded" / student / assignment


def not_one_folder(name: str) -> bool:
    """Whether `name` makes no path of one plain folder (`plain_name`'s first rule)."""
    return name in ("", ".", "..") or any(mark in name for mark in ("/", "\\", "\0"))


def not_read(students) -> list[str]:
    """What the report says on stderr of each student whose graded notebooks it reads none of (`graded_folder`)."""
    return [
        f"not read: the graded notebooks of the student {s!r}: their id is not one plain folder name"
        for s in students
        if not_one_folder(s)
    ]


def read_verdicts(course: Path, student: str, assignment: str) -> dict | None:
    """The trusted checker's verdicts for a student, or None when it wrote none (older runs) or her id makes no path
    (`graded_folder`)."""
    folder = graded_folder(course, student, assignment)
    if folder is None:
        return None
    path = folder / VERDICTS
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def overridden_cells(verdicts: dict | None) -> list[str]:
    return list((verdicts or {}).get("overridden") or [])


def short_message(text: str, limit: int | None = MESSAGE_LENGTH) -> str:
    """A failure message's first non-empty line (with the next one when it ends in a colon, as a heading
    does), without colour codes, at most `limit` characters (None: all of it)."""
    lines = [line.strip() for line in _ANSI.sub("", text or "").splitlines() if line.strip()]
    first = " ".join(lines[:2]) if len(lines) > 1 and lines[0].endswith(":") else (lines[0] if lines else "")
    return first if limit is None or len(first) <= limit else first[: limit - 1] + "…"


def notebook_failures(course: Path, student: str, assignment: str) -> dict[str, str]:
    """grade_id -> first line of the error a graded cell shows in the student's autograded notebook ({} where her id
    makes no path: `graded_folder`)."""
    import nbformat

    failures = {}
    folder = graded_folder(course, student, assignment)
    for path in sorted(folder.glob("*.ipynb")) if folder else []:
        try:
            notebook = nbformat.read(path, as_version=4)
        except Exception:  # an unreadable graded copy has no messages to offer
            continue
        for cell in notebook.cells:
            grade_id = nbgrader_id(cell)  # a student's own cells, named by their ids, are not graded
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if grade_id and errors:
                failures[grade_id] = short_message(f"{errors[0].get('ename', '')}: {errors[0].get('evalue', '')}", None)
    return failures


def student_failures(course: Path, student: str, assignment: str) -> dict[str, str]:
    """grade_id -> failure message: the trusted verdicts' when there are some (`detail`, all of the message,
    when they have it), else the notebook's outputs. Not shortened: messages that differ only in their numbers
    are grouped on the whole line (cut at a fixed length, numbers of other widths cut them at other words)."""
    verdicts = read_verdicts(course, student, assignment)
    if verdicts is None:
        return notebook_failures(course, student, assignment)
    cells = verdicts.get("cells") or {}
    return {
        name: short_message(cell.get("detail") or cell["message"], None)
        for name, cell in cells.items()
        if cell.get("message") and cell.get("trusted_score", 0) < cell.get("points", 0)
    }


def message_pattern(message: str) -> str:
    """Messages that differ only in their numbers (the step, the rate) count as one."""
    return _NUMBER.sub("#", message)


def frequent_failures(
    failures: dict[str, dict[str, str]], limit: int = 3
) -> dict[str, list[tuple[str, int, list[str]]]]:
    """grade_id -> [(an example message, how many students, which students)], most frequent first.

    `failures` is student -> grade_id -> message."""
    grouped: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for student, cells in sorted(failures.items()):
        for grade_id, message in cells.items():
            grouped.setdefault(grade_id, {}).setdefault(message_pattern(message), []).append((student, message))
    result = {}
    for grade_id, patterns in grouped.items():
        ranked = sorted(patterns.values(), key=lambda rows: (-len(rows), rows[0][1]))[:limit]
        result[grade_id] = [
            (short_message(Counter(m for _, m in rows).most_common(1)[0][0]), len(rows), [s for s, _ in rows])
            for rows in ranked
        ]
    return result
