"""Hostile submissions graded by real `lrcourse grade` next to honest ones (see `hostile.py`).

The kernel's view of a test cell can be forged from inside the notebook; the trusted verdicts cannot. Every
attack with a wrong class scores no more than that wrong class submitted honestly, every attack with a
correct class keeps full marks, and the honest students graded before and after the attackers keep theirs.
The submissions `lrcourse grade` refuses (`hostile.REFUSED`: ids that glob or forge rows, links, FIFOs, hard
links anywhere in a submission, a FIFO as timestamp.txt, notebooks costly to read) fail with their reasons and
leave no trace in grades.csv.
"""

from __future__ import annotations

import csv
import json
import os

import nbformat
import pytest

from lrcourse.grading.spreadsheet import FORMULA_START, safe_cell

from support import hostile, hostile_messages
from support.course import NOTEBOOK, make_course, scores, submit
from support.csvcells import formula_cells
from support.gradedclass import lrcourse

HONEST = {
    "aa-honest-correct": hostile.CORRECT,
    "honest-never-decays": hostile.NEVER_DECAYS,
    "zz-honest-correct": hostile.CORRECT,
}


def submit_attack(course, attack: hostile.Attack) -> None:
    path = submit(course, attack.name, hostile.CHAPTER, hostile.answers(attack.answer))
    notebook = nbformat.read(path, as_version=4)
    if attack.extra_cells:
        at = next(i for i, c in enumerate(notebook.cells) if c.get("id") == hostile.ANSWER_CELL) + 1
        notebook.cells[at:at] = [nbformat.v4.new_code_cell(source) for source in attack.extra_cells]
    if attack.mutate:
        attack.mutate(notebook)
    nbformat.write(notebook, path)


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("hostile"), [hostile.CHAPTER])
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Sandbox.worker_memory_mb = {hostile.WORKER_MEMORY_MB}\n")
    for student, answer in HONEST.items():
        submit(course, student, hostile.CHAPTER, hostile.answers(answer))
    for attack in [*hostile.ATTACKS, hostile.MEMORY_FLOOD]:
        submit_attack(course, attack)
    for refused in hostile.REFUSED:
        path = submit(course, refused.name, hostile.CHAPTER, hostile.answers(refused.answer))
        if refused.make:
            refused.make(course, path)
    run = lrcourse(course, "grade", hostile.CHAPTER, "--workers", "2", timeout=3600)
    return course, run, scores(course, hostile.CHAPTER)


def total(cells) -> float:
    return sum(score for score, _ in cells.values())


@pytest.mark.slow
def test_honest_students_before_and_after_the_attackers_keep_their_marks(hostile_class):
    course, run, graded = hostile_class
    full = sum(maximum for _, maximum in graded["aa-honest-correct"].values())
    assert total(graded["aa-honest-correct"]) == total(graded["zz-honest-correct"]) == full, run.stdout
    assert total(graded["honest-never-decays"]) < full


@pytest.mark.slow
@pytest.mark.parametrize("attack", hostile.ATTACKS, ids=lambda a: a.name)
def test_an_attack_gains_nothing(hostile_class, attack):
    course, run, graded = hostile_class
    assert attack.name in graded, run.stdout[-3000:] + run.stderr[-3000:]
    honest = total(graded["aa-honest-correct" if attack.correct else "honest-never-decays"])
    if attack.correct:
        assert total(graded[attack.name]) == honest, (graded[attack.name], run.stdout)
    else:
        assert total(graded[attack.name]) <= honest, (graded[attack.name], run.stdout)


@pytest.mark.slow
def test_folders_nested_past_pythons_recursion_limit_are_removed_and_the_run_ends_well(hostile_class):
    """r20ad W1: 1,500 nested folders in the kernel's socket folder raised RecursionError out of the grader's clean-up
    (no grades.csv, and the next run stopped at its start); they are removed, and the class is graded."""
    import glob

    course, run, graded = hostile_class
    name = "deep-folders-correct"
    notebook = nbformat.read(course / "autograded" / name / hostile.CHAPTER / NOTEBOOK[hostile.CHAPTER], as_version=4)
    said = "".join(out.get("text", "") for cell in notebook.cells for out in cell.get("outputs", []))
    assert said.count("planted in") == 2 and "not planted" not in said, said[-3000:]
    assert "RecursionError" not in run.stderr and "Traceback" not in run.stderr, run.stderr[-3000:]
    assert (course / "grades.csv").is_file() and name in (course / "grades.csv").read_text()
    assert glob.glob("/var/tmp/lrc-*/*/d/d/d") + glob.glob("/dev/shm/lrc-*/*/d/d/d") == []


