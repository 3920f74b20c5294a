"""The watches on the course version while a queue runs (`fleet_watch`): a worker marks the versions it serves and
stops when its checkout moves; the enqueuing command says, once and on stderr, when its tasks sit on a queue no
worker serves (its course moved since the run started, or no worker marks its version), and a rerun then sends the
students not yet graded with the new version. A real Redis with a password; stub workers (`support.stub_fleet`)."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

import pytest
import redis

from lrcourse.grading.fleet import broker as fleet, watch as fleet_watch, worker as fleet_worker
from lrcourse.grading.fleet.lease import lease_key, resent_key
from lrcourse.grading.fleet.watch import CheckoutWatch, Lost, Unserved, serving_key
from lrcourse.grading.fleet.worker import Station

import catalogue
from support.course import make_course
from support.gradedclass import submit_answer
from support.paths import ROOT
from support.redis_broker import full, redis_server, restartable_redis_server
from support.stub_fleet import Bar, enqueue, graded_lines, outcomes, queued, running_worker, wait_for

CHAPTER = "02_ordered_schedules"


def copy_of_course(path):
    shutil.copytree(ROOT / "source" / CHAPTER, path / "source" / CHAPTER)
    shutil.copy(ROOT / "nbgrader_config.py", path)
    return path


def unserved_watch(tmp_path, *students: str) -> tuple[Path, str, Unserved]:
    """The enqueuer's watch for a missing worker (Unserved) over a copy of the course, `students` waiting (alice by
    default), looking at each check: the course, its version, the watch (its bar a `Bar`)."""
    course = copy_of_course(tmp_path / "course")
    version = fleet.course_version(course, CHAPTER)
    waiting = {f"task-{i}": (student, "f") for i, student in enumerate(students or ("alice",), 1)}
    return course, version, Unserved(course, CHAPTER, version, waiting, Bar(), every=0)


def changed(course) -> None:
    """The chapter's source changed on disk, as a git pull would change it."""
    notebook = sorted((course / "source" / CHAPTER).glob("*.ipynb"))[0]
    notebook.write_text(notebook.read_text().replace('"cells"', '"cells" ', 1))


def test_a_worker_marks_the_versions_it_serves_and_stops_itself_when_its_checkout_moves(tmp_path, url, monkeypatch):
    checkout = copy_of_course(tmp_path / "checkout")
    station = Station(checkout)
    version = station.serving()[CHAPTER]
    killed = []
    monkeypatch.setattr(fleet_watch.os, "kill", lambda pid, signum: killed.append((pid, signum)))
    watch = CheckoutWatch(url, station, "w1@test")
    assert watch.look() is False and killed == []
    with redis.Redis.from_url(url) as client:
        assert client.exists(serving_key(version, "w1@test"))
        assert 0 < client.pttl(serving_key(version, "w1@test")) <= fleet_watch.SERVING_SECONDS * 1000
        assert fleet_watch.served(client, version) and not fleet_watch.served(client, "0" * 16)
    changed(checkout)
    assert watch.look() is True and killed == [(os.getpid(), signal.SIGTERM)]
    assert f"{CHAPTER}'s source or grading settings changed" in watch.moved


def test_a_look_reads_the_code_and_the_config_once_for_every_assignment_it_serves(tmp_path, url, monkeypatch):
    """The package hashed and the config run once a look, whatever the number of assignments (E7: 1.19 s -> 0.19 s
    for 7), and a move of the last assignment is still seen."""
    chapters = sorted(path.name for path in (ROOT / "source").iterdir() if path.is_dir())[:3]
    checkout = tmp_path / "checkout"
    for chapter in chapters:
        shutil.copytree(ROOT / "source" / chapter, checkout / "source" / chapter)
    shutil.copy(ROOT / "nbgrader_config.py", checkout)
    station = Station(checkout)
    assert sorted(station.serving()) == chapters
    calls = {"code_version": 0, "grading_settings": 0, "course_version": 0}
    for name in calls:
        original = getattr(fleet, name)
        monkeypatch.setattr(
            fleet, name, lambda *a, _f=original, _n=name, **k: calls.__setitem__(_n, calls[_n] + 1) or _f(*a, **k)
        )
    monkeypatch.setattr(fleet_watch.os, "kill", lambda pid, signum: None)
    watch = CheckoutWatch(url, station, "once@test")
    assert watch.look() is False
    assert calls == {"code_version": 1, "grading_settings": 1, "course_version": 3}, calls
    notebook = sorted((checkout / "source" / chapters[-1]).glob("*.ipynb"))[0]
    notebook.write_text(notebook.read_text().replace('"cells"', '"cells" ', 1))
    assert watch.look() is True and f"{chapters[-1]}'s source or grading settings changed" in watch.moved


