"""The enqueuing command's look for stranded tasks (`fleet_watch.Lost`, `fleet_stranded`): a task with
its `sent` mark, no result and no lease that is not in its queue is held by no worker, and is sent again at the second
of two looks made while Redis has room, once Redis has room for its parcel; a message is searched in its headers,
not its body. A real Redis with a password; tests/test_fleet_full.py runs it end to end with stand-in workers."""

from __future__ import annotations

import json
import sys

import redis

from lrcourse.grading.fleet import broker as fleet, stranded as fleet_stranded
from lrcourse.grading.fleet.lease import held_key, lease_key, resent_key
from lrcourse.grading.fleet.watch import Lost

from support.redis_broker import full
from support.stub_fleet import Bar


def kombu_message(task: str) -> dict:
    """A task's message as kombu's Redis transport stores it in a queue (JSON; its body base64)."""
    body = "eyJhcmdzIjogW119"  # base64: no '-' in it, so a task's id never appears inside a body
    return {"body": body, "headers": {"id": task, "root_id": task, "task": fleet.TASK}, "properties": {}}


def test_the_enqueuer_resends_a_stranded_task_at_its_second_look_with_room_once_its_parcel_fits(url):
    """A task with its `sent` mark, no result and no lease that is not in its queue is held by no worker, whether or
    not kombu still lists it as unacknowledged (a grading process killed while Redis was full: the requeue refused,
    the message left in kombu's unacked hash for the visibility timeout). The enqueuer sends it again once seen so at
    two looks in a row made while Redis has room (a look while full counts for nothing: a lease's renewal is refused
    then), and only when Redis has room for its parcel; the tasks queued, leased, held (a worker's main process marks
    what it holds for a process still warming) or with a result stay as they are, and one in flight (no lease yet at
    the first look) is left to the worker that took it."""
    bar, resent = Bar(), []
    tasks = ["st-queued", "st-unacked", "st-leased", "st-held", "st-stored", "st-flight", "st-stranded", "st-big"]
    waiting = {task: (task, "f") for task in tasks}
    queue = "lrcourse-test-stranded"
    sizes = {"st-big": 4 << 20}  # its parcel: 4 MB
    with redis.Redis.from_url(url) as client:

        def resend(task: str) -> None:  # as `fleet_grade.send` does: queued, then marked sent
            # marked as sent again first: the copy a paused worker held no longer makes its lease again (`Lease`)
            assert client.exists(resent_key(task)), f"{task} sent again before it was marked so"
            resent.append(task)
            client.lpush(queue, json.dumps(kombu_message(task)))
            client.set(fleet.sent_key(task), 1, ex=60)

        watch = Lost(waiting, resend, bar, every=0, queue=queue, size=lambda task: sizes.get(task, 0))
        for task in tasks:
            client.set(fleet.sent_key(task), 1, ex=60)
        client.lpush(queue, json.dumps(kombu_message("st-queued")))  # the oldest: on the right
        client.lpush(queue, *(json.dumps(kombu_message(f"other-{n}")) for n in range(20)))  # read first: the left end
        client.hset("unacked", "tag-1", json.dumps([kombu_message("st-unacked"), "", queue]))  # its worker ended
        client.set(lease_key("st-leased"), 1, px=60_000)
        client.set(held_key("st-held"), 1, px=60_000)  # held by a worker's main process for a process still warming
        client.set(fleet.result_key("st-stored"), b"{}", ex=60)
        stranded = {"st-unacked", "st-stranded", "st-big"}
        try:
            watch.check(client)  # first look: seen, not sent
            assert resent == [] and watch.stranded == stranded | {"st-flight"}
            client.set(lease_key("st-flight"), 1, px=60_000)  # its grading process took it
            with full(client):
                watch.check(client)  # Redis full: this look counts for nothing, and nothing is sent
                assert resent == [] and watch.stranded == set()
            watch.check(client)  # room again: a first look
            assert resent == [] and watch.stranded == stranded
            used = int(client.info("memory")["used_memory"])
            client.config_set("maxmemory-policy", "noeviction")
            client.config_set("maxmemory", used + (3 << 20))  # room for the small ones, not for a 4 MB parcel
            try:
                watch.check(client)
            finally:
                client.config_set("maxmemory", 0)
            assert resent == ["st-unacked", "st-stranded"] and watch.stranded == {"st-big"}
            assert client.lrange(queue, 0, 1) == [
                json.dumps(kombu_message(f"st-{n}")).encode() for n in ("stranded", "unacked")
            ]
            watch.check(client)  # its parcel fits now: seen at this look and the last
            assert resent == ["st-unacked", "st-stranded", "st-big"] and watch.stranded == set()
        finally:  # the module's broker: another test waits for a `sent` mark of its own run
            client.delete(queue, "unacked", lease_key("st-leased"), lease_key("st-flight"), held_key("st-held"))
            client.delete(fleet.result_key("st-stored"), *(fleet.sent_key(task) for task in tasks))
            client.delete(*(resent_key(task) for task in tasks))
    said = [text for text, file in bar.said if file is sys.stderr]
    assert len(said) == len(bar.said) == 2, bar.said
    assert "2 waiting task(s) are in neither the queue nor a worker's hands" in said[0], said
    assert "1 waiting task(s) are in neither the queue nor a worker's hands" in said[1], said


