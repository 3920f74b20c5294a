"""nbgrader's own small files in a submitted folder, which nbgrader reads whole (issue 20, F14): `lrcourse grade`
fails a student whose timestamp.txt or submission_secret.txt is past `intake.MAX_NBGRADER_FILE_BYTES`, before
nbgrader opens either (its get_existing_timestamp parsed 1 MB of timestamp.txt with dateutil for 26 s, then raised
OverflowError, and the student failed with a vague reason)."""

from __future__ import annotations

import pytest

from lrcourse.grading.intake import MAX_NBGRADER_FILE_BYTES, refused, unreadable_timestamp, unsafe_files

from support.oversized import RELEASE


@pytest.mark.parametrize("name", ["timestamp.txt", "submission_secret.txt"])
def test_a_large_nbgrader_file_fails_the_student_naming_it_and_the_bound(tmp_path, name):
    """What nbgrader writes (30 and 128 bytes) and the bound itself are taken; past it the reason names the file,
    the bound and the size."""
    folder = tmp_path / "submitted" / "alice" / "ch"
    folder.mkdir(parents=True)
    (folder / RELEASE.name).write_bytes(RELEASE.read_bytes())
    (folder / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")
    (folder / "submission_secret.txt").write_text("0f" * 64)
    assert refused(tmp_path, "alice", "ch") is None
    at_bound = "2026-01-01 00:00:00.000000 UTC" if name == "timestamp.txt" else ""  # a time nbgrader reads, padded
    (folder / name).write_text(at_bound.ljust(MAX_NBGRADER_FILE_BYTES))
    assert refused(tmp_path, "alice", "ch") is None
    (folder / name).write_text("1" * (1 << 20))
    reason = f"{name} is larger than 256 bytes (1048576 bytes; nbgrader writes 30 or 128)"
    assert unsafe_files(folder) == reason
    assert reason in refused(tmp_path, "alice", "ch")


@pytest.mark.parametrize(
    "text",
    [b"9" * 30, b"not a time", b"2026-13-45 00:00:00 UTC", b"\xff\xfe", b"2026-01-01 00:00:00.000000 +99999999999"],
    ids=["digits", "words", "no-such-day", "not-utf8", "huge-offset"],
)
def test_a_timestamp_nbgrader_cannot_read_fails_the_student_saying_so(tmp_path, text):
    """F15: nbgrader's own parse_utc raised OverflowError on a short string of digits (its autograde failed the
    student vaguely); intake reads timestamp.txt as nbgrader does and refuses it with the reason."""
    folder = tmp_path / "submitted" / "alice" / "ch"
    folder.mkdir(parents=True)
    (folder / RELEASE.name).write_bytes(RELEASE.read_bytes())
    for readable in (b"2026-01-01 10:00:00.000000 UTC", b"2026-01-01T10:00:00+01:00", b"", b"  \n"):
        (folder / "timestamp.txt").write_bytes(readable)  # nbgrader's, ISO, and empty (nbgrader ignores it)
        assert refused(tmp_path, "alice", "ch") is None, readable
    (folder / "timestamp.txt").write_bytes(text)
    reason = unreadable_timestamp(folder)
    assert reason.startswith("timestamp.txt is not a time (") and reason in refused(tmp_path, "alice", "ch")