# a config as an update can leave it for a moment (half written) or for good (a check of its own that fails: kombu's
# timer lets an AssertionError out of the worker's loop, where other exceptions are only logged)
UNREADABLE = ["\nc.Execute.timeout = (\n", "\nassert False, 'a check of the config'\n"]


@pytest.mark.parametrize("broken", UNREADABLE, ids=["half-written", "failing-assert"])
def test_a_look_that_cannot_read_the_checkout_says_one_line_marks_nothing_and_looks_again(
    tmp_path, url, monkeypatch, capsys, broken
):
    checkout = copy_of_course(tmp_path / "checkout")
    station = Station(checkout)
    version = station.serving()[CHAPTER]
    killed = []
    monkeypatch.setattr(fleet_watch.os, "kill", lambda pid, signum: killed.append((pid, signum)))
    watch = CheckoutWatch(url, station, f"unreadable-{len(broken)}@test")
    config = checkout / "nbgrader_config.py"
    text = config.read_text()
    config.write_text(text + broken)
    capsys.readouterr()
    assert watch.look() is False and killed == []
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("lrcourse worker: the checkout's look failed (") and "looks again in 30 s" in line, line
    with redis.Redis.from_url(url) as client:
        assert not client.exists(serving_key(version, watch.name))  # unread: not vouched for
    config.write_text(text)  # the update done, and nothing moved: served again
    assert watch.look() is False and killed == []
    with redis.Redis.from_url(url) as client:
        assert client.exists(serving_key(version, watch.name))
    config.write_text(text + "\nc.Execute.timeout = 99\n")  # an update that moves the version
    assert watch.look() is True and killed == [(os.getpid(), signal.SIGTERM)]


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_task_whose_checkout_cannot_be_read_goes_back_to_the_queue_uncharged(tmp_path, url, monkeypatch, when):
    """Before grading, or after it (the checkout read again: the result may mix two versions), a checkout that cannot
    be read gives the task back (Reject, requeued; its attempt not counted) and stops the worker for a restart,
    instead of failing the student."""
    checkout = copy_of_course(tmp_path / "checkout")
    app, station = fleet_worker.make_app(url, checkout, sandboxed=False)
    config = checkout / "nbgrader_config.py"
    broken = config.read_text() + UNREADABLE[0]
    graded = []

    def grade(task):
        graded.append(task["student"])
        if when == "after":
            config.write_text(broken)  # an update lands while the student is graded
        return {"outcome": {"student": task["student"], "status": "graded"}}

    monkeypatch.setattr(station, "grade", grade)
    killed = []
    monkeypatch.setattr(fleet_worker.os, "kill", lambda pid, signum: killed.append((pid, signum)))
    if when == "before":
        config.write_text(broken)
    task = f"unreadable-{when}"
    result = app.tasks[fleet.TASK].apply(args=[{"assignment": CHAPTER, "student": "alice"}], task_id=task)
    assert result.state == "REJECTED", (result.state, result.result)
    assert graded == ([] if when == "before" else ["alice"])
    assert killed == [(os.getppid(), signal.SIGTERM)]
    with redis.Redis.from_url(url) as client:
        assert int(client.get(fleet.attempts_key(task)) or 0) == 0


def test_the_enqueuer_says_once_when_its_course_cannot_be_read_and_goes_on(tmp_path, url):
    course, version, watch = unserved_watch(tmp_path)
    bar = watch.bar
    config = course / "nbgrader_config.py"
    text = config.read_text()
    config.write_text(text + UNREADABLE[0])
    with redis.Redis.from_url(url) as client:
        watch.check(client)
        watch.check(client)
        [(said, file)] = bar.said
        assert file is sys.stderr and "the course's version cannot be read now (SyntaxError: " in said, said
        assert f"the run goes on with version {version}" in said, said
        config.write_text(text + "\nc.Execute.timeout = 99\n")  # the edit done: the version moved
        watch.check(client)
    assert len(bar.said) == 2 and "the course changed since this run started" in bar.said[1][0], bar.said


