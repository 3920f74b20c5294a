"""What `lrcourse grade` carries beside a student's notebook into autograded/ and feedback/: nbgrader's own two
files, nothing of hers (issue 20, F10: an `evil.html` there ran its script when the instructor opened it from
disk, and her kernel saw it in /notebook). The pieces without kernels, then one real grading run."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import find_all_files, notebook_hash
from traitlets.config import Config

from lrcourse.build import tool_environment
from lrcourse.grading.autograde.graded_files import (
    NAMED,
    carry_nbgrader_files,
    carry_only_notebooks,
    left_out,
    left_out_note,
)
from lrcourse.grading.exchange.submission_secrets import (
    NO_SECRET,
    SHARED_SECRET,
    UNRECORDED,
    digest,
    usable_secret,
    write_ledger,
)

from support.course import NOTEBOOK, make_course, scores, solution_answers, submit
from support.gradedclass import lrcourse

CHAPTER = "01_learning_rate"
NB = NOTEBOOK[CHAPTER]
STUDENT_FILES = {
    "evil.html": "<script>alert(1)</script>",
    "sub/x.html": "<script>alert(2)</script>",
    "data.csv": "a,b\n",
}
SECRET = "5e" * 64  # as `nbgrader submit` writes one: 128 hexadecimal digits
NBGRADER_FILES = {"timestamp.txt": "2026-01-01 10:00:00.000000 UTC", "submission_secret.txt": SECRET}
# a cell of the student's: every file its kernel's folder holds, and where that folder is
LOOK = (
    "import os\n"
    "print('cwd:', os.getcwd())\n"
    "print('seen:', sorted(os.path.relpath(os.path.join(d, f)) for d, _, fs in os.walk('.') for f in fs))"
)


def a_submission(folder: Path, files: dict[str, str]) -> Path:
    for name, text in {NB: "{}", **files}.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_nbgraders_copy_finds_no_file_of_the_submission_under_the_workers_setting(tmp_path):
    """nbgrader's autograde and generate_feedback copy what its find_all_files returns under CourseDirectory.ignore:
    under nbgrader's default, her files (hidden ones too); under the worker's, none, the folder itself ignored."""
    folder = a_submission(tmp_path / "alice" / CHAPTER, {**STUDENT_FILES, ".hidden.html": "x", **NBGRADER_FILES})
    from nbgrader.coursedir import CourseDirectory

    default = CourseDirectory().ignore + ["*.ipynb"]  # what nbgrader's base converter passes
    found = {Path(path).relative_to(folder).as_posix() for path in find_all_files(str(folder), default)}
    assert found == {*STUDENT_FILES, ".hidden.html", *NBGRADER_FILES}, "the control: nbgrader copies them"
    config = Config()
    carry_only_notebooks(config)
    ignore = CourseDirectory(config=config).ignore + ["*.ipynb"]
    assert find_all_files(str(folder), ignore) == []


def test_only_nbgraders_own_plain_files_are_carried(tmp_path):
    source = a_submission(tmp_path / "submitted", {**STUDENT_FILES, **NBGRADER_FILES})
    destination = tmp_path / "autograded"
    carry_nbgrader_files(source, destination)
    assert not destination.exists(), "no folder is made: nbgrader made none"
    destination.mkdir()
    (destination / "timestamp.txt").write_text("the old one")
    carry_nbgrader_files(source, destination)
    assert {path.name: path.read_text() for path in destination.iterdir()} == NBGRADER_FILES
    (source / "submission_secret.txt").unlink()
    (source / "submission_secret.txt").symlink_to(source / "data.csv")  # intake refuses it; never followed here
    other = tmp_path / "feedback"
    other.mkdir()
    assert carry_nbgrader_files(source, other) == NO_SECRET
    assert sorted(path.name for path in other.iterdir()) == ["submission_secret.txt", "timestamp.txt"]
    assert (other / "submission_secret.txt").read_text() not in (SECRET, "a,b\n"), "a fresh one, not the link's"


@pytest.mark.parametrize(
    ("secret", "kept"),
    [
        (None, False),
        (b"s3cret", False),
        (b"\xff" * 100, False),
        (SECRET.upper().encode(), False),
        (b"", False),
        (SECRET.encode() + b"\n", True),
        (SECRET.encode() + b"\n\n\xff", True),  # its 128 digits are carried, never the bytes after them
    ],
    ids=["missing", "short", "not-utf8", "upper-case", "empty", "newline", "junk-after"],
)
def test_a_secret_nbgrader_would_not_have_written_is_replaced_by_a_fresh_one_with_a_note(tmp_path, secret, kept):
    """F15: a hand-copied submission has no secret, or any short file; release_feedback raised FileNotFoundError or
    UnicodeDecodeError on it and stopped for every student after. What is carried is always one it can read."""
    source = a_submission(tmp_path / "submitted", {"timestamp.txt": NBGRADER_FILES["timestamp.txt"]})
    if secret is not None:
        (source / "submission_secret.txt").write_bytes(secret)
    destination = tmp_path / "autograded"
    destination.mkdir()
    (destination / "submission_secret.txt").symlink_to(source / "timestamp.txt")  # the kernel's: never followed
    assert carry_nbgrader_files(source, destination) == ("" if kept else NO_SECRET)
    carried = destination / "submission_secret.txt"
    assert not carried.is_symlink() and usable_secret({"submission_secret.txt": carried.read_bytes()})
    assert (carried.read_text() == SECRET) == kept
    assert (source / "timestamp.txt").read_text() == NBGRADER_FILES["timestamp.txt"]


def test_only_a_secrets_recorded_owner_in_submitted_keeps_it_and_an_unrecorded_one_no_one(tmp_path):
    """F16: a submission copied in by hand holding a classmate's valid secret was carried unchanged, and the two
    feedback files shared one name in the exchange, one overwriting the other's. F17: keeping it for the first
    holder by change time let a re-collect (which resets it) hand it to the copy. Now the owner collect recorded
    keeps it whatever the times. F20: a secret no collect recorded is kept by no one, its only holder (eve) too
    (her hand copy, graded and released before the owner's collect, filed its feedback under the owner's secret)."""
    submitted = tmp_path / "submitted"
    zoes, shared, eves = "7a" * 64, "5b" * 64, "3c" * 64
    write_ledger(tmp_path, CHAPTER, {digest(SECRET.encode()): "zoe", digest(zoes.encode()): "bob"})
    amy = a_submission(submitted / "amy" / CHAPTER, {**NBGRADER_FILES, "timestamp.txt": "2000-01-01 00:00:00"})
    zoe = a_submission(submitted / "zoe" / CHAPTER, NBGRADER_FILES)  # later than amy's copy: still hers
    own = a_submission(submitted / "bob" / CHAPTER, {**NBGRADER_FILES, "submission_secret.txt": zoes})
    cat = a_submission(submitted / "cat" / CHAPTER, {**NBGRADER_FILES, "submission_secret.txt": shared})
    dan = a_submission(submitted / "dan" / CHAPTER, {**NBGRADER_FILES, "submission_secret.txt": shared})
    eve = a_submission(submitted / "eve" / CHAPTER, {**NBGRADER_FILES, "submission_secret.txt": eves})
    carried = {}
    for source in (amy, zoe, own, cat, dan, eve):
        destination = tmp_path / "autograded" / source.parent.name
        destination.mkdir(parents=True)
        note = carry_nbgrader_files(source, destination, submitted=True)
        carried[source.parent.name] = (note, (destination / "submission_secret.txt").read_text())
    assert carried["zoe"] == ("", SECRET) and carried["bob"] == ("", zoes)
    expected = {"amy": SHARED_SECRET.format("zoe"), "cat": UNRECORDED, "dan": UNRECORDED, "eve": UNRECORDED}
    for student, expected_note in expected.items():
        note, secret = carried[student]
        assert note == expected_note, (student, note)
        assert usable_secret({"submission_secret.txt": secret.encode()}) and secret not in (SECRET, zoes, shared, eves)
    (tmp_path / "elsewhere").mkdir()  # from a folder other than submitted/ (autograded/ into feedback/): as it is
    assert carry_nbgrader_files(amy, tmp_path / "elsewhere") == ""
    assert (tmp_path / "elsewhere" / "submission_secret.txt").read_text() == SECRET


def test_the_left_out_files_are_named_in_one_short_note(tmp_path):
    folder = a_submission(tmp_path, {**STUDENT_FILES, **NBGRADER_FILES, "practice-Copy1.ipynb": "{}"})
    (folder / "empty-folder").mkdir()
    names = left_out(folder, NB)
    assert names == sorted([*STUDENT_FILES, "practice-Copy1.ipynb"])
    note = left_out_note(names)
    assert note.startswith("left out (only the chapter's notebook is graded") and all(n in note for n in names)
    assert left_out_note([]) == "" and left_out(a_submission(tmp_path / "plain", NBGRADER_FILES), NB) == []
    assert left_out(tmp_path / "gone", NB) == [], "a note only: a folder gone meanwhile lists nothing"
    many = left_out_note([f"f{i:03}.csv" for i in range(1000)])
    assert f"and {1000 - NAMED} more" in many and len(many) <= 300
    forged = left_out_note(["a\nalice   graded 0\x1b[2J.txt"])  # F14: a file name that would forge a row
    assert "\n" not in forged and "\x1b" not in forged and "'a\\nalice   graded 0\\x1b[2J.txt'" in forged


HAND_COPIED = {"a-by-hand": None, "b-by-hand-short": b"\xff" * 100}  # F15's copies: no secret, a non-UTF-8 one
COLLECTED, COLLECTED_SECRET = "c-collected", "6f" * 64  # her collect recorded her secret


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """One chapter-1 class graded by `lrcourse grade` for both real-grading tests below: carol (a correct notebook
    with her own files beside it and a cell that looks around her kernel's folder) and F15's three (two copied in by
    hand, one collected). Whatever is carried, kept or refused is one student's own folder and secret (each secret
    recorded for its own holder only), so neither scenario can change the other's outcome; one grading command and
    one course instead of two."""
    course = make_course(tmp_path_factory.mktemp("graded-files") / "course", [CHAPTER])
    write_ledger(course, CHAPTER, {digest(SECRET.encode()): "carol", digest(COLLECTED_SECRET.encode()): COLLECTED})
    path = submit(course, "carol", CHAPTER, solution_answers(CHAPTER))
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(LOOK))
    nbformat.write(notebook, path)
    for name, text in {**STUDENT_FILES, **NBGRADER_FILES}.items():
        (path.parent / name).parent.mkdir(exist_ok=True)
        (path.parent / name).write_text(text)
    for student, secret in {**HAND_COPIED, COLLECTED: COLLECTED_SECRET.encode()}.items():
        path = submit(course, student, CHAPTER, solution_answers(CHAPTER))
        (path.parent / "timestamp.txt").write_text(NBGRADER_FILES["timestamp.txt"])
        if secret is not None:
            (path.parent / "submission_secret.txt").write_bytes(secret)
    run = lrcourse(course, "grade", CHAPTER, "--workers", "1", timeout=1800)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    with open(course / "reports" / f"{CHAPTER}.csv", newline="", encoding="utf-8") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    return course, rows


def release_feedback(course: Path, exchange: Path) -> list[Path]:
    """nbgrader's release_feedback of the class into a fresh exchange: the pages it released."""
    exchange.mkdir()
    released = subprocess.run(
        [sys.executable, "-m", "nbgrader", "release_feedback", CHAPTER, f"--Exchange.root={exchange}"],
        cwd=course, env=tool_environment(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert released.returncode == 0, released.stdout + released.stderr
    return sorted((exchange / "lr-schedules" / "feedback").glob("*.html"))


@pytest.mark.slow
def test_a_students_files_beside_her_notebook_reach_neither_her_kernel_nor_autograded_nor_feedback(
    graded_class, tmp_path
):
    """A correct notebook with evil.html, sub/x.html and data.csv beside it: full marks, none of the three in
    autograded/ or feedback/ nor in her kernel's /notebook, and her reason names them; nbgrader's own files
    are in both folders (release_feedback reads them from feedback/): her secret unchanged, the ledger recording it
    as hers, as her collect would (F20: a secret no collect recorded is replaced)."""
    course, rows = graded_class
    row = rows["carol"]
    assert row["status"] == "graded", row
    tests = scores(course, CHAPTER)["carol"]  # full marks on every autograded cell (written answers: by hand)
    assert tests and all(score == most > 0 for score, most in tests.values()), tests
    assert all(name in row["reason"] for name in STUDENT_FILES) and "left out" in row["reason"], row
    for kind, own in (("autograded", NB), ("feedback", NB.replace(".ipynb", ".html"))):
        folder = course / kind / "carol" / CHAPTER
        files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.name.startswith(".lrcourse-")}
        assert files == {own, *NBGRADER_FILES}, (kind, files)
        assert all((folder / name).read_text() == text for name, text in NBGRADER_FILES.items())
    graded = nbformat.read(course / "autograded" / "carol" / CHAPTER / NB, as_version=4)
    [look] = [cell for cell in graded.cells if cell.source == LOOK]
    printed = "".join(output.get("text", "") for output in look.outputs)
    # it ran in its sandbox's copy of her graded folder (/notebook, copied to its own /tmp), which held her
    # notebook alone: nbgrader's files are carried after the kernel ran
    assert f"seen: {[NB]!r}\n" in printed and str(course) not in printed, printed

    from lrcourse.grading.fleet.write import Writer, remake_feedback  # the queue's page of a late student, made again

    writer = Writer(course, f"sqlite:///{course / 'gradebook.db'}")
    try:
        assert remake_feedback(course, writer, CHAPTER, "carol") == ""
    finally:
        writer.close()
    page = course / "feedback" / "carol" / CHAPTER / NB.replace(".ipynb", ".html")
    assert sorted(path.name for path in page.parent.iterdir()) == sorted([page.name, *NBGRADER_FILES])
    # nbgrader's release_feedback reads both of its files from feedback/: her page, under her own secret
    sent = {path.name: path for path in release_feedback(course, tmp_path / "exchange")}
    hers = f"{notebook_hash(secret=SECRET, notebook_id=Path(NB).stem)}.html"
    assert sent[hers].read_bytes() == page.read_bytes(), sorted(sent)


@pytest.mark.slow
def test_release_feedback_reaches_every_student_when_some_were_copied_in_by_hand(graded_class, tmp_path):
    """F15: two submissions copied into submitted/ by hand, as README says (timestamp.txt only; one with a short
    non-UTF-8 secret), graded before one collected from the exchange: nbgrader's release_feedback stopped at the
    first with FileNotFoundError for everyone after it. Now all are released, the hand-copied ones say why
    they cannot fetch it, and the collected student's own secret is kept (her fetch_feedback finds it): since F20
    only a secret the ledger records as hers, as her collect recorded it."""
    course, rows = graded_class
    assert all(rows[student]["status"] == "graded" for student in [*HAND_COPIED, COLLECTED]), rows
    assert sorted(student for student in rows if NO_SECRET in rows[student]["reason"]) == sorted(HAND_COPIED)
    kept = (course / "feedback" / COLLECTED / CHAPTER / "submission_secret.txt").read_text()
    assert kept == COLLECTED_SECRET
    assert max(HAND_COPIED) < COLLECTED, "the hand copies come first in release_feedback's order"
    assert len(release_feedback(course, tmp_path / "exchange")) == len(rows) == len(HAND_COPIED) + 2  # carol too
