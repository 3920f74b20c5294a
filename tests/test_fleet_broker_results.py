"""The enqueuing command against results planted in a real broker (`fleet_grade.Run.collect`): a forged or malformed
result fails its student with the reason and is forgotten, the run goes on and a rerun sends that student again; the
tasks are sent and the results collected interleaved, a bounded batch per poll. A real Redis with a password; a
stand-in worker that answers each task with a stored result of the test's choosing (no grading)."""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import time
from dataclasses import asdict

import pytest

from lrcourse.grading import intake
from lrcourse.grading.autograde.grade import create_gradebook_tables
from lrcourse.grading.fleet import broker as fleet, grade as fleet_grade, parcel, ready as fleet_ready
from lrcourse.grading.outcomes import Outcome

import catalogue
from support.gradedclass import class_of
from support.stub_fleet import wait_for

CHAPTER = "02_ordered_schedules"
FAILED = b'{"status": "FAILURE", "result": {"exc_type": "RuntimeError", "exc_message": ["stand-in"], "exc_module": "builtins"}}'


def graded(**outcome) -> bytes:
    document = {"outcome": {"status": "graded", "feedback": True, **outcome}, "scores": {"test_a": 10**400}}
    document |= {"autograded": {"ch.ipynb": "e30="}, "feedback": {"ch.html": "e30="}}
    return json.dumps({"status": "SUCCESS", "result": document}).encode()


PLANTED = {  # R25's forged results (issue 25's review), each for one student
    "alice": b"not json",
    "bob": b'{"status": "FAILURE", "result": {"exc_module": "os", "exc_type": "system"}}',
    "carol": graded(),  # a score of 10**400
    "dave": graded(overridden=[1]),
    "erin": json.dumps({"status": "SUCCESS", "result": {"outcome": {"status": "graded", "feedback": True}}}).encode(),
}


class StandIn:
    """A worker that takes each task off its queue and stores `answer(student)` as its result at once."""

    def __init__(self, url: str, queue: str, answer):
        import redis

        self.client, self.queue, self.answer = redis.Redis.from_url(url), queue, answer
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self) -> None:
        while not self.stop.is_set():
            taken = self.client.brpop([self.queue], timeout=1)
            if taken:
                message = json.loads(taken[1])
                student = json.loads(__import__("base64").b64decode(message["body"]))[0][0]["student"]
                self.client.set(fleet.result_key(message["headers"]["id"]), self.answer(student))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.client.close()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = class_of(tmp_path_factory.mktemp("broker") / "course", catalogue.STEP_CORRECT[0], PLANTED)
    create_gradebook_tables(course, CHAPTER, f"sqlite:///{course / 'gradebook.db'}")
    return course


def todo(course, students) -> list[tuple[str, str]]:
    return [(s, intake.fingerprint(course / "submitted" / s / CHAPTER)) for s in students]


def test_forged_results_fail_their_students_and_the_run_goes_on_and_forgets_them(url, course):
    import redis

    queue = fleet.queue_name(fleet.course_version(course, CHAPTER))
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with StandIn(url, queue, PLANTED.__getitem__):
        outcomes = fleet_grade.Run(course, CHAPTER, todo(course, PLANTED), url, db_url, progress=False).collect()
    reasons = {outcome.student: (outcome.status, outcome.reason) for outcome in outcomes}
    assert set(reasons) == set(PLANTED) and all(status == "failed" for status, _ in reasons.values()), reasons
    assert "not JSON" in reasons["alice"][1] and "system" in reasons["bob"][1], reasons
    assert "not a finite number" in reasons["carol"][1] and "overridden" in reasons["dave"][1], reasons
    assert "no autograded notebook" in reasons["erin"][1], reasons
    with redis.Redis.from_url(url) as client:
        assert not client.keys(fleet.RESULT_PREFIX + "*")  # forgotten: a rerun sends them again
    assert not (course / "autograded").exists()


