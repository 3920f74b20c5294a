"""A late penalty the gradebook's due date or the student's extension changed after grading is named, and a late
student's reason says how late (F21, r20am 2, 3; r20ao 3, 4).

`lrcourse grade` skips an already-graded student whose submission is unchanged, so a due date moved or an extension
given after grading leaves her old penalty in grades.csv and on her feedback page. Grading her again re-runs
autograde, which marks her hand-graded answers for review again (r20ao 3): the instructor decides. So the intake
names each such student whose penalty (recomputed from the gradebook's trusted scores) would change, on her
"unchanged (skipped)" row (`intake.STALE_PENALTY`), and `--force` grades again, the reason saying the penalty was
recomputed (`intake.PENALTY_CHANGED`). A hand grade, or a mark from before marks said how late, is no such change
(r20ao 4). The intake's decision on a gradebook made by hand (fast); the queue's writing of a result with a real
course (`fleet.write`, no broker); the local path end to end with real grading (slow)."""

from __future__ import annotations

import base64
import csv
from datetime import datetime, timedelta

import nbformat
import pytest

from lrcourse.gradebook_db import gradebook
from lrcourse.grading import intake
from lrcourse.grading.autograde import late
from lrcourse.grading.course import course_config
from lrcourse.grading.exercise import load_exercise
from lrcourse.grading.fleet import write as fleet_write
from lrcourse.grading.fleet.result import Stored

import catalogue
from support.course import NOTEBOOK, make_course, solution_answers, submit
from support.gradedclass import lrcourse, submit_answer

CHAPTER = "02_ordered_schedules"
DUE = datetime(2000, 1, 1)
SUBMITTED = {"late10": DUE + timedelta(seconds=10), "lateday": DUE + timedelta(days=1), "ontime": DUE}
ZERO = '\nc.LateSubmissionPlugin.penalty_method = "zero"\n'


def graded_by_hand(course):
    """A course whose gradebook holds `SUBMITTED`'s students graded (3 points each, the zero penalty when late) and
    marked done, as a run leaves them; its gradebook's URL."""
    (course / "nbgrader_config.py").write_text(ZERO)
    url = f"sqlite:///{course / 'gradebook.db'}"
    with gradebook(url) as book:
        book.update_or_create_assignment("ch", duedate=DUE)
        book.add_notebook("nb", "ch")
        book.add_grade_cell("t", "nb", "ch", max_score=3, cell_type="code")
        for student, stamp in SUBMITTED.items():
            folder = course / "submitted" / student / "ch"
            folder.mkdir(parents=True)
            nbformat.write(nbformat.v4.new_notebook(), folder / "nb.ipynb")
            book.add_student(student)
            book.add_submission("ch", student, timestamp=stamp)
            book.find_grade("t", "nb", "ch", student).auto_score = 3.0
            book.db.commit()
            late.assign_penalties(book, course_config(course, url), "ch", student)
            seconds_late = book.find_submission("ch", student).total_seconds_late
            intake.mark_done(course, student, "ch", intake.fingerprint(folder), 0.0, 3.0, seconds_late)
    return url


def stale(course) -> list[str]:
    """The students the intake skips, none graded, whose row says their late penalty is stale."""
    outcomes, todo = intake.take_in(course, "ch", force=False)
    assert todo == [] and {o.status for o in outcomes} == {"skipped"}, (outcomes, todo)
    return sorted(o.student for o in outcomes if o.reason.endswith(intake.STALE_PENALTY))


def test_a_moved_due_date_names_only_those_whose_penalty_changes_and_grades_nobody(tmp_path):
    url = graded_by_hand(tmp_path)
    assert stale(tmp_path) == []
    with gradebook(url) as book:
        book.find_assignment("ch").duedate = DUE + timedelta(minutes=1)
        book.db.commit()
    # late10 is now on time; lateday is still late and "zero" takes all of it again: her penalty stays
    assert stale(tmp_path) == ["late10"]
    assert [student for student, _ in intake.take_in(tmp_path, "ch", force=True)[1]] == sorted(SUBMITTED)


