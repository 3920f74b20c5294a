"""What stood at a course's `inbound` when `lrcourse doctor --put-back` moved it aside, written down then, where no one
else can change it. Classmates may have submitted into a student's folder (or through her link, into a folder it points
to) while it stood in the inbound's place; collect does not read it there, and the instructor decides each by hand,
later. By then a process of hers could have renamed a classmate's on-time entry to a late time, or removed it, in a
folder she still holds (r20u M1). The record is a file of root's, 0600, in the aside folder (root's, 0700): one line
per entry, its change time (what collect reads as a submission's time), modification time, owner, type and mode, and
name, quoted as the shell quotes it; at most MOST_LOOKED lines, and it says when there were more."""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from lrcourse.grading.exchange import counted
from lrcourse.grading.exchange.kept_folders import MOST_LOOKED, submission_named
from lrcourse.grading.exchange.path_walk import account
from lrcourse.shell_words import shell_word

RECORD = "entries.txt"


@dataclass
class Listing:
    """A folder's entries as the record writes them (`lines`); how many are another account's than the folder's owner
    (a classmate's, whatever its name: r20y M2, renamed `.cache` it was counted as no submission) and how many of those
    are named as submissions; and whether the look stopped at MOST_LOOKED."""

    lines: list[str] = field(default_factory=list)
    others: int = 0
    named: int = 0
    more: bool = False

    def said(self) -> str:
        """How many entries, how many of other accounts, and how many of those named as submissions, in words."""
        named = "a submission" if self.named == 1 else "submissions"
        of = f"{self.others:,} of another account than its owner ({self.named:,} named as {named})"
        if self.more:  # r20s W1: a count of the first names looked at was printed as the whole
            return f"more than {MOST_LOOKED:,} entries; of the first {MOST_LOOKED:,}, {of}; more may be past them"
        return f"{counted.entries(len(self.lines))}, {of}"


def listed(fd: int, owner: int) -> Listing:
    """The entries of the open folder `fd`, none followed if it is a link; those of another account than `owner` (the
    folder's) counted, and those of them named as submissions (r20w N3: the owner's own named as a classmate's were)."""
    listing = Listing()
    with os.scandir(fd) as entries:
        for looked, entry in enumerate(entries):
            if looked >= MOST_LOOKED:
                listing.more = True
                break
            seen = entry.stat(follow_symlinks=False)
            listing.others += seen.st_uid != owner
            listing.named += seen.st_uid != owner and submission_named(entry.name)
            listing.lines.append(entry_line(entry.name, seen))
    return listing


def entry_line(name: str, seen: os.stat_result) -> str:
    """`<change time>  <modification time>  <owner>  <type and mode>  <name, quoted>`: the change time is what collect
    reads as a submission's; a rename by whoever holds the folder sets it, never the modification time of a classmate's
    folder, which its last file written into it set (r20x M2: a classmate's submission renamed after the lock-out)."""
    return f"{utc(seen.st_ctime_ns)}  {utc(seen.st_mtime_ns)}  {account(seen.st_uid)}  {stat.filemode(seen.st_mode)}  {shell_word(name)}"


def utc(ns: int) -> str:
    """A time in nanoseconds since the epoch, in UTC to the nanosecond."""
    seconds, nanoseconds = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) + f".{nanoseconds:09d} UTC"


def write_record(folder: Path, what: str, listing: Listing) -> Path:
    """The record of `listing` (the entries of `what`) in `folder`, a new folder of root's: its path."""
    path = folder / RECORD
    head = f"# the entries of {what} when lrcourse doctor --put-back moved it aside: change time, modification time, owner, type, name"
    tail = [f"# more than {MOST_LOOKED:,} entries: only the first {MOST_LOOKED:,} are listed"] if listing.more else []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with open(fd, "w", encoding="utf-8") as record:
        record.write("\n".join([head, *listing.lines, *tail]) + "\n")
    return path
