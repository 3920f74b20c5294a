"""The collect record, `reports/collect-<assignment>.json`: what one collect collected, refused, superseded and left
out, and its notes, as JSON; a collect of one student (`--student`) keeps the classmates' rows of the one before."""

from __future__ import annotations

import json
from pathlib import Path

from lrcourse.grading.exchange.collect import Collected
from lrcourse.grading.exchange.other_account import give_to_course_owner

RECORD_ROWS = ("collected", "refused", "superseded", "left_out", "notes")  # the record's lists of rows


def write_collect_record(course: Path, result: Collected, only: str | None = None) -> Path:
    """The collect record: what was collected, refused, superseded and left out, as JSON. A collect of one student
    (`only`: nbgrader collect's `--student`) replaces that student's rows and keeps the classmates' (`merged`)."""
    path = course / "reports" / f"collect-{result.assignment}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = result.__dict__ if only is None else merged(previous_record(path), result.__dict__, only)
    path.write_text(json.dumps(record, indent=1))
    give_to_course_owner(path, course)  # root's record, the grader account's to replace (F24 M1(b))
    return path


def previous_record(path: Path) -> dict:
    """The record a collect wrote before, or nothing when there is none or it is not one (edited by hand?)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def merged(old: dict, new: dict, student: str) -> dict:
    """The record `new` (a collect of `student` alone) with every row of `old` that is not about `student` kept
    before it (a row already in `new`, such as a note on every submission, once)."""
    if old.get("assignment") != new["assignment"]:
        return new
    record = dict(new)
    for key in RECORD_ROWS:
        rows = old.get(key) if isinstance(old.get(key), list) else []
        kept = [row for row in rows if isinstance(row, dict) and not _about(row, student) and row not in new[key]]
        record[key] = kept + new[key]
    return record


def _about(row: dict, student: str) -> bool:
    """A row names the student (a collected or superseded row) or one of the student's folders (`<id>+...`, an
    owner's row `<id>: ...`, or her folder in submitted/: a put-back note, F24 N2)."""
    about = (f"{student}+", f"{student}:", f"submitted/{student}/")
    return row.get("student") == student or str(row.get("submission", "")).startswith(about)
