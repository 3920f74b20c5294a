"""nbgrader's grades.csv, written safely: `lrcourse grade` writes it after a run, and `nbgrader export` through
`c.ExportApp.plugin_class` (nbgrader_config.py)."""

from __future__ import annotations

from pathlib import Path

from nbgrader.plugins import ExportPlugin

from lrcourse.grading.spreadsheet import write_csv

GRADES_COLUMNS = [
    "assignment",
    "duedate",
    "timestamp",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
]


class GradesCsvExportPlugin(ExportPlugin):
    """nbgrader's grades.csv, its CsvExportPlugin's rows and columns (every student of the gradebook for every
    assignment, 0 where nothing was submitted), written through `spreadsheet.write_csv`: nbgrader's own joins
    the cells with commas unquoted, so a comma or newline in a name made rows of its own."""

    def export(self, gradebook) -> None:
        rows = [
            grades_row(gradebook, assignment, student)
            for assignment in gradebook.assignments
            if not self.assignment or assignment.name in map(str, self.assignment)
            for student in gradebook.students
            if not self.student or student.id in map(str, self.student)
        ]
        write_csv(Path(self.to or "grades.csv"), GRADES_COLUMNS, rows)


def grades_row(gradebook, assignment, student) -> list:
    from nbgrader.api import MissingEntry

    try:
        submission = gradebook.find_submission(assignment.name, student.id)
    except MissingEntry:  # nothing submitted: nbgrader's export says 0
        timestamp, raw, penalty = "", 0.0, 0.0
    else:
        timestamp, raw, penalty = submission.timestamp, submission.score, submission.late_submission_penalty or 0.0
    identity = [assignment.name, assignment.duedate, timestamp, student.id]
    names = [student.last_name, student.first_name, student.email]
    return identity + names + [raw, penalty, max(0.0, raw - penalty), assignment.max_score]
