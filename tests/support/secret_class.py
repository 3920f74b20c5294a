"""A class of two real OS users (alice, mallory) with nbgrader's exchange, for the submission-secret tests
(test_secret_owners, test_secret_ledger): the course and exchange as the README's set-up leaves them, a hand copy
into submitted/, lrcourse collect, grade's carrying of the secret with nbgrader's own release_feedback, and a
student's own fetch_feedback."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lrcourse.build import tool_environment
from lrcourse.grading.autograde.graded_files import carry_nbgrader_files
from lrcourse.grading.exchange.collect import collect
from lrcourse.grading.exchange.inbound_folder import Exchange
from lrcourse.grading.exchange.submission_secrets import SECRET

from support.course import make_course, released
from support.students import CHAPTER, FILE, Students

COURSE_ID = "lr-schedules"
TICK = 0.05  # past the file system's clock tick: what comes after has a later change time


def class_course(scratch: Path) -> tuple[Path, Path]:
    """A released course and an exchange as the README's set-up leaves them (see test_collect.release)."""
    course = make_course(scratch / "course", [CHAPTER])
    exchange = scratch / "exchange"
    exchange.mkdir()
    exchange.chmod(0o1777)
    shutil.copytree(course / "notebooks" / CHAPTER, exchange / COURSE_ID / "outbound" / CHAPTER)
    for folder in (exchange / COURSE_ID, exchange / COURSE_ID / "outbound"):
        folder.chmod(0o755)
    (exchange / COURSE_ID / "inbound").mkdir()
    (exchange / COURSE_ID / "inbound").chmod(0o3733)
    course.chmod(0o700)
    return course, exchange


def hand_copy(course: Path, student: str, secret: str) -> None:
    """The instructor copies a student's upload into submitted/, as the README says: it holds `secret`."""
    folder = course / "submitted" / student / CHAPTER
    folder.mkdir(parents=True)
    shutil.copy(course / "notebooks" / CHAPTER / FILE, folder / FILE)
    (folder / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")
    (folder / SECRET).write_text(secret)


def collected(course: Path, exchange: Path, only: str | None = None):
    return collect(course, CHAPTER, Exchange(exchange, COURSE_ID), only=only)


def grade_and_release(course: Path, exchange: Path, students: list[str]) -> dict[str, str]:
    """Each student's secret carried as `lrcourse grade` carries it (submitted -> autograded -> feedback), a feedback
    page naming the student, then nbgrader's own release_feedback. The grading notes, by student."""
    notes = {}
    for student in students:
        graded, feedback = (course / kind / student / CHAPTER for kind in ("autograded", "feedback"))
        graded.mkdir(parents=True)
        feedback.mkdir(parents=True)
        notes[student] = carry_nbgrader_files(course / "submitted" / student / CHAPTER, graded, submitted=True)
        carry_nbgrader_files(graded, feedback)
        (feedback / f"{Path(FILE).stem}.html").write_text(f"FEEDBACK OF {student}")
    released = subprocess.run(
        [sys.executable, "-m", "nbgrader", "release_feedback", CHAPTER, f"--Exchange.root={exchange}"],
        cwd=course, env=tool_environment(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert released.returncode == 0, released.stdout + released.stderr
    return notes


def fetched_pages(students: Students, role: str, exchange: Path) -> list[str]:
    """What the student's own `nbgrader fetch_feedback` brings into her home (every page, by its text)."""
    run = students.python(
        role, "-m", "nbgrader", "fetch_feedback", CHAPTER, "--course", COURSE_ID, f"--Exchange.root={exchange}"
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return sorted(page.read_text() for page in students.home(students.name[role]).rglob("*.html"))


def mallory_sends(students, course: Path, inbound: Path, secret: str) -> Path:
    """Mallory's own inbound folder, written by hand as herself, holding `secret`."""
    mine = students.write_notebook("mallory", released(course, CHAPTER))
    folder = inbound / f"{students.name['mallory']}+{CHAPTER}+2026-01-01 00:00:00.000000 UTC+m"
    students.shell(
        "mallory", 'mkdir "$1" && cp "$2" "$1/" && printf %s "$3" > "$1/$4"', str(folder), str(mine), secret, SECRET
    )
    return folder


@contextmanager
def alice_and_mallory() -> Iterator[tuple[Path, Students]]:
    """A scratch folder (homes and the exchange inside) and the two students, removed after."""
    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-secrets-"))
    scratch.chmod(0o755)  # the students' homes and the exchange are inside
    students = Students(scratch, ("alice", "mallory"))
    try:
        yield scratch, students
    finally:
        students.remove()
        shutil.rmtree(scratch, ignore_errors=True)
