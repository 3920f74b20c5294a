"""What `lrcourse grade` refuses to trust, piece by piece and without kernels: the student ids and files `intake`
takes in (a notebook over the limits it is read within fails its student; the limits alone:
`test_notebook_limits.py`), the CSV cells `spreadsheet` writes and the summary's escaping. `test_hostile.py`
grades the same attacks in a real class."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
from datetime import datetime
from types import SimpleNamespace

import pytest

from lrcourse.grading.autograde.grades_csv import GradesCsvExportPlugin
from lrcourse.grading.intake import MAX_ENTRIES, refused, submissions, unsafe_files, valid_student_id
from lrcourse.grading.outcomes import REASON_WRITTEN, Outcome, RunOutcomes, outcomes_csv, summary, write_outcomes
from lrcourse.grading.reports.results import failed_students
from lrcourse.grading.spreadsheet import read_rows, safe_cell, write_csv

from support.csvcells import formula_cells
from support.oversized import RELEASE, nested, with_attachments
from support.paths import ROOT


# --------------------------------------------------------------------------------------------
# intake: ids and files
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("student", ["alice", "a.b@example-1_x", "007", "_x", "A" * 64])
def test_plain_ids_are_accepted(student):
    assert valid_student_id(student)


@pytest.mark.parametrize(
    "student",
    ["mallory*", "mallory ", " mallory", "mal?ory", "[m]allory", "evil,14", "evil\nalice", "evil\n", "\x1b[2Kalice",
     "=1+1", "@SUM(A1)", "-2", ".hidden", "..", "", "A" * 65, "élise", "a/b", "a\\b", "a\u202eb"],
)  # fmt: skip
def test_ids_outside_the_pattern_are_refused(student):
    assert not valid_student_id(student)


def submitted(tmp_path, student="alice", chapter="ch"):
    folder = tmp_path / "submitted" / student / chapter
    folder.mkdir(parents=True)
    (folder / RELEASE.name).write_bytes(RELEASE.read_bytes())
    return folder


def test_a_plain_submission_is_taken_and_a_globbing_name_is_not(tmp_path):
    submitted(tmp_path, "alice")
    submitted(tmp_path, "alice*")
    submitted(tmp_path, "alice ")
    assert submissions(tmp_path, "ch") == ["alice", "alice ", "alice*"]
    assert refused(tmp_path, "alice", "ch") is None
    assert "student id" in refused(tmp_path, "alice*", "ch")
    assert "student id" in refused(tmp_path, "alice ", "ch")


def special_files():
    yield "a symbolic link", lambda path: path.symlink_to(RELEASE)
    yield "a FIFO", lambda path: os.mkfifo(path)
    yield "a socket", lambda path: os.mknod(path, stat.S_IFSOCK | 0o600)
    yield "a hard link", lambda path: os.link(RELEASE, path)


@pytest.mark.parametrize("where", ["extra.ipynb", "data.csv", ".ipynb_checkpoints/extra.ipynb", "sub[a]/leak"])
@pytest.mark.parametrize("kind, make", list(special_files()), ids=lambda x: x if isinstance(x, str) else "")
def test_a_link_or_special_file_anywhere_fails_the_student_naming_the_path(tmp_path, kind, make, where):
    """Not left out: nbgrader's ignore list globs the unescaped folder path, so `sub[a]/leak` would escape it."""
    folder = submitted(tmp_path)
    (folder / where).parent.mkdir(parents=True, exist_ok=True)
    make(folder / where)
    reason = refused(tmp_path, "alice", "ch")
    assert reason.startswith(f"{where} is {kind}") and reason.endswith("submit plain files only"), reason


@pytest.mark.parametrize("make", [lambda path: os.mkfifo(path), lambda path: path.mkdir()], ids=["FIFO", "folder"])
def test_a_timestamp_that_is_not_a_plain_file_fails_the_student(tmp_path, make):
    """nbgrader opens timestamp.txt itself: a FIFO would hang the worker."""
    folder = submitted(tmp_path)
    make(folder / "timestamp.txt")
    assert refused(tmp_path, "alice", "ch") == "timestamp.txt is not a plain file: submit plain files only"


