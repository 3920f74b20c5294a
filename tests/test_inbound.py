"""`lrcourse collect`'s checks of one submission at a time, with this process's own user (no OS users, no grading):
links, special files and unexpected files in a submission, strays, the submission secret, folder names and times.
test_inbound_exchange.py checks collect on a whole exchange (links to it, submitted/, the command, nbgrader's)."""

from __future__ import annotations

import datetime
import grp
import os
import pwd
import re
import stat
import time
import warnings
from pathlib import Path

import pytest

from lrcourse.grading.exchange import inbound, submission_secrets
from lrcourse.grading.exchange.collect import collect, summary
from lrcourse.grading.exchange.inbound import Refused, check_submission, claimed, user_name
from lrcourse.grading.exchange.inbound_folder import Exchange, ExchangeUnusable
from lrcourse.grading.exchange.submission_secrets import NOBODY, SECRET, SHARED_SECRET, digest, write_ledger

from support.inbound_folders import CHAPTER, FILE, HONEST, exchange_course, inbound_folder, read_inbound


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def test_an_exchange_that_cannot_tell_students_apart_is_refused(tmp_path):
    """Every folder owned by one uid (a hub whose pods share one): no folder name can be trusted."""
    (tmp_path / "source" / CHAPTER).mkdir(parents=True)
    (tmp_path / "source" / CHAPTER / FILE).write_text("{}")
    inbound = tmp_path / "exchange" / "lr-schedules" / "inbound"
    for student in ("alice", "bob"):
        (inbound / f"{student}+{CHAPTER}+2026-01-01 00:00:00.000000 UTC+x").mkdir(parents=True)
    with pytest.raises(ExchangeUnusable, match="cannot tell students apart") as refused:
        collect(tmp_path, CHAPTER, Exchange(tmp_path / "exchange", "lr-schedules"))
    assert not (tmp_path / "submitted").exists()
    # before a second student submits, one student forging two classmates looks the same: say so, and what to do
    me = user_name(os.geteuid())
    assert f"may instead be {me}'s forgeries in classmates' names" in str(refused.value)
    assert f"remove the forgeries as root ({me}'s folders, which you may not be able to empty)" in str(refused.value)
    assert "or collect again once other students have submitted" in str(refused.value)


def test_a_folder_named_after_the_shared_user_does_not_hide_that_students_cannot_be_told_apart(tmp_path):
    """Every folder owned by one uid, one of them named after that user (jovyan+... on a hub): still refused."""
    (tmp_path / "source" / CHAPTER).mkdir(parents=True)
    (tmp_path / "source" / CHAPTER / FILE).write_text("{}")
    inbound = tmp_path / "exchange" / "lr-schedules" / "inbound"
    for student in (user_name(os.geteuid()), "alice", "bob"):
        (inbound / f"{student}+{CHAPTER}+2026-01-01 00:00:00.000000 UTC+x").mkdir(parents=True)
    with pytest.raises(ExchangeUnusable, match="cannot tell students apart"):
        collect(tmp_path, CHAPTER, Exchange(tmp_path / "exchange", "lr-schedules"))
    assert not (tmp_path / "submitted").exists()


def test_one_student_forging_classmates_does_not_stop_the_exchange(tmp_path):
    """Every folder owned by one user who is one of the students named: forgeries, refused one by one."""
    (tmp_path / "source" / CHAPTER).mkdir(parents=True)
    (tmp_path / "source" / CHAPTER / FILE).write_text("{}")
    inbound = tmp_path / "exchange" / "lr-schedules" / "inbound"
    me = user_name(os.geteuid())
    for student in (me, "alice"):
        (inbound / f"{student}+{CHAPTER}+2026-01-01 00:00:00.000000 UTC+x").mkdir(parents=True)
    result = collect(tmp_path, CHAPTER, Exchange(tmp_path / "exchange", "lr-schedules"))
    reasons = {row["submission"].split("+")[0]: row["reason"] for row in result.refused}
    assert not result.collected and "no notebook of the assignment" in reasons[me], reasons
    assert "no OS user is named 'alice'" in reasons["alice"] or f"owned by {me}, not by alice" in reasons["alice"]