def test_a_task_is_looked_for_in_a_messages_headers_not_its_body():
    """A message's body (a student's parcel: megabytes) is not searched; its headers are. The body here holds the
    other task's id as a JSON string, which a search of the whole message found."""
    message = kombu_message("in-headers")
    message["body"] = {"id": "in-body", "files": {"n.ipynb": "A" * 1000}}
    raw = json.dumps(message).encode()
    assert raw.index(b'"in-body"') < raw.index(b'"headers":') < raw.index(b'"in-headers"')
    assert fleet_stranded.names_in(raw, {"in-headers", "in-body", "elsewhere"}) == {"in-headers"}
    named = json.dumps({**kombu_message("x"), "headers": {"id": "x", "argsrepr": "{'files': {'in-file': ''}}"}})
    assert fleet_stranded.names_in(named.encode(), {"in-file", "x"}) == {"x"}  # a file's name in argsrepr is no id


def test_another_copy_is_alive_only_if_queued_or_its_lease_is_renewed_after_the_failure(url):
    """`Copies.alive`, asked of a task whose stored result is a failure (R25j): True (drop the failure) while another
    copy is in the queue or the task's lease changes after the first look (a renewal: each changes its value); False
    (write it) when no lease is held at the first look nor the next, when the lease lapses, or when it is not renewed
    within the copy's life; None (look again) during the settle time, at the first look (it only notes what it sees)
    and while a held lease may still be renewed. Clock given."""
    queue = "lrcourse-test-copies"
    copies = fleet_stranded.Copies(queue, settle=2.0, life=27.0)
    failure = b'{"status": "FAILURE"}'
    with redis.Redis.from_url(url) as client:
        client.lpush(queue, json.dumps(kombu_message("cp-queued")))
        assert copies.alive(client, "cp-queued", failure, now=100.0) is None  # settling
        assert copies.alive(client, "cp-queued", failure, now=102.0) is True
        assert copies.alive(client, "cp-none", failure, now=100.0) is None
        assert copies.alive(client, "cp-none", failure, now=102.0) is None  # the first look: noted
        assert copies.alive(client, "cp-none", failure, now=104.0) is False  # no copy grading, none queued
        client.set(lease_key("cp-renewed"), b"tok 1 0", px=60_000)
        copies.alive(client, "cp-renewed", failure, now=100.0)
        assert copies.alive(client, "cp-renewed", failure, now=102.0) is None  # the first look: a lease held
        assert copies.alive(client, "cp-renewed", failure, now=103.0) is None  # not looked again before the settle
        client.set(lease_key("cp-renewed"), b"tok 2 0", px=60_000)  # renewed after that look
        assert copies.alive(client, "cp-renewed", failure, now=104.0) is True
        client.set(lease_key("cp-stale"), b"dead 7 0", px=60_000)  # the failed copy's own, never renewed again
        copies.alive(client, "cp-stale", failure, now=100.0)
        assert copies.alive(client, "cp-stale", failure, now=102.0) is None
        assert copies.alive(client, "cp-stale", failure, now=120.0) is None
        assert copies.alive(client, "cp-stale", failure, now=127.0) is False  # a copy's life passed unrenewed
        client.set(lease_key("cp-lapsed"), b"dead 7 0", px=60_000)
        copies.alive(client, "cp-lapsed", failure, now=100.0)
        assert copies.alive(client, "cp-lapsed", failure, now=102.0) is None
        client.delete(lease_key("cp-lapsed"))
        assert copies.alive(client, "cp-lapsed", failure, now=104.0) is False
        assert copies.alive(client, "cp-lapsed", b'{"status": "REVOKED"}', now=105.0) is None  # a new failure: settles
        client.delete(queue, lease_key("cp-renewed"), lease_key("cp-stale"))


