"""What a worker's version covers (`fleet.code_version`, `fleet.environment`) and what it does when its checkout moves
under it (`fleet_worker.Station.moved`): another torch is another version, refused with the packages named; a
checkout changed while the worker runs puts the task back on the queue and stops the worker with RESTART_STATUS,
and a worker started on the new checkout does not take the old version's task (a worker of the old one does); an idle
worker looks at its checkout on a timer and restarts too."""

from __future__ import annotations

import os
import shutil
import signal
import time
from importlib import metadata
from pathlib import Path

import pytest
import redis

from lrcourse.grading.course import course_config
from lrcourse.grading.fleet import broker as fleet
from lrcourse.grading.fleet.lease import taken_key
from lrcourse.grading.fleet.watch import serving_key
from lrcourse.grading.fleet.worker import RESTART_STATUS, Station

import catalogue
from support.course import make_course
from support.gradedclass import submit_answer
from support.paths import ROOT
from support.redis_broker import redis_server
from support.stub_fleet import enqueue, graded_lines, outcomes, queued, running_worker, stub_worker, wait_for

CHAPTER = "02_ordered_schedules"
OTHER_TORCH = "2.12.0"


def test_the_environment_names_python_and_every_grading_package_at_its_installed_version():
    found = fleet.environment()
    assert list(found) == ["python", *fleet.GRADING_PACKAGES]
    assert found["torch"] == metadata.version("torch") and found["nbgrader"] == metadata.version("nbgrader")
    assert "absent" not in found.values(), found


def test_another_torch_is_another_code_version_and_course_version(monkeypatch):
    code, course = fleet.code_version(), fleet.course_version(ROOT, CHAPTER)
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: OTHER_TORCH if name == "torch" else real(name))
    assert fleet.environment()["torch"] == OTHER_TORCH
    assert fleet.code_version() != code
    assert fleet.course_version(ROOT, CHAPTER) != course


def test_a_worker_with_another_torch_refuses_a_task_naming_both_torches(monkeypatch):
    task = {
        "assignment": CHAPTER,
        "student": "alice",
        "version": fleet.course_version(ROOT, CHAPTER),  # the enqueuing machine's: this environment
        "environment": fleet.environment(),
        "files": {},
    }
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: OTHER_TORCH if name == "torch" else real(name))
    station = Station(ROOT)  # a worker whose torch is another
    result = station.grade(task)
    reason = result["outcome"]["reason"]
    assert result["refused"] and result["outcome"]["status"] == "failed"
    assert "version mismatch" in reason and "the environments differ" in reason, reason
    assert f"torch {OTHER_TORCH} here, {task['environment']['torch']} on the enqueuing machine" in reason, reason
    assert "nbgrader" not in reason  # only what differs is named
    assert station.scratch is None  # refused before anything was opened


def test_a_tasks_environment_is_read_as_untrusted_text():
    ours = {"torch": "2.13.0", "nbgrader": "0.9.6"}
    said = fleet.environment_differences({"torch": "\x1b[2J" + "9" * 100, "nbgrader": 7, "other": "x"}, ours)
    assert said == "torch 2.13.0 here, [2J" + "9" * 36 + " on the enqueuing machine"
    assert fleet.environment_differences(["not", "a", "dict"], ours) == ""
    assert fleet.environment_differences(dict(ours), ours) == ""


def checkout_copy(path: Path) -> Path:
    """A worker's checkout of the course: what `Station` reads from it (source/ and nbgrader_config.py; the code is
    the installed package's)."""
    shutil.copytree(ROOT / "source" / CHAPTER, path / "source" / CHAPTER)
    shutil.copy(ROOT / "nbgrader_config.py", path)
    return path


def changed(checkout: Path) -> None:
    """The chapter's source changed on disk, as a git pull would change it."""
    notebook = sorted((checkout / "source" / CHAPTER).glob("*.ipynb"))[0]
    notebook.write_text(notebook.read_text().replace('"cells"', '"cells" ', 1))


def test_a_station_sees_its_checkout_move_and_the_code_too(tmp_path):
    checkout = checkout_copy(tmp_path / "checkout")
    station = Station(checkout)
    assert station.serving() == {CHAPTER: fleet.course_version(checkout, CHAPTER)}
    assert station.moved(CHAPTER) == "" and station.moved(None) == ""
    changed(checkout)
    assert f"{CHAPTER}'s source or grading settings changed" in station.moved(CHAPTER)
    station = Station(checkout)
    assert station.moved(CHAPTER) == ""
    station.code = "0" * 16  # as if the package or the environment had changed since it started
    assert "its code or environment changed" in station.moved(CHAPTER)