TRAPS = {  # what a submission folder holds in the notebook's place -> the reason it is refused
    "symlink": (lambda f: (f / FILE).unlink() or (f / FILE).symlink_to("/etc/passwd"), "is a symbolic link"),
    "dev-zero": (lambda f: (f / FILE).unlink() or (f / FILE).symlink_to("/dev/zero"), "is a symbolic link"),
    "fifo": (lambda f: (f / FILE).unlink() or os.mkfifo(f / FILE), "is a FIFO"),
    "socket": (lambda f: (f / FILE).unlink() or os.mknod(f / FILE, 0o600 | stat.S_IFSOCK), "is a socket, not a plain"),
    "hard-link": (lambda f: os.link(f / FILE, f.parent / "x"), r"is a hard link .*protected_hardlinks.* -inum \d"),
    "folder": (lambda f: (f / FILE).unlink() or (f / FILE).mkdir(), "is a folder, not a plain file"),
    "oversized": (lambda f: (f / FILE).write_bytes(b" " * (2 << 20)), "is larger than 1 MB"),
    "no-notebook": (lambda f: (f / FILE).unlink(), "no notebook of the assignment"),
}


@pytest.mark.parametrize("trap", TRAPS)
def test_a_notebook_that_is_not_a_plain_file_of_the_students_is_refused(tmp_path, trap):
    folder, name = inbound_folder(tmp_path)
    make, reason = TRAPS[trap]
    make(folder)
    with pytest.raises(Refused, match=reason):
        read_inbound(tmp_path, name)


@pytest.mark.parametrize("mode, noted", [(0o777, True), (0o775, True), (0o757, True), (0o755, False), (0o2755, False)])
def test_a_folder_others_can_write_in_is_collected_with_a_note(tmp_path, mode, noted):
    """nbgrader's own submit leaves the folder 0777 (the course's leaves it 0755): still the student's own files,
    so collected, with a note that a classmate may have renamed it or its notebook (a later time)."""
    course, exchange = exchange_course(tmp_path)
    folder, name = inbound_folder(exchange.inbound)
    folder.chmod(mode)
    result = collect(course, CHAPTER, exchange)
    assert [row["submission"] for row in result.collected] == [name], result
    notes = [row["note"] for row in result.notes if row["submission"] == name]
    assert len(notes) == noted and all(f"its folder (mode {mode:04o}) is writable by other users" in n for n in notes)
    assert (f"note on {name!r}: its folder (mode" in summary(result)) == noted


@pytest.mark.parametrize("mode, sticky, listed", [(0o2733, True, None), (0o777, True, "every"), (0o3733, False, None),
    (0o755, False, "every"), (0o3773, False, "group"), (0o2773, True, "group")])  # fmt: skip
def test_an_inbound_folder_without_the_sticky_bit_or_that_others_list_is_noted(tmp_path, mode, sticky, listed):
    """No sticky bit (2733: a classmate renames a folder), listed by a group (groupshared) or all: noted, collected."""
    course, exchange = exchange_course(tmp_path)
    _, name = inbound_folder(exchange.inbound)
    exchange.inbound.chmod(mode)
    result = collect(course, CHAPTER, exchange)
    notes = [row["note"] for row in result.notes if row["submission"] == "every submission"]
    assert [row["submission"] for row in result.collected] == [name] and not result.refused, result
    sticky_notes = [n for n in notes if "has no sticky bit" in n and "`chmod +t " in n]
    group = grp.getgrgid(exchange.inbound.stat().st_gid).gr_name
    said = {"group": f"can be listed by everyone in its group {group}:", "every": "can be listed by every user:"}
    listed_notes = [n for n in notes if listed and said[listed] in n and "`chmod go-r " in n]
    assert (len(sticky_notes), len(listed_notes), len(notes)) == (sticky, bool(listed), sticky + bool(listed)), notes


