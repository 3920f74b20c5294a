"""One student's accepted submissions as `collect` reads them: newest first, within her own read budget.

A folder passes collect's checks without being read; only reading it (`broken_submit`: nbformat's schema over up to
a million JSON values) tells a notebook that cannot be graded, and one such read can take seconds. So collect reads
every student's newest folder first, then the older ones of those whose newest did not read, each student's while
the seconds spent reading hers stay under her budget (`collect.Bounds.read_seconds`): a student's broken folders
cost her own budget, never a classmate's turn. Her newest is always read, whatever it cost before.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from lrcourse.grading.exchange.inbound import Submission

clock = time.monotonic  # the seconds a read takes (a test's clock may stand in)


class StudentReads:
    """The folders of one student to read, newest first (the kernel's time: not movable back), and what reading
    them cost: folders tried, refused, seconds; `done` once one was read and written (or its write refused)."""

    def __init__(self, submissions: list[Submission], seconds: float):
        self.newest_first = sorted(submissions, key=lambda submission: submission.time, reverse=True)
        self.seconds = seconds
        self.spent = 0.0
        self.tried = 0
        self.refused = 0
        self.done = False

    def to_read(self, newest_only: bool):
        """Her folders to try in turn: the newest only, or the older ones while her budget lasts."""
        while not self.done and self.tried < len(self.newest_first):
            if self.tried and (newest_only or self.spent >= self.seconds):
                return
            self.tried += 1
            yield self.newest_first[self.tried - 1]

    @contextmanager
    def timed(self):
        """Count the seconds of a read against her budget, whatever it raises."""
        start = clock()
        try:
            yield
        finally:
            self.spent += clock() - start

    @property
    def older(self) -> list[str]:
        """The names of the folders older than the last one tried, newest first (superseded once one is written)."""
        return [submission.name for submission in self.newest_first[self.tried :]]

    @property
    def unread(self) -> int:
        """Folders left unread with nothing of hers written: her budget spent."""
        return 0 if self.done else len(self.newest_first) - self.tried
