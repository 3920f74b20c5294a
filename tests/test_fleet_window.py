"""The enqueuing command's window (`fleet_grade.Run.collect`): at most `window` tasks are out at once, topped up as
results are collected, so the broker holds a window's parcels, not a class's; a Ctrl-C and a rerun lose nothing and
grade nobody twice. A real Redis with a password and a real worker whose grading is a stand-in
(`support.stub_fleet`)."""

from __future__ import annotations

import signal
import threading

import pytest
import redis

from lrcourse.grading.fleet import broker as fleet

import catalogue
from support.course import make_course, scores
from support.gradedclass import submit_answer
from support.paths import ROOT
from support.redis_broker import redis_server
from support.stub_fleet import enqueue, graded_lines, outcomes, queued, running_worker, wait_for

CHAPTER = "02_ordered_schedules"
WINDOW = 3


@pytest.fixture
def course(tmp_path):
    course = make_course(tmp_path / "course", [CHAPTER])
    for number in range(10):
        submit_answer(course, f"s{number:02d}", catalogue.STEP_CORRECT[0])
    return course


class Watch:
    """The most tasks ever queued in the broker and out (sent and not collected: each has its `sent` record), sampled
    every 20 ms in a thread while a run goes on."""

    def __init__(self, url: str, version: str):
        self.url, self.version = url, version
        self.most_queued = self.most_out = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self) -> None:
        with redis.Redis.from_url(self.url) as client:
            while not self.stop.wait(0.02):
                self.most_queued = max(self.most_queued, queued(client, self.version))
                self.most_out = max(self.most_out, len(client.keys(fleet.sent_key("*"))))

    def __enter__(self) -> Watch:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def test_no_more_than_the_window_is_ever_queued_and_the_class_is_graded_once(course, tmp_path):
    version = fleet.course_version(course, CHAPTER)
    log = tmp_path / "worker.log"
    with redis_server() as url, redis.Redis.from_url(url) as client, Watch(url, version) as watch:
        run = enqueue(url, course, CHAPTER, WINDOW)
        # no worker yet: the window fills and stays full, the other 7 students are not sent
        assert wait_for(lambda: queued(client, version) == WINDOW, 120), "the window never filled"
        assert not wait_for(lambda: queued(client, version) > WINDOW, 3)
        with running_worker(url, ROOT, "one@test", log):
            stdout, _ = run.communicate(timeout=300)
    assert run.returncode == 0
    assert watch.most_queued == WINDOW and watch.most_out == WINDOW  # reached, never passed
    result = outcomes(stdout)
    assert sorted(result) == [f"s{n:02d}" for n in range(10)]
    assert all(status == "graded" for status, _ in result.values()), result
    assert sorted(graded_lines(log)) == sorted(f"stub graded s{n:02d} by one@test" for n in range(10))
    assert sorted(scores(course, CHAPTER)) == sorted(result)


def test_a_ctrl_c_in_the_middle_and_a_rerun_grade_every_student_once(course, tmp_path):
    log = tmp_path / "worker.log"
    with redis_server() as url:
        with running_worker(url, ROOT, "one@test", log, step=1.0):
            run = enqueue(url, course, CHAPTER, WINDOW)
            assert wait_for(lambda: len(graded_lines(log)) >= 3, 120)
            run.send_signal(signal.SIGINT)
            stdout, _ = run.communicate(timeout=60)
            assert run.returncode != 0  # stopped by the Ctrl-C
            first = len(scores(course, CHAPTER))
            assert 1 <= first < 10
            rerun = enqueue(url, course, CHAPTER, WINDOW)
            stdout, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0
    second = outcomes(stdout)
    graded = {student for student, (status, _) in second.items() if status == "graded"}
    assert len(graded) == 10 - first  # the rerun wrote only what the first run had not
    assert sorted(scores(course, CHAPTER)) == [f"s{n:02d}" for n in range(10)]
    lines = graded_lines(log)
    assert len(lines) == len(set(lines)) == 10, lines  # each graded once by the worker, none sent twice


def test_a_window_below_one_is_refused_by_the_command_line(capsys):
    from lrcourse.cli import parser

    assert parser().parse_args(["grade", CHAPTER]).window == fleet.WINDOW
    assert parser().parse_args(["grade", CHAPTER, "--window", "5"]).window == 5
    for value in ("0", "-3", "many"):
        with pytest.raises(SystemExit) as stopped:
            parser().parse_args(["grade", CHAPTER, "--window", value])
        assert stopped.value.code == 2 and f"invalid window_size value: '{value}'" in capsys.readouterr().err
