"""`lrcourse collect` with real OS users submitting through nbgrader's exchange, then `lrcourse grade`.

Honest students submit with `nbgrader submit` as themselves; hostile ones write into the inbound folder what
`nbgrader collect` would have taken: a folder in a classmate's name (one with a future timestamp, one
plausible), a symbolic link to the instructor's source notebook, a link to /dev/zero, a FIFO, a hard link.
One collect run covers them all: the honest are collected, every attack refused with its reason and nothing
of it copied. A late student who zeroes the kernel's score and backdates the `timestamp.txt` they wrote is
graded with the late penalty (`penalty_method = "zero"`) computed from the trusted score and the kernel's time.
The students are real OS users (support/students.py).
"""

from __future__ import annotations

import csv
import datetime
import json
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from support import hostile
from support.course import NOTEBOOK, make_course, released
from support.gradedclass import lrcourse
from support.students import Students, needs_root

CHAPTER = hostile.CHAPTER
FILE = NOTEBOOK[CHAPTER]
ZERO_THE_KERNEL = (
    "get_ipython().input_transformers_post.append(lambda lines: ['raise RuntimeError(\"zeroed in the kernel\")\\n'])"
)


def notebook_with(answer_source: dict[str, str], course: Path, zero_the_kernel: bool = False):
    notebook = released(course, CHAPTER)
    for cell in notebook.cells:
        if cell.get("id") in answer_source:
            cell.source = answer_source[cell.id]
    if zero_the_kernel:  # every cell after this one raises in the student's kernel, tests included
        notebook.cells.insert(0, nbformat.v4.new_code_cell(ZERO_THE_KERNEL))
    return notebook


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


@pytest.fixture(scope="module")
def exchange_class():
    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-exchange-"))
    scratch.chmod(0o755)  # the students' homes and the exchange are inside
    students = Students(scratch, ("alice", "bob", "carol", "mallory", "dave", "erin", "frank"))
    try:
        yield run_class(scratch, students)
    finally:
        students.remove()
        shutil.rmtree(scratch, ignore_errors=True)


def release(course: Path, exchange: Path) -> None:
    """What `nbgrader release_assignment` leaves in the exchange (its folders and modes), without its start-up:
    the release readable by all, the inbound folder writable and not listable by students, with the sticky bit
    of the README's set-up (3733)."""
    shutil.copytree(course / "notebooks" / CHAPTER, exchange / "lr-schedules" / "outbound" / CHAPTER)
    for folder in (exchange / "lr-schedules", exchange / "lr-schedules" / "outbound"):
        folder.chmod(0o755)
    inbound = exchange / "lr-schedules" / "inbound"
    inbound.mkdir()
    inbound.chmod(0o3733)


def run_class(scratch: Path, students: Students) -> dict:
    course = make_course(scratch / "course", [CHAPTER])
    exchange = scratch / "exchange"
    exchange.mkdir()
    exchange.chmod(0o1777)  # the README's set-up: without the sticky bit collect refuses the exchange
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f'\nc.Exchange.root = "{exchange}"\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    course.chmod(0o700)  # the instructor's course: students cannot read it
    release(course, exchange)
    inbound = exchange / "lr-schedules" / "inbound"
    correct = notebook_with(hostile.answers(hostile.CORRECT), course)
    wrong = notebook_with(hostile.answers(hostile.NEVER_DECAYS), course)
    bob = students.name["bob"]
    with ThreadPoolExecutor(2) as pool:  # each submit is a python start-up of its own
        sent = dict(
            zip(("alice", "bob"), pool.map(lambda role: students.submit(role, correct, exchange), ("alice", "bob")))
        )

    forged = students.write_notebook("mallory", wrong)  # in bob's name: a future time, and a plausible one
    for stamp in ("2099-01-01 00:00:00.000000 UTC", utc_now().strftime("%Y-%m-%d %H:%M:%S.%f UTC")):
        students.shell("mallory", 'mkdir "$1" && cp "$2" "$1/"', f"{inbound}/{bob}+{CHAPTER}+{stamp}+x", str(forged))
    traps = {  # role -> what its own submission folder holds under the notebook's name
        "mallory": f'ln -s "{course}/source/{CHAPTER}/{FILE}" "$1/{FILE}"',
        "dave": f'ln -s /dev/zero "$1/{FILE}"',
        "erin": f'mkfifo "$1/{FILE}"',
        "frank": f'cp "$2" "$1/{FILE}" && ln "$1/{FILE}" "$HOME/kept-{FILE}"',
    }
    for role, make in traps.items():
        stamp = utc_now().strftime("%Y-%m-%d %H:%M:%S.%f UTC")
        mine = students.write_notebook(role, correct)
        students.shell(role, f'mkdir "$1" && {make}', f"{inbound}/{students.name[role]}+{CHAPTER}+{stamp}+t", str(mine))

    due = utc_now()  # alice and bob are on time, carol submits after this
    from lrcourse.gradebook_db import gradebook

    with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        book.update_or_create_assignment(CHAPTER, duedate=due)
    time.sleep(0.05)
    late = students.submit("carol", notebook_with(hostile.answers(hostile.CORRECT), course, True), exchange)
    students.shell("carol", "printf '2000-01-01 00:00:00.000000 UTC' > \"$1/timestamp.txt\"", str(late))

    start = time.monotonic()
    collected = lrcourse(course, "collect", CHAPTER, timeout=120)
    seconds = time.monotonic() - start
    record = json.loads((course / "reports" / f"collect-{CHAPTER}.json").read_text())
    graded = lrcourse(course, "grade", CHAPTER, "--workers", "1", timeout=1800)  # one worker's start-up
    return dict(
        course=course, inbound=inbound, students=students, sent=sent, due=due, late=late,
        collected=collected, seconds=seconds, record=record, graded=graded,
    )  # fmt: skip


