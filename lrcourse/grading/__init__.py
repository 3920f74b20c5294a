"""Grading a class on nbgrader, one module per step an instructor knows.

- `run`: grade every submission of an assignment in parallel workers (nbgrader's autograde per student).
"""
from lrcourse.grading.run import (  # noqa: F401  (what the `lrcourse` command uses)
    Outcome, Report, course_config, default_db_url, ensure_tools_on_path, export_grades, grade_class,
    summary, with_busy_timeout, write_report,
)
