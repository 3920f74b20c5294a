"""Class results as files an instructor uploads or opens: per-item grades, Canvas's import CSV (grades.csv: `grades_csv`).

Every file is written by `spreadsheet.write_csv` (quoted, no cell a spreadsheet would run).

- `ItemCsvExportPlugin` is an nbgrader export plugin (like nbgrader's `CsvExportPlugin`, which writes
  grades.csv): one row per student, one column per graded cell (autograded tests and manually graded
  answers; `pending` until a human grades them), then the assignment's total as grades.csv has it. It also
  runs under nbgrader itself: `nbgrader export --exporter=lrcourse.grading.reports.export.ItemCsvExportPlugin`.
- `write_canvas` fills a roster exported from Canvas (Grades > Export) with the assignments' totals, in
  Canvas's gradebook import format, keeping the roster's students, IDs and order, with a "Points Possible" row.
  A roster student with no grade gets an empty cell; a graded student with no roster row is reported.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.plugins import ExportPlugin
from traitlets import Unicode

from lrcourse.grading.exchange.other_account import give_if_there
from lrcourse.grading.reports.results import (
    AssignmentGrades,
    ClassGrades,
    failed_students,
    read_assignment,
    source_order,
)
from lrcourse.grading.spreadsheet import write_csv

CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
ID_COLUMNS = ["SIS Login ID", "ID", "SIS User ID"]
POINTS_POSSIBLE = "Points Possible"  # Canvas writes it "    Points Possible", in the Student column
_CANVAS_NUMBER = re.compile(r"\s*\(\d+\)\s*$")  # Canvas exports name columns "Assignment Name (12345)"


def number(value: float) -> str:
    return f"{value:g}"


# --------------------------------------------------------------------------------------------
# Per-item grades: an nbgrader export plugin
# --------------------------------------------------------------------------------------------
class ItemCsvExportPlugin(ExportPlugin):
    """Per-item grades: a row per student, a column per graded cell and a total per assignment."""

    source = Unicode("", help="the course's source folder, to order items as the notebooks do").tag(config=True)

    def export(self, gradebook) -> None:
        names = [a.name for a in gradebook.assignments if not self.assignment or a.name in self.assignment]
        grades = [read_assignment(gradebook, name, self._order(name)) for name in names]
        students = [s.id for s in gradebook.students if not self.student or s.id in self.student]
        write_items(Path(self.to or "grades-by-item.csv"), grades, sorted(students))

    def _order(self, assignment: str) -> dict[str, list[str]]:
        return source_order(Path(self.source), assignment) if self.source else {}


def item_header(grades: list[AssignmentGrades]) -> list[str]:
    header = ["student_id"]
    for assignment in grades:
        header += [item.column for item in assignment.items] + [f"{assignment.name}/total"]
    return header


def item_row(student: str, grades: list[AssignmentGrades]) -> list[str]:
    """A student's cells: score or `pending` per item, then the total; all empty where nothing was submitted."""
    row = [student]
    for assignment in grades:
        if student not in assignment.scores:
            row += [""] * (len(assignment.items) + 1)
            continue
        cells = assignment.scores[student]
        row += [
            cell if isinstance(cell, str) else number(cell)
            for cell in (cells.get(item.key, "") for item in assignment.items)
        ]
        row.append(number(assignment.totals[student]))
    return row


def write_items(path: Path, grades: list[AssignmentGrades], students: list[str]) -> Path:
    return write_csv(path, item_header(grades), (item_row(student, grades) for student in students))


# --------------------------------------------------------------------------------------------
# Canvas: the roster in, the import file out
# --------------------------------------------------------------------------------------------
@dataclass
class Roster:
    header: list[str]
    rows: list[dict[str, str]]
    points: dict[str, str] | None = None  # Canvas's "Points Possible" row, when the export has one


