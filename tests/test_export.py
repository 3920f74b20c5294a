"""Per-item grades and the Canvas import file (`lrcourse export`, `lrcourse grade --export`).

The slow tests read a small class graded once per session, shared with test_class_report (classresults.py:
the example class in chapter 2, a generated class with a hand-graded written answer in chapter 1), and hold
the files to nbgrader's own numbers: the gradebook's per-cell scores, its grades.csv totals. The fast ones
check the pieces on made-up grades.
"""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from lrcourse.build import tool_environment
from lrcourse.grading.reports.export import canvas_columns, item_row, match_students, read_roster, write_canvas
from lrcourse.grading.reports.results import PENDING, AssignmentGrades, Item, grade_value

from support.classresults import (
    ALICE_WRITTEN_SCORE,
    EXAMPLE,
    GENERATED,
    README_SCORES,
    ROSTER,
    WRITTEN,
    WRITTEN_POINTS,
    gradebook_cells,
    graded_class_copy,
    nbgrader_totals,
    read_csv,
)
from support.course import scores
from support.gradedclass import lrcourse

IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CH1_AUTOGRADED = 6  # chapter 1's autograded points (its two written answers add 4, graded by hand)


# --------------------------------------------------------------------------------------------
# Fast: the pieces, on made-up grades
# --------------------------------------------------------------------------------------------
def made_up(name="02_ordered_schedules", totals=None) -> AssignmentGrades:
    items = [Item(name, "nb", "test_a", 3, "code"), Item(name, "nb", "written", 2, "markdown")]
    totals = totals or {"alice": 5.0, "bob": 1.0}
    grades = AssignmentGrades(name, 5.0, items)
    for student, total in totals.items():
        grades.totals[student] = total
        grades.scores[student] = {
            ("nb", "test_a"): min(total, 3.0),
            ("nb", "written"): PENDING if student == "bob" else total - 3.0,
        }
    return grades


def test_an_item_is_pending_until_a_human_grades_it():
    assert grade_value(SimpleNamespace(needs_manual_grade=True, score=0.0)) == PENDING
    assert grade_value(SimpleNamespace(needs_manual_grade=False, score=1.5)) == 1.5
    grades = made_up()
    assert item_row("bob", [grades]) == ["bob", "1", "pending", "1"]
    assert item_row("alice", [grades]) == ["alice", "3", "2", "5"]
    assert item_row("nobody", [grades]) == ["nobody", "", "", ""]
    assert [i.name for i in grades.pending("bob")] == ["written"]


def test_students_match_the_roster_by_login_id_by_id_or_by_a_mapping():
    roster = read_roster(ROSTER)
    assert match_students(roster, ["alice", "zoe"]) == ({"alice": 5}, ["zoe"])
    assert match_students(roster, ["ALICE "])[0] == {"ALICE ": 5}  # case and spaces do not matter
    mapped, unmatched = match_students(roster, ["alice", "bob"], "ID", {"alice": "30411"})
    assert mapped == {"alice": 5} and unmatched == ["bob"]
    assert match_students(roster, ["s1"], "SIS User ID", {"s1": "S-2024-0412"})[0] == {"s1": 0}
    with pytest.raises(ValueError, match="no column"):
        match_students(roster, ["alice"], "Email")


def test_canvas_columns_keep_the_rosters_own_headers():
    roster = read_roster(ROSTER)
    assert canvas_columns(roster, [EXAMPLE, GENERATED]) == {
        EXAMPLE: "02_ordered_schedules (4102)",
        GENERATED: GENERATED,
    }
    assert canvas_columns(roster, [GENERATED], {GENERATED: "Chapter 1"}) == {GENERATED: "Chapter 1"}


