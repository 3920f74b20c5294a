"""`lrcourse grade` at class scale: the scores of sequential nbgrader, nothing lost, interruptible, re-runs
grade only what changed, SQLite and PostgreSQL gradebooks.

The catalogue (`tests/catalogue/`) says exactly which test cells every answer loses. The fidelity
tests hold `lrcourse grade`'s parallel scores (the trusted verdicts) to all of it, cell by cell (and check
its gradebook and CSV); here plain sequential `nbgrader autograde` (the in-kernel hidden tests) is held to
the same on a sample that loses every test cell somewhere, without sharing one slow fixture.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import nbformat
import pytest

from lrcourse.build import tool_environment
from lrcourse.grading.outcomes import STUDENT_WIDTH, shown

import catalogue
from support.course import autograde, make_course, scores
from support.gradedclass import (
    broken_expectations,
    lrcourse,
    student_name,
    submit_answer,
    submit_broken,
    unexpected_scores,
)
from support.postgres import postgres_server

CHAPTER = "03_adaptive_schedules"
SMALL = "02_ordered_schedules"
SMALL_CLASS = [
    catalogue.STEP_CORRECT[0],
    catalogue.STEP_CORRECT[1],
    *catalogue.STEP_WRONG[:4],
    catalogue.STEP_FORBIDDEN[0],
    catalogue.STEP_BROKEN[0],
]
# Plain nbgrader (the in-kernel hidden tests) against the catalogue, a sample named by hand, each kind of catalogue
# answer once: the correct answer that prints, warns and copies tensors in the kernel; three mistakes that together
# lose every test cell (a bad-epoch counter not reset after a reduction, min_lr ignored, max mode taken for min; the
# patience off by one now loses the patience cell only) and one a hidden test alone catches (a metric kept as a
# view, which the caller changes in place); the forbidden wrapper that delegates through __getattr__; and the broken
# but readable submissions (`submit_broken`). Each is a fresh kernel run one after another, so the sample is kept
# small: the fidelity tests grade every catalogue answer, the rest of these included, under `lrcourse grade`.
SEQUENTIAL_NAMES = (
    "prints_warns_and_copies_tensors",
    "bad_epochs_not_reset_after_reduction",
    "min_lr_ignored",
    "max_mode_treated_as_min",
    "tensor_metric_kept_as_view",
    "wraps_torch",
)
SEQUENTIAL_CLASS = [
    answer
    for answer in catalogue.PLATEAU_CORRECT + catalogue.PLATEAU_WRONG + catalogue.PLATEAU_FORBIDDEN
    if answer.name in SEQUENTIAL_NAMES
]


def losses(answers) -> dict[str, set[str]]:
    return {student_name(a): a.failing for a in answers}


@pytest.fixture(scope="module")
def small_class_template(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("small-class") / "course", [SMALL])
    for answer in SMALL_CLASS:
        submit_answer(course, student_name(answer), answer)
    return course


@pytest.fixture
def small_class(small_class_template, tmp_path):
    """A fresh copy of the small class, released and submitted, for a test that grades it."""
    return shutil.copytree(small_class_template, tmp_path / "course")


def test_the_sequential_sample_loses_every_test_cell_somewhere():
    assert sorted(answer.name for answer in SEQUENTIAL_CLASS) == sorted(SEQUENTIAL_NAMES)
    lost = set().union(*(answer.failing for answer in SEQUENTIAL_CLASS))
    assert lost >= set(catalogue.PLATEAU_CELLS), set(catalogue.PLATEAU_CELLS) - lost
    for kind in (catalogue.PLATEAU_CORRECT, catalogue.PLATEAU_WRONG, catalogue.PLATEAU_FORBIDDEN):
        assert any(answer in kind for answer in SEQUENTIAL_CLASS), "each kind of catalogue answer is in the sample"


class TestPlainNbgrader:
    """In a class of its own: `make test` (`--dist loadscope`) runs it beside this file's other tests."""

    @pytest.mark.slow
    def test_sequential_nbgrader_scores_a_class_exactly_as_expected(self, tmp_path):
        """6 catalogue answers and 3 broken-but-readable submissions, graded by plain `nbgrader autograde` in one
        process: every cell scores as the catalogue says, as it does under `lrcourse grade` (fidelity tests)."""
        course = make_course(tmp_path / "sequential", [CHAPTER])
        for answer in SEQUENTIAL_CLASS:
            submit_answer(course, student_name(answer), answer)
        submit_broken(course, unreadable=False)  # plain nbgrader cannot read the other two at all
        expected = {**losses(SEQUENTIAL_CLASS), **broken_expectations()}
        assert len(expected) == 9
        result = autograde(course, CHAPTER)
        assert unexpected_scores(scores(course, CHAPTER), expected) == {}, result.stderr[-3000:]


