"""nbgrader's list with --remove --inbound, as the course's nbgrader_config.py sets it (TrustedList,
lrcourse/grading/exchange/nbgrader_list.py): a student's entry in inbound/ that is not a submission folder (a link, a
file, a FIFO), or one this user cannot remove, is skipped with its reason; the classmates' submissions are removed
(R20e2 N2: a link stopped root's removal for the class, a FIFO hung it)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import stat
import tempfile
from pathlib import Path

import pytest
from nbgrader.exchange.abc.exchange import ExchangeError

from support.exchange_apps import CHAPTER, COURSE_ID, exchange_app
from support.other_uid import as_user

WHEN = "2026-12-06 12:00:00.000000 UTC+abcdefghijkl"
STUDENTS = {"alice": 54330, "bob": 54331, "zoe": 54332, "mallory": 54321}  # uids, no accounts


def remove_inbound(exchange: Path):
    """`nbgrader list --remove --inbound <chapter>`, run in this process as nbgrader's list app runs it."""
    return lister(exchange).start()


def removal_keeps(exchange: Path, kept: int) -> None:
    """`remove_inbound`, which removes the rest and then fails (exit status 1) naming how many entries it kept."""
    with pytest.raises(ExchangeError, match=f"lrcourse unrelease: {kept} inbound entries not removed"):
        remove_inbound(exchange)


def lister(exchange: Path):
    """nbgrader's list with remove and inbound, as the course's configuration makes it (made in this process)."""
    return exchange_app("list", exchange, inbound=True)


def inbound_with(exchange: Path, students: tuple[str, ...], owner: int = 0) -> Path:
    """The exchange's course and inbound folders (3733, `owner`'s), a submission folder per student holding a notebook."""
    inbound = exchange / COURSE_ID / "inbound"
    inbound.mkdir(parents=True)
    (exchange / COURSE_ID).chmod(0o755)
    os.chown(inbound, owner, owner)
    inbound.chmod(0o3733)
    for student in students:
        folder = inbound / f"{student}+{CHAPTER}+{WHEN}"
        folder.mkdir()
        (folder / "notebook.ipynb").write_text("{}")
        (folder / "sub").mkdir()
        os.mkfifo(folder / "sub" / "pipe")  # removed, never opened
        for path in (folder, folder / "sub", folder / "notebook.ipynb", folder / "sub" / "pipe"):
            os.chown(path, STUDENTS[student], STUDENTS[student], follow_symlinks=False)  # hers, as submit makes it
    return inbound


@pytest.fixture(autouse=True)
def students_accounts(monkeypatch):
    """The students' accounts by uid (`STUDENTS`), as the removal looks up a submission folder's owner (no OS
    account is made: the uids are named here)."""
    from lrcourse.grading.exchange import nbgrader_list

    names = {uid: name for name, uid in STUDENTS.items()}
    named = lambda uid, owners: names.get(uid, f"uid {uid}")  # noqa: E731
    monkeypatch.setattr(nbgrader_list, "owner_name", named)
    monkeypatch.setattr("lrcourse.grading.exchange.inbound.owner_name", named)  # collect's rule, which it calls


def no_hang(seconds: int):
    """Fail the test instead of hanging it (a FIFO opened for reading blocks until a writer comes)."""

    def stop(signum, frame):
        raise TimeoutError(f"still removing after {seconds} s: a FIFO was opened")

    signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)


@pytest.fixture
def exchange():
    scratch = Path(tempfile.mkdtemp(prefix="lrcourse-inbound-"))  # not in pytest's 0700 tmp: other uids enter it
    scratch.chmod(0o755)
    (scratch / "exchange").mkdir()
    (scratch / "exchange").chmod(0o1777)
    yield scratch / "exchange"
    signal.alarm(0)
    shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.parametrize("kind", ["link", "file", "fifo"])