def test_canvas_file_round_trips_the_roster(tmp_path):
    grades = made_up(totals={"alice": 5.0, "bob": 1.0, "zoe": 2.0})
    result = write_canvas(tmp_path / "canvas.csv", ROSTER, [grades], failed={EXAMPLE: {"erin": "not valid JSON"}})
    roster = read_csv(ROSTER)
    rows = read_csv(tmp_path / "canvas.csv")
    assert [{k: r[k] for k in IDENTITY} for r in rows[1:]] == [{k: r[k] for k in IDENTITY} for r in roster[1:]]
    assert rows[0]["Student"].strip() == "Points Possible" and rows[0]["02_ordered_schedules (4102)"] == "5"
    totals = {r["SIS Login ID"]: r["02_ordered_schedules (4102)"] for r in rows[1:]}
    assert totals == {"bob": "1", "carol": "", "dave": "", "erin": "", "frank": "", "alice": "5"}
    assert result.unmatched == ["zoe"]
    assert "could not be graded: not valid JSON" in result.missing["Evans, Erin"][0]
    assert result.pending == {"bob": [f"{EXAMPLE}/written"]}
    text = "\n".join(result.lines())
    assert "NOT IN THE ROSTER" in text and "'zoe'" in text and "Fischer, Frank" in text


# --------------------------------------------------------------------------------------------
# Slow: a graded class
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course, run = graded_class_copy(tmp_path_factory, "export-class")
    return SimpleNamespace(path=course, run=run, cells=gradebook_cells(course))


@pytest.mark.slow
def test_grade_prints_where_the_report_and_exports_are(graded):
    out = graded.run.stdout
    assert f"class report: {graded.path / 'reports' / (EXAMPLE + '.html')}" in out, out
    assert f"per-item grades: {graded.path / 'exports' / 'grades-by-item.csv'}" in out
    assert (graded.path / "reports" / f"{EXAMPLE}.html").is_file()


@pytest.mark.slow
def test_the_readme_walkthrough_class_scores_as_documented(graded):
    """The example class graded as the README shows it: autograded totals, and erin's notebook refused."""
    autograded = scores(graded.path, EXAMPLE)
    lines = graded.run.stdout.splitlines()
    failed = {line.split()[0]: line for line in lines if " failed " in line and not line.startswith(EXAMPLE)}
    for student, expected in README_SCORES.items():
        if isinstance(expected, str):
            assert student not in autograded and expected in failed[student], graded.run.stdout[-3000:]
        else:
            assert sum(score for score, _ in autograded[student].values()) == expected, student
    assert set(failed) == {s for s, expected in README_SCORES.items() if isinstance(expected, str)}, failed


@pytest.mark.slow
def test_per_item_csv_equals_the_gradebooks_per_cell_scores(graded):
    rows = {row["student_id"]: row for row in read_csv(graded.path / "exports" / "grades-by-item.csv")}
    checked = 0
    for assignment, students in graded.cells.items():
        for student, cells in students.items():
            for name, (score, _, pending) in cells.items():
                assert rows[student][f"{assignment}/{name}"] == (PENDING if pending else f"{score:g}"), (student, name)
                checked += 1
    assert checked == 4 * 10 + 2 * 7  # example class: 4 graded x (5 + 3 test cells + 2 written); chapter 1: 2 x (4 + 3)
    assert rows["alice"][f"{GENERATED}/{WRITTEN}"] == f"{ALICE_WRITTEN_SCORE:g}"
    assert rows["zoe"][f"{GENERATED}/{WRITTEN}"] == PENDING
    assert rows["bob"][f"{GENERATED}/total"] == ""  # bob submitted nothing for chapter 1
    header = list(rows["alice"])
    assert (
        header.index(f"{GENERATED}/test_largest_stable_lr")
        < header.index(f"{GENERATED}/{WRITTEN}")
        < header.index(f"{GENERATED}/test_rate_for_noise_floor")
    ), "items in the notebook's order"


@pytest.mark.slow
def test_per_item_totals_equal_nbgraders_grades_csv(graded):
    rows = read_csv(graded.path / "exports" / "grades-by-item.csv")
    nbgrader = nbgrader_totals(graded.path)
    compared = 0
    for row in rows:
        for assignment in (EXAMPLE, GENERATED):
            if row[f"{assignment}/total"]:
                assert float(row[f"{assignment}/total"]) == float(nbgrader[assignment, row["student_id"]])
                compared += 1
            else:  # no submission: nbgrader writes 0, the per-item file leaves the cells empty
                assert float(nbgrader[assignment, row["student_id"]]) == 0
    assert compared == 6
    alice = {r["student_id"]: r for r in rows}["alice"]
    assert float(alice[f"{GENERATED}/total"]) == CH1_AUTOGRADED + ALICE_WRITTEN_SCORE


