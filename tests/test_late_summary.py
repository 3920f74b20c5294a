"""The score `lrcourse grade` prints in its summary table and writes in reports/<chapter>.csv is after the late
penalty, as grades.csv's `score` (F20, finding 2): it was nbgrader's SubmittedAssignment.score, before the penalty,
so a late student under `penalty_method = "zero"` read full marks in the table and 0 in grades.csv. (Through the
queue: test_fleet's late student; with real users and the exchange: test_collect's carol.)"""

from __future__ import annotations

import csv
from datetime import datetime

import pytest

from support.course import make_course, solution_answers, submit
from support.gradedclass import lrcourse

pytestmark = pytest.mark.slow
CHAPTER = "01_learning_rate"


def rows(path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row.get("student_id") or row["student"]: row for row in csv.DictReader(handle)}


def test_a_late_students_score_in_the_summary_and_report_is_after_the_penalty(tmp_path):
    from lrcourse.gradebook_db import gradebook

    course = make_course(tmp_path / "course", [CHAPTER])
    with open(course / "nbgrader_config.py", "a") as config:
        config.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        book.update_or_create_assignment(CHAPTER, duedate=datetime(2000, 1, 1))
    for student, stamp in (("late", "2000-01-02"), ("ontime", "1999-12-31")):
        path = submit(course, student, CHAPTER, solution_answers(CHAPTER))
        (path.parent / "timestamp.txt").write_text(f"{stamp} 00:00:00.000000 UTC")
    run = lrcourse(course, "grade", CHAPTER, "--workers", "1", timeout=1800)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    final = rows(course / "grades.csv")
    raw, most = float(final["late"]["raw_score"]), float(final["late"]["max_score"])
    assert raw > 0 and float(final["late"]["score"]) == 0, final["late"]  # the penalty: all of it
    assert float(final["ontime"]["score"]) == raw, final["ontime"]
    reported = rows(course / "reports" / f"{CHAPTER}.csv")
    assert float(reported["late"]["score"]) == 0 and float(reported["ontime"]["score"]) == raw, reported
    table = {line.split()[0]: line for line in run.stdout.splitlines() if line.startswith("  ") and line.split()}
    assert f" 0 / {most:g}" in table["late"] and f" {raw:g} / {most:g}" in table["ontime"], run.stdout