@pytest.mark.slow
def test_forged_kernel_results_are_reported_as_overridden(hostile_class):
    course, run, graded = hostile_class
    line = next(line for line in run.stdout.splitlines() if line.strip().startswith("patch-checker "))
    assert "in-kernel result overridden: test_my_step_lr_one_group" in line, run.stdout
    record = json.loads(
        (course / "autograded" / "patch-checker" / hostile.CHAPTER / ".lrcourse-verdicts.json").read_text()
    )
    assert "test_my_step_lr_one_group" in record["overridden"]
    cell = record["cells"]["test_my_step_lr_one_group"]
    assert cell["in_kernel_score"] == cell["points"] and cell["trusted_score"] == 0
    assert cell["message"].startswith("CheckFailed: MyStepLR(optimizer, step_size=3"), cell
    assert "after step number" in cell["detail"] and "PyTorch's StepLR:" in cell["detail"], cell
    feedback = next((course / "feedback" / "patch-checker" / hostile.CHAPTER).glob("*.html")).read_text()
    assert "The grader checked this cell again outside your notebook" in feedback


@pytest.mark.slow
def test_every_test_cell_holds_its_trusted_score_none_left_withheld(hostile_class):
    """Autograde saved the kernel's scores as withheld (`withheld_scores`); the trusted verdicts replaced them all."""
    from lrcourse.gradebook_db import gradebook
    from lrcourse.grading.course import default_db_url

    course, run, graded = hostile_class
    notebook, checked = NOTEBOOK[hostile.CHAPTER].removesuffix(".ipynb"), 0
    with gradebook(default_db_url(course)) as book:
        for record in (course / "autograded").glob(f"*/{hostile.CHAPTER}/.lrcourse-verdicts.json"):
            student = record.parent.parent.name
            for name, cell in json.loads(record.read_text())["cells"].items():
                grade = book.find_grade(name, notebook, hostile.CHAPTER, student)
                assert (grade.auto_score, grade.needs_manual_grade) == (cell["trusted_score"], False), student
                checked += 1
    assert checked >= len(HONEST) + len(hostile.ATTACKS)


def csv_rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
@pytest.mark.parametrize("refused", hostile.REFUSED, ids=lambda r: r.name.encode("unicode_escape").decode())
def test_a_refused_submission_fails_with_its_reason(hostile_class, refused):
    course, run, graded = hostile_class
    rows = csv_rows(course / "reports" / f"{hostile.CHAPTER}.csv")
    written = safe_cell(refused.name)
    [row] = [row for row in rows if row["student"] == written]
    assert row["status"] == "failed" and refused.reason in row["reason"], row
    assert len(row["reason"]) < 400 and "xxxx" not in row["reason"], row  # short, no student text repeated
    assert refused.name not in graded
    assert not (course / "autograded" / refused.name).exists()  # nothing of it copied


@pytest.fixture(scope="module")
def deep_message_class(tmp_path_factory):
    """The kernels that send a message nested too deep, one that is not JSON, one of too many values, one badly
    signed, one whose header is a list and those whose content is malformed for its type, and an honest classmate
    graded after them by the same worker."""
    course = make_course(tmp_path_factory.mktemp("deep-message"), [hostile.CHAPTER])
    for attack in hostile_messages.MESSAGE_ATTACKS:
        submit_attack(course, attack)
    submit(course, "zz-honest-correct", hostile.CHAPTER, hostile.answers(hostile.CORRECT))
    run = lrcourse(course, "grade", hostile.CHAPTER, "--workers", "1", timeout=1800)
    return course, run, scores(course, hostile.CHAPTER)


@pytest.mark.slow
def test_a_message_too_costly_or_malformed_stops_that_kernel_with_the_reason_and_prints_no_traceback(
    deep_message_class,
):
    from lrcourse.grading.sandbox.kernel_client import MAX_MESSAGE_DEPTH, MAX_MESSAGE_VALUES

    course, run, graded = deep_message_class
    printed = run.stdout + run.stderr
    assert not [word for word in ("Traceback", "Task exception", "RecursionError") if word in printed], printed[-3000:]
    full = sum(maximum for _, maximum in graded["zz-honest-correct"].values())
    assert total(graded["zz-honest-correct"]) == full, printed[-3000:]
    rows = {row["student"]: row for row in csv_rows(course / "reports" / f"{hostile.CHAPTER}.csv")}
    for attack, reason in (
        (hostile_messages.DEEP_MESSAGE, f"your kernel sent a message nested deeper than {MAX_MESSAGE_DEPTH} levels"),
        (hostile_messages.NOT_JSON_MESSAGE, "your kernel sent a message that is not JSON"),
        (
            hostile_messages.MANY_VALUES_MESSAGE,
            f"your kernel sent a message part of more than {MAX_MESSAGE_VALUES:,} JSON values",
        ),
        (hostile_messages.BAD_SIGNATURE, "your kernel sent a malformed message"),
        (hostile_messages.LIST_HEADER, "your kernel sent a malformed message"),
    ):
        assert total(graded[attack.name]) <= full
        assert reason in rows[attack.name]["reason"], rows[attack.name]