def refusals(run: dict, role: str) -> list[str]:
    name = run["students"].name[role]
    return [row["reason"] for row in run["record"]["refused"] if row["submission"].startswith(name + "+")]


@pytest.mark.slow
@needs_root
def test_honest_students_are_collected_and_every_attack_refused_with_its_reason(exchange_class):
    run, name = exchange_class, exchange_class["students"].name
    assert run["collected"].returncode == 1, run["collected"].stdout + run["collected"].stderr  # refusals
    assert run["seconds"] < 60  # no link to /dev/zero or FIFO held it
    assert {row["student"] for row in run["record"]["collected"]} == {name[r] for r in ("alice", "bob", "carol")}
    submitted = run["course"] / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == sorted(name[r] for r in ("alice", "bob", "carol"))
    for role in ("alice", "bob"):  # byte for byte what each submitted, the forgeries in bob's name left out
        assert (submitted / name[role] / CHAPTER / FILE).read_bytes() == (run["sent"][role] / FILE).read_bytes()
        assert run["sent"][role].stat().st_mode & 0o777 == 0o755  # the course's submit: writable by its student only
    assert not run["record"]["notes"], run["record"]["notes"]  # nothing another user could have moved
    forged = [row["reason"] for row in run["record"]["refused"] if row["submission"].startswith(name["bob"] + "+")]
    assert len(forged) == 2, run["record"]
    assert any("in the future" in reason for reason in forged), forged
    assert any(f"owned by {name['mallory']}, not by {name['bob']}" in reason for reason in forged), forged
    assert any("a symbolic link" in reason for reason in refusals(run, "mallory")), run["record"]
    assert any("a symbolic link" in reason for reason in refusals(run, "dave")), run["record"]
    assert any("a FIFO" in reason for reason in refusals(run, "erin")), run["record"]
    assert any("a hard link" in reason for reason in refusals(run, "frank")), run["record"]
    assert f"refused '{name['erin']}+{CHAPTER}+" in run["collected"].stdout  # the terminal says it too


@pytest.mark.slow
@needs_root
def test_the_submission_time_is_the_kernels_not_the_students(exchange_class):
    from nbgrader.utils import parse_utc

    run, name = exchange_class, exchange_class["students"].name
    assert (run["late"] / "timestamp.txt").read_text().startswith("2000-")  # what carol wrote
    for role, late in (("alice", False), ("bob", False), ("carol", True)):
        stamp = parse_utc((run["course"] / "submitted" / name[role] / CHAPTER / "timestamp.txt").read_text())
        assert (stamp > run["due"]) == late, (role, stamp, run["due"])


@pytest.mark.slow
@needs_root
def test_the_late_penalty_follows_the_trusted_score(exchange_class):
    from lrcourse.gradebook_db import gradebook

    run, name = exchange_class, exchange_class["students"].name
    assert run["graded"].returncode == 0, run["graded"].stdout + run["graded"].stderr
    verdicts = json.loads(
        (run["course"] / "autograded" / name["carol"] / CHAPTER / ".lrcourse-verdicts.json").read_text()
    )["cells"]
    assert all(cell["in_kernel_score"] == 0 for cell in verdicts.values())  # the kernel's score was zeroed
    trusted = sum(cell["trusted_score"] for cell in verdicts.values())
    with gradebook(f"sqlite:///{run['course'] / 'gradebook.db'}") as book:
        got = {role: book.find_submission(CHAPTER, name[role]) for role in ("alice", "bob", "carol")}
        full = got["alice"].max_score
        carol = got["carol"]
        assert trusted > 0 and carol.late_submission_penalty == pytest.approx(trusted)
        assert carol.score - carol.late_submission_penalty == pytest.approx(0)
        for role in ("alice", "bob"):  # on time: no penalty, every autograded point
            assert got[role].late_submission_penalty == 0, role
            assert got[role].score == pytest.approx(trusted), role
        assert full >= trusted
    # the summary table and the run's report show carol's score after the penalty, as grades.csv does (F20: the
    # table showed the score before it)
    with open(run["course"] / "grades.csv", newline="", encoding="utf-8") as handle:
        final = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert float(final[name["carol"]]["score"]) == 0 and float(final[name["alice"]]["score"]) == trusted
    with open(run["course"] / "reports" / f"{CHAPTER}.csv", newline="", encoding="utf-8") as handle:
        reported = {row["student"]: row for row in csv.DictReader(handle)}
    assert float(reported[name["carol"]]["score"]) == 0 and float(reported[name["alice"]]["score"]) == trusted
    [line] = [line for line in run["graded"].stdout.splitlines() if line.strip().startswith(name["carol"] + " ")]
    assert f" 0 / {full:g}" in line, line
