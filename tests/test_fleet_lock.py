"""One `lrcourse grade CHAPTER` per course and chapter, local or through a broker (`fleet_lock`): a second run while
the first holds the course is refused at once (exit 2), naming the holder (pid, host, since when: escaped for the
terminal), having sent and written nothing; it runs once the first has ended, and a first run killed with SIGKILL
leaves nothing that blocks the next, whose own lock then refuses a third. Local grading takes the same lock; a lock
file the grading account cannot write refuses the run, saying what to do. The real command, a real Redis with a
password, stub workers (`support.stub_fleet`) that print each student they grade."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from lrcourse.grading.fleet import broker as fleet, lock as fleet_lock

import catalogue
from support.gradedclass import class_of
from support.paths import ROOT
from support.redis_broker import redis_server
from support.stub_fleet import graded_lines, queued, running_worker, wait_for

CHAPTER = "02_ordered_schedules"
STUDENTS = ["alice", "bob"]


def grade(course: Path, url: str) -> subprocess.Popen:
    """`lrcourse grade CHAPTER --broker-file F` on `course`, as a process of its own."""
    url_file = course.parent / "broker-url"
    url_file.write_text(url)
    url_file.chmod(0o600)
    argv = ["grade", CHAPTER, "--course", str(course), "--broker-file", str(url_file)]
    command = [sys.executable, "-m", "lrcourse.cli", *argv]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def refused_by(course: Path, url: str, holder: subprocess.Popen, client) -> None:
    """A run started while `holder` holds the course ends at once with status 2, naming `holder`, and changes no file
    of the course and no key of the broker."""
    files, keys = snapshot(course), sorted(client.keys("*"))
    second = grade(course, url)
    try:
        out, err = second.communicate(timeout=120)  # without the lock it sends nothing new and waits: a timeout
    finally:
        second.kill()
        second.wait()
    assert second.returncode == 2, out + err
    said = f"process {holder.pid} on host {socket.gethostname()} since "
    assert f"another `lrcourse grade {CHAPTER}` (local, or through a broker) is running on this course: {said}" in err
    assert str(fleet_lock.lock_path(course, CHAPTER)) in err and "Nothing was sent or written" in err, err
    assert snapshot(course) == files and sorted(client.keys("*")) == keys


def snapshot(course: Path) -> dict[str, tuple[int, int]]:
    """Every file of the course with its size and modification time."""
    found = {}
    for folder, _, names in os.walk(course):
        for name in names:
            info = os.stat(Path(folder) / name)
            found[str(Path(folder) / name)] = (info.st_size, info.st_mtime_ns)
    return found


def finished(run: subprocess.Popen) -> str:
    out, err = run.communicate(timeout=240)
    assert run.returncode == 0, out + err[-3000:]
    return out


def test_a_second_run_is_refused_while_the_first_runs_and_runs_once_it_has_ended(tmp_path):
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], STUDENTS)
    version, log = fleet.course_version(course, CHAPTER), tmp_path / "worker.log"
    with redis_server() as url, redis.Redis.from_url(url) as client:
        first = grade(course, url)  # no worker yet: its tasks wait, and it holds the course
        try:
            assert wait_for(lambda: queued(client, version) == len(STUDENTS), 120), "nothing queued"
            refused_by(course, url, first, client)
            with running_worker(url, ROOT, "one@test", log):
                assert ": 2 graded, 0 unchanged" in finished(first)
                assert "2 unchanged (skipped)" in finished(
                    grade(course, url)
                )  # the first ended: the course is free again
        finally:
            first.kill()
            first.wait()
    assert sorted(graded_lines(log)) == [f"stub graded {student} by one@test" for student in STUDENTS]


def test_a_run_killed_with_sigkill_leaves_nothing_that_blocks_the_next_whose_lock_then_holds(tmp_path):
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], STUDENTS)
    version, log = fleet.course_version(course, CHAPTER), tmp_path / "worker.log"
    with redis_server() as url, redis.Redis.from_url(url) as client:
        killed = grade(course, url)
        assert wait_for(lambda: queued(client, version) == len(STUDENTS), 120), "nothing queued"
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert fleet_lock.lock_path(course, CHAPTER).exists()  # left behind, and harmless
        second = grade(course, url)
        try:
            lock = fleet_lock.lock_path(course, CHAPTER)
            assert wait_for(lambda: f'"pid": {second.pid},' in lock.read_text(), 120), "the next run did not start"
            refused_by(course, url, second, client)
            with running_worker(url, ROOT, "one@test", log):
                assert ": 2 graded, 0 unchanged" in finished(second)
        finally:
            second.kill()
            second.wait()
    assert sorted(graded_lines(log)) == [f"stub graded {student} by one@test" for student in STUDENTS]


def test_local_grading_takes_the_same_lock(tmp_path):
    """`lrcourse grade CHAPTER` without a broker while another run holds the chapter (here this test, as a fleet run
    would): refused at once, exit 2, naming the holder, nothing graded or written. Before, it took no lock and wrote
    the gradebook and the folders beside the fleet run."""
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["alice"])
    with fleet_lock.held(course, CHAPTER) as path:
        files = snapshot(course)
        argv = ["grade", CHAPTER, "--course", str(course), "--no-sandbox"]
        local = subprocess.run(
            [sys.executable, "-m", "lrcourse.cli", *argv], capture_output=True, text=True, timeout=600
        )
        assert snapshot(course) == files, local.stdout + local.stderr[-3000:]
    assert local.returncode == 2, local.stdout + local.stderr[-3000:]
    said = f"process {os.getpid()} on host {socket.gethostname()} since "
    assert f"another `lrcourse grade {CHAPTER}` (local, or through a broker) is running" in local.stderr, local.stderr
    assert said in local.stderr and str(path) in local.stderr, local.stderr


def test_the_holder_read_from_the_lock_file_is_shown_escaped(tmp_path):
    """The holder's text comes from a file: its control characters (an escape sequence that would clear the
    instructor's screen, a bell) are shown escaped, never sent raw to the terminal."""
    course = tmp_path / "course"
    course.mkdir()
    with fleet_lock.held(course, CHAPTER) as path:
        forged = {"pid": 4242, "host": "pod\x1b[2J\x07-7", "since": "today\r\x1b]0;owned\x07"}
        path.write_text(json.dumps(forged))
        with pytest.raises(fleet_lock.Held) as refused:
            with fleet_lock.held(course, CHAPTER):
                pass
    said = str(refused.value)
    assert "process 4242 on host 'pod\\x1b[2J\\x07-7' since 'today\\r\\x1b]0;owned\\x07'" in said, said
    assert not any(c in said for c in "\x1b\x07\r"), said


