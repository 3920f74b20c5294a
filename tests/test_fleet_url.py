"""The broker's URL as both commands read it (`fleet.broker_url`): an empty file or variable is an error, never a
silent local run; a URL of another scheme is refused before Celery sees it, with a message that never holds the
password (Celery imports an unknown scheme as a module and prints the URL). And `lrcourse worker` ends with Celery's
status: not 0 after its "Unrecoverable error"."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lrcourse.grading.fleet import broker as fleet

from support.paths import ROOT

CHAPTER = "02_ordered_schedules"
TYPO = "redis//:S3CRETpw@127.0.0.1:6379/0"  # R25's: no ':' after the scheme


def run_command(tmp_path, command: str, text: str) -> int:
    from lrcourse.cli import parser

    url_file = tmp_path / "broker-url"
    url_file.write_text(text)
    url_file.chmod(0o600)
    argv = ["grade", CHAPTER, "--course", str(ROOT)] if command == "grade" else ["worker", "--course", str(ROOT)]
    args = parser().parse_args([*argv, "--broker-file", str(url_file)])
    return args.run(args)


@pytest.mark.parametrize("command", ["grade", "worker"])
@pytest.mark.parametrize("text", ["", "  \n\t\n"])
def test_an_empty_url_file_is_an_error_for_both_commands(tmp_path, capsys, command, text):
    assert run_command(tmp_path, command, text) == 2
    said = capsys.readouterr().err
    assert f"lrcourse {command}: the broker URL file" in said and "is empty" in said, said


@pytest.mark.parametrize("command", ["grade", "worker"])
@pytest.mark.parametrize("text", [TYPO, "amqp://guest:S3CRETpw@host//", "S3CRETpw"])
def test_a_url_of_another_scheme_is_refused_without_its_password(tmp_path, capsys, command, text):
    assert run_command(tmp_path, command, text) == 2
    said = capsys.readouterr()
    assert "does not begin with redis:// or rediss://" in said.err, said
    assert "S3CRETpw" not in said.err + said.out


def test_the_variable_set_but_empty_is_an_error_and_unset_means_local(monkeypatch):
    monkeypatch.setenv(fleet.BROKER_VARIABLE, " ")
    with pytest.raises(fleet.BrokerUrlError, match="is empty"):
        fleet.broker_url(None)
    monkeypatch.setenv(fleet.BROKER_VARIABLE, TYPO)
    with pytest.raises(fleet.BrokerUrlError) as refused:
        fleet.broker_url(None)
    assert "S3CRETpw" not in str(refused.value)
    monkeypatch.setenv(fleet.BROKER_VARIABLE, "rediss://:pw@host:6380/0")
    assert fleet.broker_url(None) == "rediss://:pw@host:6380/0"
    monkeypatch.delenv(fleet.BROKER_VARIABLE)
    assert fleet.broker_url(None) is None


def test_a_missing_url_file_is_said_plainly(tmp_path):
    with pytest.raises(fleet.BrokerUrlError, match="cannot be read: FileNotFoundError"):
        fleet.broker_url(str(tmp_path / "absent"))


def test_celery_never_gets_a_url_of_another_scheme():
    with pytest.raises(fleet.BrokerUrlError) as refused:
        fleet.celery_app(TYPO)
    assert "S3CRETpw" not in str(refused.value)


BROKEN_WORKER = """
import sys
from celery import Celery, bootsteps
from lrcourse.grading.fleet.worker import celery_main

class Broken(bootsteps.StartStopStep):
    def start(self, worker):
        raise RuntimeError("broken on purpose")

