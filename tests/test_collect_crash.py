"""What collect does when the ledger's disk is full, and what a collect killed midway leaves for the next (F23,
issue 20): a ledger that cannot be written is a refusal with its reason (exit status 2, nothing moved), not a
traceback, and the reason says truly whether the new ledger is in place (G16); a folder left as `.replaced` between
`_write`'s two renames is put back, and `lrcourse grade` names its student until then (G16); the ledger's temporary
files a killed writer left are removed."""

from __future__ import annotations

import errno
import os
import stat

import pytest

import lrcourse.grading.exchange.inbound_folder as inbound_folder_module
import lrcourse.grading.exchange.ledger_folder as ledger_folder_module
import lrcourse.grading.exchange.submission_secrets as ledger_module
from lrcourse.cli import main as lrcourse_main
from lrcourse.grading.exchange.collect import collect
from lrcourse.grading.exchange.inbound import user_name
from lrcourse.grading.exchange.ledger_folder import LEDGER
from lrcourse.grading.exchange.submission_secrets import (
    SECRET,
    LedgerUnwritable,
    ledger_path,
    read_ledger,
    write_ledger,
)
from lrcourse.grading.intake import take_in

from support.course import make_course
from support.inbound_folders import CHAPTER, FILE, HONEST, exchange_course, inbound_folder


def full_disk(fd: int) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_ledger_that_cannot_be_written_is_a_refusal_with_the_reason(tmp_path, monkeypatch, capsys):
    """F23 N1: the ledger's file system full, `lrcourse collect` printed an OSError traceback (exit status 3, "a
    fault of collect's"). Now: the reason, exit status 2, nothing moved into submitted/, no temporary file left."""
    course, exchange = exchange_course(tmp_path)
    inbound_folder(exchange.inbound)
    monkeypatch.setattr(inbound_folder_module, "exchange_of", lambda course: exchange)
    monkeypatch.setattr(ledger_module.os, "fsync", full_disk)
    status = lrcourse_main(["collect", CHAPTER, "--course", str(course)])
    said = capsys.readouterr()
    assert status == 2, said
    assert "Traceback" not in said.err and f"the secret ledger {ledger_path(course, CHAPTER)} cannot be written" in (
        said.err
    ), said.err
    assert "No space left on device" in said.err and "collect record" not in said.out
    assert not (course / "submitted").exists() or list((course / "submitted").iterdir()) == []
    assert sorted(path.name for path in (course / LEDGER).iterdir()) == [f"{CHAPTER}.lock"]


def test_a_ledger_that_cannot_be_written_at_a_students_write_refuses_her_with_the_reason(tmp_path, monkeypatch):
    """The same at her own write (a fresh secret for an unusable one, recorded as hers before her folder moves in):
    that student is refused with the ledger's reason (it read 'a fault of lrcourse collect's'), nothing of hers in
    submitted/."""
    course, exchange = exchange_course(tmp_path)
    folder, name = inbound_folder(exchange.inbound)
    (folder / SECRET).write_text("not a secret nbgrader writes")
    monkeypatch.setattr(ledger_module.os, "fsync", full_disk)
    result = collect(course, CHAPTER, exchange)
    assert result.collected == [] and [row["submission"] for row in result.refused] == [name], result
    reason = result.refused[0]["reason"]
    assert reason.startswith(f"the secret ledger {ledger_path(course, CHAPTER)} cannot be written (No space"), reason
    assert not (course / "submitted" / user_name(os.geteuid()) / CHAPTER).exists()


