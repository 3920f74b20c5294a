"""A worker's start: its broker answering, this user allowed, room in Redis, before Celery starts.

The worker looks at Redis's memory before Celery's start writes (`fleet_full.wait_for_room`: a full Redis ended it).
That look came before Celery's own connection, so a worker started before its broker (Kubernetes starts the worker
pods and Redis together) died at once with a ConnectionError traceback: Celery's `broker_connection_retry_on_startup`
never had its turn, and the pods crash-looped. `ready` waits for the broker as Celery's start would: tried again
after 2 s, 4 s, ... up to 30 s between tries, at most `broker_connection_max_retries` times (Celery's settings,
kombu's `ensure_connection` intervals), saying on the worker's log at each try, in one line, since how long it waits
and for which host and port (never the URL: it holds the password). A broker that answers and refuses this user (a
command its ACL forbids, INFO among them; a wrong password; a read-only replica: `fleet_refusal`) ends the worker at
once, before its banner, with one line saying what to fix and the enqueuing command's status for it
(`fleet.BROKER_STATUS`, 3): waiting does not cure it. A replica answers INFO and PING, which were all
`ready` ran, and ended the worker at Celery's first write with its "Unrecoverable error: ReadOnlyError" traceback: its
role is read now (`fleet_refusal.replica`), and the line names the primary.
"""

from __future__ import annotations

import sys
import time

from lrcourse.grading.fleet import broker as fleet
from lrcourse.grading.fleet.full import wait_for_room
from lrcourse.grading.fleet.lease import WARM_SECONDS
from lrcourse.grading.fleet.outage import unreachable
from lrcourse.grading.fleet.refusal import refusal, refused_as, replica, source_of

FIRST_SECONDS, STEP_SECONDS, MOST_SECONDS = 2.0, 2.0, 30.0  # kombu's ensure_connection intervals, as Celery uses them


def ready(url: str, what: str, retries: int | None, sleep=time.sleep) -> None:
    """Return once the broker at `url` answers with room for `what` (see the module's text); raise SystemExit with
    one line if it refuses this user, or still cannot be reached after `retries` tries again (None or 0: no end)."""
    import redis

    began, tries, interval = time.monotonic(), 0, FIRST_SECONDS
    address = fleet.broker_address(url)
    while True:
        try:
            with redis.Redis.from_url(url) as client:
                wait_for_room(client, what)
                read_only = replica(client)  # INFO and PING answered by a replica too: its first write refused
            if read_only is not None:
                raise read_only
            return
        except Exception as error:
            if refused := refusal(error, source_of(url, fleet.BROKER_VARIABLE)):  # the enqueuer's status for it
                print(f"lrcourse worker: the broker at {address} {refused_as(refused)} ({refused})", file=sys.stderr)
                raise SystemExit(fleet.BROKER_STATUS) from None
            if not unreachable(error):
                raise
            if retries and tries >= retries:
                raise SystemExit(
                    f"lrcourse worker: the broker at {address} did not answer in {time.monotonic() - began:.0f} s "
                    f"({tries} tries again, Celery's broker_connection_max_retries): start the worker again once it "
                    "answers"
                ) from None
        tries += 1
        print(
            f"lrcourse worker: waiting for the broker at {address} ({time.monotonic() - began:.0f} s): "
            f"trying again in {interval:.0f} s",
            flush=True,
        )
        sleep(interval)
        interval = min(interval + STEP_SECONDS, MOST_SECONDS)


def worker_options(worker) -> None:
    """`lrcourse worker`'s options of its start (an argparse parser), beside `--broker-file` and `--no-sandbox`."""
    worker.add_argument("--concurrency", type=at_least_one, default=1, help="students graded at once (default: 1)")
    worker.add_argument("--course", default=".", help="the checkout of the course (default: here)")
    worker.add_argument("--name", help="the worker's name in Celery (default: lrcourse-PID@host)")
    worker.add_argument(
        "--visibility-seconds",
        type=float,
        default=fleet.VISIBILITY_SECONDS,
        help="a lost machine's task goes to another worker after this; longer than a task's hard time limit (the "
        f"student's budget, the worker's grace and 120 s) and a process's warm-up ({WARM_SECONDS} s): the worker warns "
        "otherwise",
    )


def at_least_one(text: str) -> int:
    """A whole number of at least 1 (argparse names the option and the value it refuses): --concurrency 0 started a
    worker whose pool grades nothing."""
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value