def test_the_enqueuer_resends_the_waiting_tasks_the_broker_lost_and_only_those(url):
    bar, resent = Bar(), []
    waiting = {"lost-sent": ("a", "f"), "lost-stored": ("b", "f"), "lost-gone": ("c", "f")}
    watch = Lost(waiting, resent.append, bar, every=0)
    with redis.Redis.from_url(url) as client:
        client.set(fleet.sent_key("lost-sent"), 1, ex=60)  # queued or being graded
        client.set(fleet.result_key("lost-stored"), b"{}", ex=60)  # its result waits to be collected
        try:
            watch.check(client)
            assert resent == ["lost-gone"]
            assert client.exists(resent_key("lost-gone")), "sent again, not marked so (`fleet_lease.mark_resent`)"
            waiting.pop("lost-gone")
            watch.check(client)
        finally:  # the module's broker: another test waits for a `sent` mark of its own run
            client.delete(fleet.sent_key("lost-sent"), fleet.result_key("lost-stored"), resent_key("lost-gone"))
    assert resent == ["lost-gone"]
    [(said, file)] = bar.said
    assert file is sys.stderr and "the broker lost 1 waiting task(s)" in said, said


def test_while_redis_is_full_the_enqueuer_names_it_rather_than_a_missing_worker(tmp_path, url):
    course, version, watch = unserved_watch(tmp_path)
    bar = watch.bar
    with redis.Redis.from_url(url) as client:
        for key in client.scan_iter(serving_key(version, "*")):  # another test's worker marks: none here
            client.delete(key)
        watch.since -= fleet_watch.SERVING_SECONDS
        with full(client):
            watch.check(client)
            watch.check(client)
        [(text, file)] = bar.said
        assert (
            file is sys.stderr
            and f"no worker could mark course version {version} as served: the broker is full" in text
        )
        assert (
            "redis-cli CONFIG SET maxmemory" in text and "1 task(s) wait" in text and "no worker has marked" not in text
        )
        assert 'one that ended on it (exit 1, "Unrecoverable error" in its log) must be started again' in text, text
        watch.check(client)  # room again: a worker still running marks within the grace
        assert len(bar.said) == 1, bar.said
        watch.since -= fleet_watch.SERVING_SECONDS  # and none did: the only worker ended on the full broker
        watch.check(client)
        watch.check(client)
    assert len(bar.said) == 2, bar.said
    text, file = bar.said[1]
    assert file is sys.stderr and f"no worker has marked course version {version} as served for 90 s" in text, text
    ended = 'a worker that ended while the broker was full, exit 1 and "Unrecoverable error" in its log'
    assert f"{ended}, must be started again" in text, text


def test_a_broker_restarted_without_its_data_mid_run_loses_no_student_and_grades_each_once(tmp_path):
    """Redis without persistence restarted while the run waits: its queue and the `sent` marks are gone, redis-py
    reconnects without a word. The run sends the lost tasks again at its next look, and a worker started then grades
    each student once."""
    course = make_course(tmp_path / "course", [CHAPTER])
    students = ["alice", "bob", "carol"]
    for student in students:
        submit_answer(course, student, catalogue.STEP_CORRECT[0])
    version = fleet.course_version(course, CHAPTER)
    log, errors = tmp_path / "worker.log", tmp_path / "enqueuer.err"
    with restartable_redis_server() as (address, restart), redis.Redis.from_url(address) as client:
        run = enqueue(address, course, CHAPTER, every=0.5, stderr=errors.open("w"))
        assert wait_for(lambda: queued(client, version) == 3, 120), errors.read_text()  # no worker yet
        restart()
        assert queued(client, version) == 0 and not any(client.scan_iter(fleet.sent_key("*")))  # lost
        assert wait_for(lambda: queued(client, version) == 3, 30), errors.read_text()  # sent again
        with running_worker(address, ROOT, "after@test", log):
            stdout, _ = run.communicate(timeout=120)
    assert run.returncode == 0, errors.read_text()
    assert outcomes(stdout) == {student: ["graded", ""] for student in students}
    assert sorted(graded_lines(log)) == sorted(f"stub graded {student} by after@test" for student in students)
    said = errors.read_text()
    assert said.count("the broker lost 3 waiting task(s)") == 1, said


def test_the_enqueuer_says_once_on_stderr_when_its_course_moved_since_the_run_started(tmp_path, url):
    course, version, watch = unserved_watch(tmp_path)
    bar = watch.bar
    with redis.Redis.from_url(url) as client:
        client.set(serving_key(version, "w@test"), 1, px=60_000)  # a worker of this version is there: nothing said
        watch.check(client)
        assert bar.said == []
        changed(course)
        watch.check(client)
        watch.check(client)
    [(text, file)] = bar.said
    assert file is sys.stderr
    assert f"the course changed since this run started (course version {version}, now " in text, text
    assert "run `lrcourse grade` again" in text and "1 waiting task(s)" in text, text