def test_an_extension_is_named_and_a_forced_grading_says_the_penalty_was_recomputed(tmp_path):
    url = graded_by_hand(tmp_path)
    with gradebook(url) as book:
        book.find_submission("ch", "lateday").extension = timedelta(days=2)
        book.db.commit()
    assert stale(tmp_path) == ["lateday"]
    current = intake.fingerprint(tmp_path / "submitted" / "lateday" / "ch")
    config = course_config(tmp_path, url)
    note = intake.penalty_changed_note(tmp_path, url, config, "ch", "lateday", current)
    assert note == intake.PENALTY_CHANGED  # her grading's reason, read before it writes the new penalty
    assert intake.penalty_changed_note(tmp_path, url, config, "ch", "lateday", "another submission") == ""
    assert (
        intake.penalty_changed_note(
            tmp_path, url, config, "ch", "late10", intake.fingerprint(tmp_path / "submitted" / "late10" / "ch")
        )
        == ""
    )  # noqa: E501


def test_a_late_submissions_reason_names_how_late_and_the_penalty(tmp_path):
    url = graded_by_hand(tmp_path)
    assert late.lateness_in(url, "ch", "late10") == (10.0, "late by 10.00 s: late penalty 3")
    assert late.lateness_in(url, "ch", "lateday") == (86400.0, "late by 24.0 h: late penalty 3")
    assert late.lateness_in(url, "ch", "ontime") == (0.0, "") and late.lateness_in(url, "ch", "nobody") == (0.0, "")


def test_a_hand_grade_or_an_older_mark_is_no_change_of_the_due_date(tmp_path):
    """Only a due date or an extension is named: a hand grade in formgrader changes her score, not how late she was,
    and nbgrader's own penalty stays as autograde set it. A mark written before marks said how late (no `late`) says
    nothing of it: r20ao 4, a hand grade alone was taken for a moved due date there."""
    url = graded_by_hand(tmp_path)
    with gradebook(url) as book:
        book.find_grade("t", "nb", "ch", "late10").manual_score = 1.0
        book.db.commit()
    assert stale(tmp_path) == []
    for student in ("late10", "lateday"):  # older marks' fields
        folder = tmp_path / "submitted" / student / "ch"
        intake.mark_done(tmp_path, student, "ch", intake.fingerprint(folder), 0.0, 3.0)
    assert intake.graded_late(tmp_path, "lateday", "ch") is None
    with gradebook(url) as book:
        book.find_grade("t", "nb", "ch", "lateday").manual_score = 1.0
        book.db.commit()
    assert stale(tmp_path) == []


def fleet_result(course, student: str) -> Stored:
    """What a worker returns for `student`: her submitted notebook as the graded one, every test cell in full."""
    with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        tests = load_exercise(course, CHAPTER, book).tests
    notebook = (course / "submitted" / student / CHAPTER / NOTEBOOK[CHAPTER]).read_bytes()
    document = {
        "outcome": {"status": "graded", "reason": ""},
        "autograded": {NOTEBOOK[CHAPTER]: base64.b64encode(notebook).decode()},
        "feedback": {},
        "scores": {test.name: 1000.0 for test in tests},  # each cell's points (capped there)
    }
    return Stored("SUCCESS", document=document)


def zero_penalty_course(tmp_path):
    """A course whose late penalty is "zero", the chapter due at DUE in its gradebook; the course and gradebook URL."""
    course = make_course(tmp_path / "course", [CHAPTER])
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(ZERO)
    url = f"sqlite:///{course / 'gradebook.db'}"
    with gradebook(url) as book:
        book.update_or_create_assignment(CHAPTER, duedate=DUE)
    return course, url