@pytest.mark.parametrize(
    "text", ['{"pid": Infinity, "host": "h", "since": "s"}', '{"pid": NaN, "host": "h", "since": "s"}', "[" * 4000]
)
def test_a_lock_file_naming_no_holder_it_can_show_still_refuses(tmp_path, text):
    """A holder's pid of Infinity made int() raise OverflowError (NaN: ValueError), deep nesting json's RecursionError:
    the second run ended with a traceback (exit 1) instead of the refusal. Any unreadable holder is unknown."""
    course = tmp_path / "course"
    course.mkdir()
    with fleet_lock.held(course, CHAPTER) as path:
        path.write_text(text)
        with pytest.raises(fleet_lock.Held) as refused:
            with fleet_lock.held(course, CHAPTER):
                pass
    assert "a process the lock file does not name (not written yet, or unreadable) holds" in str(refused.value)


def test_a_lock_file_the_grading_account_cannot_write_refuses_the_run_saying_what_to_do(tmp_path):
    """The lock file exists and cannot be opened for writing (made by another account, or, here, marked immutable,
    which refuses root too): the run is refused before starting with what to do, not with an errno alone."""
    course = tmp_path / "course"
    course.mkdir()
    path = fleet_lock.lock_path(course, CHAPTER)
    path.touch()
    if os.geteuid() == 0:
        made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if made.returncode != 0:
            pytest.skip(f"this file system has no immutable files for root: {made.stderr.strip()}")
    else:
        path.chmod(0o444)
    try:
        with pytest.raises(fleet_lock.Held) as refused:
            with fleet_lock.held(course, CHAPTER):
                pass
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    said = str(refused.value)
    assert f"the lock file {path} cannot be opened for writing (PermissionError: " in said, said
    assert "must be able to create it in the course folder, or to write it if it exists" in said, said
    assert "chown, mode 644; chattr -i if marked immutable" in said and "Nothing was sent or written" in said, said