def test_a_ledger_whose_folder_cannot_be_synced_is_said_to_be_in_place(tmp_path, monkeypatch):
    """G16 (4): the folder's fsync failing after the rename, the refusal said the ledger "is left as it was" while
    the new one was in place. Now it says so, and the ledger on disk is the new one; the file's fsync failing (before
    the rename) still says "left as it was", the old one on disk."""
    course, _ = exchange_course(tmp_path)
    write_ledger(course, CHAPTER, {"ab" * 32: "alice"})
    real_fsync = os.fsync

    def folder_full(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            full_disk(fd)
        real_fsync(fd)

    monkeypatch.setattr(ledger_module.os, "fsync", folder_full)
    with pytest.raises(LedgerUnwritable) as refusal:
        write_ledger(course, CHAPTER, {"ab" * 32: "alice", "cd" * 32: "bob"})
    said = str(refusal.value)
    assert "left as it was" not in said and "the new ledger is in place" in said, said
    assert read_ledger(course, CHAPTER) == {"ab" * 32: "alice", "cd" * 32: "bob"}
    monkeypatch.setattr(ledger_module.os, "fsync", full_disk)
    with pytest.raises(LedgerUnwritable, match="cannot be written \\(No space left on device\\): it is left as it was"):
        write_ledger(course, CHAPTER, {})
    assert read_ledger(course, CHAPTER) == {"ab" * 32: "alice", "cd" * 32: "bob"}
    assert not list((course / LEDGER).glob("*.writing"))


def test_a_folder_a_killed_collect_left_as_replaced_is_put_back(tmp_path):
    """F23 M3: killed between `_write`'s two renames, the student's folder was `.replaced` (the old) and
    `.collecting` (the new): none in submitted/, and `lrcourse grade` skipped her. The next collect puts the old one
    back and notes it, even when it collects nothing of hers now (her inbound folder gone)."""
    course, exchange = exchange_course(tmp_path)
    folder, _ = inbound_folder(exchange.inbound)
    collect(course, CHAPTER, exchange)
    student = course / "submitted" / user_name(os.geteuid())
    secret = (student / CHAPTER / SECRET).read_bytes()
    (student / CHAPTER).rename(student / f".{CHAPTER}.replaced")  # as the kill left it
    (student / f".{CHAPTER}.collecting").mkdir()
    for name in os.listdir(folder):
        (folder / name).unlink()
    folder.rmdir()
    result = collect(course, CHAPTER, exchange)
    assert sorted(os.listdir(student)) == [CHAPTER], os.listdir(student)
    assert (student / CHAPTER / SECRET).read_bytes() == secret and (student / CHAPTER / FILE).read_text() == HONEST
    assert [row["submission"] for row in result.notes if "put back" in row["note"]] == [
        f"submitted/{student.name}/{CHAPTER}"
    ], result.notes


def test_a_replaced_folder_beside_its_folder_is_not_put_back(tmp_path):
    """Where the folder is in place (a .replaced beside it from elsewhere), nothing is renamed over it."""
    course, exchange = exchange_course(tmp_path)
    inbound_folder(exchange.inbound)
    collect(course, CHAPTER, exchange)
    student = course / "submitted" / user_name(os.geteuid())
    (student / f".{CHAPTER}.replaced").mkdir()
    result = collect(course, CHAPTER, exchange)
    assert (student / CHAPTER / FILE).read_text() == HONEST
    assert not [row for row in result.notes if "put back" in row["note"]], result.notes


def test_the_ledgers_temporary_files_a_killed_writer_left_are_removed_by_the_next_collect(tmp_path):
    """F23 N2: a SIGKILL in `write_ledger` left `.<chapter>.<random>.writing` for good. The next collect of the
    chapter (which holds its lock: no one else is writing) removes them; another chapter's are left."""
    course, exchange = exchange_course(tmp_path)
    write_ledger(course, CHAPTER, {"ab" * 32: "alice"})
    for name in (f".{CHAPTER}.k1l2.writing", f".{CHAPTER}.m3n4.writing", ".other_chapter.k1l2.writing"):
        (course / LEDGER / name).write_text('{"half')
    inbound_folder(exchange.inbound)
    collect(course, CHAPTER, exchange)
    left = sorted(path.name for path in (course / LEDGER).iterdir())
    assert left == [".other_chapter.k1l2.writing", f"{CHAPTER}.json", f"{CHAPTER}.lock"], left
    assert read_ledger(course, CHAPTER)["ab" * 32] == "alice" and len(read_ledger(course, CHAPTER)) == 2


def test_grade_names_a_student_a_killed_collect_left_as_replaced_and_keeps_her_earlier_result(tmp_path, capsys):
    """G16 (1): a student left only as `submitted/<id>/.<chapter>.replaced` (a collect killed between its renames)
    was skipped by `lrcourse grade` without a word until the next collect. Now she is named, failed with the reason
    and the remedy (collect again), the exit status 1, that copy not graded, and her earlier feedback kept."""
    course = make_course(tmp_path / "course", [CHAPTER])
    leftover = course / "submitted" / "alice" / f".{CHAPTER}.replaced"
    leftover.mkdir(parents=True)
    (leftover / FILE).write_text(HONEST)
    feedback = course / "feedback" / "alice" / CHAPTER
    feedback.mkdir(parents=True)
    (feedback / "earlier.html").write_text("her earlier submission's feedback")
    status = lrcourse_main(["grade", CHAPTER, "--course", str(course), "--no-sandbox"])
    said = capsys.readouterr().out
    assert status == 1, said
    row = next(line for line in said.splitlines() if line.split()[:2] == ["alice", "failed"])
    assert f"submitted/alice/.{CHAPTER}.replaced" in row and f"run `lrcourse collect {CHAPTER}` again" in row, said
    assert "0 graded, 0 unchanged (skipped), 1 failed" in said, said
    assert (feedback / "earlier.html").read_text() == "her earlier submission's feedback"
    assert not (course / "autograded" / "alice").exists()  # the old copy is not graded as if current
    assert "alice" in (course / "reports" / f"{CHAPTER}.csv").read_text()


def test_a_replaced_copy_beside_its_folder_is_graded_as_usual_by_intake(tmp_path):
    """With `<chapter>` in place (a .replaced beside it: killed after the second rename), the student is taken in
    as usual, and not named as awaiting a collect."""
    folder = tmp_path / "submitted" / "bob" / CHAPTER
    folder.mkdir(parents=True)
    (folder / FILE).write_text(HONEST)
    (folder.parent / f".{CHAPTER}.replaced").mkdir()
    outcomes, todo = take_in(tmp_path, CHAPTER, force=False)
    assert outcomes == [] and [student for student, _ in todo] == ["bob"], (outcomes, todo)


def test_a_collect_lock_that_cannot_be_created_for_want_of_room_says_so(tmp_path, monkeypatch, capsys):
    """F24 N1: no free inode where the ledger lives, the first collect of a chapter could not create its lock, and the
    refusal said a student could have planted it ("remove it ... or chown it"). Now: the disk's reason, exit 2."""
    course, exchange = exchange_course(tmp_path)
    inbound_folder(exchange.inbound)
    monkeypatch.setattr(inbound_folder_module, "exchange_of", lambda course: exchange)
    real_open = os.open

    def no_inode(path, *args, **options):
        if str(path).endswith(".lock"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_open(path, *args, **options)

    monkeypatch.setattr(ledger_folder_module.os, "open", no_inode)
    status = lrcourse_main(["collect", CHAPTER, "--course", str(course)])
    said = capsys.readouterr().err
    assert status == 2 and "Traceback" not in said, said
    lock = course / LEDGER / f"{CHAPTER}.lock"
    assert f"the collect lock {lock} cannot be created (No space left on device): nothing collected" in said, said
    assert "planted" not in said and "chown" not in said, said
    assert not (course / "submitted").exists()
