"""Micro-benchmark of the grading queue's enqueuer (issue 25; nothing is asserted): how fast the one writer of
`lrcourse grade --broker-file` (`fleet_write.Writer`, `fleet_write.write`) writes workers' results, with no broker
and no worker. At a deadline of thousands of submissions, its pace bounds the whole fleet.

Two chapter-2 students (a correct and a wrong answer) are graded by local `lrcourse grade`; their autograded and
feedback folders and trusted scores make two real results, as a worker returns them (`fleet_worker.Station`). N
copies (new student ids, the same submitted folders) are written into a fresh course with a SQLite gradebook, then
with a PostgreSQL one (tests/support/postgres.py's throw-away server; left out if there is none). Prints the wall and
CPU seconds a result (the machine's load beside them: other work on its cores stretches the wall time), the minutes
5,000 results take, and whether every written student's rows are the locally graded one's.

python scripts/bench_writer.py [--results 200] [--no-postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

CHAPTER = "02_ordered_schedules"
TARGET_SECONDS = 0.1  # a result: 5,000 in under 9 minutes


def real_results(base: Path) -> tuple[Path, dict[str, dict]]:
    """A locally graded chapter-2 course of two students, and {student: the result a worker returns for them}."""
    from lrcourse.gradebook_db import gradebook
    from lrcourse.grading.exercise import load_exercise
    from lrcourse.grading.fleet import parcel

    import catalogue
    from support.course import make_course
    from support.gradedclass import lrcourse, submit_answer

    course = make_course(base, [CHAPTER])
    answers = {"correct": catalogue.STEP_CORRECT[0], "wrong": catalogue.STEP_WRONG[0]}
    for student, answer in answers.items():
        submit_answer(course, student, answer)
    run = lrcourse(course, "grade", CHAPTER, "--workers", "1", timeout=1800)
    if run.returncode != 0:
        raise SystemExit(f"local grading failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    results = {}
    with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        exercise = load_exercise(course, CHAPTER, book)
        for student in answers:
            scores = {
                t.name: book.find_grade(t.name, exercise.notebook, CHAPTER, student).auto_score for t in exercise.tests
            }
            folders = {
                kind: parcel.pack(course / kind / student / CHAPTER, checked=False)
                for kind in ("autograded", "feedback")
            }
            outcome = {"status": "graded", "feedback": True, "seconds": 1.0, "reason": ""}
            results[student] = {"status": "SUCCESS", "result": {"outcome": outcome, "scores": scores, **folders}}
    return course, results


def fresh_course(directory: Path, db_url: str | None) -> Path:
    """The chapter released into a new course (its gradebook at `db_url`, else the course's SQLite one)."""
    from lrcourse.build import generate_release

    directory.mkdir(parents=True)
    shutil.copytree(ROOT / "source" / CHAPTER, directory / "source" / CHAPTER)
    shutil.copy(ROOT / "nbgrader_config.py", directory)
    generate_release(directory, [CHAPTER], db_url)
    return directory


def write_all(graded: Path, results: dict, course: Path, db_url: str, count: int) -> tuple[list, list, list]:
    """`count` results written as the enqueuer writes them; each one's wall and CPU seconds, and the students."""
    from lrcourse.grading.autograde.grade import create_gradebook_tables
    from lrcourse.grading.fleet.write import Writer, write

    students = []
    for index in range(count):
        template = sorted(results)[index % len(results)]
        students.append((f"s{index:05d}-{template}", template))
        shutil.copytree(graded / "submitted" / template, course / "submitted" / students[-1][0])
    create_gradebook_tables(course, CHAPTER, db_url)
    writer, walls, cpus = Writer(course, db_url), [], []
    try:
        for student, template in students:
            wall, cpu = time.perf_counter(), time.process_time()
            outcome = write(course, writer, CHAPTER, student, "fingerprint", results[template])
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            if outcome.status != "graded":
                raise SystemExit(f"{student} was not written: {outcome.reason}")
    finally:
        writer.close()
    return walls, cpus, students


def rows(db_url: str) -> dict[str, dict]:
    """{student: the submission's rows}, ids left out: what local grading and the enqueuer must both write."""
    from lrcourse.gradebook_db import gradebook

    found = {}
    with gradebook(db_url) as book:
        for submission in book.assignment_submissions(CHAPTER):
            notebooks = {
                notebook.name: (
                    notebook.late_submission_penalty,
                    notebook.flagged,
                    sorted(
                        (g.name, g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade)
                        for g in notebook.grades
                    ),
                    sorted((c.name, c.auto_comment, c.manual_comment) for c in notebook.comments),
                )
                for notebook in submission.notebooks
            }
            found[submission.student_id] = {
                "timestamp": str(submission.timestamp),
                "score": submission.score,
                **notebooks,
            }
    return found


def report(label: str, walls: list, cpus: list, differing: int, count: int) -> None:
    steady = walls[1:] or walls  # the first result reads the exercise and warms the session
    each = statistics.mean(steady)
    print(
        f"  {label:<11} {count} results: {each:.3f} s a result (median {statistics.median(steady):.3f}, CPU "
        f"{statistics.mean(cpus[1:] or cpus):.3f}; the first {walls[0]:.2f} s): 5,000 results in {5000 * each / 60:.1f} "
        f"min ({'within' if each <= TARGET_SECONDS else 'beyond'} the {TARGET_SECONDS} s target); load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {differing} student(s) whose rows differ from local "
        "grading's",
        flush=True,
    )


def bench(label: str, graded: Path, results: dict, directory: Path, db_url: str | None, count: int) -> None:
    course = fresh_course(directory, db_url)
    db_url = db_url or f"sqlite:///{course / 'gradebook.db'}"
    walls, cpus, students = write_all(graded, results, course, db_url, count)
    local, written = rows(f"sqlite:///{graded / 'gradebook.db'}"), rows(db_url)
    differing = sum(written.get(student) != local[template] for student, template in students)
    report(label, walls, cpus, differing, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="lrcourse-bench-writer-"))
    print(f"The enqueuer's writer, {options.results} chapter-2 results a gradebook (folder {base}):", flush=True)
    graded, results = real_results(base / "graded")
    print(f"  a result: {len(json.dumps(results['correct'])) / 1e6:.2f} MB of JSON", flush=True)
    bench("SQLite", graded, results, base / "sqlite", None, options.results)
    if options.no_postgres:
        return
    from support.postgres import postgres_server

    with ExitStack() as stack:
        try:
            db_url = stack.enter_context(postgres_server())
        except Exception as error:  # no server binaries on this machine: SQLite's figures stand alone
            print(f"  PostgreSQL left out: {type(error).__name__}: {error}", flush=True)
            return
        bench("PostgreSQL", graded, results, base / "postgres", db_url, options.results)


if __name__ == "__main__":
    main()