def test_a_device_fails_the_student(tmp_path):
    folder = submitted(tmp_path)
    try:
        os.mknod(folder / "zero", stat.S_IFCHR | 0o600, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("creating a device needs CAP_MKNOD")
    assert unsafe_files(folder) == "zero is a character device: submit plain files only"


def test_linked_folders_are_not_followed(tmp_path):
    elsewhere = submitted(tmp_path, "bob")
    (tmp_path / "submitted" / "carol").mkdir()
    (tmp_path / "submitted" / "carol" / "ch").symlink_to(elsewhere)
    (tmp_path / "submitted" / "dave").symlink_to(elsewhere.parent)
    assert submissions(tmp_path, "ch") == ["bob", "carol", "dave"]
    assert "ch is not a plain folder" in refused(tmp_path, "carol", "ch")
    assert "dave is not a plain folder" in refused(tmp_path, "dave", "ch")


@pytest.mark.parametrize(
    "where, what",
    [
        ("nbgrader_config.py", "a jupyter, nbgrader or IPython configuration"),
        ("jupyter_server_config.json", "a jupyter, nbgrader or IPython configuration"),
        ("sub/IPython_kernel_config.py", "a jupyter, nbgrader or IPython configuration"),
        ("jupyter_notebook_config.d/", "a jupyter, nbgrader or IPython configuration"),
        ("profile_default/", "an IPython profile folder"),
        ("helper.py", "Python code"),
        ("pkg/__init__.py", "Python code"),
        ("__pycache__/numpy.cpython-311.pyc", "Python code"),
        ("torch.cpython-311-x86_64-linux-gnu.so", "Python code"),
    ],
)
def test_code_the_instructors_tools_would_run_fails_the_student_naming_it(tmp_path, where, what):
    """nbgrader copies a submission whole into autograded/ and feedback/: nbgrader, jupyter or python started
    there would run its configs and import its modules."""
    folder = submitted(tmp_path)
    (folder / where).parent.mkdir(parents=True, exist_ok=True)
    if where.endswith("/"):
        (folder / where).mkdir()
    else:
        (folder / where).write_text("import os")
    reason = refused(tmp_path, "alice", "ch")
    named = where.rstrip("/")
    assert reason.startswith(f"{named} is {what}"), reason
    assert reason.endswith("remove it: the course's chapters are notebooks"), reason


def test_data_files_with_such_words_in_their_names_are_taken(tmp_path):
    folder = submitted(tmp_path)
    for name in ("config.json", "my_config.yaml", "profile_photo.png", "notes.py.txt", "python_notes.md"):
        (folder / name).write_text("{}")
    (folder / "profiles").mkdir()
    assert refused(tmp_path, "alice", "ch") is None


def test_entries_and_bytes_are_bounded(tmp_path):
    folder = submitted(tmp_path)
    for index in range(MAX_ENTRIES):
        (folder / f"f{index}").touch()
    assert "more than 1000 files and folders" in unsafe_files(folder)
    folder = submitted(tmp_path, "bob")
    with open(folder / "big.bin", "wb") as handle:
        handle.truncate(101 << 20)
    assert unsafe_files(folder) == "the submission is larger than 100 MiB"


def test_a_notebook_over_a_limit_fails_the_student_with_the_reason(tmp_path):
    folder = submitted(tmp_path)
    (folder / RELEASE.name).write_text(nested(10_000, "{", "}"))
    assert "nested more than 64 levels" in refused(tmp_path, "alice", "ch")
    pasted = submitted(tmp_path, "bob")
    (pasted / RELEASE.name).write_text(json.dumps(with_attachments(2, 9 << 19)))
    why = f"{RELEASE.name} holds more than 8 MB of attachments (images pasted into cells)"
    assert refused(tmp_path, "bob", "ch") == why
    metadata = submitted(tmp_path, "dave")
    raw = json.loads(RELEASE.read_text())
    raw["cells"][0]["metadata"]["x"] = [{"a": index} for index in range(500_000)]
    (metadata / RELEASE.name).write_text(json.dumps(raw))
    assert refused(tmp_path, "dave", "ch").startswith(f"{RELEASE.name} holds more than 1,000,000 JSON values")
    submitted(tmp_path, "carol")  # the release as it is: taken
    assert refused(tmp_path, "carol", "ch") is None


def test_a_notebook_nbformat_rejects_with_no_message_or_a_folder_fails_the_student(tmp_path):
    """An empty assertion from nbformat (`nbformat_minor: "x"`) and a folder named like a notebook each have
    a reason of their own; either one raised out of the grader's intake and stopped the whole class."""
    folder = submitted(tmp_path)
    (folder / RELEASE.name).write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": "x"}')
    assert refused(tmp_path, "alice", "ch").startswith(f"{RELEASE.name} is not a valid notebook: ")
    (folder / RELEASE.name).unlink()
    (folder / RELEASE.name).mkdir()
    assert refused(tmp_path, "alice", "ch") == f"{RELEASE.name} is not a file"


def test_a_notebook_claiming_a_newer_nbformat_fails_the_student(tmp_path):
    """nbformat relaxes its schema for a newer minor version, so a cell of any type, with any keys, passed, and
    nbconvert's templates write an unknown cell's `type` into the instructor's pages as it is."""
    folder = submitted(tmp_path)
    cell = {"cell_type": "x", "id": "e1", "source": "", "metadata": {}, "type": "<img src=x onerror=alert(1)>"}
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 99}
    (folder / RELEASE.name).write_text(json.dumps(notebook))
    assert refused(tmp_path, "alice", "ch") == f"{RELEASE.name} claims nbformat 4.99; this grader reads 4.0 to 4.5"