@dataclass
class CanvasResult:
    path: Path
    columns: dict[str, str]  # assignment -> its column in the file
    matched: dict[str, str] = field(default_factory=dict)  # nbgrader id -> roster Student
    missing: dict[str, list[str]] = field(default_factory=dict)  # roster Student -> assignments left empty
    unmatched: list[str] = field(default_factory=list)  # graded students with no roster row
    pending: dict[str, list[str]] = field(default_factory=dict)  # nbgrader id -> items awaiting a grader
    conflicts: dict[str, str] = field(default_factory=dict)  # nbgrader id -> why its roster row is ambiguous
    withheld: dict[str, list[str]] = field(default_factory=dict)  # nbgrader id -> assignments it failed to grade
    unsubmitted: list[str] = field(default_factory=list)  # assignments nobody submitted: no column

    def lines(self) -> list[str]:
        """What an instructor must know before uploading."""
        out = [
            f"Canvas import file: {self.path} ({len(self.matched)} students matched; columns: "
            + ", ".join(f"{a} -> {c!r}" for a, c in self.columns.items())
            + ")"
        ]
        out += [f"  left empty for roster student {s!r}: {', '.join(a)}" for s, a in self.missing.items()]
        out += [f"  NOT IN THE ROSTER, not in the file: graded student {s!r}" for s in self.unmatched]
        out += [f"  AMBIGUOUS, not in the file: graded student {s!r}: {why}" for s, why in self.conflicts.items()]
        out += [
            f"  left empty, could not be graded (the gradebook's total is not uploaded): {s!r}: {', '.join(a)}"
            for s, a in self.withheld.items()
        ]
        out += [f"  no submissions, no column in the file: {a}" for a in self.unsubmitted]
        out += [
            f"  {s}: {len(items)} item(s) still pending manual grading, the total counts only their "
            "automatic score (0 for a written answer) until a grader confirms them"
            for s, items in self.pending.items()
        ]
        return out


def read_roster(path: Path) -> Roster:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        rows = [{key: (value or "").strip() for key, value in row.items() if key is not None} for row in reader]
        header = list(reader.fieldnames or [])
    points = next((row for row in rows if row.get("Student", "") == POINTS_POSSIBLE), None)
    return Roster(header, [row for row in rows if row is not points], points)


