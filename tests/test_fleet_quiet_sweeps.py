"""While Redis is full, kombu's sweep of the unacknowledged tasks (a lock: a write) is refused every
`fleet.RESTORE_SECONDS`, and the worker's event loop logged "Error in timer" with a 54-line traceback each time,
burying the minute-by-minute message that says what to do (R25o N1). `fleet_full.quiet_sweeps` says it in one line, at
most once a minute; any other error of a timer is logged as before."""

from __future__ import annotations

import logging
import sys

from redis.exceptions import ConnectionError, OutOfMemoryError

from lrcourse.grading.fleet.full import SWEEP_REFUSED, QuietSweeps, quiet_sweeps


def timer_error(error: BaseException) -> logging.LogRecord:
    """The record kombu's hub logs for a timer that raised `error` (`logger.error('Error in timer: %r', exc,
    exc_info=1)`)."""
    try:
        raise error
    except type(error):
        info = sys.exc_info()
    return logging.LogRecord("kombu.asynchronous.hub", logging.ERROR, __file__, 1, "Error in timer: %r", (error,), info)


def test_a_sweep_refused_by_a_full_redis_is_one_line_a_minute_and_other_errors_are_kept():
    full = OutOfMemoryError("command not allowed when used memory > 'maxmemory'.")
    quiet = QuietSweeps(every=60.0)
    first = timer_error(full)
    assert quiet.filter(first) is True
    assert first.getMessage() == SWEEP_REFUSED and first.exc_info is None and first.levelname == "WARNING"
    assert "the broker is full" in SWEEP_REFUSED and "To make room" in SWEEP_REFUSED
    assert quiet.filter(timer_error(full)) is False  # within the minute: not said again
    other = timer_error(ConnectionError("Connection refused"))
    assert quiet.filter(other) is True and other.exc_info is not None and other.levelno == logging.ERROR
    assert QuietSweeps(every=0.0).filter(timer_error(full)) is True


def test_the_worker_s_loggers_of_its_timers_are_quieted():
    """`quiet_sweeps` (called by `fleet_worker.serve` before Celery starts) filters both of kombu's timer loggers:
    through the logger, a refused sweep's record reaches its handlers as the one line."""
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append
    loggers = [logging.getLogger(name) for name in ("kombu.asynchronous.hub", "kombu.asynchronous.timer")]
    filters = [list(logger.filters) for logger in loggers]
    try:
        quiet_sweeps()
        for logger in loggers:
            logger.addHandler(handler)
            logger.handle(timer_error(OutOfMemoryError("command not allowed when used memory > 'maxmemory'.")))
    finally:
        for logger, before in zip(loggers, filters):
            logger.removeHandler(handler)
            logger.filters[:] = before
    assert [record.getMessage() for record in seen] == [SWEEP_REFUSED] * 2, seen
    assert all(record.exc_info is None for record in seen)