def test_a_rerun_sends_again_a_student_whose_stored_result_is_bad(url, course):
    """An interrupted run left a forged result: the rerun does not read it as graded, nor raise on it, but forgets
    it and sends the task again."""
    import redis

    version = fleet.course_version(course, CHAPTER)
    app = fleet.celery_app(url)
    (student, current), folder = todo(course, ["alice"])[0], course / "submitted" / "alice" / CHAPTER
    task = fleet.task_id(version, CHAPTER, student, current, fleet.course_id(course))
    with redis.Redis.from_url(url) as client:
        client.delete(fleet.queue_name(version))
        for planted in (*PLANTED.values(), graded(feedback=False)[:-3]):
            client.set(fleet.result_key(task), planted)
            fleet_grade.send(app, client, task, version, CHAPTER, folder, force=False)
            assert client.get(fleet.result_key(task)) is None
            assert client.llen(fleet.queue_name(version)) == 1
            client.delete(fleet.queue_name(version), fleet.sent_key(task))


def test_sending_and_collecting_are_interleaved_and_a_poll_reads_a_bounded_batch(url, course, monkeypatch):
    """Results are collected while the class is still being sent, and no poll takes more than BATCH results: the
    command's memory is bounded by one batch whatever the class's size (Celery's get_many read every ready one)."""
    students = list(PLANTED) * 8  # 40 tasks: the same submission under 8 courses' ids would be 8 tasks
    events = []
    real_send, real_ready = fleet_grade.send, fleet_ready.ready_tasks

    def slow_send(app, client, task, *args, **kwargs):
        time.sleep(0.05)  # 40 tasks take 2 s to send: several polls
        real_send(app, client, task, *args, **kwargs)
        events.append("send")

    def ready(client, waiting, batch, *watched):
        found = real_ready(client, waiting, batch, *watched)
        events.append(len(found))
        return found

    monkeypatch.setattr(fleet_grade, "send", slow_send)
    monkeypatch.setattr(fleet_grade, "ready_tasks", ready)
    monkeypatch.setattr(fleet_grade, "BATCH", 4)
    ids = iter(range(len(students)))
    monkeypatch.setattr(fleet, "course_id", lambda course: "")
    real_task_id = fleet.task_id
    monkeypatch.setattr(fleet, "task_id", lambda *args: real_task_id(*args[:4], str(next(ids))))
    queue = fleet.queue_name(fleet.course_version(course, CHAPTER))
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with StandIn(url, queue, lambda student: FAILED):
        outcomes = fleet_grade.Run(course, CHAPTER, todo(course, students), url, db_url, progress=False).collect()
    assert len(outcomes) == 40 and all("stand-in" in outcome.reason for outcome in outcomes), outcomes[:2]
    polls = [event for event in events if event != "send"]
    first_collected = next(i for i, event in enumerate(events) if event not in ("send", 0))
    assert first_collected < max(i for i, event in enumerate(events) if event == "send"), events
    assert max(polls) == 4, polls  # never more than the batch


def test_ready_tasks_reads_existence_only_and_the_longest_waiting_first(url):
    import redis

    waiting = {f"lrcourse-ready-{n}": ("s", "c") for n in range(1200)}  # more than one pipelined chunk
    with redis.Redis.from_url(url) as client:
        for n in (3, 700, 1100, 1199):
            client.set(fleet.result_key(f"lrcourse-ready-{n}"), b"x" * 100)
        assert fleet_ready.ready_tasks(client, waiting, batch=2) == ["lrcourse-ready-3", "lrcourse-ready-700"]
        assert len(fleet_ready.ready_tasks(client, waiting, batch=16)) == 4