def test_a_copy_a_worker_holds_while_its_process_warms_is_alive_once_its_mark_is_renewed(url):
    """R25k, case a: the paused worker, resumed past its hard time limit, stores the failure and takes the copy sent
    again itself while the process replacing the killed one warms: the copy is in no queue and has no lease, only the
    worker's mark (`fleet_lease.Held`: set as the copy is received, renewed every 10 s, each value new). Before, the
    first look found no lease and the failure was written. Now a mark set or renewed after the first look is a copy
    alive; one that says a copy waits for a process and is not renewed keeps the failure unwritten for the copy's
    life at most; one that says a process grades the task, with no lease, is the failed copy's own: written at the
    next look. Clock given."""
    from lrcourse.grading.fleet.lease import held_value

    copies = fleet_stranded.Copies("lrcourse-test-marks", settle=2.0, life=27.0)
    failure = b'{"status": "FAILURE"}'
    with redis.Redis.from_url(url) as client:
        client.set(held_key("cm-warming"), held_value("paused@a", grading=False), px=60_000)
        copies.alive(client, "cm-warming", failure, now=100.0)
        assert copies.alive(client, "cm-warming", failure, now=102.0) is None  # the first look: a copy waits
        client.set(held_key("cm-warming"), held_value("paused@a", grading=False), px=60_000)  # its worker renews it
        assert copies.alive(client, "cm-warming", failure, now=104.0) is True
        copies.alive(client, "cm-taken", failure, now=100.0)
        assert copies.alive(client, "cm-taken", failure, now=102.0) is None  # off the queue, not yet marked
        client.set(held_key("cm-taken"), held_value("paused@a", grading=False), px=60_000)  # marked as received
        assert copies.alive(client, "cm-taken", failure, now=104.0) is True
        client.set(held_key("cm-still"), held_value("cold@c", grading=False), px=60_000)  # never renewed again
        copies.alive(client, "cm-still", failure, now=100.0)
        assert copies.alive(client, "cm-still", failure, now=102.0) is None
        assert copies.alive(client, "cm-still", failure, now=125.0) is None
        assert copies.alive(client, "cm-still", failure, now=127.0) is False  # bounded: the copy's life
        client.set(held_key("cm-own"), held_value("paused@a", grading=True), px=60_000)  # the failed copy's, lapsing
        copies.alive(client, "cm-own", failure, now=100.0)
        assert copies.alive(client, "cm-own", failure, now=102.0) is None
        assert copies.alive(client, "cm-own", failure, now=104.0) is False
        client.delete(*(held_key(task) for task in ("cm-warming", "cm-taken", "cm-still", "cm-own")))


