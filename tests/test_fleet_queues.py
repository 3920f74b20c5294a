"""The grading queue's routing, without workers (`fleet`, `fleet_worker`, `fleet_grade`): one queue per course
version, a worker of another version refusing a task that reaches it anyway, and the enqueuing command's hint when
no worker takes its tasks. test_fleet grades through real workers."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from lrcourse.grading.fleet import broker as fleet
from lrcourse.grading.fleet.worker import Station

import catalogue
from support.course import make_course
from support.gradedclass import submit_answer
from support.paths import ROOT
from support.redis_broker import redis_server

CHAPTER = "02_ordered_schedules"


def test_a_worker_listens_to_one_queue_per_assignment_at_its_version():
    serving = Station(ROOT).serving()
    chapters = sorted(path.name for path in (ROOT / "source").iterdir() if path.is_dir())
    assert sorted(serving) == chapters
    assert serving[CHAPTER] == fleet.course_version(ROOT, CHAPTER)
    assert len({fleet.queue_name(version) for version in serving.values()}) == len(chapters)


def test_a_task_of_another_version_is_refused_before_anything_is_opened():
    station = Station(ROOT)
    result = station.grade({"assignment": CHAPTER, "student": "alice", "version": "0" * 16, "files": {}})
    assert result["refused"] and result["outcome"]["status"] == "failed"
    assert "version mismatch" in result["outcome"]["reason"]
    assert station.scratch is None  # no scratch course made, no grader started


def course_with(tmp_path, name: str, settings: str):
    """A course with this checkout's chapter and nbgrader_config.py, and `settings` appended to the config."""
    import shutil

    course = tmp_path / name
    shutil.copytree(ROOT / "source" / CHAPTER, course / "source" / CHAPTER)
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text() + "\n" + settings + "\n")
    return course


def test_settings_only_the_enqueuer_reads_leave_the_version_as_it_is(tmp_path):
    """Where the course's gradebook and folders are, its late penalties (written by the enqueuer) and its exchange
    are the enqueuing course's business: its workers' checkouts need not have them."""
    settings = """c.LateSubmissionPlugin.penalty_method = "zero"
c.CourseDirectory.db_url = "postgresql://grader@db.example/course"
c.CourseDirectory.root = "/srv/course"
c.Exchange.root = "/srv/exchange"
c.ExportApp.plugin_class = "nbgrader.plugins.export.CsvExportPlugin"
"""
    assert fleet.course_version(course_with(tmp_path, "course", settings), CHAPTER) == fleet.course_version(
        ROOT, CHAPTER
    )


@pytest.mark.parametrize(
    "setting", ["c.Sandbox.memory_mb = 1024", "c.Execute.timeout = 5", "c.Lrcourse.feedback_shows_hidden_tests = True"]
)
def test_a_course_graded_under_other_settings_is_another_version_that_no_worker_of_this_checkout_gets(
    tmp_path, setting
):
    """nbgrader_config.py's grading settings decide grades (a memory-hungry answer passes under one cap and fails
    under another): a worker whose checkout has other ones listens to another queue, and a task that reaches it
    anyway is refused with the reason, before anything is opened."""
    version = fleet.course_version(course_with(tmp_path, "course", setting), CHAPTER)
    station = Station(ROOT)
    serving = station.serving()
    assert version != serving[CHAPTER]
    assert fleet.queue_name(version) not in {fleet.queue_name(mine) for mine in serving.values()}
    result = station.grade({"assignment": CHAPTER, "student": "alice", "version": version, "files": {}})
    assert result["refused"] and "grading settings differ" in result["outcome"]["reason"], result
    assert station.scratch is None


ENQUEUE = """
import sys
from pathlib import Path
from lrcourse.grading.fleet.grade import grade_class_remote
grade_class_remote(Path(sys.argv[1]), sys.argv[2], sys.stdin.read().strip(), progress=False, hint_seconds=1)
"""


def test_with_no_worker_for_its_version_the_enqueuer_says_so_and_the_task_waits_on_its_versions_queue(tmp_path):
    import redis

    course = make_course(tmp_path / "course", [CHAPTER])
    submit_answer(course, "alice", catalogue.STEP_CORRECT[0])
    version = fleet.course_version(course, CHAPTER)
    with redis_server() as url:
        command = [sys.executable, "-c", ENQUEUE, str(course), CHAPTER]
        run = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=course)
        run.stdin.write(url)  # the URL with its password never on a command line
        run.stdin.close()
        lines, deadline = [], time.monotonic() + 300
        while time.monotonic() < deadline and run.poll() is None:
            line = run.stderr.readline()
            lines.append(line)
            if "no task has started" in line:
                break
        run.send_signal(signal.SIGINT)
        run.wait(60)
        lines.append(run.stderr.read())
        with redis.Redis.from_url(url) as client:
            queued = client.llen(fleet.queue_name(version)), client.llen("celery")
    said = "".join(lines)
    assert "no task has started in 1 s" in said and f"course version {version}" in said, said[-3000:]
    assert queued == (1, 0)  # on its version's queue, none on Celery's default one


def test_with_a_broker_local_grading_options_are_refused_and_a_readable_url_file_warned_about(tmp_path, capsys):
    from lrcourse.cli import parser

    url_file = tmp_path / "broker-url"
    url_file.write_text("redis://:secret@127.0.0.1:1/0")
    url_file.chmod(0o644)
    for option in (["--workers", "2"], ["--no-sandbox"]):
        args = parser().parse_args(["grade", CHAPTER, "--course", str(ROOT), "--broker-file", str(url_file), *option])
        assert args.run(args) == 2
        said = capsys.readouterr().err
        assert "not used with a broker" in said and "has mode 644" in said, said
    url_file.chmod(0o600)
    assert fleet.broker_url(str(url_file)) == "redis://:secret@127.0.0.1:1/0"
    assert capsys.readouterr().err == ""


def test_two_courses_on_one_broker_never_share_a_task(tmp_path):
    """The same student with the same bytes in two courses of the same version: two tasks (else one course's forget
    deleted the other's result); each course's id is made once and kept, so its reruns find their tasks."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    ids = fleet.course_id(first), fleet.course_id(second)
    assert ids[0] != ids[1] and fleet.course_id(first) == ids[0] and len(ids[0]) == 32
    assert (first / fleet.COURSE_ID_FILE).read_text().strip() == ids[0]
    tasks = {fleet.task_id("v", CHAPTER, "alice", "same-bytes", course) for course in ids}
    assert len(tasks) == 2
