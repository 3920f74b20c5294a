"""What collect makes of a submission's secret and record (issue 20): a submit that failed midway (a full disk: no
secret, or an empty one) is refused as unfinished and the student's previous submission collected; a secret
release_feedback would stop at is replaced; a collect of one student keeps the classmates' rows in the collect
record. The full-disk submit itself, with real OS users: test_exchange_submit."""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from lrcourse.grading.exchange.collect import Collected, collect
from lrcourse.grading.exchange.collect_record import write_collect_record
from lrcourse.grading.exchange.inbound import user_name
from lrcourse.grading.exchange.submission_secrets import NO_SECRET, SECRET
from lrcourse.grading.exchange.unfinished_submit import UNFINISHED

from support.inbound_folders import CHAPTER, FILE, HONEST, exchange_course, inbound_folder


@pytest.mark.parametrize("secret", [None, b""])
def test_an_unfinished_submit_is_refused_and_the_previous_submission_taken(tmp_path, secret):
    """A submit that failed midway (a full disk: a cut notebook, no submission_secret.txt, the last file nbgrader
    submit writes, or an empty one) is refused as unfinished, and the student's previous submission is collected."""
    course, exchange = exchange_course(tmp_path)
    good, good_name = inbound_folder(exchange.inbound)
    cut, cut_name = inbound_folder(exchange.inbound, "2026-01-02 00:00:00.000000 UTC")
    (cut / FILE).write_bytes(b"")
    (cut / SECRET).unlink()
    if secret is not None:
        (cut / SECRET).write_bytes(secret)
    result = collect(course, CHAPTER, exchange)
    assert [row["submission"] for row in result.collected] == [good_name], result
    assert [row for row in result.refused if row["submission"] == cut_name] == [
        {"submission": cut_name, "reason": UNFINISHED}
    ], result.refused
    written = course / "submitted" / user_name(os.geteuid()) / CHAPTER
    assert (written / SECRET).read_bytes() == (good / SECRET).read_bytes()  # hers: she can fetch her feedback


def test_a_collect_of_one_student_keeps_the_classmates_rows_in_the_collect_record(tmp_path):
    """nbgrader collect --student (formgrader's Collect button per student) replaces that student's rows in
    reports/collect-<chapter>.json and keeps everyone else's; a collect of the class writes the record afresh."""
    every = {"submission": "every submission", "note": "no sticky bit"}
    alice = {"student": "alice", "submission": f"alice+{CHAPTER}+1+x", "time": "1"}
    bob_old = {"student": "bob", "submission": f"bob+{CHAPTER}+1+x", "time": "1"}
    bob_new = {"student": "bob", "submission": f"bob+{CHAPTER}+3+x", "time": "3"}
    class_run = Collected(CHAPTER, "inbound", collected=[alice, bob_old], notes=[every])
    class_run.refused = [{"submission": f"bob+{CHAPTER}+2+x", "reason": "an unfinished submit"}]
    class_run.refused.append({"submission": f"carol+{CHAPTER}+2+x", "reason": "no notebook"})
    write_collect_record(tmp_path, class_run)
    bob_run = Collected(CHAPTER, "inbound", collected=[bob_new], notes=[every])
    record = json.loads(write_collect_record(tmp_path, bob_run, only="bob").read_text())
    assert record["collected"] == [alice, bob_new]
    assert record["refused"] == [{"submission": f"carol+{CHAPTER}+2+x", "reason": "no notebook"}]  # bob's: gone
    assert record["notes"] == [every]
    record = json.loads(write_collect_record(tmp_path, bob_run).read_text())
    assert record["collected"] == [bob_new] and record["refused"] == []


def test_a_collect_of_one_student_drops_her_put_back_rows_and_keeps_the_classmates(tmp_path):
    """F24 N2: a put-back note (or refusal) on submitted/alice/<chapter> survived a `--student alice` collect, which
    matched only rows named `alice+` or `alice:`: the record kept saying her folder was put back."""
    put_back = {"submission": f"submitted/alice/{CHAPTER}", "note": "put back from its .replaced copy"}
    stuck = {"submission": f"submitted/alice/{CHAPTER}", "reason": "not put back from its .replaced copy"}
    bobs = {"submission": f"submitted/bob/{CHAPTER}", "note": "put back from its .replaced copy"}
    alices = {"submission": f"submitted/alicia/{CHAPTER}", "note": "put back from its .replaced copy"}
    write_collect_record(tmp_path, Collected(CHAPTER, "inbound", refused=[stuck], notes=[put_back, bobs, alices]))
    record = json.loads(write_collect_record(tmp_path, Collected(CHAPTER, "inbound"), only="alice").read_text())
    assert record["notes"] == [bobs, alices] and record["refused"] == [], record


