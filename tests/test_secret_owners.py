"""Who keeps a submission secret, with real OS users and nbgrader's own release_feedback and fetch_feedback (issue
20, F17).

nbgrader files each student's feedback in the exchange under a hash of the secret in their submitted folder, and
the student's `fetch_feedback` finds it with the secret her own `nbgrader submit` wrote. Alice submits through the
exchange; mallory holds alice's secret (read in alice's inbound folder) in a submission the instructor copies into
`submitted/` by hand (an LMS upload), or in one of her own through the exchange. Collect and grade used to apply
different rules (collect replaced any secret another folder held, grade kept it for the first holder in
`submitted/` by change time, which a re-collect resets): alice's real fetch_feedback delivered mallory's feedback
or none. In every order alice now fetches no one's feedback but her own: her own when her secret was recorded as
hers before mallory sent it (or mallory's copy is a hand copy), none when both their inbound folders held it before
any collect recorded it (no one can tell who was first: F18; both get a fresh secret), and mallory's is filed under
a fresh secret.
The grading step here is grade's own (`carry_nbgrader_files`, as the worker calls it): no kernel is needed for it.

F18's three ways for a classmate who knows alice's secret to become its owner, all closed: (1) the race, mallory
rewriting her own secret file with alice's between collect's check of her folder (whose change time it records) and
its read of the secret; (2) the change time moved, alice's folder made by nbgrader's own submit being writable by
all (0777), mallory renaming alice's secret file away and back, after her own copy; (3) the ledger lost, a ledger
that could not be read being taken as empty and written over.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import lrcourse.grading.exchange.collect as collect_module
from lrcourse.cli import main as lrcourse_main
from lrcourse.grading.exchange.submission_secrets import (
    CONTESTED,
    HAND_COPY_CONTESTED,
    NOBODY,
    SECRET,
    SHARED_SECRET,
    LedgerUnreadable,
    digest,
    ledger_path,
    read_ledger,
)

from support.course import released
from support.secret_class import (
    COURSE_ID,
    TICK,
    alice_and_mallory,
    class_course,
    collected,
    fetched_pages,
    grade_and_release,
    hand_copy,
    mallory_sends,
)
from support.students import CHAPTER, needs_root


@pytest.fixture
def two_students():
    with alice_and_mallory() as both:
        yield both


ORDERS = ["hand-copy-before-collect", "hand-copy-then-re-collect", "exchange-only", "exchange-student-first"]
# two holders before any record (two inbound folders, or an inbound folder and another student's hand copy): no owner
CONTESTED_ORDERS = ("hand-copy-before-collect", "exchange-only", "exchange-student-first")


@needs_root
@pytest.mark.parametrize("order", [*ORDERS, "exchange-after-collect"])
def test_no_student_fetches_a_classmates_feedback_whoever_holds_her_secret(two_students, order):
    """F17: run 1 (the hand copy in submitted/ before collect: collect gave alice a fresh secret, grade kept hers
    for the copy; since F19 a secret new to the ledger that another student's hand copy holds is no one's, as two
    inbound holders' is: both get a fresh secret and the report), run 2 (collect, the hand copy, collect again: the re-run reset alice's change time and grade
    kept her secret for the copy): alice fetches her own page and only it. Mallory sending alice's secret through
    the exchange before any collect recorded it, also when mallory's is collected alone first (`--student`,
    formgrader's per-student Collect), makes it no one's (F18: which folder held it first cannot be told): both get a
    fresh secret and the report, and alice fetches nothing (not mallory's page). Sent after a collect recorded it
    (exchange-after-collect), it stays alice's. Mallory's feedback is always filed under a fresh secret."""
    scratch, students = two_students
    course, exchange = class_course(scratch)
    alice, mallory = students.name["alice"], students.name["mallory"]
    sent = students.submit("alice", released(course, CHAPTER), exchange)
    secret = (sent / SECRET).read_text()  # what mallory read in alice's inbound folder
    time.sleep(TICK)
    if order == "exchange-after-collect":
        collected(course, exchange)  # alice's secret recorded as hers
        time.sleep(TICK)
    if order == "hand-copy-before-collect":
        hand_copy(course, mallory, secret)
        result = collected(course, exchange)
        assert {"submission": sent.name, "reason": CONTESTED} in result.left_out, result.left_out
        assert {"submission": f"submitted/{mallory}/{CHAPTER}", "note": HAND_COPY_CONTESTED} in result.notes
    elif order == "hand-copy-then-re-collect":
        collected(course, exchange)
        time.sleep(TICK)
        hand_copy(course, mallory, secret)
        time.sleep(TICK)
        collected(course, exchange)  # an ordinary re-run (a late classmate): alice's folder written again
    else:
        mine = students.write_notebook("mallory", released(course, CHAPTER))
        inbound = exchange / COURSE_ID / "inbound"
        folder = f"{inbound}/{mallory}+{CHAPTER}+2026-01-01 00:00:00.000000 UTC+m"
        students.shell(
            "mallory", 'mkdir "$1" && cp "$2" "$1/" && printf %s "$3" > "$1/$4"', folder, str(mine), secret, SECRET
        )
        reason = CONTESTED if order in CONTESTED_ORDERS else SHARED_SECRET.format(alice)
        if order == "exchange-student-first":
            alone = collected(course, exchange, only=mallory)
            assert [row["student"] for row in alone.collected] == [mallory], alone
            assert {"submission": Path(folder).name, "reason": reason} in alone.left_out
        result = collected(course, exchange)
        assert sorted(row["student"] for row in result.collected) == sorted([alice, mallory]), result
        # exchange-student-first: the fresh one her collect alone gave her is kept (F22), which she cannot fetch: the
        # same note, not F23's EARLIER_KEPT (she never sent it: F24 W1)
        assert {"submission": Path(folder).name, "reason": reason} in result.left_out
        if order in CONTESTED_ORDERS:
            assert {"submission": sent.name, "reason": CONTESTED} in result.left_out, result.left_out
    contested = order in CONTESTED_ORDERS
    assert ((course / "submitted" / alice / CHAPTER / SECRET).read_text() == secret) is not contested
    assert read_ledger(course, CHAPTER)[digest(secret.encode())] == (NOBODY if contested else alice)
    notes = grade_and_release(course, exchange, [alice, mallory])
    # a hand copy is given a fresh secret by grade; mallory's exchange submission already had one from collect
    copied = CONTESTED if contested else SHARED_SECRET.format(alice)
    assert notes == {alice: "", mallory: "" if order.startswith("exchange") else copied}, notes
    assert (course / "feedback" / mallory / CHAPTER / SECRET).read_text() != secret
    assert fetched_pages(students, "alice", exchange) == ([] if contested else [f"FEEDBACK OF {alice}"])


NBGRADER_SUBMIT = "--ExchangeFactory.submit=nbgrader.exchange.default.submit.ExchangeSubmit"  # leaves 0777


@needs_root
def test_a_classmate_who_moves_the_secret_files_change_time_does_not_become_its_owner(two_students):
    """Alice submits with nbgrader's own submit (her folder 0777); mallory sends alice's secret, then renames alice's
    secret file away and back: its change time is now after her copy's. No one's folder can be told first: the
    secret goes to no one, both get a fresh one and the report, and alice fetches nothing (not mallory's page)."""
    scratch, students = two_students
    course, exchange = class_course(scratch)
    inbound = exchange / COURSE_ID / "inbound"
    inbound.chmod(0o3777)  # listable, as nbgrader's groupshared inbound is to the course's group (2773)
    alice = students.name["alice"]
    students.write_notebook("alice", released(course, CHAPTER))
    args = ("-m", "nbgrader", "submit", CHAPTER, "--course", COURSE_ID, f"--Exchange.root={exchange}", NBGRADER_SUBMIT)
    run = students.python("alice", *args)
    assert run.returncode == 0, run.stdout + run.stderr
    sent = next(path for path in inbound.iterdir() if path.name.startswith(f"{alice}+"))
    secret = (sent / SECRET).read_text()
    time.sleep(TICK)
    copy = mallory_sends(students, course, inbound, secret)
    time.sleep(TICK)
    students.shell("mallory", 'mv "$1/$2" "$1/.x" && mv "$1/.x" "$1/$2"', str(sent), SECRET)
    assert (sent / SECRET).stat().st_ctime_ns > (copy / SECRET).stat().st_ctime_ns  # the attack's precondition
    result = collected(course, exchange)
    assert read_ledger(course, CHAPTER)[digest(secret.encode())] == NOBODY
    for folder in (sent, copy):
        assert {"submission": folder.name, "reason": CONTESTED} in result.left_out, result.left_out
    assert (course / "submitted" / alice / CHAPTER / SECRET).read_text() != secret
    grade_and_release(course, exchange, [alice, students.name["mallory"]])
    assert fetched_pages(students, "alice", exchange) == []


@needs_root
def test_a_secret_rewritten_between_the_check_and_the_read_is_not_recorded(two_students, monkeypatch):
    """Mallory's folder holds a placeholder secret before alice submits; she rewrites it with alice's after collect
    checked her folder and before it reads the secret (the race, run as her at the start of `inbound_secret` for her
    folder). Her folder is refused as changed, and alice's secret stays alice's: alice fetches her own page."""
    scratch, students = two_students
    course, exchange = class_course(scratch)
    inbound = exchange / COURSE_ID / "inbound"
    alice, mallory = students.name["alice"], students.name["mallory"]
    folder = mallory_sends(students, course, inbound, "ab" * 64)
    time.sleep(TICK)
    secret = (students.submit("alice", released(course, CHAPTER), exchange) / SECRET).read_text()
    original = collect_module.inbound_secret
    raced = []

    def racing(inbound_fd, submission):
        if submission.student == mallory and not raced:
            students.shell("mallory", 'printf %s "$2" > "$1"', str(folder / SECRET), secret)
            raced.append(True)
        return original(inbound_fd, submission)

    monkeypatch.setattr(collect_module, "inbound_secret", racing)
    result = collected(course, exchange)
    assert raced and [row["student"] for row in result.collected] == [alice], result
    assert any(row["submission"] == folder.name and "changed" in row["reason"] for row in result.refused), result
    assert read_ledger(course, CHAPTER)[digest(secret.encode())] == alice
    assert (course / "submitted" / alice / CHAPTER / SECRET).read_text() == secret
    grade_and_release(course, exchange, [alice])
    assert fetched_pages(students, "alice", exchange) == [f"FEEDBACK OF {alice}"]


@needs_root
def test_a_ledger_that_cannot_be_read_stops_collect_and_grade(two_students, capsys):
    """The ledger damaged after alice's collect, mallory sends alice's secret: collect stops with the reason,
    nothing collected, the ledger as it was (never written over); `lrcourse grade` stops the same way."""
    scratch, students = two_students
    course, exchange = class_course(scratch)
    alice = students.name["alice"]
    secret = (students.submit("alice", released(course, CHAPTER), exchange) / SECRET).read_text()
    collected(course, exchange)
    damaged = b'{"cut short'
    ledger_path(course, CHAPTER).write_bytes(damaged)
    time.sleep(TICK)
    mallory_sends(students, course, exchange / COURSE_ID / "inbound", secret)
    with pytest.raises(LedgerUnreadable, match="cannot be read"):
        collected(course, exchange)
    assert ledger_path(course, CHAPTER).read_bytes() == damaged
    assert sorted(path.name for path in (course / "submitted").iterdir()) == [alice]
    status = lrcourse_main(["grade", CHAPTER, "--course", str(course), "--no-sandbox"])
    error = capsys.readouterr().err
    assert status == 2 and "lrcourse grade: the secret ledger" in error and "cannot be read" in error, error
    assert ledger_path(course, CHAPTER).read_bytes() == damaged
    assert not (course / "autograded").exists()


@needs_root
def test_collect_without_a_ledger_reports_the_folders_collected_before_it(two_students):
    """The ledger removed after a collect: the next collect says the secrets collected before it are not protected."""
    scratch, students = two_students
    course, exchange = class_course(scratch)
    students.submit("alice", released(course, CHAPTER), exchange)
    first = collected(course, exchange)
    assert not any("no secret ledger" in row["note"] for row in first.notes), first.notes
    ledger_path(course, CHAPTER).unlink()
    again = collected(course, exchange)
    assert any("no secret ledger" in row["note"] and "no recorded owner" in row["note"] for row in again.notes), again
