"""The broker's user and the worker's start (`fleet.refusal`, `fleet_start`), against a real Redis.

A Redis ACL user kept from admin commands as the README's rule had it (`+@all -@admin -@dangerous`) could not run
INFO (Redis 7 counts it as @dangerous), which `fleet_full.has_room` runs before every write: the worker ended with a
NoPermissionError traceback and the enqueuing command said the broker "does not answer", to be run again when it
answers. Both now say what the broker refused and what to fix (`+info`), in one line; with the README's rule, which
adds `+info`, both students are graded. A worker started before its broker (a Kubernetes pod started before Redis)
died at once with a ConnectionError traceback; it now waits for the broker, as Celery's own start would, saying so,
and grades once it answers."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from lrcourse.grading.fleet import broker as fleet

import catalogue
from support.gradedclass import class_of
from support.paths import ROOT
from support.redis_broker import redis_server, restartable_redis_server
from support.stub_fleet import enqueue, graded_lines, outcomes, running_worker, stub_worker, wait_for

CHAPTER = "02_ordered_schedules"
STUDENTS = ["alice", "bob"]
README_RULE = ("~*", "&*", "+@all", "-@admin", "-@dangerous", "+info")  # the README's, "Who holds the password"


@pytest.fixture
def course(tmp_path):
    return class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], STUDENTS)


def user_url(url: str, *rule: str) -> str:
    """The URL of a new ACL user `lrcourse` of the Redis at `url`, with `rule`, and a password of its own."""
    password = secrets.token_hex(8)
    with redis.Redis.from_url(url) as admin:
        admin.execute_command("ACL", "SETUSER", "lrcourse", "reset", "on", f">{password}", *rule)
    return f"redis://lrcourse:{password}@{url.rsplit('@', 1)[1]}"


def grade(course: Path, url: str) -> subprocess.Popen:
    """`lrcourse grade CHAPTER --broker-file F` on `course`, as a process of its own."""
    url_file = course.parent / "broker-url"
    url_file.write_text(url)
    url_file.chmod(0o600)
    argv = ["grade", CHAPTER, "--course", str(course), "--broker-file", str(url_file), "--force"]
    command = [sys.executable, "-m", "lrcourse.cli", *argv]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_user_refused_info_is_told_to_add_it_on_both_sides(course, tmp_path):
    with redis_server() as url:
        refused = user_url(url, *README_RULE[:-1])  # the README's rule before: no +info
        address, password = f"127.0.0.1:{urlsplit(url).port}", urlsplit(refused).password
        log = tmp_path / "worker.log"
        worker = stub_worker(refused, ROOT, "acl@test", log)
        try:
            status = worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.send_signal(signal.SIGKILL)
            raise
        run = grade(course, refused)
        out, err = run.communicate(timeout=120)
    said = log.read_text()
    assert status == fleet.BROKER_STATUS and "Traceback" not in said and password not in said, said
    assert "course at" not in said and "serving" not in said, said  # the refusal only, no banner before it
    assert f"lrcourse worker: the broker at {address} refuses this URL's user (a command refused by its ACL" in said
    assert "add `+info` to its rule" in said, said
    assert run.returncode == fleet.BROKER_STATUS, out + err
    assert f"the broker at {address} answers but refuses this URL's user (a command refused by its ACL" in err, err
    assert "add `+info` to its rule" in err and "does not answer" not in err, err
    assert "Traceback" not in err and password not in out + err, err


def test_the_readme_s_acl_rule_grades_the_class(course, tmp_path):
    with redis_server() as url:
        allowed = user_url(url, *README_RULE)
        log = tmp_path / "worker.log"
        with running_worker(allowed, ROOT, "acl@test", log):
            run = enqueue(allowed, course, CHAPTER, every=1.0, stderr=subprocess.PIPE)
            out, err = run.communicate(timeout=150)
    assert run.returncode == 0, err + log.read_text()
    assert {student: said[0] for student, said in outcomes(out).items()} == dict.fromkeys(STUDENTS, "graded"), out
    assert sorted(graded_lines(log)) == [f"stub graded {student} by acl@test" for student in STUDENTS]


def test_a_worker_started_before_its_broker_waits_for_it_then_grades(course, tmp_path):
    log = tmp_path / "worker.log"
    with restartable_redis_server() as (url, restart):
        password = urlsplit(url).password
        workers = []

        def start_the_worker_first():  # Redis stopped: the worker starts, and finds no broker for 5 s
            workers.append(stub_worker(url, ROOT, "early@test", log))
            # before: a ConnectionError traceback, exit 1, at this first look
            assert wait_for(lambda: "waiting for the broker" in log.read_text() or workers[0].poll() is not None, 120)
            time.sleep(5)
            assert workers[0].poll() is None, log.read_text()

        restart(start_the_worker_first)
        try:
            run = enqueue(url, course, CHAPTER, every=1.0, stderr=subprocess.PIPE)
            out, err = run.communicate(timeout=150)
        finally:
            workers[0].send_signal(signal.SIGTERM)
            workers[0].wait(60)
    said = log.read_text()
    assert run.returncode == 0, err + said
    assert {student: said[0] for student, said in outcomes(out).items()} == dict.fromkeys(STUDENTS, "graded"), out
    assert f"lrcourse worker: waiting for the broker at 127.0.0.1:{urlsplit(url).port} (0 s)" in said, said
    assert "Traceback" not in said and password not in said, said


def refused_error(url: str, *rule: str, act) -> BaseException:
    """The error redis-py raises when a user of `rule` does `act(client)` on the Redis at `url`."""
    with redis.Redis.from_url(user_url(url, *rule)) as client, pytest.raises(redis.RedisError) as caught:
        act(client)
    return caught.value


def test_a_refusal_says_what_was_refused_a_command_a_key_or_a_channel_and_the_rule_that_allows_it():
    """R25i: every NoPermissionError was told to add `+info`, a user refused a key (`~lrcourse:*`: kombu's `unacked`)
    or a channel (no `&*`) too. Each now names what was refused and the part of the README's rule that allows it."""
    from lrcourse.grading.fleet.refusal import refusal

    with redis_server() as url:
        command = refused_error(url, *README_RULE[:-1], act=lambda client: client.info())
        key = refused_error(url, "~lrcourse:*", "&*", "+@all", act=lambda client: client.set("unacked", 1))
        channel = refused_error(url, "~*", "resetchannels", "+@all", act=lambda client: client.publish("celery", 1))
    said = {name: refusal(error) for name, error in [("command", command), ("key", key), ("channel", channel)]}
    assert said["command"].startswith("a command refused by its ACL") and "add `+info`" in said["command"], said
    assert said["key"].startswith("a key refused by its ACL") and "give it `~*`" in said["key"], said
    assert said["channel"].startswith("a channel refused by its ACL") and "give it `&*`" in said["channel"], said
    assert "+info" not in said["key"] + said["channel"], said


def test_a_read_only_replica_is_refused_in_one_line_naming_its_primary_on_both_sides(course, tmp_path):
    """R25i: the worker against a replica (`replicaof`) ended with Celery's "Unrecoverable error: ReadOnlyError"
    traceback: its start ran only INFO, which a replica answers. Both sides now read the role (INFO replication) and
    refuse in one line naming the primary; the enqueuing command exits 3 (BROKER_STATUS)."""
    with redis_server() as primary, redis_server() as url, redis.Redis.from_url(url) as client:
        port = urlsplit(primary).port
        client.config_set("masterauth", urlsplit(primary).password)
        client.execute_command("REPLICAOF", "127.0.0.1", port)
        log = tmp_path / "worker.log"
        worker = stub_worker(url, ROOT, "replica@test", log)
        try:
            status = worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.send_signal(signal.SIGKILL)
            raise
        run = grade(course, url)
        out, err = run.communicate(timeout=120)
    said, address = log.read_text(), f"127.0.0.1:{urlsplit(url).port}"
    # R25j: said as a replica, not as a user refused, its primary named as the address to put in the URL's source
    line = f"this Redis is a read-only replica; its primary is at 127.0.0.1:{port}: put the primary's address in "
    assert status == fleet.BROKER_STATUS and "Traceback" not in said and line in said, said
    assert f"lrcourse worker: the broker at {address} takes no writes (ReadOnlyError" in said, said
    assert "refuses this URL's user" not in said + err, said + err
    assert (
        f"answers but takes no writes (ReadOnlyError: {line}the broker URL file {course.parent / 'broker-url'}" in err
    )
    assert run.returncode == fleet.BROKER_STATUS and line in err and "Traceback" not in err, out + err