@pytest.mark.slow
def test_canvas_file_round_trips_the_example_roster(graded):
    roster = read_csv(ROSTER)
    rows = read_csv(graded.path / "exports" / "canvas-import.csv")
    assert list(rows[0])[:5] == IDENTITY and list(rows[0])[5:] == [GENERATED, "02_ordered_schedules (4102)"]
    assert [{k: r[k] for k in IDENTITY} for r in rows[1:]] == [{k: r[k] for k in IDENTITY} for r in roster[1:]]
    assert rows[0]["Student"].strip() == "Points Possible"
    assert (
        rows[0]["02_ordered_schedules (4102)"] == "13"
        and rows[0][GENERATED] == f"{CH1_AUTOGRADED + 4 + WRITTEN_POINTS:g}"
    )
    totals = {r["SIS Login ID"]: (r["02_ordered_schedules (4102)"], r[GENERATED]) for r in rows[1:]}
    assert totals == {
        "bob": ("7", ""),
        "carol": ("0", ""),
        "dave": ("0", ""),
        "erin": ("", ""),
        "frank": ("", ""),
        "alice": ("9", f"{CH1_AUTOGRADED + ALICE_WRITTEN_SCORE:g}"),
    }
    out = graded.run.stdout
    assert "NOT IN THE ROSTER, not in the file: graded student 'zoe'" in out, out
    assert (
        "'Evans, Erin': 01_learning_rate, 02_ordered_schedules (could not be graded: ordered_schedules.ipynb is not valid JSON"
        in out
    )
    assert "'Fischer, Frank'" in out
    assert "zoe: 1 item(s) still pending manual grading" in out


@pytest.mark.slow
def test_export_command_with_an_id_mapping(graded, tmp_path):
    mapping = tmp_path / "ids.csv"
    mapping.write_text("nbgrader_id,roster_value\nalice,30411\nbob,30412\n")
    run = lrcourse(
        graded.path,
        "export",
        EXAMPLE,
        "--roster",
        str(ROSTER),
        "--roster-id-column",
        "ID",
        "--id-map",
        str(mapping),
        "--out",
        str(tmp_path / "out"),
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    rows = read_csv(tmp_path / "out" / "canvas-import.csv")
    assert {r["ID"]: r["02_ordered_schedules (4102)"] for r in rows[1:] if r["02_ordered_schedules (4102)"]} == {
        "30411": "9",
        "30412": "7",
    }
    assert "graded student 'carol'" in run.stdout and "graded student 'dave'" in run.stdout
    assert f"class report: {graded.path / 'reports' / (EXAMPLE + '.html')}" in run.stdout


@pytest.mark.slow
def test_nbgrader_runs_the_plugin_itself(graded, tmp_path):
    """`nbgrader export --exporter=...ItemCsvExportPlugin` writes the same grades (items in name order)."""
    target = tmp_path / "items.csv"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbgrader",
            "export",
            "--exporter",
            "lrcourse.grading.reports.export.ItemCsvExportPlugin",
            "--to",
            str(target),
        ],
        cwd=graded.path,
        env=tool_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    ours = read_csv(graded.path / "exports" / "grades-by-item.csv")
    assert read_csv(target) == ours  # dicts: the same cells, whatever the column order