def test_a_schema_error_is_reported_short_without_the_students_text(tmp_path):
    """jsonschema's message repeats the cell whole: a 900 kB cell made a 900 kB reason, which csv would not
    read back (131,072 characters a field) and the class report and the Canvas export stopped."""
    raw = json.loads(RELEASE.read_text())
    raw["cells"].append({"cell_type": "bogus", "metadata": {}, "source": "x" * 200_000})
    (submitted(tmp_path) / RELEASE.name).write_text(json.dumps(raw))
    raw["cells"][-1] = {"cell_type": "code", "id": "c1", "metadata": {}, "source": "", "execution_count": None}
    raw["cells"][-1]["outputs"] = [{"output_type": "x;=1+1;"}]
    (submitted(tmp_path, "bob") / RELEASE.name).write_text(json.dumps(raw))
    at = len(raw["cells"]) - 1
    assert refused(tmp_path, "alice", "ch") == (  # the schema's compiled check's words (r20ao 1: test_intake_schema)
        f"{RELEASE.name} is not a valid notebook: data.cells[{at}] must be valid exactly by one definition (0 matches "
        "found)"
    )
    assert "x;=1+1;" not in refused(tmp_path, "bob", "ch")
    assert len(refused(tmp_path, "bob", "ch")) < 400


def test_a_reason_is_written_capped_and_an_unreadable_row_does_not_stop_the_reader(tmp_path):
    long = Outcome("mallory", "failed", "y" * 900_000)
    write_outcomes(tmp_path, RunOutcomes("ch", [long, Outcome("bob", "failed", "short")]))
    assert failed_students(tmp_path, "ch") == {"mallory": "y" * (REASON_WRITTEN - 1) + "…", "bob": "short"}
    # a report an older run wrote, with the reason whole: the other rows are read, that one left out
    outcomes_csv(tmp_path, "ch").write_text(
        f'student,status,reason\nmallory,failed,"{"y" * 900_000}"\nbob,failed,short\n'
    )
    assert failed_students(tmp_path, "ch") == {"bob": "short"}


# --------------------------------------------------------------------------------------------
# spreadsheet and the summary
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, cell",
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+cmd", "'+1+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t'=1"),  # a reader splitting at tabs or line breaks starts a cell at `=1`
        # a carriage return is escaped (it writes over a line in a terminal), so no cell starts at `=1`
        ("\r=1", "\\x0d=1"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("-1.5", "-1.5"),
        ("+2e-3", "+2e-3"),
        ("alice", "alice"),
        ("a=b", "a=b"),
        (-1.0, -1.0),
        (None, ""),
    ],
)
def test_cells_a_spreadsheet_would_run_are_neutralised_and_numbers_are_not(value, cell):
    assert safe_cell(value) == cell


def test_a_csv_row_cannot_be_split_or_forged(tmp_path):
    rows = [["evil,14\nalice", -1.0, "=1+1"], ["bob", 10.0, "ok"]]
    path = write_csv(tmp_path / "out.csv", ["student", "score", "note"], rows)
    read = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    assert read == [["student", "score", "note"], ["evil,14\nalice", "-1.0", "'=1+1"], ["bob", "10.0", "ok"]]