@pytest.mark.parametrize("secret", [b"\xff" * 128, b"the student's own", b"0" * 127])
def test_a_secret_release_feedback_would_stop_at_is_replaced_by_a_fresh_one(tmp_path, secret):
    """nbgrader's release_feedback asserts a secret is not empty and reads it as text, and stops for the whole
    class when it cannot: only a secret as `nbgrader submit` writes it is kept."""
    course, exchange = exchange_course(tmp_path)
    folder, name = inbound_folder(exchange.inbound)
    (folder / SECRET).write_bytes(secret)
    result = collect(course, CHAPTER, exchange)
    assert [row["submission"] for row in result.collected] == [name], result
    assert [row["reason"] for row in result.left_out] == [NO_SECRET]
    written = course / "submitted" / user_name(os.geteuid()) / CHAPTER
    assert re.fullmatch("[0-9a-f]{128}", (written / SECRET).read_text())


BROKEN_NOTEBOOKS = {
    "empty": (b"", "is empty, 0 bytes"),
    "cut short": (HONEST.encode()[:20], "is not valid JSON"),
    "not JSON": (b"\x00\x01 garbage", "is not valid JSON"),
    "not nbformat 4": (b'{"cells": []}', "is not an nbformat 4 notebook"),
    "invalid": (b'{"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "valid"),
}


def past_a_limit(what: str) -> bytes:
    """The honest notebook with 21 MB of saved output, or 1,001 cells."""
    raw = json.loads(HONEST)
    if what == "outputs":
        printed = {"output_type": "stream", "name": "stdout", "text": "loss 0.1\n" * (21 << 17)}
        raw["cells"].append(
            {"cell_type": "code", "id": "log", "metadata": {}, "source": "", "execution_count": 1, "outputs": [printed]}
        )
    else:
        raw["cells"] += [{"cell_type": "markdown", "id": f"c{i}", "metadata": {}, "source": ""} for i in range(1001)]
    return json.dumps(raw).encode()


@pytest.mark.parametrize(
    "what, problem", [("outputs", "more than 20 MB of outputs"), ("cells", "cells, more than 1000")]
)
def test_a_notebook_past_a_limit_is_refused_with_what_to_remove(tmp_path, what, problem):
    """r20v M1: a well-formed notebook of 21 MB of saved output was refused as "a crash while saving, or not a notebook
    ... ask the student to submit again", and the same one submitted again is refused again: now the reason says what
    to remove."""
    course, exchange = exchange_course(tmp_path)
    good, good_name = inbound_folder(exchange.inbound)
    bad, bad_name = inbound_folder(exchange.inbound, "2026-01-02 00:00:00.000000 UTC")
    (bad / FILE).write_bytes(past_a_limit(what))
    result = collect(course, CHAPTER, exchange)
    assert [row["submission"] for row in result.collected] == [good_name], result
    [row] = result.refused
    assert problem in row["reason"] and "previous accepted submission" in row["reason"], row
    assert "clear the outputs" in row["reason"] and "crash while saving" not in row["reason"], row


@pytest.mark.parametrize("data, problem", BROKEN_NOTEBOOKS.values(), ids=BROKEN_NOTEBOOKS.keys())
def test_a_finished_submit_of_a_broken_notebook_is_refused_and_the_previous_submission_taken(tmp_path, data, problem):
    """A finished submit (its secret written) whose notebook `lrcourse grade` could not read (a crash while saving,
    an empty file submitted on purpose after a good one) is refused with the reason, and her good one collected."""
    course, exchange = exchange_course(tmp_path)
    good, good_name = inbound_folder(exchange.inbound)
    bad, bad_name = inbound_folder(exchange.inbound, "2026-01-02 00:00:00.000000 UTC")
    (bad / FILE).write_bytes(data)
    result = collect(course, CHAPTER, exchange)
    assert [row["submission"] for row in result.collected] == [good_name], result
    [row] = result.refused
    assert row["submission"] == bad_name and row["reason"].startswith("its notebook cannot be graded ("), row
    assert f"{FILE} " in row["reason"] and problem in row["reason"] and "previous accepted" in row["reason"], row
    assert "a crash while saving" in row["reason"], row
    written = course / "submitted" / user_name(os.geteuid()) / CHAPTER
    assert (written / FILE).read_text() == HONEST
    assert (written / SECRET).read_bytes() == (good / SECRET).read_bytes()  # hers: she can fetch her feedback


@pytest.mark.parametrize("data", [b"", b'{"cells": ['], ids=["empty", "cut short"])
def test_with_no_earlier_submission_the_broken_one_is_recorded_and_nothing_written(tmp_path, data):
    """Nothing to fall back on in the exchange: she is in the collect record with the reason, and what an earlier
    collect wrote into submitted/ stays (that is the submission graded)."""
    course, exchange = exchange_course(tmp_path)
    bad, bad_name = inbound_folder(exchange.inbound, "2026-01-02 00:00:00.000000 UTC")
    (bad / FILE).write_bytes(data)
    earlier = course / "submitted" / user_name(os.geteuid()) / CHAPTER
    earlier.mkdir(parents=True)
    (earlier / FILE).write_text(HONEST)
    result = collect(course, CHAPTER, exchange)
    assert result.collected == [] and [row["submission"] for row in result.refused] == [bad_name], result
    assert "cannot be graded" in result.refused[0]["reason"]
    record = json.loads(write_collect_record(course, result).read_text())
    assert record["refused"] == result.refused
    assert (earlier / FILE).read_text() == HONEST and sorted(p.name for p in earlier.iterdir()) == [FILE]


def test_an_empty_notebook_is_refused_when_checked_and_never_takes_an_older_ones_place(tmp_path):
    """An empty notebook is refused from its size alone when its folder is checked: never read, never counted
    as one of the submissions the good one supersedes, whatever `Bounds.kept`."""
    from lrcourse.grading.exchange.collect import Bounds

    course, exchange = exchange_course(tmp_path)
    _, good_name = inbound_folder(exchange.inbound)
    for day in ("02", "03"):
        bad, _ = inbound_folder(exchange.inbound, f"2026-01-{day} 00:00:00.000000 UTC")
        (bad / FILE).write_bytes(b"")
    result = collect(course, CHAPTER, exchange, Bounds(kept=1))
    assert [row["submission"] for row in result.collected] == [good_name], result
    assert len(result.refused) == 2 and result.superseded == [], result


@pytest.mark.parametrize("refusals, rows", [(20, 4), (2, 3)])
def test_newer_cut_short_submissions_never_crowd_out_the_good_one(tmp_path, refusals, rows):
    """A notebook cut short is known only once read: four newer ones (more than `Bounds.kept`) are each refused,
    and the good older one is still collected, as their refusal says; her oldest is superseded by it. Past
    `Bounds.refusals` the refused ones are counted in one row."""
    from lrcourse.grading.exchange.collect import Bounds

    course, exchange = exchange_course(tmp_path)
    oldest, _ = inbound_folder(exchange.inbound, "2025-12-31 00:00:00.000000 UTC")
    time.sleep(0.02)  # a later change time (the kernel's clock ticks coarsely): the submission's time
    good, good_name = inbound_folder(exchange.inbound)
    for day in ("02", "03", "04", "05"):
        time.sleep(0.02)
        bad, _ = inbound_folder(exchange.inbound, f"2026-01-{day} 00:00:00.000000 UTC")
        (bad / FILE).write_bytes(b'{"cells": [')
    result = collect(course, CHAPTER, exchange, Bounds(refusals=refusals))
    assert [row["submission"] for row in result.collected] == [good_name], result
    assert len(result.refused) == rows and result.refusals == 4, result.refused
    assert all("cannot be graded" in row["reason"] for row in result.refused[:refusals]), result.refused
    if rows < 4:
        me = user_name(os.geteuid())
        assert result.refused[-1]["reason"] == f"and 2 more of {me}'s own submissions could not be read or graded"
    assert [row["submission"] for row in result.superseded] == [oldest.name], result.superseded
    written = course / "submitted" / user_name(os.geteuid()) / CHAPTER
    assert (written / FILE).read_text() == HONEST
    assert (written / SECRET).read_bytes() == (good / SECRET).read_bytes()