def read_id_map(path: Path) -> dict[str, str]:
    """A mapping CSV with columns nbgrader_id,roster_value."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return {row["nbgrader_id"].strip(): row["roster_value"].strip() for row in csv.DictReader(handle)}


def match_students(
    roster: Roster, students: list[str], id_column: str = "SIS Login ID", id_map: dict[str, str] | None = None
) -> tuple[dict[str, int], list[str]]:
    """nbgrader id -> roster row index, and the students no row matches.

    A student's roster value is `id_map[student]` when given, else the nbgrader id itself (surrounding spaces
    ignored). A row whose `id_column` equals it exactly is its row; failing that, a row equal to it ignoring
    case (SIS ids are often upper case where login names are not). `ambiguous_matches` then refuses a match
    that another row or another student could equally claim."""
    if roster.rows and id_column not in roster.header:
        raise ValueError(f"the roster has no column {id_column!r}; its columns: {', '.join(roster.header)}")
    exact = {row.get(id_column, ""): i for i, row in enumerate(roster.rows) if row.get(id_column)}
    folded = {value.casefold(): i for value, i in exact.items()}
    matched, unmatched = {}, []
    for student in students:
        value = roster_value(student, id_map)
        row = exact.get(value, folded.get(value.casefold()))
        if row is None:
            unmatched.append(student)
        else:
            matched[student] = row
    return matched, unmatched


def roster_value(student: str, id_map: dict[str, str] | None) -> str:
    return (id_map or {}).get(student, student).strip()


def canvas_columns(roster: Roster, assignments: list[str], names: dict[str, str] | None = None) -> dict[str, str]:
    """assignment -> column: the roster's own column when it has one (its name, or its name without Canvas's
    "(12345)", equals the assignment or `names[assignment]`), else a new column named after the assignment."""
    columns = {}
    for assignment in assignments:
        wanted = {assignment.casefold(), (names or {}).get(assignment, assignment).casefold()}
        found = [h for h in roster.header if h.casefold() in wanted or _CANVAS_NUMBER.sub("", h).casefold() in wanted]
        columns[assignment] = found[0] if found else (names or {}).get(assignment, assignment)
    return columns


def canvas_rows(
    roster: Roster,
    grades: list[AssignmentGrades],
    columns: dict[str, str],
    matched: dict[str, int],
    notes: dict[tuple[int, str], str] | None = None,
    withheld: dict[str, list[str]] | None = None,
) -> tuple[list[str], list[list[str]], dict[str, list[str]]]:
    """The import file's header and rows (roster order), and the roster students left without a grade, with
    `notes[(row, assignment)]` (why: e.g. the submission could not be graded) when known. `withheld`
    (student -> assignments) leaves those cells empty even when the gradebook has a total."""
    header = CANVAS_IDENTITY + [columns[a.name] for a in grades]
    by_row = {index: student for student, index in matched.items()}
    withheld = withheld or {}
    rows, missing = [], {}
    # always: Canvas takes a new column's points from it (the roster's own row when it has one)
    identity = ["    " + POINTS_POSSIBLE] + [(roster.points or {}).get(c, "") for c in CANVAS_IDENTITY[1:]]
    rows.append(identity + [number(a.max_score) for a in grades])
    for index, entry in enumerate(roster.rows):
        student = by_row.get(index)
        totals = [
            number(a.totals[student]) if student in a.totals and a.name not in withheld.get(student, ()) else ""
            for a in grades
        ]
        empty = [
            a.name + (f" ({notes[index, a.name]})" if (index, a.name) in (notes or {}) else "")
            for a, total in zip(grades, totals)
            if total == ""
        ]
        if empty:
            missing[entry.get("Student", "") or f"row {index + 1}"] = empty
        rows.append([entry.get(c, "") for c in CANVAS_IDENTITY] + totals)
    return header, rows, missing


def write_canvas(
    path: Path,
    roster_path: Path,
    grades: list[AssignmentGrades],
    id_column: str = "SIS Login ID",
    id_map: dict[str, str] | None = None,
    names: dict[str, str] | None = None,
    failed: dict[str, dict[str, str]] | None = None,
    students: list[str] = (),
) -> CanvasResult:
    """Canvas's gradebook import CSV for `grades`, from the roster Canvas exported; see the module docstring.
    `failed` (assignment -> student -> reason) says why a roster student's cell stays empty; `students` are all
    the gradebook knows (a match ignoring case never takes the row of one of them)."""
    roster = read_roster(roster_path)
    columns_before = canvas_columns(roster, [a.name for a in grades], names)
    # a chapter nobody submitted would only add an empty new assignment to Canvas
    unsubmitted = [a.name for a in grades if not a.totals and columns_before[a.name] not in roster.header]
    grades = [a for a in grades if a.name not in unsubmitted]
    graded = sorted({student for a in grades for student in a.totals})
    matched, unmatched = match_students(roster, graded, id_column, id_map)
    known = [*students, *(student for reasons in (failed or {}).values() for student in reasons)]
    conflicts = ambiguous_matches(roster, matched, id_column, id_map, known)
    matched = {s: row for s, row in matched.items() if s not in conflicts}
    columns = {a.name: columns_before[a.name] for a in grades}
    notes = {}
    for assignment, reasons in (failed or {}).items():
        for student, row in match_students(roster, list(reasons), id_column, id_map)[0].items():
            notes[row, assignment] = f"could not be graded: {reasons[student]}"
    # the run could not grade these: whatever the gradebook holds for them (0, pending) is not a grade to upload
    withheld = {}
    for a in grades:
        for student in sorted(set((failed or {}).get(a.name, {})) & set(a.totals)):
            withheld.setdefault(student, []).append(a.name)
    header, rows, missing = canvas_rows(roster, grades, columns, matched, notes, withheld)
    write_csv(path, header, rows)
    pending = {s: [i.column for a in grades if s in a.scores for i in a.pending(s)] for s in graded}
    return CanvasResult(
        path,
        columns,
        {s: roster.rows[i].get("Student", "") for s, i in matched.items()},
        missing,
        unmatched,
        {s: p for s, p in pending.items() if p},
        conflicts,
        {s: a for s, a in withheld.items() if s in matched},
        unsubmitted,
    )


def ambiguous_matches(
    roster: Roster, matched: dict[str, int], id_column: str, id_map: dict[str, str] | None = None, known: list[str] = ()
) -> dict[str, str]:
    """student -> why its match cannot be trusted: its roster value is on several roster rows (exactly, or
    ignoring case when it matched ignoring case), or another student claims the same row: another graded
    student (an id map sending two ids to one row, two ids differing only in case), or, against a match that
    ignores case, any student of `known` (the gradebook's, those the run could not grade) whose id is the row's
    exactly, graded or not. When one of two graded claims is the row's value exactly, that one keeps the row;
    neither of two equal claims gets a cell."""
    rows_with = {}
    for index, row in enumerate(roster.rows):
        rows_with.setdefault(row.get(id_column, "").casefold(), []).append(index)
    students_on = {}
    for student, index in matched.items():
        students_on.setdefault(index, []).append(student)
    conflicts = {}
    for student, index in matched.items():
        value = roster.rows[index].get(id_column, "")
        is_exact = roster_value(student, id_map) == value
        same = [i for i in rows_with[value.casefold()] if not is_exact or roster.rows[i].get(id_column) == value]
        owners = {s for s in [*students_on[index], *known] if s != student and roster_value(s, id_map) == value}
        rivals = sorted(owners) if is_exact or owners else [s for s in students_on[index] if s != student]
        if len(same) > 1:
            names = ", ".join(repr(roster.rows[i].get("Student", "")) for i in same)
            conflicts[student] = f"{len(same)} roster rows have {id_column} {value!r} ({names})"
        elif rivals and not is_exact and owners:
            conflicts[student] = (
                f"matches roster row {roster.rows[index].get('Student', '')!r} only ignoring case: its "
                f"{id_column} is exactly the id of {', '.join(repr(s) for s in rivals)}"
            )
        elif rivals:
            others = ", ".join(repr(s) for s in rivals)
            conflicts[student] = f"matches roster row {roster.rows[index].get('Student', '')!r}, as {others} does"
    return conflicts


# --------------------------------------------------------------------------------------------
# Both, for the `lrcourse export` command
# --------------------------------------------------------------------------------------------
@dataclass
class ExportOptions:
    out: Path | None = None  # default: <course>/exports
    roster: Path | None = None  # Canvas's gradebook export; no Canvas file without it
    id_column: str = "SIS Login ID"  # the roster column that holds nbgrader's student ids
    id_map: Path | None = None  # or a CSV nbgrader_id,roster_value mapping them
    names: dict[str, str] = field(default_factory=dict)  # assignment -> Canvas column, when not its own name

    @classmethod
    def given(cls, args) -> ExportOptions:
        """The options as `lrcourse grade --export` and `lrcourse export` take them (argparse's namespace)."""
        absolute = lambda path: Path(path).resolve() if path else None  # noqa: E731
        names = dict(pair.split("=", 1) for pair in args.canvas_column)
        return cls(absolute(args.out), absolute(args.roster), args.roster_id_column, absolute(args.id_map), names)


def export_class(course: Path, book: ClassGrades, options: ExportOptions) -> list[str]:
    """Write the per-item CSV (and the Canvas file when there is a roster) from one read of the gradebook
    (`results.read_gradebook`); return what to tell the instructor."""
    out = options.out or course / "exports"
    try:
        return _write_exports(course, book, options, out)
    finally:  # root's grade --export in another account's course: what it wrote there is hers, never via a link
        if out.is_relative_to(course):  # (R20r W2: root's exports/ failed the owner's next export)
            for name in ("grades-by-item.csv", "canvas-import.csv"):
                give_if_there(out / name, course)


def _write_exports(course: Path, book: ClassGrades, options: ExportOptions, out: Path) -> list[str]:
    items = write_items(out / "grades-by-item.csv", book.in_gradebook_order(), sorted(book.students))
    lines = [f"per-item grades: {items}"]
    if options.roster:
        id_map = read_id_map(options.id_map) if options.id_map else None
        grades = book.assignments
        failed = {a.name: failed_students(course, a.name) for a in grades}
        canvas = write_canvas(
            out / "canvas-import.csv",
            options.roster,
            grades,
            options.id_column,
            id_map,
            options.names,
            failed,
            book.students,
        )
        lines += canvas.lines()
    return lines
