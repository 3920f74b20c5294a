"""`lrcourse collect` against a student who floods their own submission folders with entries, with real OS users.

Each folder may hold up to `inbound.MAX_ENTRIES` entries and each owner up to `Bounds.per_owner` folders, so one
student could make collect list ten million entries. A run lists at most `Bounds.entries` in all of one owner's
folders, newest first: past that, that owner's folders left are one refusal row naming them, and the classmates are
collected as before. The entries read are counted where collect lists them (`os.scandir`), per owner of the
folder listed, not taken from collect's own report.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

from lrcourse.grading.exchange.collect import Bounds, collect
from lrcourse.grading.exchange.inbound_folder import Exchange

from support.inbound_folders import CHAPTER, FILE
from support.students import Students, needs_root

FOLDERS, STRAYS = 4, 4_000  # the flooder's: 16,004 entries in all, each folder well within MAX_ENTRIES
NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'  # collect reads only a notebook
# nbgrader submit's last file too, a secret of 128 hexadecimal digits (a folder without one is an unfinished submit)
SUBMIT = 'mkdir "$1" && printf %s "$2" > "$1/$3" && od -An -N64 -tx1 /dev/urandom | tr -d " \\n" > "$1/submission_secret.txt"'
FLOOD = 'cd "$1" && seq 1 "$2" | sed "s/^/stray-/" | xargs touch'


class CountedListing:
    """os.scandir's listing, counting each entry handed out against the owner of the folder listed."""

    def __init__(self, listing, owner: int, read: Counter):
        self.listing, self.owner, self.read = listing, owner, read

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.listing.close()

    def __iter__(self):
        for entry in self.listing:
            self.read[self.owner] += 1
            yield entry


def exchange_of_students(scratch: Path) -> tuple[Path, Exchange]:
    """A course the students cannot read and nbgrader's exchange as `release_assignment` leaves it: the inbound
    folder writable, not listable, by students."""
    course = scratch / "course"
    (course / "source" / CHAPTER).mkdir(parents=True)
    (course / "source" / CHAPTER / FILE).write_text(NOTEBOOK)
    course.chmod(0o700)
    exchange = Exchange(scratch / "exchange", "lr-schedules")
    exchange.inbound.mkdir(parents=True)
    exchange.root.chmod(0o1777)  # the README's set-up: without the sticky bit collect refuses the exchange
    exchange.inbound.chmod(0o3733)  # the README's set-up
    return course, exchange


def fill_inbound(students: Students, exchange: Exchange) -> list[str]:
    """Each honest student's folder with their notebook, the flooder's FOLDERS (oldest first) of STRAYS each."""
    for role in ("alice", "bob"):
        folder = f"{exchange.inbound}/{students.name[role]}+{CHAPTER}+2026-01-01 00:00:00.000000 UTC+h"
        students.shell(role, SUBMIT, folder, honest(role), FILE)
    flooded = []
    for i in range(FOLDERS):
        flooded.append(f"{students.name['mallory']}+{CHAPTER}+2026-01-01 00:0{i}:00.000000 UTC+f")
        students.shell("mallory", SUBMIT, f"{exchange.inbound}/{flooded[-1]}", NOTEBOOK, FILE)
        students.shell("mallory", FLOOD, f"{exchange.inbound}/{flooded[-1]}", str(STRAYS))
        time.sleep(0.02)  # a later change time for the next (the kernel's clock ticks coarsely)
    return flooded


def honest(role: str) -> str:
    return f'{{"cells": [], "metadata": {{"by": "{role}"}}, "nbformat": 4, "nbformat_minor": 5}}'


def counted_collect(course: Path, exchange: Exchange, monkeypatch) -> tuple:
    """collect's result, the entries it listed per owner (uid) of the folder listed, and its seconds."""
    read, listed = Counter(), os.scandir

    def counted(path):
        owner = (os.fstat(path) if isinstance(path, int) else os.stat(path)).st_uid
        return CountedListing(listed(path), owner, read)

    with monkeypatch.context() as patch:
        patch.setattr(os, "scandir", counted)
        start = time.monotonic()
        result = collect(course, CHAPTER, exchange)
        return result, read, time.monotonic() - start


@needs_root
def test_a_flood_of_entries_is_listed_within_the_owners_budget_and_the_classmates_collected(monkeypatch):
    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-flood-"))
    scratch.chmod(0o755)  # the students' homes and the exchange are inside
    students = Students(scratch, ("alice", "bob", "mallory"))
    name = students.name
    try:
        course, exchange = exchange_of_students(scratch)
        flooded = fill_inbound(students, exchange)
        result, read, seconds = counted_collect(course, exchange, monkeypatch)
        print(f"collect: {seconds:.2f} s, entries read per owner (uid): {dict(read)}")
        uid = {role: (scratch / "home" / name[role]).stat().st_uid for role in name}
        budget = Bounds().entries
        assert read[uid["mallory"]] == budget + 1, read  # not the 16,004 they hold: the one past tells there is more
        assert read[uid["alice"]] == read[uid["bob"]] == 2, read  # their notebook and secret
        for role in ("alice", "bob"):  # collected as before, byte for byte
            assert (course / "submitted" / name[role] / CHAPTER / FILE).read_text() == honest(role)
        rows = {row["submission"]: row for row in result.refused}
        row = rows[f"{name['mallory']}: 2 folders"]  # the one listed when the budget ran out, and the oldest
        assert row["more"] == 2 and f"hold more than {budget} entries in all" in row["reason"], result.refused
        assert len(result.refused) == 1 and result.refusals == 2, result.refused
        collected = {row["student"]: row["submission"] for row in result.collected}
        assert sorted(collected) == sorted(name.values()), collected
        assert collected[name["mallory"]] == flooded[-1], collected  # the newest, listed first within the budget
    finally:
        students.remove()
        shutil.rmtree(scratch, ignore_errors=True)
