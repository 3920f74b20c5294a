"""What `lrcourse collect` leaves out beside a student's notebook (issue 20, attacks 3, 4 and 9): links (to the
instructor's files too), FIFOs, hard links, folders, files not of the assignment, each named with its reason, and
none costs the notebook; many are counted, not named, and past a bound the submission is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lrcourse.grading.exchange import inbound
from lrcourse.grading.exchange.collect import collect, summary
from lrcourse.grading.exchange.inbound import Refused, user_name
from lrcourse.grading.exchange.submission_secrets import SECRET

from support.inbound_folders import CHAPTER, FILE, HONEST, exchange_course, inbound_folder, read_inbound
from support.paths import ROOT


def hard_link_elsewhere(path: Path) -> None:
    """`path` and a name outside the submission for one file (a file of someone else's, shared)."""
    (path.parent.parent / "elsewhere").write_text("x")
    os.link(path.parent.parent / "elsewhere", path)


STRAYS = {  # an entry beside the notebook -> the reason it is left out
    "notes.txt": (lambda p: p.symlink_to("/etc/passwd"), "'notes.txt' is a symbolic link, not a plain file"),
    "zero": (lambda p: p.symlink_to("/dev/zero"), "'zero' is a symbolic link, not a plain file"),
    # the class's scores and ids (issue 20, attack 4): collect runs as the instructor, who can read it
    "gradebook.db": (
        lambda p: p.symlink_to(ROOT / "gradebook.db"),
        "'gradebook.db' is a symbolic link, not a plain file",
    ),
    ".~lock.x#": (lambda p: os.mkfifo(p), "'.~lock.x#' is a FIFO, not a plain file"),
    "kept.txt": (hard_link_elsewhere, "'kept.txt' is a hard link (2 names for one file)"),
    ".ipynb_checkpoints": (lambda p: p.mkdir(), "'.ipynb_checkpoints' is a folder, not a plain file"),
    "draft.py": (lambda p: p.write_text("x"), f"'draft.py' is not part of the assignment (expected {FILE})"),
    "timestamp.txt": (lambda p: p.write_bytes(b"9" * (65 << 10)), "'timestamp.txt' is larger than 0.0625 MB"),
}


def test_stray_entries_are_left_out_with_their_reasons_and_the_notebook_read(tmp_path):
    """A lock file, a checkpoints folder, a link, a FIFO: none opened or copied, none costs the notebook."""
    folder, name = inbound_folder(tmp_path)
    for entry, (make, _) in STRAYS.items():
        make(folder / entry)
    submission = read_inbound(tmp_path, name)
    assert submission.files == {FILE: HONEST.encode(), SECRET: (folder / SECRET).read_bytes()}
    assert sorted(submission.left_out) == sorted(reason for _, reason in STRAYS.values()), submission.left_out


def test_a_whole_assignment_folder_is_collected_and_its_many_strays_counted_not_named(tmp_path):
    """nbgrader submit copies the whole folder: a few strays named, the rest counted; refused past MAX_ENTRIES."""
    folder, name = inbound_folder(tmp_path)
    for i in range(300):
        (folder / f"{i:03}.png").touch()
    submission = read_inbound(tmp_path, name)
    assert submission.files == {FILE: HONEST.encode(), SECRET: (folder / SECRET).read_bytes()}
    assert len(submission.left_out) == inbound.STRAYS_NAMED, submission.left_out
    assert all("is not part of the assignment" in reason for reason in submission.left_out)
    assert submission.more_strays == 300 - inbound.STRAYS_NAMED
    course, exchange = exchange_course(tmp_path / "collected")
    folder, _ = inbound_folder(exchange.inbound)
    (folder / SECRET).write_text("0123456789abcdef" * 8)  # as `nbgrader submit` writes one
    for i in range(20):
        (folder / f"{i:03}.png").touch()
    text = summary(collect(course, CHAPTER, exchange))
    assert f"and {20 - inbound.STRAYS_NAMED} more entries left out" in text and "20 stray entries left out" in text
    for i in range(300, inbound.MAX_ENTRIES):
        os.close(os.open(tmp_path / name / f"{i}", os.O_CREAT | os.O_WRONLY))
    with pytest.raises(Refused, match=f"holds more than {inbound.MAX_ENTRIES} entries"):
        read_inbound(tmp_path, name)


def test_names_of_the_chapter_in_another_shape_are_counted_not_passed_over(tmp_path):
    """r20v N1: a `+` in the time, or no time at all: such folders were in no output, record or count."""
    course, exchange = exchange_course(tmp_path)
    _, name = inbound_folder(exchange.inbound)
    student = name.split("+")[0]
    for odd in (f"{student}+{CHAPTER}", f"{student}+{CHAPTER}+2026-12-07 19:49:30 +0000+k1", f"{student}+other+x"):
        (exchange.inbound / odd).mkdir()
    result = collect(course, CHAPTER, exchange)
    assert [row["submission"] for row in result.collected] == [name], result
    [row] = [row for row in result.refused if "as nbgrader's submit names a submission" in row["reason"]]
    assert row["submission"] == "2 entries" and row["more"] == 2, row
    assert "2 entries" in summary(result)


def test_a_name_that_cannot_be_printed_is_said_as_the_shell_spells_it(tmp_path):
    """r20ad N3: a stray's and a folder's undecodable bytes were printed in Python's surrogate form (`\\udcff`), which
    no shell pastes back; now as bash's $'...' (control characters as \\xHH, never raw), a plain name in quotes."""
    course, exchange = exchange_course(tmp_path)
    folder, _ = inbound_folder(exchange.inbound)
    (folder / SECRET).write_text("0123456789abcdef" * 8)
    (folder / os.fsdecode(b"\xff\x1b[31mred\r.txt")).write_text("x")
    bad = f"{user_name(os.geteuid())}+{CHAPTER}+2026-01-02 00:00:00.000000 UTC+" + os.fsdecode(b"\xff\xfe")
    (exchange.inbound / bad).mkdir()
    text = summary(collect(course, CHAPTER, exchange))
    assert f"left out of '{folder.name}': $'\\xff\\x1b[31mred\\x0d.txt' is not part of the assignment" in text, text
    assert f"refused $'{bad[:-2]}\\xff\\xfe': the folder's name holds characters nbgrader never writes" in text, text
    assert "\udcff" not in text and "\x1b" not in text
