"""The broker away for a while during a run (`fleet_grade.Run.collect`): Redis restarted (by its supervisor, an update,
a node moved), its network cut for a moment. The enqueuing command used to end at the first refused connection
(exit 3) and had to be run again; it now waits for the broker (`Outage.wait`), trying again with a backoff that grows
to BACKOFF_CAP, says once, above its progress bar and on it, since when the broker is unreachable, and goes on when it
answers, with the students it waits for unchanged. A broker away longer than its limit (`lrcourse grade
--broker-wait`, BROKER_WAIT_SECONDS by default) ends the run as before: exit 3, every grade written kept.

Only a broker that cannot be reached is waited for (`unreachable`): a connection refused, reset or timed out, or
Redis loading its data after a restart. A wrong password or a full Redis does not pass by waiting: either ends the
run at once, as before, and so does a broker that cannot be reached at the start (a wrong host or port is said at
once, not after the limit).

What a restart loses is the broker's to tell: with persistence off (a Redis restarted empty), the queue, the `sent`
marks and the results not yet collected are gone, and `fleet_watch.Lost` sends those tasks again at its first look
after the broker is back; with persistence on, Redis comes back with what it held at its last save. Either way a
student is written once, when the run first collects a result for it.
"""

from __future__ import annotations

import sys
import time

from lrcourse.grading.fleet import broker as fleet
from lrcourse.grading.fleet.full import is_full
from lrcourse.grading.fleet.refusal import causes

BROKER_WAIT_SECONDS = 600.0  # the longest the enqueuing command waits for its broker, by default
BACKOFF_FIRST = 0.5  # the first wait before trying again; doubled after each try, up to BACKOFF_CAP
BACKOFF_CAP = 10.0
SLICE_SECONDS = 0.5  # a wait is slept in slices this long, so that Ctrl-C acts at once


def unreachable(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from (kombu's OperationalError wraps redis-py's), is redis-py's
    saying that the broker cannot be reached now (see the module's text): not a wrong password, not a full Redis, and
    never an error of the gradebook's (a PostgreSQL server away is not waited for)."""
    import redis

    for seen in causes(error):
        if isinstance(seen, redis.AuthenticationError) or is_full(seen):
            return False
        if isinstance(seen, redis.ConnectionError | redis.TimeoutError):
            return True
    return False


def waited_limit(text: str) -> float:
    """`lrcourse grade --broker-wait`'s value: seconds, at least 0 (argparse says which value is refused)."""
    value = float(text)
    if not value >= 0:  # NaN too
        raise ValueError(text)
    return value


class Outage:
    """The enqueuing command's wait for its broker at `url`, `limit` seconds at most; `bar` is its progress bar,
    `check` its Ctrl-C check (`watchdog.CtrlC.check`), called between slices of the wait. An outage lasts from the
    first error to the first round of the run that goes through (`over`), not to the first answer: a broker that
    answers a ping and fails the round again is the same outage, its backoff still growing and its limit still
    counted."""

    def __init__(self, url: str, bar, check, limit: float = BROKER_WAIT_SECONDS):
        self.url, self.bar, self.check, self.limit = url, bar, check, limit
        self.address = fleet.broker_address(url)
        self.began: float | None = None  # when the outage began (time.monotonic), or None
        self.backoff = BACKOFF_FIRST

    def wait(self, error: BaseException, ping) -> None:
        """After `error` (`unreachable`), until `ping()` answers. Raises `fleet.BrokerUnreachable` once the outage
        has lasted `limit` seconds, or at once if a try ends in an error that waiting does not cure (a wrong
        password, a full Redis)."""
        if self.began is None:
            self.began, since = time.monotonic(), time.strftime("%H:%M:%S")
            self.bar.write(
                f"lrcourse: the broker at {self.address} is unreachable since {since} ({type(error).__name__}): "
                f"waiting for it, at most {self.limit:.0f} s (--broker-wait); every grade written is kept",
                file=sys.stderr,
            )
            self.bar.set_postfix_str(f"broker unreachable since {since}")
        while True:
            left = self.limit - (time.monotonic() - self.began)
            if left <= 0:
                raise fleet.BrokerUnreachable(self.url, error, away=self.limit)
            self.sleep(min(self.backoff, left))  # the last try falls at the limit
            self.backoff = min(2 * self.backoff, BACKOFF_CAP)
            try:
                ping()
                return
            except Exception as again:
                if not unreachable(again):
                    raise
                error = again

    def over(self) -> None:
        """A round went through: the outage, if there was one, is over, and said to be."""
        if self.began is None:
            return
        away, self.began, self.backoff = time.monotonic() - self.began, None, BACKOFF_FIRST
        self.bar.set_postfix_str("")
        text = f"lrcourse: the broker at {self.address} answers again, after {away:.0f} s: going on"
        self.bar.write(text, file=sys.stderr)

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.check()
            time.sleep(min(SLICE_SECONDS, left))
        self.check()