def wait_for_marks(course, chapter, count, process, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        marks = list((course / "autograded").glob(f"*/{chapter}/.lrcourse-graded.json"))
        if len(marks) >= count:
            return marks
        time.sleep(0.2)
    raise AssertionError("grading did not reach the expected number of students")


@pytest.mark.slow
def test_interrupt_then_rerun_loses_nothing_and_reruns_grade_only_changes(small_class):
    """Ctrl-C while the workers grade: the students being graded are finished, the rest cancelled, and the command
    ends; nothing is left half-written (each graded student's feedback is there, the gradebook reads whole, no
    worker, kernel or sandbox outlives the command); a rerun grades exactly what is missing."""
    course, tag = small_class, f"LRCOURSE_TEST_TAG=interrupted-{os.getpid()}"
    # Like Ctrl-C in a terminal: SIGINT to the command's whole process group (the workers, in sessions of their
    # own, never get it: the command alone decides what stops).
    started = time.time()
    process = subprocess.Popen(
        [sys.executable, "-m", "lrcourse.cli", "grade", SMALL, "--workers", "2"],
        cwd=course,
        env={**tool_environment(), "LRCOURSE_TEST_TAG": tag.split("=")[1]},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    wait_for_marks(course, SMALL, 2, process)
    os.killpg(process.pid, signal.SIGINT)
    interrupted = time.monotonic()
    out, err = process.communicate(timeout=300)
    print(f"the interrupted run ended {time.monotonic() - interrupted:.0f} s after SIGINT")
    assert process.returncode == 130, err[-2000:]
    assert "Interrupted: finishing the" in err and "run the command again to grade the rest" in err, err[-2000:]
    graded_before = {p.parts[-3] for p in (course / "autograded").glob(f"*/{SMALL}/.lrcourse-graded.json")}
    assert 2 <= len(graded_before) < len(SMALL_CLASS), "the interrupt should stop the run midway"
    assert all(list((course / "feedback" / s / SMALL).glob("*.html")) for s in graded_before), graded_before
    with sqlite3.connect(course / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    deadline = time.monotonic() + 30
    while leftover_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert leftover_processes(tag) == [] and stale_sandbox_files(since=started) == []
    kept = scores(course, SMALL)
    assert unexpected_scores(kept, {s: lost for s, lost in losses(SMALL_CLASS).items() if s in graded_before}) == {}

    rerun = lrcourse(course, "grade", SMALL, "--workers", "2", timeout=1200)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    rows = {line.split()[0]: line for line in rerun.stdout.splitlines()[2:] if line.strip()}
    assert all("skipped" in rows[shown(s, STUDENT_WIDTH)] for s in graded_before), rerun.stdout  # ids cut as shown
    final = scores(course, SMALL)
    assert {s: final[s] for s in graded_before} == {s: kept[s] for s in graded_before}
    assert unexpected_scores(final, losses(SMALL_CLASS)) == {}  # = an uninterrupted run's grades

    unchanged = lrcourse(course, "grade", SMALL, timeout=600)
    assert f"0 graded, {len(SMALL_CLASS)} unchanged" in unchanged.stdout

    changed = student_name(SMALL_CLASS[2])  # a wrong answer, now corrected
    submit_answer(course, changed, catalogue.STEP_CORRECT[0])
    regrade = lrcourse(course, "grade", SMALL, timeout=600)
    assert f"1 graded, {len(SMALL_CLASS) - 1} unchanged" in regrade.stdout
    assert all(score == maximum for score, maximum in scores(course, SMALL)[changed].values())


@pytest.mark.slow
@pytest.mark.postgres
def test_postgresql_gradebook_with_concurrent_workers(small_class):
    course = small_class
    with postgres_server() as db_url:
        run = lrcourse(course, "grade", SMALL, "--workers", "2", "--db-url", db_url, timeout=1200)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
        assert "locked" not in run.stderr
        graded = scores(course, SMALL, db_url)
        export = lrcourse(course, "export", SMALL, "--db-url", db_url, timeout=600)  # per-item CSV, class report
        assert export.returncode == 0, export.stdout[-2000:] + export.stderr[-3000:]
    assert unexpected_scores(graded, losses(SMALL_CLASS)) == {}
    rows = [r for r in csv.DictReader(open(course / "grades.csv")) if r["assignment"] == SMALL]
    assert {r["student_id"] for r in rows} == set(graded)
    items = {r["student_id"]: r for r in csv.DictReader(open(course / "exports" / "grades-by-item.csv"))}
    assert {s: float(items[s][f"{SMALL}/total"]) for s in graded} == {r["student_id"]: float(r["score"]) for r in rows}
    assert all(items[s][f"{SMALL}/{cell}"] == f"{score:g}" for s in graded for cell, (score, _) in graded[s].items())
    assert (course / "reports" / f"{SMALL}.html").is_file()


def leftover_processes(tag: str) -> list[str]:
    """Processes still running that inherited the grading command's environment tag: its workers, their
    kernels and answer processes, and the sandboxes around them (bubblewrap keeps the environment it got)."""
    found = []
    for name in os.listdir("/proc"):
        try:
            if tag.encode() in open(f"/proc/{name}/environ", "rb").read():
                found.append(f"{name}: {open(f'/proc/{name}/cmdline', 'rb').read()[:150]!r}")
        except OSError:
            continue
    return found


def stale_sandbox_files(since: float) -> list[str]:
    """Sandbox, zygote and socket folders made since `since` by a process that is gone."""
    import glob
    import re
    import tempfile

    stale = []
    for path in [
        *glob.glob(f"{tempfile.gettempdir()}/lrcourse-sandbox-*"),
        *glob.glob("/var/tmp/lrc-*"),
        *glob.glob(f"{tempfile.gettempdir()}/lrcourse-zygote-*"),
    ]:
        found = re.search(r"-(\d+)-", os.path.basename(path))
        try:
            made = os.stat(path).st_mtime
        except OSError:
            continue
        if found and made >= since and not os.path.exists(f"/proc/{found.group(1)}"):
            stale.append(path)
    return stale


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL", "SIGINT twice"])
def test_a_killed_grading_run_leaves_nothing_running(small_class, how):
    """A scheduler's stop or a CI time-out (SIGTERM), Ctrl-C twice, or `kill -9` of the command: no worker, kernel,
    answer process or sandbox survives; SIGTERM and the second Ctrl-C also keep every grade already written and end
    the run at once, even while a worker grades a notebook that would hold it for minutes."""
    course = small_class
    if how != "SIGKILL":  # graded first, by one of the two workers
        path = submit_answer(course, "aaa-slow", SMALL_CLASS[0])
        notebook = nbformat.read(path, as_version=4)
        notebook.cells[1:1] = [nbformat.v4.new_code_cell(f"import time\ntime.sleep({25 + i})") for i in range(8)]
        nbformat.write(notebook, path)
    started = time.time()
    tag = f"LRCOURSE_TEST_TAG=killed-{how}-{os.getpid()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "lrcourse.cli", "grade", SMALL, "--workers", "2"],
        cwd=course,
        env={**tool_environment(), "LRCOURSE_TEST_TAG": tag.split("=")[1]},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_marks(course, SMALL, 1, process)
    if how == "SIGINT twice":  # the first finishes the students being graded: the slow one holds that for minutes
        process.send_signal(signal.SIGINT)
        time.sleep(3)
    process.send_signal(getattr(signal, how.split()[0]))
    stopped = time.monotonic()
    out, err = process.communicate(timeout=300)
    assert process.returncode == (-signal.SIGKILL if how == "SIGKILL" else 130), err[-2000:]
    assert time.monotonic() - stopped < 15  # not after the slow notebook (over 200 s), nor after its cell (25 s)
    deadline = time.monotonic() + 30
    while leftover_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert leftover_processes(tag) == []
    assert stale_sandbox_files(since=started) == [], "a worker's sandbox folders outlive it"
    if how != "SIGKILL":
        graded = {p.parts[-3] for p in (course / "autograded").glob(f"*/{SMALL}/.lrcourse-graded.json")}
        assert (
            graded
            and unexpected_scores(
                scores(course, SMALL), {s: lost for s, lost in losses(SMALL_CLASS).items() if s in graded}
            )
            == {}
        )
