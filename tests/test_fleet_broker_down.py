"""A broker that does not answer ends `lrcourse grade` with one line naming its host and port (never the password), the
promise that the grades written so far are kept, and exit status 3 (`fleet.BROKER_STATUS`), not a traceback and 1
("a student was not graded"): a closed port, a wrong password against a real Redis (which answers: said so, with
what to fix; tests/test_fleet_broker_user.py: an ACL user refused a command), a Redis stopped mid-run for longer
than `--broker-wait` (waited for until then: `fleet_outage`). A port that is not a number is a refused URL (status 2),
before anything is sent."""

from __future__ import annotations

import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
import redis

from lrcourse.grading.fleet import broker as fleet

import catalogue
from support.gradedclass import class_of
from support.labserver import free_port
from support.redis_broker import redis_server
from support.stub_fleet import wait_for

CHAPTER = "02_ordered_schedules"
PASSWORD = "S3CRETpw"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return class_of(tmp_path_factory.mktemp("down") / "course", catalogue.STEP_CORRECT[0], ["alice"])


def grade(course, url: str, *options: str) -> subprocess.Popen:
    """`lrcourse grade` through the broker at `url` (in a file of mode 600), as a process of its own."""
    url_file = course.parent / "broker-url"
    url_file.write_text(url)
    url_file.chmod(0o600)
    argv = ["grade", CHAPTER, "--course", str(course), "--broker-file", str(url_file), *options]
    return subprocess.Popen(
        [sys.executable, "-m", "lrcourse.cli", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def ended_for_the_broker(run: subprocess.Popen, address: str, password: str) -> str:
    out, err = run.communicate(timeout=120)
    assert run.returncode == fleet.BROKER_STATUS, out + err
    assert f"lrcourse grade: the broker at {address} does not answer" in err, err
    assert "grades written so far are kept; run again when the broker answers" in err, err
    assert "Traceback" not in err and password not in out + err, err
    return err


def test_a_closed_port_ends_with_status_3_and_one_line(course):
    port = free_port()
    err = ended_for_the_broker(grade(course, f"redis://:{PASSWORD}@127.0.0.1:{port}/0"), f"127.0.0.1:{port}", PASSWORD)
    assert "ConnectionError" in err, err


def test_a_wrong_password_ends_with_status_3_and_never_shows_it(course):
    with redis_server() as url:
        parts = urlsplit(url)
        wrong = url.replace(parts.password, PASSWORD)
        run = grade(course, wrong)
        out, err = run.communicate(timeout=120)
    assert run.returncode == fleet.BROKER_STATUS, out + err
    # it answers: "does not answer ... run again when the broker answers" was wrong advice
    assert f"lrcourse grade: the broker at 127.0.0.1:{parts.port} answers but refuses this URL's user" in err, err
    # the file by its path (R25j): the one grade() wrote
    assert "AuthenticationError" in err and f"correct the broker URL file {course.parent / 'broker-url'}" in err, err
    assert "does not answer" not in err and "Traceback" not in err, err
    assert PASSWORD not in out + err and parts.password not in out + err, err


def test_a_broker_stopped_mid_run_is_waited_for_up_to_its_limit_then_ends_with_status_3(course):
    with redis_server() as url:
        parts = urlsplit(url)
        run = grade(course, url, "--broker-wait", "4")  # no worker: the task waits, and the command polls
        with redis.Redis.from_url(url) as client:
            assert wait_for(lambda: any(client.scan_iter(fleet.sent_key("*"))), 120)
    began = time.monotonic()  # the server stopped as the block ended
    err = ended_for_the_broker(run, f"127.0.0.1:{parts.port}", parts.password)
    assert time.monotonic() - began >= 4, err  # waited for, not ended at the first refusal
    assert err.count(f"the broker at 127.0.0.1:{parts.port} is unreachable since ") == 1, err
    assert "unreachable for 4 s (--broker-wait); grades written so far are kept" in err, err


def test_a_port_that_is_not_a_number_is_a_refused_url(course):
    run = grade(course, f"redis://:{PASSWORD}@127.0.0.1:abc/0")
    out, err = run.communicate(timeout=120)
    assert run.returncode == 2 and "has a port that is not a number" in err, out + err
    assert PASSWORD not in out + err and "Traceback" not in err
