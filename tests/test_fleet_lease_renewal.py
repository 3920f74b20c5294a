"""A grading task's lease renewed (`fleet_lease.Lease.set`) when its task has more than one copy or its renewals
fail: each copy renews or deletes only its own lease; a lapsed lease is made again only if its task was not sent
again since the copy took it (`fleet_lease.mark_resent`), and a copy still holding it lets it go; a renewal refused
by a full Redis makes it again once there is room; a broker that never answers holds a renewal a bounded time. A real
Redis with a password; leases of seconds instead of 90 s."""

from __future__ import annotations

import signal
import time

import pytest

from lrcourse.grading.fleet.lease import lease_key, mark_resent, resent_key, taken_key

from support.lease_holder import HOLD, holding
from support.redis_broker import full

TASK = "lrcourse-test-renewal"


def test_a_copy_s_lease_neither_renews_nor_deletes_another_copy_s(url):
    """R25j: a task sent again while a paused worker held it has two copies, sharing the task's lease key. The paused
    one, resumed and stopped by its hard time limit, deleted the key whatever it held: the live copy's lease, so its
    task looked unheld. Each copy holds a token of its own: the first's renewal and exit leave the second's lease."""
    import redis

    from lrcourse.grading.fleet.lease import Lease

    task = TASK + "-copies"
    with redis.Redis.from_url(url) as client:
        first = Lease(url, task, "paused@a", 3600.0, seconds=60.0).__enter__()
        client.delete(lease_key(task))  # the paused copy's lease lapsed
        with Lease(url, task, "live@b", 3600.0, seconds=60.0):
            held = client.get(lease_key(task))
            assert held is not None
            first.waits(5_000_000)  # the paused copy's write of its lease, as it resumes (a renewal writes the same)
            assert client.get(lease_key(task)) == held  # the live copy's, untouched
            first.__exit__(None, None, None)  # stopped by its hard time limit
            assert client.get(lease_key(task)) == held, "the live copy's lease was deleted by the other's exit"
        assert not client.exists(lease_key(task))  # the live copy's own exit releases it
        client.delete(taken_key(task))


@pytest.mark.parametrize("resent", [True, False], ids=["sent-again", "not-sent-again"])
def test_a_lease_lapsed_while_its_process_was_stopped_is_made_again_only_if_its_task_was_not_sent_again(url, resent):
    """R25k, case b: a paused copy's lease lapses; resumed, its renewal made the key again, so the live copy, taking
    the task sent again, could not set its own lease and looked unheld: a copy whose task was sent again meanwhile
    (`mark_resent`, as `fleet_watch.Lost` sends it) no longer makes it. R25l M1, M2: that was decided by the process's
    own clock (a renewal more than the lease's life after the last), which a suspended or paused machine stops, and a
    process resumed before any copy was sent graded on with no lease, until its task was sent again: it now takes its
    lease back. Here the lease's life is 2 s, the process stopped 3.5 s."""
    import redis

    task = TASK + ("-stopped-resent" if resent else "-stopped")
    process = holding(url, HOLD, task)
    try:
        with redis.Redis.from_url(url) as client:
            held = client.get(lease_key(task))
            process.send_signal(signal.SIGSTOP)
            time.sleep(3.5)
            assert not client.exists(lease_key(task))  # lapsed while stopped
            if resent:
                mark_resent(client, task)
            process.send_signal(signal.SIGCONT)
            time.sleep(2.0)  # three of its renewals (every 0.67 s)
            again = client.get(lease_key(task))
            if resent:
                assert again is None, "a lapsed lease was made again by a copy whose task was sent again"
            else:
                assert again is not None and again.split()[0] == held.split()[0], "its lease was not taken back"
            client.delete(taken_key(task), resent_key(task))
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        process.wait(10)


def test_a_copy_still_holding_its_lease_when_its_task_is_sent_again_lets_it_go_to_the_live_copy(url):
    """A copy taken before its task was sent again (`mark_resent`: its worker looked lost) that still holds the key
    (resumed just before the enqueuer's look, or the key made again between its look and the send) deletes it at its
    next renewal instead of extending it, and says it is superseded; the live copy sent again then takes it."""
    import redis

    from lrcourse.grading.fleet.lease import Lease

    task = TASK + "-superseded"
    with redis.Redis.from_url(url) as client:
        first = Lease(url, task, "paused@a", 3600.0, seconds=60.0).__enter__()
        try:
            mark_resent(client, task)
            assert not first.set() and first.superseded
            assert not client.exists(lease_key(task)), "the superseded copy kept its lease"
            with Lease(url, task, "live@b", 3600.0, seconds=60.0) as live:
                assert client.get(lease_key(task)).startswith(live.token.encode()) and not live.superseded
                assert not first.set()  # neither made again nor taken from the live copy
                assert client.get(lease_key(task)).startswith(live.token.encode())
        finally:
            first.__exit__(None, None, None)
            client.delete(taken_key(task), resent_key(task))


def test_a_renewal_waits_for_a_broker_that_never_answers_a_bounded_time(url):
    """R25l N2: the renewing thread's client had no socket timeout: a broker that took the connection and never
    answered held the renewal for ever, and the lease lapsed though its process lived. Each call now gives up after
    half the renewals' period (1 s at least), and the next renewal comes."""
    import socket

    import redis

    from lrcourse.grading.fleet.lease import Lease

    with socket.socket() as silent:  # listens (connections complete in its backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        silent_url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        lease = Lease(silent_url, TASK + "-hung", "w", 3600.0, seconds=1.5)
        # its renewals only (every 0.5 s), without `__enter__`, whose record waits for an answering broker as the
        # grading does; its client made as `__enter__` makes it
        with redis.Redis.from_url(silent_url) as lease.client:
            lease.thread.start()
            time.sleep(3.0)
            lease.stop.set()
            lease.thread.join(5)
        assert not lease.thread.is_alive(), "a renewal waits for ever for a broker that never answers"
        assert lease.renewals >= 2, f"{lease.renewals} renewal(s) tried in 3 s: the first never returned"


def test_a_lease_whose_renewals_a_full_redis_refused_is_renewed_once_there_is_room(url):
    """Not stopped, its renewals refused (a full Redis, longer than the lease's life): the key lapses, and is made
    again at the first renewal once there is room (`fleet_watch.Lost` counts on it); a copy that could not take the
    key while another copy's stood takes it once it is free."""
    import redis

    from lrcourse.grading.fleet.lease import Lease

    task, other = TASK + "-refused", TASK + "-late"
    with redis.Redis.from_url(url) as client, Lease(url, task, "machine-f", 3600.0, seconds=1.5) as lease:
        with full(client):
            time.sleep(2.5)
            assert not client.exists(lease_key(task))
        time.sleep(1.0)  # two renewals (every 0.5 s)
        assert client.get(lease_key(task)).startswith(lease.token.encode()) and not lease.superseded
        client.set(lease_key(other), b"another 1 0", px=60_000)
        with Lease(url, other, "late@b", 3600.0, seconds=60.0) as late:
            assert client.get(lease_key(other)) == b"another 1 0"  # refused: the other copy's
            client.delete(lease_key(other))
            assert late.set() and client.get(lease_key(other)).startswith(late.token.encode())
        client.delete(taken_key(task), taken_key(other))