def test_failures_waited_on_do_not_hold_up_the_results_behind_them(url):
    """R25l N1: a stored failure is waited on while another copy of its task may be alive (`Run.superseded`, up to
    `fleet_stranded.ALIVE_SECONDS`, 27 s), and stays among the waiting tasks meanwhile: BATCH of them, the longest
    waiting, filled every poll's batch, and the results stored behind them were not read until they settled. The
    other results now come first in each batch, the failures waited on after them, within the batch."""
    import redis

    waiting = {f"lrcourse-held-up-{n}": ("s", "c") for n in range(fleet_grade.BATCH + 2)}
    tasks = list(waiting)
    watched = set(tasks[: fleet_grade.BATCH])  # failures waited on, the longest waiting
    with redis.Redis.from_url(url) as client:
        try:
            for task in [*watched, tasks[-1]]:  # and one result stored behind them; tasks[-2] has none yet
                client.set(fleet.result_key(task), b"x" * 100)
            ready = fleet_ready.ready_tasks(client, waiting, fleet_grade.BATCH, watched)
            assert ready[0] == tasks[-1], "a result behind the failures waited on is not read"
            assert ready[1:] == tasks[: fleet_grade.BATCH - 1]  # the rest of the batch: the oldest failures
            assert fleet_ready.ready_tasks(client, waiting, 1, watched) == [tasks[-1]]
        finally:
            client.delete(*(fleet.result_key(task) for task in tasks))


def test_a_success_that_replaced_a_failure_waited_on_is_no_longer_watched(url):
    """R25n N1: `Run.superseded` forgot a task's looks (`Copies.forget`) only for a failure, so a failure looked at
    and then replaced by its copy's success stayed watched for the rest of the run: sorted after the other stored
    results in every batch (`ready_tasks`), and kept in `Copies.seen` after it was written."""
    import redis

    from lrcourse.grading.fleet.result import Stored
    from lrcourse.grading.fleet.stranded import Copies

    waiting = {f"lrcourse-replaced-{n}": ("s", "c") for n in range(fleet_grade.BATCH + 4)}
    first, *others = waiting
    run = fleet_grade.Run.__new__(fleet_grade.Run)  # only what `superseded` uses
    run.copies = Copies("lrcourse-test-replaced")
    with redis.Redis.from_url(url) as client:
        run.client = client
        try:
            assert run.copies.alive(client, first, b"a failure", now=0.0) is None  # its first sight: waited on
            assert run.copies.watched() == {first}
            for task in waiting:  # the copy's success replaced it; the others' results are stored behind it
                client.set(fleet.result_key(task), b"a success")
            assert run.superseded(first, b"a success", Stored("SUCCESS", document={})) is False
            assert run.copies.watched() == set() and run.copies.signs == {}
            ready = fleet_ready.ready_tasks(client, waiting, fleet_grade.BATCH, run.copies.watched())
            assert ready == [first, *others[: fleet_grade.BATCH - 1]], ready  # the longest waiting first again
        finally:
            client.delete(*(fleet.result_key(task) for task in waiting))