app = Celery("broken", broker="memory://", backend="cache+memory://", set_as_current=False)
app.steps["worker"].add(Broken)
argv = ["worker", "--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"]
sys.exit(celery_main(app, argv))
"""


def test_a_worker_ended_by_an_unrecoverable_error_exits_non_zero(tmp_path):
    ran = subprocess.run(
        [sys.executable, "-c", BROKEN_WORKER], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert "Unrecoverable error" in ran.stderr + ran.stdout, ran.stderr[-2000:]
    assert ran.returncode == 1, (ran.returncode, ran.stderr[-2000:])


@pytest.mark.parametrize("command", ["grade", "worker"])
def test_a_url_without_a_password_is_refused_unless_the_local_opt_out_is_set(tmp_path, capsys, monkeypatch, command):
    """R25i: a URL without a password was taken, while the broker must require one (issue 25): both commands refuse
    it, naming where it came from; $LRCOURSE_BROKER_NO_PASSWORD=1 (a local test broker) takes it."""
    from lrcourse.grading.fleet.refusal import NO_PASSWORD_VARIABLE

    monkeypatch.delenv(NO_PASSWORD_VARIABLE, raising=False)
    assert run_command(tmp_path, command, "redis://127.0.0.1:6379/0") == 2
    said = capsys.readouterr().err
    assert f"lrcourse {command}: the broker URL file {tmp_path / 'broker-url'} holds a URL without a password" in said
    assert f"${NO_PASSWORD_VARIABLE}=1" in said, said
    monkeypatch.setenv(fleet.BROKER_VARIABLE, "redis://lrcourse@host:6379/0")  # a user, no password
    with pytest.raises(fleet.BrokerUrlError, match=r"\$LRCOURSE_BROKER_URL holds a URL without a password"):
        fleet.broker_url(None)
    monkeypatch.setenv(NO_PASSWORD_VARIABLE, "1")
    assert fleet.broker_url(None) == "redis://lrcourse@host:6379/0"


def test_a_wrong_password_names_the_source_the_url_came_from(monkeypatch):
    """R25i: a refused password was told to "correct the broker file" when the URL came from $LRCOURSE_BROKER_URL."""
    import redis

    from lrcourse.grading.fleet.refusal import refusal, source_of

    url = "redis://:pw@127.0.0.1:1/0"
    wrong = redis.AuthenticationError("invalid username-password pair or user is disabled.")
    monkeypatch.setenv(fleet.BROKER_VARIABLE, url)
    assert "correct $LRCOURSE_BROKER_URL" in refusal(wrong, source_of(url, fleet.BROKER_VARIABLE))
    monkeypatch.delenv(fleet.BROKER_VARIABLE)
    assert "correct the broker URL file (--broker-file)" in refusal(wrong, source_of(url, fleet.BROKER_VARIABLE))
    said = str(fleet.BrokerUnreachable(url, wrong))
    assert "correct the broker URL file (--broker-file)" in said, said


def test_the_worker_s_concurrency_is_at_least_one_and_grade_s_help_says_the_constants(capsys):
    """R25i: --concurrency 0 was taken; --window's help typed "(64)"; exit status 3 was said to be only a broker that
    did not answer; --visibility-seconds's help named a student's budget and grace, not what the worker warns below."""
    from lrcourse.cli import parser

    with pytest.raises(SystemExit) as stopped:
        parser().parse_args(["worker", "--concurrency", "0"])
    assert stopped.value.code == 2 and "--concurrency: invalid at_least_one value: '0'" in capsys.readouterr().err
    assert parser().parse_args(["worker", "--concurrency", "2"]).concurrency == 2
    with pytest.raises(SystemExit):
        parser().parse_args(["grade", "-h"])
    said = " ".join(capsys.readouterr().out.split())
    assert f"tasks out at once ({fleet.WINDOW})" in said, said
    assert "3: the broker did not answer, refused this user, or is full" in said, said
    with pytest.raises(SystemExit):
        parser().parse_args(["worker", "-h"])
    said = " ".join(capsys.readouterr().out.split())
    assert "longer than a task's hard time limit" in said and "warm-up (900 s)" in said, said


@pytest.mark.parametrize("command", ["grade", "worker"])
def test_a_password_in_the_url_s_query_is_refused_even_with_the_local_opt_out(tmp_path, capsys, monkeypatch, command):
    """R25j: `redis://HOST:6379/0?password=PW` (a form redis-py takes) was refused as "without a password", or taken
    with $LRCOURSE_BROKER_NO_PASSWORD=1, its password then in no place the messages mask. Both commands refuse it,
    saying where to put the password, naming the file, never showing it."""
    from lrcourse.grading.fleet.refusal import NO_PASSWORD_VARIABLE

    monkeypatch.setenv(NO_PASSWORD_VARIABLE, "1")
    monkeypatch.setenv(fleet.BROKER_VARIABLE, "redis://lrcourse:pw@host:6379/0?PASSWORD=")
    with pytest.raises(fleet.BrokerUrlError, match=r"\$LRCOURSE_BROKER_URL holds the password in the URL's query"):
        fleet.broker_url(None)  # first: a URL taken would have the command below grade this checkout
    assert run_command(tmp_path, command, "redis://127.0.0.1:6379/0?password=S3CRETpw") == 2
    said = capsys.readouterr()
    expected = (
        f"lrcourse {command}: the broker URL file {tmp_path / 'broker-url'} holds the password in the URL's query"
    )
    assert expected in said.err and "redis://:PASSWORD@HOST:6379/0" in said.err, said.err
    assert "S3CRETpw" not in said.err + said.out


def test_a_wrong_password_names_the_broker_url_file_by_its_path_on_both_sides(tmp_path):
    """R25j: a password Redis refuses was told to "correct the broker URL file (--broker-file)", not which file. Both
    commands, against a real Redis with another password, now name the file they read."""
    from urllib.parse import urlsplit

    import catalogue
    from support.gradedclass import class_of
    from support.redis_broker import redis_server

    url_file = tmp_path / "fleet-broker-url"
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["alice"])  # a student to send
    with redis_server() as url:
        url_file.write_text(url.replace(urlsplit(url).password, "not-the-password"))
        url_file.chmod(0o600)
        argvs = {"grade": ["grade", CHAPTER, "--course", str(course)], "worker": ["worker", "--no-sandbox"]}
        ran = {
            command: subprocess.run(
                [sys.executable, "-m", "lrcourse.cli", *argv, "--broker-file", str(url_file)],
                capture_output=True,
                text=True,
                timeout=300,
                cwd=ROOT,
            )
            for command, argv in argvs.items()
        }
    for command, done in ran.items():
        said = done.stdout + done.stderr
        assert f"correct the broker URL file {url_file}" in said, (command, said[-3000:])
        assert "AuthenticationError" in said and "not-the-password" not in said, (command, said[-3000:])
    assert ran["grade"].returncode == fleet.BROKER_STATUS == ran["worker"].returncode, ran["worker"].stderr[-3000:]
    assert "course at" not in ran["worker"].stdout + ran["worker"].stderr  # the refusal only: no banner before it