def test_an_entry_that_is_not_a_folder_is_skipped_and_the_class_removed(exchange, caplog, kind):
    """R20e2 N2: `mallory+ch1+...` in inbound/ as a link to a root-only folder, a file or a FIFO: nbgrader's removal
    stopped there (`Cannot call rmtree on a symbolic link`, `Not a directory`) or hung (the FIFO opened), leaving the
    submissions after it. Now skipped with the reason, the link's target untouched, every classmate's removed."""
    inbound = inbound_with(exchange, ("alice", "bob", "zoe"))
    victim = exchange.parent / "victim"
    (victim / "keep").mkdir(parents=True)
    victim.chmod(0o700)
    bad = inbound / f"mallory+{CHAPTER}+{WHEN}"
    if kind == "link":
        bad.symlink_to(victim)
    elif kind == "file":
        bad.write_text("x")
    else:
        os.mkfifo(bad)
    no_hang(20)
    with caplog.at_level(logging.WARNING):
        removal_keeps(exchange, 1)
    assert [p.name for p in inbound.iterdir()] == [bad.name]
    assert (victim / "keep").is_dir() and stat.S_IMODE(victim.stat().st_mode) == 0o700
    said = " ".join(record.getMessage() for record in caplog.records)
    what = {"link": "a symbolic link", "file": "a file", "fifo": "a FIFO"}[kind]
    assert f"Skipping {str(bad)!r}: {what}" in said, said


def test_a_students_entry_name_is_printed_escaped(exchange, caplog):
    """R20h2 N4: "Skipping" and "Not removed" printed a student's entry name raw: a newline in it forged a log line
    of the list app's, a terminal escape reached the instructor's terminal. Now escaped, as collect's summary; and
    R20j2 N1: nbgrader's own lines (the listing, "No notebooks found in") printed it raw: an entry not named as
    nbgrader names a submission is now skipped before them, whether listed or removed."""
    inbound = inbound_with(exchange, ("alice",))
    forged = f"mallory+{CHAPTER}+x\n[ListApp | INFO] forged\x1b[31m+"
    (inbound / f"{forged}link").symlink_to(exchange.parent)
    (inbound / f"{forged}folder").mkdir()  # no notebook in it: nbgrader's "No notebooks found in" named it
    deep = inbound / f"mallory+{CHAPTER}+2026-12-06 12:00:01.000000 UTC"
    (deep / "/".join(["d"] * 40)).mkdir(parents=True)  # nested deeper than the removal goes: not removed
    for folder, _, _ in os.walk(deep):
        os.chown(folder, STUDENTS["mallory"], STUDENTS["mallory"])  # hers: the removal goes into it
    no_hang(20)
    for assignment in (CHAPTER, None):  # a chapter named, then none (every chapter: nbgrader globs `*`, r20b W3)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            with pytest.raises(ExchangeError, match="lrcourse unrelease: 3 inbound entries not removed"):
                exchange_app("list", exchange, inbound=True, assignment=assignment).start()
        said = "\n".join(record.getMessage() for record in caplog.records)  # nbgrader's lines too
        assert "\x1b" not in said and "\n[ListApp" not in said, said
        for entry in ("link", "folder"):
            assert f"Skipping {str(inbound / (forged + entry))!r}: the folder's name holds characters" in said, said
        assert f"Not removed (or not wholly): {str(deep)!r}: 'd': folders nested deeper than 32" in said, said
    shutil.rmtree(deep)


def test_with_no_chapter_named_a_forged_or_globbing_chapter_part_is_skipped(exchange, caplog):
    """r20b W3, W4: with no chapter named the name's own chapter part went unchecked: a CR or a terminal escape there
    forged nbgrader's "No notebooks found in" line, and a `*` made nbgrader's notebook glob reach a sibling folder's
    files. Each is now skipped by the name rule; the class is removed."""
    inbound = inbound_with(exchange, ("alice",))
    names = [f"mallory+{part}+{WHEN}" for part in ("ch1\r[ListApp | INFO] bob ch1", "c*", "ch\x1b[2J")]
    for name in names:
        (inbound / name).mkdir()
        os.chown(inbound / name, STUDENTS["mallory"], STUDENTS["mallory"])
    no_hang(20)
    with caplog.at_level(logging.INFO):
        with pytest.raises(
            ExchangeError, match=r"lrcourse unrelease: 3 inbound entries not removed \(the reasons above\); 1 removed"
        ):
            exchange_app("list", exchange, inbound=True, assignment=None).start()
    said = "\n".join(record.getMessage() for record in caplog.records)
    assert "\r" not in said and "\x1b" not in said, said
    for name in names:
        assert f"Skipping {str(inbound / name)!r}: the folder's assignment part " in said, said
    assert sorted(p.name for p in inbound.iterdir()) == sorted(names)  # alice's removed, none of these


