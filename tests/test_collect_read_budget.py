"""A student's flood of slow broken submissions costs only her own read budget and never delays a classmate's
collection (r20: 40 notebooks of 3.46 s each held collect for everyone for 67 s; 1,000 could for an hour).

A folder passes collect's checks without being read; only reading its notebook (`intake.notebook_problem`, run
by `broken_submit`) tells that it cannot be graded. The slow read is stood in for: `notebook_problem` counts each
read and advances a test clock by the reviewer's 3.46 s, so no test parses for seconds. The students are OS
accounts every system has (daemon, bin), whose folders root makes and gives them, as a submit would leave them.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import lrcourse.grading.exchange.broken_submit as broken_submit
import lrcourse.grading.exchange.student_reads as student_reads
from lrcourse.grading.exchange.collect import Bounds, collect
from lrcourse.grading.exchange.inbound import user_name

from support.inbound_folders import CHAPTER, FILE, exchange_course

SLOW = 3.46  # seconds the reviewer's 6 MB notebook took to be refused
FLOODER, CLASSMATE = 1, 2  # uids of daemon and bin: accounts without a login, on every system

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give folders to other accounts")


def submit(inbound: Path, uid: int, by: str) -> str:
    """A finished submit of the account `uid`'s, its notebook marked `by` (a name starting "broken" reads as one that
    cannot be graded), made after every earlier one (the kernel's change time orders them)."""
    time.sleep(0.01)  # a later change time than the one before (the kernel's clock ticks coarsely)
    name = f"{user_name(uid)}+{CHAPTER}+2026-01-01 00:00:00.000000 UTC+{by}"
    (inbound / name).mkdir()
    notebook = {"cells": [], "metadata": {"by": by}, "nbformat": 4, "nbformat_minor": 5}
    (inbound / name / FILE).write_text(json.dumps(notebook))
    (inbound / name / "submission_secret.txt").write_text(os.urandom(64).hex())
    for path in (inbound / name, inbound / name / FILE, inbound / name / "submission_secret.txt"):
        os.chown(path, uid, uid)
    return name


class SlowReads:
    """`notebook_problem` as a test clock sees it: each read of a broken notebook takes SLOW seconds."""

    def __init__(self, submitted: Path):
        self.now, self.submitted, self.reads = 0.0, submitted, []

    def clock(self) -> float:
        return self.now

    def notebook_problem(self, name: str, data: bytes):
        by = json.loads(data)["metadata"]["by"]
        self.reads.append((by, (self.submitted / user_name(CLASSMATE) / CHAPTER).exists()))
        if by.startswith("broken"):
            self.now += SLOW
            return f"{name} is not a valid notebook: at cells/60 'additionalProperties'", False
        return None


def slow_collect(tmp_path: Path, monkeypatch, broken: int, bounds: Bounds | None = None):
    """The flooder's good folder, then `broken` broken ones of hers, then the classmate's good one (the newest of
    all: collect once took students in order of their newest time), collected with slow reads."""
    course, exchange = exchange_course(tmp_path)
    good = submit(exchange.inbound, FLOODER, "good")
    flood = [submit(exchange.inbound, FLOODER, f"broken{i}") for i in range(broken)]
    classmates = submit(exchange.inbound, CLASSMATE, "classmate")
    slow = SlowReads(course / "submitted")
    monkeypatch.setattr(broken_submit, "notebook_problem", slow.notebook_problem)
    monkeypatch.setattr(student_reads, "clock", slow.clock)
    return collect(course, CHAPTER, exchange, bounds or Bounds()), slow, good, flood, classmates


@needs_root
def test_a_classmate_is_collected_before_the_flooders_older_folders_are_read(tmp_path, monkeypatch):
    result, slow, _, flood, classmates = slow_collect(tmp_path, monkeypatch, broken=40)
    assert slow.reads[0] == ("broken39", False), slow.reads  # her newest: everyone's newest is read first
    assert slow.reads[1] == ("classmate", False), slow.reads
    older = [written for by, written in slow.reads[2:]]
    assert older and all(older), slow.reads  # every older folder of hers read once his was in submitted/
    assert result.collected[0]["submission"] == classmates, result.collected


@needs_root
def test_past_her_read_budget_her_remaining_folders_are_refused_in_one_row(tmp_path, monkeypatch):
    result, slow, good, flood, _ = slow_collect(tmp_path, monkeypatch, broken=40)
    read = [by for by, _ in slow.reads if by.startswith("broken")]
    # 20 s of budget: the newest, then older ones while under 20 s (3.46 s each: 6 in all, 20.76 s), not the 40
    assert read == [f"broken{i}" for i in range(39, 33, -1)], slow.reads
    assert [row["student"] for row in result.collected] == [user_name(CLASSMATE)], result.collected
    refused = {row["submission"]: row for row in result.refused}
    assert set(refused) == {*flood[34:], f"{user_name(FLOODER)}+{CHAPTER}+... (not read)"}, result.refused
    row = refused[f"{user_name(FLOODER)}+{CHAPTER}+... (not read)"]
    assert row["more"] == 35 and row["reason"].startswith("not read: daemon's submissions took more than 20 s"), row
    assert result.refusals == 41 and good not in refused  # counted in the row, with her 34 older broken ones
    assert not (tmp_path / "submitted" / user_name(FLOODER)).exists()


@needs_root
def test_a_few_slow_broken_newer_folders_leave_the_good_older_one_collected(tmp_path, monkeypatch):
    """F14's rule kept: five broken newer ones (17.3 s of reading) do not crowd out her good older one."""
    result, slow, good, flood, classmates = slow_collect(tmp_path, monkeypatch, broken=5)
    collected = {row["student"]: row["submission"] for row in result.collected}
    assert collected == {user_name(FLOODER): good, user_name(CLASSMATE): classmates}, result.collected
    assert sorted(row["submission"] for row in result.refused) == sorted(flood), result.refused
    written = tmp_path / "submitted" / user_name(FLOODER) / CHAPTER / FILE
    assert json.loads(written.read_text())["metadata"]["by"] == "good"


@needs_root
def test_a_smaller_read_budget_is_the_instructors_to_set(tmp_path, monkeypatch):
    """`Bounds.read_seconds` is what stops her reads: at 5 s, two broken ones (6.92 s) and the rest in one row."""
    result, slow, _, flood, _ = slow_collect(tmp_path, monkeypatch, broken=5, bounds=Bounds(read_seconds=5))
    assert [by for by, _ in slow.reads if by != "classmate"] == ["broken4", "broken3"], slow.reads
    row = result.refused[-1]
    assert row["more"] == 4 and "more than 5 s to read" in row["reason"], result.refused