def test_control_characters_are_written_visibly_escaped_in_every_csv(tmp_path):
    """A file name in a submission (F3's, in submitted/escme/) reaches reports/<chapter>.csv as a reason: its ESC
    bytes, C1's CSI, a carriage return would run in the terminal of an instructor who `cat`s the report."""
    name = "\x1b[2J\x1b[31mhonest graded 10 of 10\n=HYPERLINK(1).py"
    reason = f"a file that is not a regular file: {name} \x9b2J \r alice graded 0 \x00\x7f\x85\tend"
    path = write_outcomes(tmp_path, RunOutcomes("ch", [Outcome("escme", "failed", reason)]))
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")  # csv ends its lines with CRLF
    assert re.findall(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text) == [], text
    (row,) = read_rows(path)
    assert row["reason"] == (
        "a file that is not a regular file: \\x1b[2J\\x1b[31mhonest graded 10 of 10\n'=HYPERLINK(1).py \\x9b2J "
        "\\x0d alice graded 0 \\x00\\x7f\\x85\tend"
    ), row
    assert formula_cells(path) == []
    written = write_csv(tmp_path / "head.csv", ["\x1bname"], [["\x1b[31m", 1.0]])
    assert written.read_text(encoding="utf-8").splitlines() == ['"\\x1bname"', '"\\x1b[31m",1.0']


def test_undecodable_file_names_are_written_escaped(tmp_path):
    name = os.fsdecode(b"bad\xffname")
    path = write_csv(tmp_path / "out.csv", ["student"], [[name]])
    assert path.read_text(encoding="utf-8").splitlines()[1] == '"bad\\udcffname"'


SEMICOLON_ATTACKS = ['Mal;=HYPERLINK("http://x")', "x;=1+1;", 'a;"=1+1"', "a;\t@SUM(A1)", "evil\n=cmd", "a; +1+cmd"]


def test_every_text_cell_is_quoted_and_no_formula_starts_after_a_semicolon(tmp_path):
    path = write_csv(tmp_path / "out.csv", ["student", "score", "note"], [[a, -1.0, a] for a in SEMICOLON_ATTACKS])
    assert formula_cells(path) == []
    assert path.read_text(encoding="utf-8").splitlines()[:2] == [
        '"student","score","note"',
        '"Mal;\'=HYPERLINK(""http://x"")",-1.0,"Mal;\'=HYPERLINK(""http://x"")"',
    ]
    rows = list(csv.reader(open(path, newline="", encoding="utf-8")))
    assert [row[1] for row in rows[1:]] == ["-1.0"] * len(SEMICOLON_ATTACKS)  # numbers are still numbers


def test_grades_and_outcomes_csvs_run_no_formula_whatever_the_separator(tmp_path):
    book = fake_gradebook([(f"s{index}", attack) for index, attack in enumerate(SEMICOLON_ATTACKS)])
    GradesCsvExportPlugin(to=str(tmp_path / "grades.csv")).export(book)
    outcomes = [Outcome(f"s{index}", "failed", f"output_type {a}") for index, a in enumerate(SEMICOLON_ATTACKS)]
    reports = write_outcomes(tmp_path, RunOutcomes("ch", outcomes))
    assert formula_cells(tmp_path / "grades.csv") == [] and formula_cells(reports) == []


def fake_gradebook(students):
    """The parts of nbgrader's Gradebook its CSV exporter reads."""
    from nbgrader.api import MissingEntry

    assignment = SimpleNamespace(name="ch", duedate=None, max_score=14.0)
    submitted = SimpleNamespace(timestamp=datetime(2026, 1, 2, 3, 4, 5), score=10.0, late_submission_penalty=0.0)

    def find_submission(name, student):
        if student != "alice":
            raise MissingEntry()
        return submitted

    people = [SimpleNamespace(id=s, last_name=last, first_name="", email=None) for s, last in students]
    return SimpleNamespace(assignments=[assignment], students=people, find_submission=find_submission)


