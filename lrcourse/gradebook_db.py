"""nbgrader's gradebook as every part of the course opens it: SQLite with a busy timeout, so that concurrent
writers (the grading workers, `make check`) wait for each other instead of failing with "database is
locked"; any other `db_url` (PostgreSQL) as it is. Below both the learner's commands and the grader, so that
each opens a gradebook the same way.
"""

from __future__ import annotations

SQLITE_BUSY_SECONDS = 120


def with_busy_timeout(db_url: str) -> str:
    """SQLite URLs get a busy timeout: a worker waits for another's write instead of failing."""
    if db_url.startswith("sqlite:") and "timeout=" not in db_url:
        return f"{db_url}{'&' if '?' in db_url else '?'}timeout={SQLITE_BUSY_SECONDS}"
    return db_url


def gradebook(db_url: str):
    """nbgrader's gradebook at `db_url`, as a context manager (SQLite with its busy timeout)."""
    from nbgrader.api import Gradebook  # imported when used: it costs seconds

    return Gradebook(with_busy_timeout(db_url))