@pytest.mark.parametrize("when", ["before", "during"])
def test_a_checkout_moved_under_a_running_worker_gives_the_task_back_and_stops_it(tmp_path, when):
    """Moved while the worker waits for work (checked before grading), or while it grades (checked after: the result,
    perhaps of two versions' code, is dropped and the attempt not counted)."""
    student = "alice" if when == "before" else "sleep-6-alice"
    course = make_course(tmp_path / "course", [CHAPTER])
    submit_answer(course, student, catalogue.STEP_CORRECT[0])
    version = fleet.course_version(course, CHAPTER)
    checkout = checkout_copy(tmp_path / "checkout")
    assert Station(checkout).serving()[CHAPTER] == version
    moved_log, old_log = tmp_path / "moved.log", tmp_path / "old.log"
    with redis_server() as url, redis.Redis.from_url(url) as client:
        worker = stub_worker(url, checkout, "moved@test", moved_log)
        try:
            assert wait_for(lambda: "warm in" in moved_log.read_text(), 120), moved_log.read_text()
            if when == "before":
                changed(checkout)  # a git pull while the worker waits for work
            run = enqueue(url, course, CHAPTER)
            if when == "during":
                assert wait_for(lambda: any(client.scan_iter(taken_key("*"))), 120)  # its lease taken: grading
                changed(checkout)
            assert worker.wait(120) == RESTART_STATUS, moved_log.read_text()[-3000:]
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
        said = moved_log.read_text()
        assert "this checkout moved" in said and "the task goes back to the queue" in said, said[-3000:]
        assert "stopped:" in said
        dropped = [] if when == "before" else [f"stub graded {student} by moved@test"]
        assert graded_lines(moved_log) == dropped
        assert list(client.scan_iter(fleet.result_key("*"))) == []  # no result stored: the task is back on the queue
        attempts = [client.get(key) for key in client.scan_iter(fleet.attempts_key("*"))]
        assert attempts == ([] if when == "before" else [b"0"])  # given back uncounted: not charged to the student
        # restarted on the new checkout, it serves the new version's queue only: the old version's task waits there
        with running_worker(url, checkout, "restarted@test", moved_log):
            assert wait_for(lambda: moved_log.read_text().count("warm in") == 2, 120)
            assert queued(client, version) == 1 and not wait_for(lambda: queued(client, version) == 0, 3)
        with running_worker(url, ROOT, "old@test", old_log):  # a worker of the version the task claims grades it
            stdout, _ = run.communicate(timeout=120)
    assert outcomes(stdout) == {student: ["graded", ""]}
    assert graded_lines(old_log) == [f"stub graded {student} by old@test"]


def test_an_idle_worker_whose_checkout_moved_restarts_within_its_look_and_then_serves_the_new_version(tmp_path):
    """The usual update: the instructor and the workers pull one commit while the workers have no work. No task of
    the old version comes to make a grading process look: the main process's own look (every 30 s as shipped, 1 s
    here) stops it with RESTART_STATUS, and the worker started again grades the new version's tasks."""
    course = make_course(tmp_path / "course", [CHAPTER])
    submit_answer(course, "alice", catalogue.STEP_CORRECT[0])
    checkout = checkout_copy(tmp_path / "checkout")
    log = tmp_path / "worker.log"
    with redis_server() as url, redis.Redis.from_url(url) as client:
        worker = stub_worker(url, checkout, "idle@test", log, every=1.0)
        try:
            assert wait_for(lambda: "warm in" in log.read_text(), 120), log.read_text()
            old = fleet.course_version(course, CHAPTER)
            assert wait_for(lambda: any(client.scan_iter(serving_key(old, "*"))), 30)  # it marks what it serves
            changed(checkout)
            changed(course)
            assert fleet.course_version(course, CHAPTER) == Station(checkout).serving()[CHAPTER] != old
            began = time.monotonic()
            assert worker.wait(60) == RESTART_STATUS, log.read_text()[-3000:]
            assert time.monotonic() - began < 30  # its look (1 s), then Celery's warm shutdown with nothing to finish
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
        said = log.read_text()
        assert "this checkout moved while the worker waited" in said and "stopped:" in said, said[-3000:]
        with running_worker(url, checkout, "restarted@test", log, every=1.0):
            stdout, _ = enqueue(url, course, CHAPTER).communicate(timeout=120)
    assert outcomes(stdout) == {"alice": ["graded", ""]}
    assert graded_lines(log) == ["stub graded alice by restarted@test"]


def test_a_stored_run_npz_is_part_of_the_code_version(tmp_path, monkeypatch):
    """lrcourse/runs' .npz trajectories are read while chapters 5 to 7 are graded: one changed is another version."""
    package = tmp_path / "lrcourse"
    (package / "runs").mkdir(parents=True)
    run = package / "runs" / "abc.npz"
    run.write_bytes(b"one")
    monkeypatch.setattr(fleet, "PACKAGE", package)
    before = fleet.code_version()
    run.write_bytes(b"two")
    assert fleet.code_version() != before


@pytest.mark.parametrize("visibility, warned", [(1000.0, True), (2000.0, False)])
def test_the_visibility_warning_counts_a_process_warm_up_with_the_time_limit(
    tmp_path, monkeypatch, capsys, visibility, warned
):
    """A task's time limit (840 s with this course's settings) plus up to WARM_SECONDS (900) a task may wait in a
    warming worker: 1000 s is too short, 2000 s is not. (An app of the limit only: a second Celery app made in this
    process would be given the first one's task, Celery's tasks being shared between apps by default.)"""
    from types import SimpleNamespace

    from lrcourse.grading.fleet import start as fleet_start, worker as fleet_worker
    from lrcourse.grading.sandbox.limits import Limits

    limits = Limits.from_config(course_config(ROOT, "sqlite://"))
    app = SimpleNamespace(
        conf=SimpleNamespace(
            task_time_limit=limits.student_seconds + limits.worker_grace_seconds + 120,
            broker_url="redis://unused",
            broker_connection_max_retries=100,
        )
    )
    assert app.conf.task_time_limit == 840
    monkeypatch.setattr(fleet_worker, "celery_main", lambda app, argv: 0)  # not started: only its warning is read
    monkeypatch.setattr(fleet_start, "ready", lambda url, what, retries: None)  # no broker here to wait for
    assert fleet_worker.serve(app, Station(checkout_copy(tmp_path / "checkout")), 1, visibility, "w@test") == 0
    said = capsys.readouterr().out
    assert ("is not longer than a task's time limit and a process's warm-up (1740 s)" in said) is warned, said
