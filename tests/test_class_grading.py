"""`lrcourse grade` at class scale: same scores as sequential nbgrader, nothing lost, interruptible,
re-runs grade only what changed, SQLite and PostgreSQL gradebooks."""
from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import implementations as catalogue
from course import autograde, make_course, scores, submit
from gradedclass import BROKEN, EXAMPLES, lrcourse, student_name
from lrcourse.build import tool_environment
from postgres import postgres_server

CHAPTER = "03_adaptive_schedules"
SMALL = "02_ordered_schedules"
SMALL_CLASS = [catalogue.STEP_CORRECT[0], catalogue.STEP_CORRECT[1], *catalogue.STEP_WRONG[:4],
               catalogue.STEP_FORBIDDEN[0], catalogue.STEP_BROKEN[0]]


def copy_class(graded_course, target, chapter, students):
    course = make_course(target, [chapter])
    for student in students:
        shutil.copytree(graded_course.path / "submitted" / student / chapter, course / "submitted" / student / chapter)
    return course


@pytest.mark.slow
def test_parallel_grading_gives_the_scores_of_sequential_nbgrader(graded_course, tmp_path):
    """A class of 30 (correct, wrong, forbidden and broken answers) graded by plain `nbgrader autograde`
    in one process must score exactly as `lrcourse grade --workers 2` did."""
    everyone = sorted(p.name for p in (graded_course.path / "submitted").iterdir() if (p / CHAPTER).is_dir())
    answers = [s for s in everyone if s not in BROKEN][:27]
    chosen = sorted(answers + ["broken-kernel-crash", "broken-missing-test-cell", "broken-prints-megabytes"])
    assert len(chosen) == 30
    course = copy_class(graded_course, tmp_path / "sequential", CHAPTER, chosen)
    result = autograde(course, CHAPTER)
    sequential = scores(course, CHAPTER)
    parallel = {s: graded_course.scores[CHAPTER][s] for s in chosen}
    assert set(sequential) == set(chosen), result.stderr[-2000:]
    differing = {s: (sequential[s], parallel[s]) for s in chosen if sequential[s] != parallel[s]}
    assert not differing


@pytest.mark.slow
def test_every_readable_submission_is_in_the_gradebook_and_the_csv(graded_course):
    rows = list(csv.DictReader(open(graded_course.path / "grades.csv")))
    for chapter, students in graded_course.scores.items():
        submitted = {p.name for p in (graded_course.path / "submitted").iterdir() if (p / chapter).is_dir()}
        unreadable = {s for s, why in {**BROKEN, **EXAMPLES}.items()
                      if isinstance(why, str) and why != "Kernel died"}
        assert set(students) == submitted - unreadable
        in_csv = {row["student_id"] for row in rows if row["assignment"] == chapter}
        assert in_csv >= set(students)
        for row in rows:
            if row["assignment"] == chapter and row["student_id"] in students:
                expected = sum(score for score, _ in students[row["student_id"]].values())
                assert float(row["score"]) == pytest.approx(expected)


def wait_for_marks(course, chapter, count, process, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        marks = list((course / "autograded").glob(f"*/{chapter}/.lrcourse-graded.json"))
        if len(marks) >= count:
            return marks
        time.sleep(0.2)
    raise AssertionError("grading did not reach the expected number of students")


@pytest.mark.slow
def test_interrupt_then_rerun_gives_the_uninterrupted_grades(graded_course, tmp_path):
    course = make_course(tmp_path / "interrupted", [SMALL])
    for answer in SMALL_CLASS:
        submit(course, student_name(answer), SMALL, {answer.cell: answer.source})
    # Like Ctrl-C in a terminal: SIGINT to the command's whole process group.
    process = subprocess.Popen([sys.executable, "-m", "lrcourse.cli", "grade", SMALL, "--workers", "2"], cwd=course,
                               env=tool_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    wait_for_marks(course, SMALL, 2, process)
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, err[-2000:]
    graded_before = {p.parts[-3] for p in (course / "autograded").glob(f"*/{SMALL}/.lrcourse-graded.json")}
    assert 2 <= len(graded_before) < len(SMALL_CLASS), "the interrupt should stop the run midway"
    kept = scores(course, SMALL)

    rerun = lrcourse(course, "grade", SMALL, "--workers", "2", timeout=1200)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    for student in graded_before:
        assert f"{student} " in rerun.stdout and "skipped" in rerun.stdout.split(f"  {student} ")[1].splitlines()[0]
    final = scores(course, SMALL)
    assert {s: final[s] for s in graded_before} == {s: kept[s] for s in graded_before}
    assert final == {student_name(a): graded_course.scores[SMALL][student_name(a)] for a in SMALL_CLASS}

    unchanged = lrcourse(course, "grade", SMALL, timeout=600)
    assert f"0 graded, {len(SMALL_CLASS)} unchanged" in unchanged.stdout

    changed = student_name(SMALL_CLASS[2])  # a wrong answer, now corrected
    submit(course, changed, SMALL, {"my_step_lr": catalogue.STEP_CORRECT[0].source})
    regrade = lrcourse(course, "grade", SMALL, timeout=600)
    assert f"1 graded, {len(SMALL_CLASS) - 1} unchanged" in regrade.stdout
    assert all(score == maximum for score, maximum in scores(course, SMALL)[changed].values())


@pytest.mark.slow
@pytest.mark.postgres
def test_postgresql_gradebook_with_concurrent_workers(graded_course, tmp_path):
    course = make_course(tmp_path / "postgres", [SMALL])
    for answer in SMALL_CLASS:
        submit(course, student_name(answer), SMALL, {answer.cell: answer.source})
    with postgres_server() as db_url:
        run = lrcourse(course, "grade", SMALL, "--workers", "2", "--db-url", db_url, timeout=1200)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
        assert "locked" not in run.stderr
        graded = scores(course, SMALL, db_url)
    assert graded == {student_name(a): graded_course.scores[SMALL][student_name(a)] for a in SMALL_CLASS}
    rows = [r for r in csv.DictReader(open(course / "grades.csv")) if r["assignment"] == SMALL]
    assert {r["student_id"] for r in rows} == set(graded)
