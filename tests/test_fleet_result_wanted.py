"""Whether a grading's result is written (`fleet_deliveries.result_wanted`, the worker's result backend's guard,
`fleet_full.waiting_backend`): a copy of a task delivered twice (one sent again while a paused worker held the first,
one kombu restored after the visibility timeout) must not write over a success stored, nor leave an orphan result once
the enqueuer has written the task (`fleet.done_key`); it writes over a stored failure (a paused copy's
TimeLimitExceeded, which the enqueuer drops while another copy is alive: `fleet_stranded.Copies`). A real Redis with a
password, Celery's own result backend writing through the guard."""

from __future__ import annotations

import base64
import json
import threading

import redis

from lrcourse.grading.fleet import broker as fleet, full as fleet_full
from lrcourse.grading.fleet.deliveries import result_wanted
from lrcourse.grading.fleet.full import waiting_backend

PAGE = base64.b64encode(b"{}").decode()
DOCUMENT = {  # a graded student's document, as a worker returns it (`fleet_result` accepts it)
    "outcome": {"status": "graded", "feedback": True, "seconds": 1.5},
    "scores": {"test_a": 1},
    "autograded": {"ch.ipynb": PAGE},
    "feedback": {"ch.html": PAGE},
}
SUCCESS = json.dumps({"status": "SUCCESS", "result": DOCUMENT}).encode()
FAILURE = json.dumps(
    {"status": "FAILURE", "result": {"exc_type": "TimeLimitExceeded", "exc_message": [8], "exc_module": "billiard"}}
).encode()


def test_a_result_is_wanted_over_nothing_or_a_failure_and_never_over_a_success_or_a_written_task(url):
    with redis.Redis.from_url(url) as client:
        key = fleet.result_key("rw-task")
        client.delete(key, fleet.done_key("rw-task"))
        assert result_wanted(client, key)  # nothing stored: the first result
        client.set(key, FAILURE)
        assert result_wanted(client, key)  # a paused copy's failure: replaced by the good copy's result
        client.set(key, b"not json")
        assert result_wanted(client, key)  # one that cannot be read is no success
        client.set(key, SUCCESS)
        assert not result_wanted(client, key)  # the enqueuer may be reading it
        client.delete(key)
        client.set(fleet.done_key("rw-task"), 1)
        assert not result_wanted(client, key)  # written already: this copy's would be an orphan
        client.delete(fleet.done_key("rw-task"))


def test_the_worker_s_backend_keeps_a_stored_success_and_writes_over_a_failure(url):
    """Through Celery's Redis backend as the worker makes it (`waiting_backend(result_wanted, ...)`): a second copy's
    failure leaves the first's success; a second copy's success replaces a stored failure."""
    app = fleet.celery_app(url, backend=waiting_backend(result_wanted))
    backend = app.backend
    with redis.Redis.from_url(url) as client:
        key = fleet.result_key("rw-backend")
        client.delete(key, fleet.done_key("rw-backend"))
        client.set(key, SUCCESS)
        backend.set(key, FAILURE)
        assert client.get(key) == SUCCESS
        client.set(key, FAILURE)
        backend.set(key, SUCCESS)
        assert client.get(key) == SUCCESS
        client.delete(key)


def test_a_result_that_waited_for_room_is_asked_for_again_in_one_step_with_its_write(url, monkeypatch):
    """A stale copy's failure waits for room; meanwhile the good copy's success is stored, or the enqueuer writes the
    task (its done mark): once there is room the failure is not written, neither over the success nor as an orphan
    (R25m W4). A result nothing replaced is written after its wait; and one whose key changes between the second
    question and the write is asked again (Redis's WATCH), not written over what changed."""
    room, began = threading.Event(), threading.Event()
    monkeypatch.setattr(fleet_full, "has_room", lambda client, size: room.is_set())
    monkeypatch.setattr(fleet_full, "WAIT_SECONDS", 0.05)
    asked, other = [], redis.Redis.from_url(url)

    def wanted(client, key) -> bool:
        answer = result_wanted(client, key)
        asked.append(answer)
        if key.endswith("rw-raced") and len(asked) == 2:  # the question after the wait: the success lands just after
            other.set(key, SUCCESS)
        return answer

    app = fleet.celery_app(url, backend=waiting_backend(wanted, lambda key, size: began.set()))

    def after_a_wait(task: str, value: bytes, meanwhile=lambda: None) -> bytes | None:
        key = fleet.result_key(task)
        other.delete(key, fleet.done_key(task))
        for cleared in (room, began, asked):
            cleared.clear()
        writer = threading.Thread(target=app.backend.set, args=(key, value))
        writer.start()
        assert began.wait(10)  # past the first question (nothing stored then): waiting for room
        meanwhile()
        room.set()
        writer.join(10)
        assert not writer.is_alive()
        return other.get(key)

    with other:
        assert after_a_wait("rw-alone", FAILURE) == FAILURE  # nothing changed: written after its wait
        assert after_a_wait("rw-good", FAILURE, lambda: other.set(fleet.result_key("rw-good"), SUCCESS)) == SUCCESS
        assert after_a_wait("rw-done", FAILURE, lambda: other.set(fleet.done_key("rw-done"), 1)) is None  # no orphan
        assert after_a_wait("rw-raced", FAILURE) == SUCCESS
        assert asked == [True, True, False]  # the raced write failed its WATCH and was asked about again


class Recorded:
    """A Redis client whose writes (`set`, `delete`) are recorded in order, then made."""

    def __init__(self, client):
        self.client, self.writes = client, []

    def set(self, key, *args, **kwargs):
        self.writes.append(("set", key))
        return self.client.set(key, *args, **kwargs)

    def delete(self, *keys):
        self.writes.append(("delete", *keys))
        return self.client.delete(*keys)


def test_a_written_task_is_marked_done_before_its_result_is_dropped(url):
    """R25m N1: `forget` deleted the result and the task's keys, then set its done mark: a stale copy between the two
    found neither and graded, or stored a result never collected. Now the mark comes first."""
    from lrcourse.grading.fleet.ready import forget

    with redis.Redis.from_url(url) as real:
        client, tasks = Recorded(real), ["fg-task"]
        real.set(fleet.result_key("fg-task"), SUCCESS)
        forget(client, tasks)
        assert tasks == [] and real.exists(fleet.done_key("fg-task")) and not real.exists(fleet.result_key("fg-task"))
        assert client.writes[0] == ("set", fleet.done_key("fg-task")), client.writes
        assert client.writes[1][0] == "delete" and fleet.result_key("fg-task") in client.writes[1], client.writes
        real.delete(fleet.done_key("fg-task"))