@pytest.mark.slow
@pytest.mark.parametrize("attack, reason", hostile_messages.MALFORMED_CONTENT, ids=lambda a: getattr(a, "name", ""))
def test_a_message_whose_content_nbclient_cannot_read_stops_that_kernel_with_what_was_wrong(
    deep_message_class, attack, reason
):
    """F16's residual: nbclient read these unchecked and failed the student with "There was an error processing
    assignment" and no feedback (its traceback in the terminal: the test above). Refused before nbclient reads them,
    each names its type and what was wrong; the trusted verdicts still give the correct class its marks."""
    course, run, graded = deep_message_class
    row = {row["student"]: row for row in csv_rows(course / "reports" / f"{hostile.CHAPTER}.csv")}[attack.name]
    assert f"message limit (your kernel sent a {reason})" in row["reason"], row
    assert "There was an error processing" not in row["reason"], row
    assert total(graded[attack.name]) == total(graded["zz-honest-correct"]), graded[attack.name]


@pytest.mark.slow
def test_the_class_report_and_the_canvas_export_are_written_whatever_a_reason_was(hostile_class, tmp_path):
    """A 200 kB cell of an unknown type once made a 900 kB reason that csv would not read back: no class
    report, and `lrcourse export --roster` stopped with a traceback for the whole class. An error message
    holding a lone surrogate (no UTF-8 file can hold it) once left the report empty and stopped the exports."""
    course, run, graded = hostile_class
    assert "the class report or export failed" not in run.stderr, run.stderr[-3000:]
    report = (course / "reports" / f"{hostile.CHAPTER}.html").read_text(encoding="utf-8")
    assert all(name in report for name in ["aa-honest-correct", "lone-surrogate-in-its-message"]), report[-2000:]
    assert "no file can hold this: \ufffd\ufffd" in report  # its message, as a decoder shows lone surrogates
    roster = tmp_path / "roster.csv"
    rows = [f"{name},{index},S{index},{name},A," for index, name in enumerate(HONEST)]
    roster.write_text(
        "\n".join(
            [f"Student,ID,SIS User ID,SIS Login ID,Section,{hostile.CHAPTER} (4102)", "    Points Possible,,,,,14"]
        )
        + "\n"
        + "\n".join([*rows, "Mal;=HYPERLINK(1),99,S99,unknown-cell-type,A,"])
        + "\n"
    )
    export = lrcourse(course, "export", "--roster", str(roster), "--out", str(tmp_path / "out"), timeout=600)
    assert export.returncode in (0, 1) and "Traceback" not in export.stderr, export.stderr[-3000:]
    canvas = csv_rows(tmp_path / "out" / "canvas-import.csv")
    by_login = {row["SIS Login ID"]: row[f"{hostile.CHAPTER} (4102)"] for row in canvas}
    assert by_login["aa-honest-correct"] and by_login["unknown-cell-type"] == "", by_login
    written = sorted((tmp_path / "out").glob("*.csv"))
    assert len(written) == 2 and {p.name: formula_cells(p) for p in written} == {p.name: [] for p in written}


@pytest.mark.slow
def test_a_glob_in_a_folder_name_grades_nobody_else(hostile_class):
    course, run, graded = hostile_class
    wrong = total(graded["honest-never-decays"])
    assert total(graded[hostile.GLOB_TARGET]) <= wrong < total(graded["aa-honest-correct"]), run.stdout
    verdicts = json.loads(
        (course / "autograded" / hostile.GLOB_TARGET / hostile.CHAPTER / ".lrcourse-verdicts.json").read_text()
    )
    assert verdicts["overridden"], verdicts  # its patched checker passed in its kernel, and was overridden


