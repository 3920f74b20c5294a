"""Grading a class on nbgrader, one module per step an instructor knows.

- `run`: grade every submission of an assignment in parallel workers (nbgrader's autograde per student).
- `results`: read a graded class back: per-item grades from the gradebook, failures, verdicts, failure messages.
- `export`: per-item grades (an nbgrader export plugin) and Canvas's gradebook import file from a roster.
- `report`: the class report, one self-contained HTML page per chapter (`reports/<chapter>.html`).
"""
from lrcourse.grading.run import (  # noqa: F401  (what the `lrcourse` command uses)
    Outcome, Report, course_config, default_db_url, ensure_tools_on_path, export_grades, grade_class,
    summary, with_busy_timeout, write_report,
)