def test_the_queues_writer_says_why_she_is_graded_again_and_why_her_score_is_less(tmp_path):
    course, url = zero_penalty_course(tmp_path)
    folder = submit_answer(course, "alice", catalogue.STEP_CORRECT[0]).parent
    (folder / "timestamp.txt").write_text("2000-01-01 00:00:10.000000 UTC")
    current = intake.fingerprint(folder)
    writer = fleet_write.Writer(course, url)
    try:
        first = fleet_write.write(course, writer, CHAPTER, "alice", current, fleet_result(course, "alice"))
        with gradebook(url) as book:
            raw = book.find_submission(CHAPTER, "alice").score  # before the penalty: the autograded points
            book.find_assignment(CHAPTER).duedate = DUE + timedelta(minutes=1)
            book.db.commit()
        assert raw > 0 and (first.status, first.score) == ("graded", 0.0), first
        assert first.reason == f"late by 10.00 s: late penalty {raw:g}", first
        (skipped,), todo = intake.take_in(course, CHAPTER, force=False)
        assert todo == [] and skipped.reason.endswith(intake.STALE_PENALTY), (skipped, todo)
        again = fleet_write.write(course, writer, CHAPTER, "alice", current, fleet_result(course, "alice"))
        assert (again.status, again.score, again.reason) == ("graded", raw, intake.PENALTY_CHANGED), again
    finally:
        writer.close()
    (skipped,), _ = intake.take_in(course, CHAPTER, force=False)
    assert skipped.reason == "already graded, submission unchanged", skipped  # now in line: nothing to say


def rows(path) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row.get("student_id") or row["student"]: row for row in csv.DictReader(handle)}


def summary_lines(run) -> dict[str, str]:
    return {line.split()[0]: line for line in run.stdout.splitlines() if line.startswith("  ") and line.split()}


def penalty_shown(course, student: str) -> bool:
    """Whether her feedback page shows a late penalty (nbgrader's template: the penalty, and the score after it)."""
    (page,) = (course / "feedback" / student / CHAPTER).glob("*.html")
    return 'class="late-penalty"' in page.read_text()


@pytest.mark.slow
def test_a_changed_due_date_is_named_and_force_brings_the_penalty_in_line(tmp_path):
    """The reviewer's path: graded late under "zero", then an extension for one; the next run grades nobody and
    names her stale penalty; `--force` grades again, and grades.csv, her feedback page and the report agree."""
    course, url = zero_penalty_course(tmp_path)
    for student in ("late10", "extended"):
        path = submit(course, student, CHAPTER, solution_answers(CHAPTER))
        (path.parent / "timestamp.txt").write_text("2000-01-01 00:00:10.000000 UTC")

    def grade(graded: int, *force: str):
        run = lrcourse(course, "grade", CHAPTER, "--workers", "1", *force, timeout=1800)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert f"{graded} graded, {2 - graded} unchanged (skipped)" in run.stdout, run.stdout
        return run, rows(course / "grades.csv"), rows(course / "reports" / f"{CHAPTER}.csv")

    run, final, reported = grade(2)
    raw = float(final["late10"]["raw_score"])
    assert raw > 0 and float(final["late10"]["score"]) == 0, final
    # first, before any other note (this course's submissions carry no secret: a note follows, long)
    assert reported["late10"]["reason"].startswith(f"late by 10.00 s: late penalty {raw:g}; "), reported
    assert f"  late by 10.00 s: late penalty {raw:g}; " in summary_lines(run)["late10"], run.stdout
    with gradebook(url) as book:
        book.find_submission(CHAPTER, "extended").extension = timedelta(minutes=5)
        book.db.commit()
    run, final, reported = grade(0)
    assert reported["extended"]["reason"].endswith(intake.STALE_PENALTY), reported
    assert intake.STALE_PENALTY not in reported["late10"]["reason"], reported
    assert float(final["extended"]["score"]) == 0 and penalty_shown(course, "extended")  # the old one, as said
    run, final, reported = grade(2, "--force")
    assert float(final["extended"]["score"]) == raw and float(final["late10"]["score"]) == 0, final
    assert reported["extended"]["reason"].startswith(intake.PENALTY_CHANGED + "; "), reported
    assert penalty_shown(course, "late10") and not penalty_shown(course, "extended")  # pages agree with grades.csv