@pytest.mark.slow
def test_grades_csv_has_one_quoted_row_per_student_and_no_formula(hostile_class):
    course, run, graded = hostile_class
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    rows = [row for row in csv_rows(course / "grades.csv") if row["assignment"] == hostile.CHAPTER]
    students = set(HONEST) | {attack.name for attack in [*hostile.ATTACKS, hostile.MEMORY_FLOOD]}
    assert sorted(row["student_id"] for row in rows) == sorted(students)
    if os.geteuid() == 0:  # its worker's cgroup ended it; under RLIMIT_DATA its message is dropped (below)
        assert next(float(row["score"]) for row in rows if row["student_id"] == hostile.MEMORY_FLOOD.name) == 0
    full = total(graded["aa-honest-correct"])
    assert {row["student_id"]: float(row["score"]) for row in rows if row["student_id"] in HONEST} == {
        name: total(graded[name]) for name in HONEST
    }
    assert float(next(row for row in rows if row["student_id"] == "aa-honest-correct")["score"]) == full
    reports = csv_rows(course / "reports" / f"{hostile.CHAPTER}.csv")
    assert len(reports) == len(students) + len(hostile.REFUSED)
    for row in rows + reports:
        assert not any(cell.startswith(FORMULA_START) for cell in row.values()), row
    written = [course / "grades.csv", course / "reports" / f"{hostile.CHAPTER}.csv"]
    assert {path.name: formula_cells(path) for path in written} == {path.name: [] for path in written}


@pytest.mark.slow
def test_the_summary_prints_every_id_on_one_escaped_line(hostile_class):
    course, run, graded = hostile_class
    assert "\\x1b" in run.stdout and not any(c in run.stdout for c in "\x1b\r"), run.stdout
    lines = run.stdout.splitlines()
    assert sum(line.startswith("  aa-honest-correct ") for line in lines) == 1, run.stdout
    forged = next(line for line in lines if "\\r  aa-honest-correct" in line)
    assert forged.startswith("  '\\x1b[2K\\r  aa-honest-correct") and " failed " in forged, forged
    assert any(line.startswith("  'evil\\nalice'") and " failed " in line for line in lines), run.stdout


@pytest.mark.slow
@pytest.mark.parametrize("student", hostile.FLOODS)
def test_a_flood_of_output_is_cut_and_costs_the_grader_little(hostile_class, student):
    """Hundreds of megabytes printed (through the kernel's streams, or around them in megabyte messages):
    the graded notebook and the feedback stay small, and what is kept says that it was cut."""
    course, run, graded = hostile_class
    line = next(line for line in run.stdout.splitlines() if line.strip().startswith(student + " "))
    assert " graded " in line, run.stdout
    written = [*(course / "autograded" / student).rglob("*.ipynb"), *(course / "feedback" / student).rglob("*.html")]
    assert all(path.stat().st_size < 3 * 2**20 for path in written), {p.name: p.stat().st_size for p in written}
    if student == "print-flood-correct":
        assert len(written) == 2
        feedback = next((course / "feedback" / student).rglob("*.html")).read_text()
        assert "[output truncated after 1048576 bytes" in feedback


@pytest.mark.slow
def test_a_message_held_whole_in_the_worker_ends_that_worker_only(hostile_class):
    """600 frames of 1 MB as one message (libzmq assembles it whole before anyone reads it): the worker's memory
    cap ends that worker, the student fails with the reason, and the others are graded in a new pool."""
    course, run, graded = hostile_class
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-3000:]
    if os.geteuid() != 0:
        pytest.skip(
            "as non-root the worker's cap is RLIMIT_DATA: libzmq drops the message's connection and the worker goes "
            "on (worker_memory), which no reason in the report records; honest grades are checked by the CSV test"
        )
    [row] = [
        row for row in csv_rows(course / "reports" / f"{hostile.CHAPTER}.csv") if row["student"] == "multi-frame-flood"
    ]
    assert row["status"] == "failed", row
    assert f"went past its memory cap ({hostile.WORKER_MEMORY_MB} MB, c.Sandbox.worker_memory_mb)" in row["reason"]


def test_a_worker_that_ignores_sigterm_is_killed():
    """A worker busy in C code runs no signal handler: it is killed after the grace period."""
    import multiprocessing
    import time

    from lrcourse.grading.autograde.watchdog import end_workers

    process = multiprocessing.get_context("fork").Process(target=_ignore_sigterm_and_sleep)
    process.start()
    time.sleep(0.5)  # its handler is set
    start = time.monotonic()
    assert end_workers([process], seconds=0.5) == [process]
    assert not process.is_alive() and process.exitcode == -9
    assert time.monotonic() - start < 30  # killed, not waited for


def _ignore_sigterm_and_sleep() -> None:
    import signal
    import time

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(60)