def test_grades_csv_has_nbgraders_rows_and_columns(tmp_path):
    from nbgrader.plugins import CsvExportPlugin

    book = fake_gradebook([("alice", "Smith"), ("bob", "Jones")])
    CsvExportPlugin(to=str(tmp_path / "nbgrader.csv")).export(book)
    GradesCsvExportPlugin(to=str(tmp_path / "ours.csv")).export(book)
    theirs = list(csv.DictReader(open(tmp_path / "nbgrader.csv", newline="")))
    ours = list(csv.DictReader(open(tmp_path / "ours.csv", newline="", encoding="utf-8")))
    assert ours == theirs and len(ours) == 2 and ours[0]["score"] == "10.0"


def test_grades_csv_quotes_and_neutralises_names(tmp_path):
    book = fake_gradebook([("alice", "=cmd|' /C calc'!A0"), ("bob", "Doe, 14\nx")])
    GradesCsvExportPlugin(to=str(tmp_path / "grades.csv")).export(book)
    rows = list(csv.DictReader(open(tmp_path / "grades.csv", newline="", encoding="utf-8")))
    assert [(r["student_id"], r["last_name"], r["score"]) for r in rows] == [
        ("alice", "'=cmd|' /C calc'!A0", "10.0"),
        ("bob", "Doe, 14\nx", "0.0"),
    ]


def test_the_summary_shows_each_id_on_its_own_line_escaped():
    hostile = ["evil\n  alice    graded      14 / 14", "\x1b[2K\ralice", "a\u202eb", "x" * 500]
    run = RunOutcomes("ch", [Outcome(name, "failed", "reason\nforged\x1b[31m") for name in hostile])
    run.outcomes.append(Outcome("alice", "graded", score=0.0, max_score=14.0))
    lines = summary(run).splitlines()
    assert len(lines) == 2 + len(run.outcomes), lines
    assert not any(c in line for line in lines for c in "\x1b\r\u202e")
    assert lines[2].startswith("  'evil\\n  alice    graded")
    assert lines[3].startswith("  '\\x1b[2K\\ralice'") and "reason\\nforged\\x1b[31m" in lines[3]
    assert "'a\\u202eb'" in lines[4]
    assert max(len(line) for line in lines[2:]) < 200
    assert [line.split()[0] for line in lines[2:]][-1] == "alice"


def test_a_student_graded_without_feedback_is_named_apart_and_the_run_is_not_clean():
    """A kernel that died leaves scores (the trusted verdicts) but no feedback: the summary names the student
    after the table, and the run is not clean (`lrcourse grade` and `check` exit 1)."""
    died = Outcome("bob", "graded", "notebook run: Kernel died; no feedback", 3.0, 14.0, feedback=False)
    run = RunOutcomes("ch", [Outcome("alice", "graded", score=14.0, max_score=14.0), died])
    assert run.incomplete == [died] and not run.failed and not run.clean
    assert summary(run).splitlines()[-1] == "1 student(s) graded without feedback (the reason is on their line): bob"
    assert RunOutcomes("ch", run.outcomes[:1]).clean


def test_nbgrader_export_uses_the_safe_plugin_from_the_course_config():
    from nbgrader.apps.exportapp import ExportApp

    from lrcourse.grading.course import course_config

    config = course_config(ROOT, f"sqlite:///{ROOT / 'gradebook.db'}")
    assert ExportApp(config=config).plugin_class is GradesCsvExportPlugin


BIDI = "\u202e\u2066\u2069\u200b\u200f\u061c\u2028\ufeff"


def test_bidi_and_invisible_characters_are_escaped_in_every_csv_and_the_class_report(tmp_path):
    """A file name `x\u202etxt.py` (F4) showed the rest of its reason reversed in a spreadsheet and in
    reports/<chapter>.html: every text cell and the report's student text show such characters as escapes."""
    from lrcourse.grading.reports.class_report import esc

    reason = f"x{BIDI}txt.py is Python code"
    path = write_outcomes(tmp_path, RunOutcomes("ch", [Outcome("zed", "failed", reason)]))
    assert not set(BIDI) & set(path.read_text(encoding="utf-8")), path.read_text(encoding="utf-8")
    (row,) = read_rows(path)
    assert row["reason"] == "x\\u202e\\u2066\\u2069\\u200b\\u200f\\u061c\\u2028\\ufefftxt.py is Python code", row
    assert esc(f"<b>{BIDI}") == "&lt;b&gt;\\u202e\\u2066\\u2069\\u200b\\u200f\\u061c\\u2028\\ufeff"