def test_the_inbound_listing_is_refused_with_where_to_look_instead(exchange):
    """R20a N6, r20b W1, W2, W4: nbgrader's listing of inbound/ reads each submission's secret and notebooks by path,
    whole: a student's empty, mode-000 or sparse 8 GiB secret, or a FIFO as a notebook, stopped, exhausted or hung the
    instructor's `nbgrader list --inbound`. It is refused, pointing to the collect record, before anything is read."""
    inbound_with(exchange, ("alice",))
    with pytest.raises(ExchangeError, match=r"not used with this course: .* reports/collect-<chapter>\.json"):
        exchange_app("list", exchange, inbound=True, remove=False).start()


@pytest.mark.skipif(os.geteuid() != 0, reason="owning as another uid needs root")
def test_a_folder_of_another_owner_in_a_submission_is_not_gone_into(exchange, caplog):
    """R20h2 N1: a student moved root's folder `pub` (0777, in a folder everyone may write in) into her submission
    folder; root's removal went into it and deleted `pub/rootonly/f`, which she could not delete herself. Now a folder
    not the submission folder's owner's is neither gone into nor emptied: reported, and her submission kept."""
    inbound = inbound_with(exchange, ("alice", "mallory"))
    folder = inbound / f"mallory+{CHAPTER}+{WHEN}"
    (folder / "sub" / "pub" / "rootonly").mkdir(parents=True)  # root's, as the test runs
    (folder / "sub" / "pub" / "rootonly" / "f").write_text("root's")
    no_hang(20)
    with caplog.at_level(logging.WARNING):
        removal_keeps(exchange, 1)
    assert (folder / "sub" / "pub" / "rootonly" / "f").read_text() == "root's"
    assert [p.name for p in inbound.iterdir()] == [folder.name]  # alice's removed
    said = " ".join(record.getMessage() for record in caplog.records)
    assert f"Not removed (or not wholly): {str(folder)!r}: 'pub': a folder of " in said, said
    assert "in a submission folder of mallory, not gone into" in said, said  # named, as collect names (R20a N5)
    shutil.rmtree(folder)


def test_a_folder_swapped_for_a_fifo_after_its_check_is_not_opened(exchange):
    """A student who swaps her submission folder for a FIFO between the listing and the removal: the removal opens
    only a folder (O_DIRECTORY, without following a link), and only the one it checked, so it does not hang."""
    from lrcourse.grading.exchange.nbgrader_list import remove_folder

    inbound = inbound_with(exchange, ("mallory",))
    folder = inbound / f"mallory+{CHAPTER}+{WHEN}"
    seen = folder.lstat()
    folder.rename(inbound / "aside")  # kept: its inode is not reused by the folder made below
    os.mkfifo(folder)
    no_hang(20)
    parent = os.open(inbound, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError, match="Not a directory"):
            remove_folder(parent, folder.name, seen)
        assert stat.S_ISFIFO(folder.lstat().st_mode)  # left as it is
        folder.unlink()
        folder.mkdir()
        with pytest.raises(OSError, match="was replaced"):
            remove_folder(parent, folder.name, seen)  # another folder now: not the one checked
    finally:
        os.close(parent)


@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")
def test_a_non_root_graders_removal_skips_what_it_cannot_remove(exchange):
    """README's hub set-up: the grader account (4242) owns inbound/. A student's folder of the course's submit (0755,
    hers) it cannot empty: that one is reported and kept (nbgrader's rmtree stopped the class there with
    PermissionError); one of nbgrader's own submit (0777) is removed, as are the others after it."""
    inbound = inbound_with(exchange, ("alice", "bob"), owner=4242)
    for student, mode in (("alice", 0o755), ("bob", 0o777)):
        folder = inbound / f"{student}+{CHAPTER}+{WHEN}"
        (folder / "sub").chmod(mode)
        folder.chmod(mode)
    said = as_user(4242, lister(exchange).start)
    assert said.startswith("ExchangeError: lrcourse unrelease: 1 inbound entries not removed"), said
    assert [p.name for p in inbound.iterdir()] == [f"alice+{CHAPTER}+{WHEN}"]