def test_a_gradebook_that_refuses_a_write_ends_the_run_at_once_and_a_rerun_writes_the_results_kept(
    url, tmp_path, monkeypatch
):
    """The gradebook refuses a write mid-run (here another program holds SQLite's exclusive lock after the first
    student is written: "database is locked"). Before, every following student failed with the same error and its
    result was forgotten in the broker. Now the run ends at once (`fleet.GradebookRefused`, exit status 4 from
    `lrcourse grade`), saying so; the results not written stay in the broker; once the gradebook is free, a rerun
    writes them without sending or grading anything again."""
    import redis
    from nbgrader.api import Gradebook

    students = ["ann", "ben", "cid"]
    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], students)
    db_url = f"sqlite:///{course / 'gradebook.db'}?timeout=2"  # SQLite waits 2 s for a lock, not the course's 120
    create_gradebook_tables(course, CHAPTER, db_url)
    queue = fleet.queue_name(fleet.course_version(course, CHAPTER))
    page = base64.b64encode(b"<p>stand-in feedback</p>").decode()

    def answer(student: str) -> bytes:  # what a worker returns: the submitted notebook as the autograded one
        files = parcel.pack(course / "submitted" / student / CHAPTER)
        outcome = asdict(Outcome(student, "graded", seconds=0.1))
        document = {"outcome": outcome, "autograded": files, "feedback": {"stub.html": page}, "scores": {}}
        return json.dumps({"status": "SUCCESS", "result": document}).encode()

    version, course_id = fleet.course_version(course, CHAPTER), fleet.course_id(course)
    tasks = {s: fleet.task_id(version, CHAPTER, s, current, course_id) for s, current in todo(course, students)}

    def stored(client) -> list[str]:  # the students whose result the broker holds
        return [student for student, task in tasks.items() if client.exists(fleet.result_key(task))]

    locker = sqlite3.connect(course / "gradebook.db", isolation_level=None)
    real_write = fleet_grade.write

    def write_then_lock(*args):
        outcome = real_write(*args)
        if not locker.in_transaction:  # after the first student: another program takes the gradebook
            locker.execute("BEGIN EXCLUSIVE")
        return outcome

    monkeypatch.setattr(fleet_grade, "write", write_then_lock)
    with StandIn(url, queue, answer), redis.Redis.from_url(url) as client:
        run = fleet_grade.Run(course, CHAPTER, todo(course, students), url, db_url, progress=False)
        with pytest.raises(fleet.GradebookRefused) as refused:
            run.collect()
        assert wait_for(lambda: len(stored(client)) == 2, 30), stored(client)  # all answered; unwritten ones kept
    monkeypatch.undo()  # the real write again
    written = [outcome.student for outcome in run.outcomes]
    assert len(written) == 1 and run.outcomes[0].status == "graded", run.outcomes
    said = str(refused.value)
    assert refused.value.student in students and refused.value.student not in written, said
    assert "the gradebook refused to write the result of " in said and "database is locked" in said, said
    assert "The 1 result(s) collected before it are kept; the 2 student(s) not written are not lost" in said, said
    assert "run the same command again" in said and "[SQL:" not in said, said
    locker.execute("ROLLBACK")  # the gradebook free again
    locker.close()
    result = fleet_grade.grade_class_remote(course, CHAPTER, url, db_url=db_url, progress=False)
    statuses = {outcome.student: outcome.status for outcome in result.outcomes}
    assert statuses == {written[0]: "skipped", **{s: "graded" for s in students if s not in written}}, statuses
    with redis.Redis.from_url(url) as client:
        assert client.llen(queue) == 0 and stored(client) == []  # nothing sent again; written, then forgotten
    with Gradebook(db_url) as book:
        assert sorted(s.student_id for s in book.assignment_submissions(CHAPTER)) == students


def test_lrcourse_grade_ends_with_status_4_and_says_why_when_the_gradebook_refuses(url, tmp_path, monkeypatch, capsys):
    """`lrcourse grade --broker-file F` whose run ends on `fleet.GradebookRefused` (a stand-in run raising what the
    test above raises for real): exit status 4, one message naming the student and the database's own error (not
    SQLAlchemy's SQL), no traceback."""
    import signal

    from sqlalchemy.exc import OperationalError

    from lrcourse import cli

    course = class_of(tmp_path / "course", catalogue.STEP_CORRECT[0], ["ann"])
    url_file = tmp_path / "broker-url"
    url_file.write_text(url)
    url_file.chmod(0o600)
    cause = sqlite3.OperationalError("attempt to write a readonly database")
    refused = fleet.GradebookRefused("ann", OperationalError("INSERT INTO student VALUES (?)", ("ann",), cause))
    refused.written, refused.left = 3, 1

    def run_that_refuses(*args, **kwargs):
        raise refused

    monkeypatch.setattr(fleet_grade, "grade_class_remote", run_that_refuses)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # `main` installs handlers: not in the test's process
    status = cli.main(["grade", CHAPTER, "--course", str(course), "--broker-file", str(url_file)])
    err = capsys.readouterr().err
    assert status == fleet.GRADEBOOK_STATUS == 4, err
    said = "lrcourse grade: the gradebook refused to write the result of ann (OperationalError: attempt to write a "
    assert said + "readonly database): the run stops at once. The 3 result(s) collected before it are kept" in err, err
    assert "INSERT" not in err and "Traceback" not in err, err