def test_the_enqueuer_says_once_when_no_worker_has_marked_its_version_for_the_grace(tmp_path, url):
    course, version, watch = unserved_watch(tmp_path, "alice", "bob")
    bar, waiting = watch.bar, watch.waiting
    with redis.Redis.from_url(url) as client:
        for key in client.scan_iter(serving_key(version, "*")):  # another test's worker marks: none here
            client.delete(key)
        watch.check(client)  # not yet the grace: a worker may be starting
        assert bar.said == []
        watch.since -= fleet_watch.SERVING_SECONDS
        watch.check(client)
        watch.check(client)
        waiting.clear()
        watch.since -= fleet_watch.SERVING_SECONDS
        watch.check(client)  # nothing waits: nothing to say
    [(text, file)] = bar.said
    assert file is sys.stderr and f"no worker has marked course version {version} as served for 90 s" in text, text
    assert "2 task(s) wait" in text, text


def test_after_the_course_moved_mid_run_a_rerun_sends_the_waiting_students_with_the_new_version(tmp_path, url):
    """No worker of the run's version: the run says what to do; stopped (Ctrl-C) and run again, the students are
    sent with the new version and graded once by a worker of it."""
    course = make_course(tmp_path / "course", [CHAPTER])
    submit_answer(course, "alice", catalogue.STEP_CORRECT[0])
    checkout = copy_of_course(tmp_path / "checkout")
    changed(checkout)  # the workers are already on the new commit
    log, errors = tmp_path / "worker.log", tmp_path / "enqueuer.err"
    with running_worker(url, checkout, "new@test", log, every=1.0):
        first = enqueue(url, course, CHAPTER, every=0.5, stderr=errors.open("w"))
        with redis.Redis.from_url(url) as client:  # sent at the course's version before the pull
            assert wait_for(lambda: any(client.scan_iter(fleet.sent_key("*"))), 60), errors.read_text()
        changed(course)  # the instructor pulls the same commit while the run waits
        assert wait_for(lambda: "the course changed since this run started" in errors.read_text(), 60)
        first.send_signal(signal.SIGINT)
        first.wait(60)
        assert "run `lrcourse grade` again" in errors.read_text()
        stdout, _ = enqueue(url, course, CHAPTER, every=0.5).communicate(timeout=120)
    assert outcomes(stdout) == {"alice": ["graded", ""]}
    assert graded_lines(log) == ["stub graded alice by new@test"]


def threads(pid: int) -> list[str]:
    """The threads of process `pid` (the kernel's list)."""
    return sorted(os.listdir(f"/proc/{pid}/task"))


def test_the_workers_look_runs_without_a_thread_in_its_main_process_idle_and_while_its_pool_grades(tmp_path):
    """Celery's prefork pool forks its processes from the worker's main process, and a thread there at a fork (holding
    the redis client's, logging's or the import lock) would leave the new process a lock nobody releases. So the look
    runs on the worker's own event loop (a bootstep on Celery's timer): the main process holds one thread, its own,
    and the look still marks the served version again every `every` s while the worker is idle and while its pool
    grades (a mark deleted comes back before the student is graded). A broker of its own: no other test's task."""
    course = make_course(tmp_path / "course", [CHAPTER])
    submit_answer(course, "sleep-8-alice", catalogue.STEP_CORRECT[0])
    log = tmp_path / "worker.log"
    key = serving_key(fleet.course_version(course, CHAPTER), "main@test")
    with redis_server() as url, redis.Redis.from_url(url) as client:
        with running_worker(url, ROOT, "main@test", log, every=1.0) as worker:
            assert wait_for(lambda: "warm in" in log.read_text(), 120), log.read_text()
            assert threads(worker.pid) == [str(worker.pid)]
            client.delete(key)
            assert wait_for(lambda: client.exists(key), 10), log.read_text()[-3000:]  # idle: the next look marks
            run = enqueue(url, course, CHAPTER)
            assert wait_for(lambda: any(client.scan_iter(lease_key("*"))), 60)  # its pool grades (8 s)
            client.delete(key)
            assert wait_for(lambda: client.exists(key), 5) and graded_lines(log) == [], log.read_text()[-3000:]
            assert threads(worker.pid) == [str(worker.pid)]
            stdout, _ = run.communicate(timeout=120)
    assert outcomes(stdout) == {"sleep-8-alice": ["graded", ""]}