def test_a_copy_s_life_counts_from_the_first_look_not_from_the_failure_s_first_sight(url):
    """R25k, case c: the copy's life (27 s: the settle, a renewal's interval of 20 s and a margin) was counted from when
    the failure was first seen, so an enqueuer round that took 10 s (writing many results) before the first look at
    the lease left 17 s for a renewal due 20 s after the last: a live copy's failure written. Now the life after the
    settle counts from the first look. Clock given, no sleeps."""
    copies = fleet_stranded.Copies("lrcourse-test-life", settle=2.0, life=27.0)
    failure = b'{"status": "FAILURE"}'
    with redis.Redis.from_url(url) as client:
        for task in ("cl-live", "cl-stale"):
            client.set(lease_key(task), b"tok 4 0", px=90_000)  # the live copy's renewal, 0.5 s before the failure
            assert copies.alive(client, task, failure, now=1000.0) is None  # first seen
            assert copies.alive(client, task, failure, now=1010.0) is None  # the first look, after a slow round
            for now in range(1012, 1030, 2):
                assert copies.alive(client, task, failure, now=float(now)) is None, now
        client.set(lease_key("cl-live"), b"tok 5 0", px=90_000)  # its next renewal, 20 s after the last
        assert copies.alive(client, "cl-live", failure, now=1030.0) is True
        assert copies.alive(client, "cl-stale", failure, now=1034.0) is None
        assert copies.alive(client, "cl-stale", failure, now=1036.0) is False  # more than 25 s after the first look
        client.delete(lease_key("cl-live"), lease_key("cl-stale"))


class Reads:
    """A Redis client whose reads of a queue (`lrange`) are counted."""

    def __init__(self, client):
        self.client, self.lranges = client, 0

    def lrange(self, *args):
        self.lranges += 1
        return self.client.lrange(*args)

    def __getattr__(self, name):
        return getattr(self.client, name)


def test_the_queue_is_read_at_the_first_look_and_before_the_failure_is_written_not_at_each_look(url):
    """R25k's nit: `Copies.alive` read the queue (its messages, up to the whole queue) at every look, every 2 s for up
    to 27 s a failure. Now at the first look and once more before concluding that no copy is alive."""
    failure = b'{"status": "FAILURE"}'
    copies = fleet_stranded.Copies("lrcourse-test-reads", settle=2.0, life=27.0)
    with redis.Redis.from_url(url) as real:
        client = Reads(real)
        real.set(lease_key("cr-stale"), b"dead 7 0", px=60_000)
        copies.alive(client, "cr-stale", failure, now=100.0)
        answers = [copies.alive(client, "cr-stale", failure, now=float(now)) for now in range(102, 130, 2)]
        assert answers[-1] is False and set(answers[:-1]) == {None} and client.lranges == 2, (answers, client.lranges)
        real.delete(lease_key("cr-stale"))


class Filled(Reads):
    """A Redis client that reports Redis full (`fleet_full.has_room` reads `info("memory")`) while `full` is set."""

    full = False

    def info(self, section=None):
        return {"maxmemory": 100, "used_memory": 100} if self.full else self.client.info(section)


def test_looks_while_redis_is_full_or_before_an_outage_count_for_nothing(url):
    """R25l: while Redis is full a live copy's renewals are refused, and during an outage they lapse: its lease and
    mark do not change. `Copies` counted those looks (Lost does not), so after an outage, or 25 s of a full Redis, the
    first look with room wrote the failure of a task whose good copy was still being graded. Now a look while full
    starts the task's looks again, and the broker's return (`broker_back`) forgets every look made before it. Clock
    given."""
    failure = b'{"status": "FAILURE"}'
    copies = fleet_stranded.Copies("lrcourse-test-back", settle=2.0, life=27.0)
    with redis.Redis.from_url(url) as real:
        client = Filled(real)
        real.set(lease_key("cb-live"), b"live 7 0", px=90_000)
        copies.alive(client, "cb-live", failure, now=100.0)
        assert copies.alive(client, "cb-live", failure, now=102.0) is None  # the first look notes the lease
        copies.broker_back()  # an outage of 98 s: the lease lapsed, the copy could not renew it
        real.delete(lease_key("cb-live"))
        assert copies.alive(client, "cb-live", failure, now=200.0) is None  # settles afresh
        assert copies.alive(client, "cb-live", failure, now=202.0) is None  # a first look again, not a conclusion
        real.set(lease_key("cb-live"), b"live 8 0", px=90_000)  # the copy's renewal once the broker is back
        assert copies.alive(client, "cb-live", failure, now=204.0) is True
        real.set(lease_key("cb-full"), b"full 3 0", px=90_000)
        copies.alive(client, "cb-full", failure, now=100.0)
        assert copies.alive(client, "cb-full", failure, now=102.0) is None
        client.full = True  # 30 s of a full Redis: the renewals refused
        assert all(copies.alive(client, "cb-full", failure, now=float(t)) is None for t in range(104, 134, 2))
        client.full = False
        assert copies.alive(client, "cb-full", failure, now=134.0) is None  # a first look again
        real.set(lease_key("cb-full"), b"full 4 0", px=90_000)  # renewed once there is room
        assert copies.alive(client, "cb-full", failure, now=136.0) is True
        real.delete(lease_key("cb-full"))