def test_a_folder_renamed_into_a_submissions_name_takes_the_folders_time(tmp_path, monkeypatch):
    """A folder written before the deadline and renamed (or moved) into a submission's name after it keeps its
    files' change times but not its own: the time is the later of the two, and a folder changed well after its
    files is noted (it may also be a classmate's rename where the inbound folder has no sticky bit). A name in the
    future, another student's or another assignment's is refused (the owner and the notebooks do not follow)."""
    draft = tmp_path / "draft"
    draft.mkdir()
    (draft / FILE).write_text(HONEST)
    (draft / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")
    (draft / SECRET).write_text("5e" * 64)
    files = max(os.stat(draft / entry).st_ctime_ns for entry in (FILE, "timestamp.txt", SECRET))
    time.sleep(0.05)  # a later change time for the folder (the kernel's clock ticks coarsely)
    renamed = f"{user_name(os.geteuid())}+{CHAPTER}+2026-01-02 00:00:00.000000 UTC+x"
    os.rename(draft, tmp_path / renamed)
    ctime = os.stat(tmp_path / renamed).st_ctime_ns
    assert ctime > files + 20_000_000  # the rename moved the folder's change time, not its files'
    monkeypatch.setattr(inbound, "RENAMED_AFTER", datetime.timedelta(milliseconds=20))
    submission = read_inbound(tmp_path, renamed)
    assert submission.time == datetime.datetime.fromtimestamp(ctime / 1e9, datetime.UTC).replace(tzinfo=None)
    assert len(submission.notes) == 1 and "renamed or moved into this name" in submission.notes[0], submission.notes
    monkeypatch.setattr(inbound, "RENAMED_AFTER", datetime.timedelta(minutes=1))
    assert not read_inbound(tmp_path, renamed).notes  # an honest folder, written at once: nothing to note
    for trap, reason in [
        (renamed.replace("2026-01-02", "2099-01-01"), "in the future"),
        ("alice" + renamed[renamed.index("+") :], "not by alice"),
    ]:
        os.rename(tmp_path / renamed, tmp_path / trap)
        with pytest.raises(Refused, match=reason):
            read_inbound(tmp_path, trap)
        renamed = trap
    other = renamed.replace("alice+", f"{user_name(os.geteuid())}+").replace(f"+{CHAPTER}+", "+other+")
    os.rename(tmp_path / renamed, tmp_path / other)
    inbound_fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(Refused, match="no notebook of the assignment"):
            check_submission(inbound_fd, other, "other", {"other.ipynb"}, 1 << 20)
    finally:
        os.close(inbound_fd)


def test_collect_takes_the_notebook_and_reports_what_it_left_out(tmp_path):
    course, exchange = exchange_course(tmp_path)
    folder, name = inbound_folder(exchange.inbound)
    os.mkfifo(folder / "data.csv")
    (folder / "solution.txt").symlink_to(course / "source" / CHAPTER / FILE)
    (folder / SECRET).unlink()
    (folder / SECRET).symlink_to(course / "source" / CHAPTER / FILE)
    result = collect(course, CHAPTER, exchange)
    assert [row["submission"] for row in result.collected] == [name] and not result.refused, result
    assert sorted(row["reason"] for row in result.left_out) == [
        "'data.csv' is a FIFO, not a plain file",
        "'solution.txt' is a symbolic link, not a plain file",
        f"'{SECRET}' is a symbolic link, not a plain file",
        submission_secrets.NO_SECRET,
    ]
    written = course / "submitted" / user_name(os.geteuid()) / CHAPTER
    assert sorted(os.listdir(written)) == sorted([FILE, SECRET, "timestamp.txt"])
    assert re.fullmatch("[0-9a-f]{128}", (written / SECRET).read_text())  # fresh: release_feedback goes on
    assert f"left out of {name!r}: 'data.csv' is a FIFO" in summary(result)


def test_a_students_own_secret_is_kept(tmp_path):
    course, exchange = exchange_course(tmp_path)
    folder, name = inbound_folder(exchange.inbound)
    own = "0123456789abcdef" * 8  # as `nbgrader submit` writes one
    (folder / SECRET).write_text(own)
    result = collect(course, CHAPTER, exchange)
    assert [row["submission"] for row in result.collected] == [name] and not result.left_out, result
    written = course / "submitted" / user_name(os.geteuid()) / CHAPTER
    assert (written / SECRET).read_text() == own


def test_a_classmates_secret_is_replaced_so_neither_fetches_the_others_feedback(tmp_path):
    """release_feedback files feedback under a hash of the secret, which a student can read in a classmate's
    inbound folder: a submission holding a secret collect recorded for another student gets a fresh one, in every
    run after. A folder in submitted/ holding it (copied in by hand) takes it from no one (F17), and a secret new to
    the ledger that a hand copy holds too is no one's (F19): the sender gets a fresh one, contested."""
    course, exchange = exchange_course(tmp_path)
    bobs, copied = "0123456789abcdef" * 8, "fedcba9876543210" * 8
    write_ledger(course, CHAPTER, {digest(bobs.encode()): "bob"})  # a collect accepted it from bob
    (course / "submitted" / "amy" / CHAPTER).mkdir(parents=True)
    (course / "submitted" / "amy" / CHAPTER / SECRET).write_text(copied)  # amy's copy in by hand holds it too
    folder, name = inbound_folder(exchange.inbound)
    (folder / SECRET).write_text(bobs)
    result = collect(course, CHAPTER, exchange)
    assert [row["submission"] for row in result.collected] == [name], result
    assert [row["reason"] for row in result.left_out] == [SHARED_SECRET.format("bob")]
    assert "secret.txt is also held by the student 'bob' (now" in SHARED_SECRET.format("bob"), "F15: not 'bob''s"
    written = (course / "submitted" / user_name(os.geteuid()) / CHAPTER / SECRET).read_text()
    assert re.fullmatch("[0-9a-f]{128}", written) and written != bobs
    assert submission_secrets.read_ledger(course, CHAPTER)[digest(bobs.encode())] == "bob"
    again = collect(course, CHAPTER, exchange)  # its fresh secret kept (F22), which she cannot fetch (F24 W1)
    assert again.left_out == [{"submission": name, "reason": SHARED_SECRET.format("bob")}], again
    (folder / SECRET).write_text(copied)
    contested = collect(course, CHAPTER, exchange)  # the hand copy's secret, new to the ledger: no one keeps it
    assert (
        contested.left_out == [{"submission": name, "reason": submission_secrets.CONTESTED}] and contested.collected
    ), contested
    fresh = (course / "submitted" / user_name(os.geteuid()) / CHAPTER / SECRET).read_text()
    assert fresh == written and fresh != copied
    assert submission_secrets.read_ledger(course, CHAPTER)[digest(copied.encode())] == NOBODY


@pytest.mark.parametrize("trap", ["/dev/zero", "fifo"])
def test_a_secret_in_submitted_that_is_no_plain_file_is_not_read(tmp_path, trap):
    """submitted/ may hold what an instructor copied in (an LMS upload): collect reads no link or FIFO there."""
    course, exchange = exchange_course(tmp_path)
    (course / "submitted" / "bob" / CHAPTER).mkdir(parents=True)
    if trap == "fifo":
        os.mkfifo(course / "submitted" / "bob" / CHAPTER / SECRET)
    else:
        (course / "submitted" / "bob" / CHAPTER / SECRET).symlink_to(trap)
    _, name = inbound_folder(exchange.inbound)
    result = collect(course, CHAPTER, exchange)  # neither blocks nor fills memory
    assert [row["submission"] for row in result.collected] == [name], result


def test_a_future_timestamp_is_refused_and_an_honest_submission_read_with_the_kernels_time(tmp_path):
    _, future = inbound_folder(tmp_path, "2099-01-01 00:00:00.000000 UTC")
    with pytest.raises(Refused, match="in the future"):
        read_inbound(tmp_path, future)
    folder, name = inbound_folder(tmp_path)
    (folder / "timestamp.txt").write_text("2000-01-01 00:00:00.000000 UTC")  # the student's claim: not read
    submission = read_inbound(tmp_path, name)
    changed = max(os.stat(p).st_ctime_ns for p in (folder, folder / FILE, folder / "timestamp.txt"))
    assert submission.files[FILE] == HONEST.encode()
    assert submission.time == datetime.datetime.fromtimestamp(changed / 1e9, datetime.UTC).replace(tzinfo=None)


@pytest.mark.parametrize(
    "name, reason",
    [
        (f"alice+{CHAPTER}", "is not <id>"),
        ("alice+other+2026-01-01 00:00:00 UTC", "is not <id>"),
        (f"../x+{CHAPTER}+2026-01-01 00:00:00 UTC", "is not 1 to 64"),
        (f"al ice+{CHAPTER}+2026-01-01 00:00:00 UTC", "is not 1 to 64"),
        (f"alice+{CHAPTER}+2026-01-01\n00:00:00 UTC", "characters nbgrader never writes"),
        (f"alice+{CHAPTER}+not a time", "is not a time"),
    ],
)
def test_folder_names_outside_nbgraders_shape_are_refused(name, reason):
    with pytest.raises(Refused, match=reason):
        claimed(name, CHAPTER)


def test_an_honest_name_is_read():
    student, when, ahead = claimed(f"alice+{CHAPTER}+2026-01-02 03:04:05.000006 UTC+AbC_-=", CHAPTER)
    assert (student, when, ahead) == ("alice", datetime.datetime(2026, 1, 2, 3, 4, 5, 6), datetime.timedelta(0))


def test_a_zone_it_cannot_read_may_be_up_to_14_hours_ahead(tmp_path):
    """An honest student in Japan names the time JST, which dateutil cannot read: not refused as future."""
    now = utc_now()
    stamps = {
        hours: (now + datetime.timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S.%f JST") for hours in (9, 14, 15)
    }
    assert claimed(f"alice+{CHAPTER}+{stamps[9]}", CHAPTER)[2] == datetime.timedelta(hours=14)
    for hours in (9, 14):  # JST is UTC+9; UTC+14 the largest offset
        assert read_inbound(tmp_path, inbound_folder(tmp_path, stamps[hours])[1]).files[FILE] == HONEST.encode()
    with pytest.raises(Refused, match="in the future .*its zone unknown"):
        read_inbound(tmp_path, inbound_folder(tmp_path, stamps[15])[1])
    known = (now + datetime.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f UTC")  # a zone it reads: exact
    with pytest.raises(Refused, match="in the future"):
        read_inbound(tmp_path, inbound_folder(tmp_path, known)[1])


def check(tmp_path: Path, name: str, owners: dict | None = None):
    inbound_fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return check_submission(inbound_fd, name, CHAPTER, {FILE}, 1 << 20, owners=owners)
    finally:
        os.close(inbound_fd)


def test_owners_are_looked_up_by_uid_once_never_by_the_names_id(tmp_path, monkeypatch):
    """The owner is read first and its name looked up once per uid: a name's id costs no lookup (a flood of
    unknown ids would cost one directory query each), and must equal the owner's name exactly. A directory
    service that folds case (SSSD) would map `ME` to me by name; here it is refused."""
    me = user_name(os.geteuid())
    by_name = []

    def folding_getpwnam(name):  # a directory service that folds case, recording each query
        by_name.append(name)
        return pwd.getpwnam(name.lower())

    monkeypatch.setattr(inbound.pwd, "getpwnam", folding_getpwnam)
    owners: dict = {}
    names = [inbound_folder(tmp_path)[1]]
    for day, claimed_id in enumerate(("zz-nobody1", "zz-nobody2", me.upper()), 2):
        folder, _ = inbound_folder(tmp_path, f"2026-01-0{day} 00:00:00.000000 UTC")
        names.append(f"{claimed_id}+{CHAPTER}+2026-01-0{day} 00:00:00.000000 UTC+x")
        folder.rename(tmp_path / names[-1])
    assert check(tmp_path, names[0], owners).student == me
    for name in names[1:]:
        with pytest.raises(Refused, match=f"owned by {me}, not by {name.split('+')[0]}"):
            check(tmp_path, name, owners)
    assert by_name == [] and owners == {os.geteuid(): me}


def test_a_zone_dateutil_cannot_read_warns_nothing():
    """dateutil warns once per unknown zone: a student's thousand names would flood the instructor's terminal."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        claimed(f"alice+{CHAPTER}+2026-01-01 00:00:00.000000 XYZ", CHAPTER)
    assert not caught, [str(w.message) for w in caught]


@pytest.mark.parametrize("stamp", ["0001-01-01", "0001-01-01 00:00:00 XYZ", "9999-12-31 23:59:59"])
def test_a_time_at_the_calendars_edge_is_checked_not_a_crash(tmp_path, stamp):
    """A time without a zone may be 14 hours ahead: no arithmetic on it (year 1 minus 14 hours underflows)."""
    folder, name = inbound_folder(tmp_path, stamp)
    if stamp.startswith("9999"):
        with pytest.raises(Refused, match="in the future"):
            check(tmp_path, name)
    else:
        assert check(tmp_path, name).student == user_name(os.geteuid())
