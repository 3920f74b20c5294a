"""The submission-secret ledger against F19's findings (issue 20), with real OS users and nbgrader's own exchange, as
test_secret_owners runs them (`support.secret_class`): a hand copy's secret that a classmate sends through the
exchange is no one's; a student whose secret was contested gets her feedback by submitting again; two ledger writers
or two collects at once lose nothing. And against F20's: a hand copy graded and released before the owner's collect
keeps no unrecorded secret. Fleet grading's side is test_fleet_secrets."""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import threading
import time

import pytest

import lrcourse.grading.exchange.collect as collect_module
from lrcourse.grading import intake
from lrcourse.grading.exchange.submission_secrets import (
    CONTESTED,
    EARLIER_KEPT,
    HAND_COPY_CONTESTED,
    NO_SECRET,
    NOBODY,
    SECRET,
    UNRECORDED,
    collect_note,
    digest,
    ledger_path,
    read_ledger,
    write_ledger,
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


@needs_root
def test_a_hand_copys_secret_sent_through_the_exchange_by_a_classmate_is_no_ones(two_students):
    """F19: a ledger exists (mallory's first submission collected); alice's upload, copied into submitted/ by hand,
    holds her secret; mallory sends it through the exchange. The secret is new to the ledger and two students hold
    it: who sent it first cannot be told, so it is recorded as no one's (it was recorded as mallory's, and alice was
    given a fresh one), both are told (collect: mallory's folder and alice's hand copy; grade: alice's), and neither
    feedback folder holds it."""
    scratch, students = two_students
    course, exchange = class_course(scratch)
    alice, mallory = students.name["alice"], students.name["mallory"]
    students.submit("mallory", released(course, CHAPTER), exchange)
    collected(course, exchange)
    assert ledger_path(course, CHAPTER).exists()
    secret = secrets.token_hex(64)  # the one alice's upload holds
    hand_copy(course, alice, secret)
    time.sleep(TICK)
    sent = mallory_sends(students, course, exchange / COURSE_ID / "inbound", secret)
    result = collected(course, exchange)
    assert [row["student"] for row in result.collected] == [mallory], result
    assert read_ledger(course, CHAPTER)[digest(secret.encode())] == NOBODY
    kept = collect_note({SECRET: secret.encode()}, mallory, NOBODY, earlier=True)  # her first secret, kept (F23)
    assert {"submission": sent.name, "reason": kept} in result.left_out, result.left_out
    assert {"submission": f"submitted/{alice}/{CHAPTER}", "note": HAND_COPY_CONTESTED} in result.notes, result.notes
    assert (course / "submitted" / mallory / CHAPTER / SECRET).read_text() != secret
    notes = grade_and_release(course, exchange, [alice, mallory])
    assert notes == {alice: CONTESTED, mallory: ""}, notes
    for student in (alice, mallory):
        assert (course / "feedback" / student / CHAPTER / SECRET).read_text() != secret


@needs_root
def test_a_student_whose_secret_was_contested_fetches_her_feedback_after_submitting_again(two_students):
    """What the notes tell a student without the exchange's feedback link: submit again. Mallory sends alice's secret
    before any collect: no one's. Alice submits again: nbgrader submit writes a new secret, collect records it as
    hers, and her own fetch_feedback brings her page."""
    scratch, students = two_students
    course, exchange = class_course(scratch)
    inbound = exchange / COURSE_ID / "inbound"
    alice = students.name["alice"]
    first = students.submit("alice", released(course, CHAPTER), exchange)
    secret = (first / SECRET).read_text()
    time.sleep(TICK)
    mallory_sends(students, course, inbound, secret)
    collected(course, exchange)
    assert read_ledger(course, CHAPTER)[digest(secret.encode())] == NOBODY
    before = set(inbound.iterdir())
    time.sleep(1.1)  # nbgrader's timestamp in the folder's name: a later one
    students.submit("alice", released(course, CHAPTER), exchange)
    (again,) = set(inbound.iterdir()) - before
    renewed = (again / SECRET).read_text()
    assert renewed != secret
    result = collected(course, exchange)
    assert {"student": alice, "submission": again.name} in [
        {key: row[key] for key in ("student", "submission")} for row in result.collected
    ], result.collected
    assert read_ledger(course, CHAPTER)[digest(renewed.encode())] == alice
    assert (course / "submitted" / alice / CHAPTER / SECRET).read_text() == renewed
    notes = grade_and_release(course, exchange, [alice])
    assert notes == {alice: ""}, notes
    assert fetched_pages(students, "alice", exchange) == [f"FEEDBACK OF {alice}"]


@needs_root
def test_a_hand_copy_graded_and_released_before_the_owners_collect_keeps_no_unrecorded_secret(two_students):
    """F20: alice submits through the exchange; mallory's folder, copied into submitted/ by hand, holds alice's
    secret, and is graded and released before alice's collect. Grade kept a secret no collect recorded for its only
    holder: mallory's page was filed under alice's secret, alice's collect then made it no one's, mallory's unchanged
    copy was not graded again, and alice's own fetch_feedback brought mallory's page. Now an unrecorded secret always
    gets a fresh one (UNRECORDED, saying the grade is unaffected and that a resubmission after the due date is
    late), and alice fetches nothing of mallory's."""
    scratch, students = two_students
    course, exchange = class_course(scratch)
    alice, mallory = students.name["alice"], students.name["mallory"]
    secret = (students.submit("alice", released(course, CHAPTER), exchange) / SECRET).read_text()
    hand_copy(course, mallory, secret)  # alice's secret, read in her inbound folder
    assert grade_and_release(course, exchange, [mallory]) == {mallory: UNRECORDED}
    assert (course / "feedback" / mallory / CHAPTER / SECRET).read_text() != secret
    assert "grade is unaffected" in UNRECORDED and "after the due date is late" in UNRECORDED
    assert "extension" in UNRECORDED
    time.sleep(TICK)
    result = collected(course, exchange)  # alice's: her secret, also in mallory's hand copy, is no one's
    assert read_ledger(course, CHAPTER)[digest(secret.encode())] == NOBODY
    assert [row["student"] for row in result.collected] == [alice], result
    assert grade_and_release(course, exchange, [alice]) == {alice: ""}  # mallory's unchanged copy: not graded again
    assert fetched_pages(students, "alice", exchange) == []


@needs_root
def test_each_secret_is_in_the_ledger_on_disk_before_its_folder_is_in_submitted(two_students, monkeypatch):
    """F21: collect wrote the ledger once, after moving every student's folder into submitted/: a grade in between
    found alice's secret recorded for no one (UNRECORDED), gave her a fresh one and, her folder unchanged, skipped her
    ever after. Now each student's secret is on disk, as hers, by the time her folder is in place."""
    scratch, students = two_students
    course, exchange = class_course(scratch)
    for role in ("alice", "mallory"):
        students.submit(role, released(course, CHAPTER), exchange)
    rows, owners = collect_module.superseded_rows, {}

    def then_read_the_ledger(student, older, kept):  # called as each student's folder is in place
        secret = (course / "submitted" / student / CHAPTER / SECRET).read_bytes()
        owners[student] = read_ledger(course, CHAPTER).get(digest(secret))
        return rows(student, older, kept)

    monkeypatch.setattr(collect_module, "superseded_rows", then_read_the_ledger)
    collected(course, exchange)
    assert owners == {name: name for name in (students.name["alice"], students.name["mallory"])}, owners


@needs_root
def test_a_folder_collected_before_the_ledger_gets_its_secret_back_as_the_notes_say(two_students):
    """F21: what UNRECORDED and collect's no-ledger note now advise for a course collected before the ledger: collect
    again (a secret still in its student's inbound folder alone is recorded as hers), then grade with --force (here:
    the graded folders removed), and her own fetch_feedback brings her page. They advised a resubmission, late after
    the due date."""
    scratch, students = two_students
    course, exchange = class_course(scratch)
    alice = students.name["alice"]
    students.submit("alice", released(course, CHAPTER), exchange)
    collected(course, exchange)
    shutil.rmtree(ledger_path(course, CHAPTER).parent)  # as if collected before any ledger
    assert grade_and_release(course, exchange, [alice]) == {alice: UNRECORDED}
    assert "collect again" in UNRECORDED and "--force" in UNRECORDED
    again = collected(course, exchange)
    assert any("--force" in row["note"] for row in again.notes), again.notes
    secret = (course / "submitted" / alice / CHAPTER / SECRET).read_bytes()
    assert read_ledger(course, CHAPTER)[digest(secret)] == alice
    for kind in ("autograded", "feedback"):
        shutil.rmtree(course / kind)
    assert grade_and_release(course, exchange, [alice]) == {alice: ""}
    assert fetched_pages(students, "alice", exchange) == [f"FEEDBACK OF {alice}"]


@needs_root
def test_a_student_given_a_fresh_secret_keeps_it_over_later_collects(two_students):
    """F22: mallory sends alice's secret before the first collect (no one's: alice gets a fresh one). Each later
    collect wrote yet another fresh one, so alice's unchanged submission changed every run: graded again each time,
    her hand-graded answers pending again, the ledger two entries longer. Now the fresh one given her is kept."""
    scratch, students = two_students
    course, exchange = class_course(scratch)
    alice = students.name["alice"]
    first = students.submit("alice", released(course, CHAPTER), exchange)
    time.sleep(TICK)
    mallory_sends(students, course, exchange / COURSE_ID / "inbound", (first / SECRET).read_text())
    folder = course / "submitted" / alice / CHAPTER
    seen = []
    for _ in range(3):
        collected(course, exchange)
        seen.append((intake.fingerprint(folder), (folder / SECRET).read_text(), len(read_ledger(course, CHAPTER))))
    assert seen[0][1] != (first / SECRET).read_text()  # a fresh one, hers
    assert read_ledger(course, CHAPTER)[digest(seen[0][1].encode())] == alice
    assert seen[1] == seen[0] and seen[2] == seen[0], seen


@needs_root
def test_a_student_whose_earlier_secret_is_kept_is_told_she_fetches_her_feedback(two_students):
    """F23 M1: alice's first submission collected (S1, hers); she submits again (S2) and mallory sends S2 before the
    collect. Collect keeps S1, hers (F22), but its note said a fresh one was written and that alice cannot fetch this
    feedback (grant an extension, or hand it over): needless. Now it says her earlier secret is kept and she fetches
    it, and she does."""
    scratch, students = two_students
    course, exchange = class_course(scratch)
    inbound = exchange / COURSE_ID / "inbound"
    alice = students.name["alice"]
    first = (students.submit("alice", released(course, CHAPTER), exchange) / SECRET).read_text()
    collected(course, exchange)
    time.sleep(1.1)  # nbgrader's timestamp in the folder's name: a later one
    before = set(inbound.iterdir())
    students.submit("alice", released(course, CHAPTER), exchange)
    (again,) = set(inbound.iterdir()) - before
    time.sleep(TICK)
    mallory_sends(students, course, inbound, (again / SECRET).read_text())
    result = collected(course, exchange)
    assert (course / "submitted" / alice / CHAPTER / SECRET).read_text() == first
    (note,) = [row["reason"] for row in result.left_out if row["submission"] == again.name]
    assert note.endswith(EARLIER_KEPT.format(SECRET)) and "cannot fetch" not in note, note
    assert grade_and_release(course, exchange, [alice]) == {alice: ""}
    assert fetched_pages(students, "alice", exchange) == [f"FEEDBACK OF {alice}"]


@needs_root
def test_a_kept_secret_that_collect_made_is_never_said_to_be_fetched(two_students):
    """F24 W1: alice's first secret S1 is contested (mallory sends it too): collect gives her a fresh F1, recorded as
    hers. She submits again (S2) and mallory sends S2 too: collect keeps F1 (F22), but said EARLIER_KEPT ("they
    fetch this feedback ... nothing needs doing"), and her fetch_feedback brought nothing (she never had F1). Now the
    note is the old one: she cannot fetch it, and what to do."""
    scratch, students = two_students
    course, exchange = class_course(scratch)
    inbound = exchange / COURSE_ID / "inbound"
    alice = students.name["alice"]
    first = (students.submit("alice", released(course, CHAPTER), exchange) / SECRET).read_text()
    time.sleep(TICK)
    mallory_sends(students, course, inbound, first)
    collected(course, exchange)
    made = (course / "submitted" / alice / CHAPTER / SECRET).read_text()
    assert made != first and read_ledger(course, CHAPTER)[digest(made.encode())] == alice
    time.sleep(1.1)  # nbgrader's timestamp in the folder's name: a later one
    before = set(inbound.iterdir())
    students.submit("alice", released(course, CHAPTER), exchange)
    (again,) = set(inbound.iterdir()) - before
    mine = students.write_notebook("mallory", released(course, CHAPTER))
    sent = inbound / f"{students.name['mallory']}+{CHAPTER}+2026-01-02 00:00:00.000000 UTC+m2"
    command = 'mkdir "$1" && cp "$2" "$1/" && printf %s "$3" > "$1/$4"'
    students.shell("mallory", command, str(sent), str(mine), (again / SECRET).read_text(), SECRET)
    result = collected(course, exchange)
    assert (course / "submitted" / alice / CHAPTER / SECRET).read_text() == made  # kept (F22)
    (note,) = [row["reason"] for row in result.left_out if row["submission"] == again.name]
    assert note == CONTESTED and "cannot fetch this feedback" in note, note
    assert grade_and_release(course, exchange, [alice]) == {alice: ""}
    assert fetched_pages(students, "alice", exchange) == []  # as the note says


def test_a_fresh_secret_keeps_the_note_that_says_the_student_cannot_fetch_it():
    """Where a fresh secret is written (no earlier one of hers kept), the notes are as before; where her earlier one
    is kept, each reason is said with EARLIER_KEPT."""
    usable = {SECRET: b"ab" * 64}
    assert collect_note({}, "alice", "alice", earlier=False) == NO_SECRET
    assert collect_note(usable, "alice", NOBODY, earlier=False) == CONTESTED
    assert collect_note(usable, "alice", "alice", earlier=True) is None
    for files, owner in (({}, "alice"), (usable, NOBODY), (usable, "mallory")):
        note = collect_note(files, "alice", owner, earlier=True)
        assert note.endswith(EARLIER_KEPT.format(SECRET)) and "cannot fetch" not in note, note


def test_two_ledger_writers_at_once_never_fail_and_leave_one_whole_ledger(tmp_path):
    """F19: write_ledger's fixed temporary name let one writer unlink the other's (FileNotFoundError, a traceback
    after submitted/ was rewritten). Eight threads writing 50 times each: no error, the ledger one writer's whole."""
    errors = []

    def writer(number: int) -> None:
        try:
            for _ in range(50):
                write_ledger(tmp_path, CHAPTER, {f"{number:02d}" * 32: f"student{number}"})
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ledger = read_ledger(tmp_path, CHAPTER)
    assert len(ledger) == 1 and list(ledger.values())[0].startswith("student"), ledger
    assert [path.name for path in ledger_path(tmp_path, CHAPTER).parent.iterdir()] == [f"{CHAPTER}.json"]


def test_the_ledger_is_on_disk_before_its_rename_and_the_rename_after(tmp_path, monkeypatch):
    """A power cut after the rename but before the text reached the disk left an empty ledger (every owner lost, so
    every secret UNRECORDED): the new text is synced before it is renamed over the ledger, the folder after."""
    import lrcourse.grading.exchange.submission_secrets as ledger_module

    events, sync, replace = [], os.fsync, os.replace

    def recorded_fsync(fd: int) -> None:
        seen = os.fstat(fd)
        events.append("folder" if stat.S_ISDIR(seen.st_mode) else f"file of {seen.st_size} bytes")
        sync(fd)

    monkeypatch.setattr(ledger_module.os, "fsync", recorded_fsync)
    monkeypatch.setattr(ledger_module.os, "replace", lambda *paths: (events.append("rename"), replace(*paths))[1])
    write_ledger(tmp_path, CHAPTER, {"ab" * 32: "alice"})
    size = ledger_path(tmp_path, CHAPTER).stat().st_size
    assert size > 0 and events == [f"file of {size} bytes", "rename", "folder"], events


@needs_root
def test_a_collect_waits_for_another_collect_of_the_chapter(two_students, monkeypatch):
    """Two collects at once each read the ledger, added their owners and wrote it whole: the last forgot the other's.
    A collect held mid-way (in its read of the ledger, alice's folder listed) keeps a second one (mallory's folder
    there too) waiting until it ends: both owners recorded (without the wait, the first's write dropped mallory's)."""
    scratch, students = two_students
    course, exchange = class_course(scratch)
    alice, mallory = students.name["alice"], students.name["mallory"]
    alices = (students.submit("alice", released(course, CHAPTER), exchange) / SECRET).read_text()
    entered, release = threading.Event(), threading.Event()
    original = collect_module.read_ledger

    def held(course_folder, assignment):
        if threading.current_thread().name == "first":
            entered.set()
            release.wait(60)
        return original(course_folder, assignment)

    monkeypatch.setattr(collect_module, "read_ledger", held)
    done = {}
    first = threading.Thread(target=lambda: done.setdefault("first", collected(course, exchange)))
    first.name = "first"
    first.start()
    assert entered.wait(60)
    mallorys = (students.submit("mallory", released(course, CHAPTER), exchange) / SECRET).read_text()
    second = threading.Thread(target=lambda: done.setdefault("second", collected(course, exchange)))
    second.start()
    second.join(2)
    assert second.is_alive() and "second" not in done  # waiting for the first
    release.set()
    first.join(120)
    second.join(120)
    assert set(done) == {"first", "second"}
    ledger = read_ledger(course, CHAPTER)
    assert ledger[digest(alices.encode())] == alice and ledger[digest(mallorys.encode())] == mallory, ledger