def test_canvas_file_never_guesses_a_row_nor_uploads_a_failed_grading(tmp_path):
    """Two ids on one roster row, or one id on two rows: neither gets a cell, both are reported. A student the
    run could not grade gets no cell even when the gradebook holds a total (a crashed run leaves 0, pending).
    A chapter nobody submitted adds no empty new assignment. The Points Possible row is always written."""
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Extra\n"
        '"Dup, One",1,S1,dup,A,x\n"Dup, Two",2,S2,dup,A,y\nShared,3,S3,shared,A,\n'
        'Crash,4,S4,crash,A,\n"Zoë ""Q""",5,S5,zoë,A,\n',
        encoding="utf-8",
    )
    grades = made_up(totals={"dup": 5.0, "a1": 4.0, "a2": 1.0, "crash": 0.0, "zoë": 3.0})
    nobody = AssignmentGrades("09_nobody", 4.0, [])
    result = write_canvas(
        tmp_path / "canvas.csv",
        roster,
        [grades, nobody],
        id_map={"a1": "shared", "a2": "shared"},
        failed={EXAMPLE: {"crash": "kernel died"}},
    )
    rows = read_csv(tmp_path / "canvas.csv")
    assert list(rows[0]) == IDENTITY + [EXAMPLE] and rows[0]["Student"].strip() == "Points Possible"
    assert rows[0][EXAMPLE] == "5"
    assert {r["Student"]: r[EXAMPLE] for r in rows[1:]} == {
        "Dup, One": "",
        "Dup, Two": "",
        "Shared": "",
        "Crash": "",
        'Zoë "Q"': "3",
    }
    assert set(result.conflicts) == {"dup", "a1", "a2"} and "2 roster rows" in result.conflicts["dup"]
    assert result.withheld == {"crash": [EXAMPLE]} and "kernel died" in result.missing["Crash"][0]
    assert result.unsubmitted == ["09_nobody"]
    text = "\n".join(result.lines())
    assert "AMBIGUOUS, not in the file: graded student 'a1'" in text and "09_nobody" in text


def test_an_exact_roster_id_wins_over_one_that_differs_only_in_case(tmp_path):
    """Two OS users differing only in case ("Alice", "alice"): the one whose id the roster holds exactly keeps
    the row; the other is reported, never written into a classmate's row. Two rows differing only in case are
    two students; an id matching them only ignoring case gets neither. Case alone still matches (SIS ids)."""
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section\n"
        "Alice,1,S1,alice,A\nBo,2,S2,BO,A\nKim One,3,S3,Kim,A\nKim Two,4,S4,kim,A\n",
        encoding="utf-8",
    )
    grades = made_up(totals={"Alice": 1.0, "alice": 5.0, "bo": 4.0, "Kim": 2.0, "kim": 3.0, "KIM": 0.5})
    result = write_canvas(tmp_path / "canvas.csv", roster, [grades])
    cells = {r["Student"]: r["02_ordered_schedules"] for r in read_csv(tmp_path / "canvas.csv")[1:]}
    assert cells == {"Alice": "5", "Bo": "4", "Kim One": "2", "Kim Two": "3"}
    assert set(result.conflicts) == {"Alice", "KIM"}
    assert "only ignoring case: its SIS Login ID is exactly the id of 'alice'" in result.conflicts["Alice"]
    assert "2 roster rows" in result.conflicts["KIM"]


def test_a_match_ignoring_case_never_takes_the_row_of_a_student_who_was_not_graded(tmp_path):
    """F5: "alice" submitted nothing (or her run failed), "Alice" did: Alice's grade went into alice's row. Any
    student the gradebook knows, or the run could not grade, keeps the row whose id is theirs exactly."""
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section\nLiddell,1,S1,alice,A\nBo,2,S2,BO,A\n")
    for known in ({"students": ["Alice", "alice", "bo"]}, {"failed": {"02_ordered_schedules": {"alice": "crash"}}}):
        result = write_canvas(tmp_path / "canvas.csv", roster, [made_up(totals={"Alice": 5.0, "bo": 4.0})], **known)
        cells = {r["Student"]: r["02_ordered_schedules"] for r in read_csv(tmp_path / "canvas.csv")[1:]}
        assert cells == {"Liddell": "", "Bo": "4"}, known
        assert "exactly the id of 'alice'" in result.conflicts["Alice"], known


@pytest.mark.parametrize("given", ["nowhere", "afile"])
def test_an_export_whose_course_is_not_a_folder_says_so(tmp_path, monkeypatch, capsys, given):
    """R25v N3: a mistyped --course (missing, or a file) ended a non-root export in sqlalchemy's traceback."""
    from lrcourse.commands import export

    (tmp_path / "afile").write_text("not a course\n")
    monkeypatch.setattr(export.os, "geteuid", lambda: 1000)  # an instructor's account: root's refusal not asked
    monkeypatch.chdir(tmp_path)
    assert export.command_export(SimpleNamespace(course=given)) == 2
    assert f"lrcourse export: {given} is not a course folder" in capsys.readouterr().err
