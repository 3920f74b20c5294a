"""Who keeps a submission secret, with real OS users and nbgrader's own release_feedback and fetch_feedback (issue
20, F17).

nbgrader files each student's feedback in the exchange under a hash of the secret in their submitted folder, and
the student's `fetch_feedback` finds it with the secret her own `nbgrader submit` wrote. Alice submits through the
exchange; mallory holds alice's secret (read in alice's inbound folder) in a submission the instructor copies into
`submitted/` by hand (an LMS upload), or in one of her own through the exchange. Collect and grade used to apply
different rules (collect replaced any secret another folder held, grade kept it for the first holder in
`submitted/` by change time, which a re-collect resets): alice's real fetch_feedback delivered mallory's feedback
or none. In every order alice now fetches her own feedback, and mallory's is filed under a fresh secret.
The grading step here is grade's own (`carry_nbgrader_files`, as the worker calls it): no kernel is needed for it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from lrcourse.build import tool_environment
from lrcourse.grading.collect import collect
from lrcourse.grading.exchange_inbound import Exchange
from lrcourse.grading.graded_files import carry_nbgrader_files
from lrcourse.grading.submission_secrets import SECRET, SHARED_SECRET, digest, read_ledger

from support.course import make_course, released
from support.students import CHAPTER, FILE, Students, needs_root

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


@pytest.fixture
def two_students():
    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-secrets-"))
    scratch.chmod(0o755)  # the students' homes and the exchange are inside
    students = Students(scratch, ("alice", "mallory"))
    try:
        yield scratch, students
    finally:
        students.remove()
        shutil.rmtree(scratch, ignore_errors=True)


@needs_root
@pytest.mark.parametrize(
    "order", ["hand-copy-before-collect", "hand-copy-then-re-collect", "exchange-only", "exchange-student-first"]
)
def test_the_honest_owner_fetches_her_own_feedback_whoever_else_holds_her_secret(two_students, order):
    """F17: run 1 (the hand copy in submitted/ before collect: collect gave alice a fresh secret, grade kept hers
    for the copy), run 2 (collect, the hand copy, collect again: the re-run reset alice's change time and grade
    kept her secret for the copy), and mallory sending alice's secret through the exchange (collect replaced both:
    alice fetched nothing), also when mallory's is collected alone first (`--student`, formgrader's per-student
    Collect: that run saw only mallory's folders and made her the secret's owner). Alice fetches her own page and only it; mallory's is filed under a fresh secret."""
    scratch, students = two_students
    course, exchange = class_course(scratch)
    alice, mallory = students.name["alice"], students.name["mallory"]
    sent = students.submit("alice", released(course, CHAPTER), exchange)
    secret = (sent / SECRET).read_text()  # what mallory read in alice's inbound folder
    time.sleep(TICK)
    if order == "hand-copy-before-collect":
        hand_copy(course, mallory, secret)
        collected(course, exchange)
    elif order == "hand-copy-then-re-collect":
        collected(course, exchange)
        time.sleep(TICK)
        hand_copy(course, mallory, secret)
        time.sleep(TICK)
        collected(course, exchange)  # an ordinary re-run (a late classmate): alice's folder written again
    else:
        mine = students.write_notebook("mallory", released(course, CHAPTER))
        inbound = exchange / COURSE_ID / "inbound"
        folder = f"{inbound}/{mallory}+{CHAPTER}+2026-01-01 00:00:00.000000 UTC+m"
        students.shell(
            "mallory", 'mkdir "$1" && cp "$2" "$1/" && printf %s "$3" > "$1/$4"', folder, str(mine), secret, SECRET
        )
        if order == "exchange-student-first":
            alone = collected(course, exchange, only=mallory)
            assert [row["student"] for row in alone.collected] == [mallory], alone
            assert {"submission": Path(folder).name, "reason": SHARED_SECRET.format(alice)} in alone.left_out
        result = collected(course, exchange)
        assert sorted(row["student"] for row in result.collected) == sorted([alice, mallory]), result
        if order == "exchange-only":
            assert {"submission": Path(folder).name, "reason": SHARED_SECRET.format(alice)} in result.left_out
    assert (course / "submitted" / alice / CHAPTER / SECRET).read_text() == secret
    assert read_ledger(course, CHAPTER)[digest(secret.encode())] == alice
    notes = grade_and_release(course, exchange, [alice, mallory])
    # a hand copy is given a fresh secret by grade; mallory's exchange submission already had one from collect
    assert notes == {alice: "", mallory: "" if order.startswith("exchange") else SHARED_SECRET.format(alice)}, notes
    assert (course / "feedback" / mallory / CHAPTER / SECRET).read_text() != secret
    assert fetched_pages(students, "alice", exchange) == [f"FEEDBACK OF {alice}"]