def test_removing_from_an_inbound_folder_not_made_yet_removes_nothing_and_succeeds(exchange):
    """No release yet, so no inbound folder: nothing to remove, no failure (as nbgrader's own removal)."""
    (exchange / COURSE_ID).mkdir(mode=0o755)
    assert remove_inbound(exchange) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="owning as another uid needs root")
@pytest.mark.parametrize(
    ("claimed", "owner", "why"),
    [
        ("mallory", "alice", "owned by alice, not by mallory"),
        ("mallory", "root", "owned by uid 0, not by a student"),
        ("root", "root", "owned by uid 0, not by a student"),
    ],
)
def test_a_folder_not_the_claimed_students_own_is_not_gone_into(exchange, caplog, claimed, owner, why):
    """R20i2 M1: root's folder `pub2` (0777, in a folder everyone may write in) renamed by a student into inbound/ as
    `mallory+ch1+...` was emptied by root's removal (the owner rule compared folders with that top folder's owner);
    R20j2 M1: so was one renamed `root+ch1+...` (its owner the one its name claims). A submission folder not owned by
    the student its name claims (collect's rule), or owned by root, is not gone into: reported, kept."""
    inbound = inbound_with(exchange, ("bob",))
    folder = inbound / f"{claimed}+{CHAPTER}+{WHEN}"
    (folder / "keep").mkdir(parents=True)
    (folder / "keep" / "f").write_text("kept")
    if owner != "root":
        for path in (folder, folder / "keep", folder / "keep" / "f"):
            os.chown(path, STUDENTS[owner], STUDENTS[owner])
    no_hang(20)
    with caplog.at_level(logging.INFO):
        removal_keeps(exchange, 1)
    listed = [record.getMessage() for record in caplog.records if record.levelno == logging.INFO]
    assert any(f" bob {CHAPTER} " in line for line in listed), listed
    assert not any(f" {claimed} {CHAPTER} " in line for line in listed), listed  # r20c N2: not listed as hers
    assert (folder / "keep" / "f").read_text() == "kept"
    assert [p.name for p in inbound.iterdir()] == [folder.name]  # bob's removed
    said = " ".join(record.getMessage() for record in caplog.records)
    assert f"{str(folder)!r}: the submission folder is {why}: not gone into" in said, said
    shutil.rmtree(folder)


def test_a_pattern_for_the_chapter_is_refused_before_anything_is_removed(exchange):
    """r20c N1: `nbgrader list --remove --inbound '01_*'` skipped every entry blaming "the folder's assignment part"
    and said "the others were" removed when none was. A chapter that is not one name is refused, nothing removed."""
    inbound = inbound_with(exchange, ("alice",))
    with pytest.raises(ExchangeError, match=r"'c\*' is not one chapter's name .* Nothing was removed"):
        exchange_app("list", exchange, inbound=True, assignment="c*").start()
    assert [p.name for p in inbound.iterdir()] == [f"alice+{CHAPTER}+{WHEN}"]


@pytest.mark.parametrize("student", ["a?ice", "*lice", "[a]lice", "alice*"])
def test_a_pattern_for_the_student_is_refused_before_anything_is_removed(exchange, student):
    """r20d N1: `nbgrader list --remove --inbound <chapter> --student 'r20d?l'` globbed, removing alice's folder
    (`'*'`, nbgrader's default, is every student's). A student who is not one id is refused, as a chapter pattern
    is; one id removes that student's folders alone."""
    inbound = inbound_with(exchange, ("alice", "bob"))
    names = sorted(p.name for p in inbound.iterdir())
    with pytest.raises(ExchangeError, match=rf"{re.escape(repr(student))} is not one student's id .* Nothing was"):
        exchange_app("list", exchange, inbound=True, student=student).start()
    assert sorted(p.name for p in inbound.iterdir()) == names
    exchange_app("list", exchange, inbound=True, student="alice").start()
    assert [p.name for p in inbound.iterdir()] == [f"bob+{CHAPTER}+{WHEN}"]