def test_no_copy_is_concluded_within_a_copy_s_life_of_a_full_redis_or_the_broker_s_return(url):
    """R25m W3: after Redis was full, or the broker away, long enough for the live copy's lease (90 s) and its worker's
    mark (60 s) to lapse, the first looks find neither, and a stale copy's failure (stored once there was room) was
    written at the second look, before the live copy made them again at its next renewal (up to 20 s later). Now no
    copy is concluded within a copy's life (27 s) of the last look that found Redis full (`look_at_room`, a round's)
    or of the broker's return; in normal operation the second look still concludes (cp-none above). Clock given."""
    failure = b'{"status": "FAILURE"}'
    copies = fleet_stranded.Copies("lrcourse-test-blind", settle=2.0, life=27.0)
    with redis.Redis.from_url(url) as real:
        client = Filled(real)
        client.full = True
        copies.look_at_room(client, now=99.0)  # the enqueuer's round while full: no failure stored yet
        client.full = False
        copies.look_at_room(client, now=100.0)  # within the settle: not looked again
        copies.look_at_room(client, now=101.0)  # room: the failures that waited for it are stored now
        for task in ("bf-live", "bf-stale"):
            copies.alive(client, task, failure, now=101.5)
            assert all(copies.alive(client, task, failure, now=t / 2) is None for t in range(207, 221, 4)), task
        real.set(held_key("bf-live"), b"marked again", px=60_000)  # its worker's mark, 11 s after the room came back
        assert copies.alive(client, "bf-live", failure, now=112.0) is True
        assert copies.alive(client, "bf-stale", failure, now=124.0) is None
        assert copies.alive(client, "bf-stale", failure, now=126.0) is False  # 27 s after the last look while full
        copies.broker_back(now=200.0)  # an outage of 98 s: every lease and mark lapsed
        for task in ("bo-live", "bo-stale"):
            copies.alive(client, task, failure, now=200.5)
            assert all(copies.alive(client, task, failure, now=float(t)) is None for t in range(203, 211, 2)), task
        real.set(lease_key("bo-live"), b"live 8 0", px=90_000)  # the copy's renewal, 10 s after the broker's return
        assert copies.alive(client, "bo-live", failure, now=211.0) is True
        assert copies.alive(client, "bo-stale", failure, now=226.0) is None
        assert copies.alive(client, "bo-stale", failure, now=228.0) is False
        real.delete(held_key("bf-live"), lease_key("bo-live"))


def test_the_lapsed_lease_message_allows_that_the_task_was_sent_again_already(url):
    """R25m N2: a lapsed lease is said a lease's life (90 s) after the enqueuer first sees it missing, at least 180 s
    after the last renewal; `Lost` sends a lost worker's task again at its second look, at 120-150 s. The message said
    the command "sends the task again once" no worker holds it; now that it may have already, in the words `Lost`
    says it with."""
    from lrcourse.grading.fleet.lapsed import message

    said = message("bo", {"worker": "w@a", "taken": 0.0, "visibility": 3600.0}, 90.0)
    assert "which may have come already" in said, said
    resent = []
    with redis.Redis.from_url(url) as client:
        bar, waiting = Bar(), {"lm-task": ("bo", "f")}
        client.set(fleet.sent_key("lm-task"), 1, ex=60)
        watch = Lost(waiting, lambda task: resent.append(task), bar, every=0, queue="lrcourse-test-lm")
        watch.check(client)
        watch.check(client)
        client.delete(fleet.sent_key("lm-task"))
    assert resent == ["lm-task"], bar.said
    [(told, _)] = bar.said
    quoted = said.split('"')[1]
    assert quoted in told, (quoted, told)
