"""`lrcourse check`: a self-study learner grades their own workspace without it being touched, chapter by chapter,
and reads the items in notebook order, the written answers apart, a total across chapters and named feedback.

One graded run (chapter 1); the rest reads plain data, the course's own notebooks and nbconvert's template."""

import ast
import hashlib
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from lrcourse import cells, cli
from lrcourse.build import chapters, tool_environment
from lrcourse.commands import check as check_command
from lrcourse.grading.browser.feedback_page import use_feedback_template
from lrcourse.grading.exchange.submission_secrets import SECRET
from lrcourse.grading.reports.results import PENDING, AssignmentGrades, assignment_items, source_order
from lrcourse.self_check import (
    BY_HAND,
    STUDENT,
    ChapterResult,
    UnknownChapter,
    chapter_lines,
    chapter_names,
    check,
    failed_cells,
    labels,
    sections,
    total_lines,
)
from lrcourse.start_page import checked_scores
from lrcourse.workspace import update_workspace

from support.paths import ROOT

PLATEAU = "03_adaptive_schedules"


def digest(folder):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_answer(path, grade_id, text):
    notebook = nbformat.read(path, as_version=4)
    next(c for c in notebook.cells if cells.nbgrader_id(c) == grade_id).source = text
    nbformat.write(notebook, path)


@pytest.mark.slow
def test_check_grades_a_copy_and_prints_the_score_per_exercise(tmp_path):
    workspace = tmp_path / "workspace"
    update_workspace(workspace)
    write_answer(workspace / "01_learning_rate" / "learning_rate.ipynb", "written_noise_decay", "Noise: decay.")
    before = digest(workspace)
    env = {**tool_environment(), "LRCOURSE_WORKSPACE": str(workspace)}  # what `make check` passes
    result = subprocess.run(
        [sys.executable, "-m", "lrcourse.cli", "check", "01"],  # a chapter by its number, as `make check CHAPTER=01`
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert digest(workspace) == before, "the learner's workspace must not change"
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    out = result.stdout
    assert "[1/1] 01_learning_rate: starting" in out and "[1/1] 01_learning_rate: done in" in out  # progress
    order = [
        out.index(name)
        for name in ("Exercise 1.1", "test_largest_stable_lr ", "Exercise 1.2", "test_rate_for_noise_floor ")
    ]
    assert order == sorted(order), out  # notebook order, under the headings
    assert f"written_noise_decay                      {BY_HAND}" in out  # answered: for a human, not 0 / 2
    assert f"written_ill_conditioning                 not answered yet ({BY_HAND})" in out
    assert "autograded total                           0 / 6" in out  # the written answers' 4 points apart
    assert "Total of the 1 chapter(s) graded: 0 / 6 autograded points" in out
    # no exchange here: grade's notes on the submission's secret, extensions and late penalties mean nothing (R23f N3)
    assert SECRET not in out and "extension" not in out and "late penalty" not in out, out
    assert checked_scores(ROOT / "build" / "check")["01_learning_rate"].startswith(
        "0 / 6 autograded points (written answers: graded by hand), `make check` of "
    )  # what the start page shows
    (feedback,) = [line.split("feedback: ")[1] for line in out.splitlines() if "feedback: " in line]
    page = (ROOT / feedback).read_text()
    assert "Test cell <code>test_largest_stable_lr</code>" in page and "Written response <code>" in page
    scripts = [line for line in page.splitlines() if "<script src=" in line]
    assert scripts and all('src="file:///' in line and "MathJax.js" in line for line in scripts), scripts


def test_chapters_are_named_in_full_or_by_number_and_an_unknown_one_lists_them():
    known = chapters()
    assert chapter_names([], known) == known
    assert chapter_names(["03"], known) == [PLATEAU]
    assert chapter_names(["3", PLATEAU], known) == [PLATEAU]
    assert chapter_names(["03", "02_ordered_schedules"], known) == ["02_ordered_schedules", PLATEAU]  # course order
    for wrong in ("09", "03_wrong", "adaptive", ""):
        with pytest.raises(UnknownChapter, match="the chapters are 01_learning_rate, 02_ordered_schedules"):
            chapter_names([wrong], known)


def test_an_unknown_chapter_or_one_missing_from_the_workspace_is_a_clear_error_with_status_2(
    capsys, tmp_path, monkeypatch
):
    assert check_command.command_check(cli.parser().parse_args(["check", "02", "09"])) == 2
    assert "lrcourse check: no chapter '09': the chapters are 01_learning_rate" in capsys.readouterr().err
    monkeypatch.setenv("LRCOURSE_WORKSPACE", str(tmp_path))  # a workspace never made
    assert check([PLATEAU], scratch=tmp_path / "scratch") == 2
    assert f"lrcourse check: no {PLATEAU} in {tmp_path}: `make lab`" in capsys.readouterr().err
    assert not (tmp_path / "scratch").exists()


def test_check_where_there_is_no_course_folder_says_so(capsys, tmp_path, monkeypatch):
    """An installed lrcourse (the wheel a hub's students get) has the command but no course to check."""
    import lrcourse.self_check

    monkeypatch.setattr(lrcourse.self_check, "ROOT", tmp_path)
    assert check_command.command_check(cli.parser().parse_args(["check", "01"])) == 2
    assert "lrcourse check: no course folder here" in capsys.readouterr().err


def plateau_grades(scores: dict) -> ChapterResult:
    """Chapter 3's items as the gradebook lists them (alphabetically), ordered as `lrcourse check` reads them."""
    notebook = nbformat.read(next((ROOT / "source" / PLATEAU).glob("*.ipynb")), as_version=4)
    graded = [c for c in notebook.cells if cells.is_graded(c)]
    grade_cells = [
        SimpleNamespace(name=cells.nbgrader_id(c), max_score=c.metadata.nbgrader.points, cell_type=c.cell_type)
        for c in sorted(graded, key=cells.nbgrader_id)
    ]
    record = SimpleNamespace(
        name=PLATEAU, notebooks=[SimpleNamespace(name="adaptive_schedules", grade_cells=grade_cells, task_cells=[])]
    )
    items = assignment_items(record, source_order(ROOT / "source", PLATEAU), ungraded=True)
    grades = AssignmentGrades(PLATEAU, 23, items, {STUDENT: scores(items)}, {STUDENT: 0})
    return ChapterResult(PLATEAU, "Chapter 3", grades, sections(notebook.cells), labels(notebook.cells), seconds=40)


def test_a_perfect_chapter_reads_full_marks_in_notebook_order_with_the_written_answers_apart():
    result = plateau_grades(
        lambda items: {i.key: (i.max_score if i.autograded else PENDING if "fixed" in i.name else 0) for i in items}
    )
    lines = chapter_lines(result)
    names = [line.split()[0] for line in lines if line.startswith("    ")]
    assert names[:3] == ["test_predict_drop_steps", "test_inferred_factor", "test_inferred_patience"]  # not a-z
    assert names[-2:] == ["written_plateau_vs_fixed", "written_threshold_zero"]
    headings = [line.strip() for line in lines if line.startswith("  ") and not line.startswith("    ")]
    assert headings[:5] == [
        "Predict first (not graded)",
        "Exercise 3.4 · Read a run",
        "Exercise 3.5 · Your own ReduceLROnPlateau",
        "Exercise 3.6 · A stalled run: when does the rate stop falling?",
        "Written answers",
    ]
    assert f"    {'written_plateau_vs_fixed':<40} {BY_HAND}" in lines
    assert f"    {'written_threshold_zero':<40} not answered yet ({BY_HAND})" in lines
    # each test names what it checks, as its passed("...") says
    # the prediction is not graded (0 points): its line says whether one was recorded
    assert f"    {'test_predict_drop_steps':<40} recorded (not graded)   your prediction" in lines
    result.failed_cells = {"test_predict_drop_steps": "No prediction recorded"}
    assert f"    {'test_predict_drop_steps':<40} not recorded (not graded)   your prediction" in chapter_lines(result)
    assert f"    {'test_plateau_patience':<40} 1 / 1   patience: matches ReduceLROnPlateau" in lines
    total = next(line for line in lines if "autograded total" in line)
    assert " 20 / 20 " in total and "written answers, 4 points" in total  # not 20 / 24


def test_a_cell_that_lost_points_shows_why_on_one_line_never_its_pass_message():
    """Issue 23 (R23b, N1): a failed cell's line showed its passed("...") text, which says the opposite of what
    happened (`test_inferred_factor  0 / 1  ...has the form asked`); it shows the first line of why it failed, its
    control characters escaped (the student's own text may be in it), or where to read why."""
    result = plateau_grades(lambda items: {i.key: (0 if i.autograded else PENDING) for i in items})
    result.failed_cells = {
        "test_inferred_factor": "factor = \x1b[31m0.7\x1b]0;title\x07 is not what this run used.\nSecond line"
    }
    lines = chapter_lines(result)
    factor = next(line for line in lines if "test_inferred_factor" in line)
    assert factor == (  # colours dropped, any other control character escaped, the first line only
        f"    {'test_inferred_factor':<40} 0 / 1   failed: factor = 0.7\\x1b]0;title\\x07 is not what this run used."
    )
    patience = next(line for line in lines if line.startswith("    test_inferred_patience"))
    assert patience.endswith("   lost points: the feedback page says why")  # lost points, no message kept
    for cell in (factor, patience):
        assert result.labels["test_inferred_factor"] not in cell and "passed" not in cell
    long = {"test_inferred_factor": "why " * 100}
    result.failed_cells = long
    factor = next(line for line in chapter_lines(result) if "test_inferred_factor" in line)
    assert factor.endswith("…") and len(factor.split("failed: ")[1]) == 160


def test_a_failed_cell_whose_message_is_a_heading_shows_the_line_after_it(tmp_path):
    """R23d N2: a trusted verdict's message is the first line of its detail, often a heading ("... raised
    NotImplementedError:"); the reason read is the detail, the heading joined to the line that says why."""
    import json

    from lrcourse.grading.autograde.verdict_files import VERDICTS

    folder = tmp_path / "autograded" / STUDENT / "03_adaptive_schedules"
    folder.mkdir(parents=True)
    heading = "step_plateau(state, 0.5) raised NotImplementedError:"
    cells_ = {
        "test_plateau_patience": {"message": heading, "detail": f"{heading}\n  write the patience rule\nTraceback"},
        "test_plateau_cooldown": {"message": "factor is not applied", "detail": "factor is not applied\nmore"},
        "test_plateau_passed": {"message": "", "detail": ""},
    }
    (folder / VERDICTS).write_text(json.dumps({"cells": cells_}))
    found = failed_cells(tmp_path, "03_adaptive_schedules")
    assert set(found) == {"test_plateau_patience", "test_plateau_cooldown"}
    result = plateau_grades(lambda items: {i.key: (0 if i.autograded else PENDING) for i in items})
    result.failed_cells = found
    lines = chapter_lines(result)
    patience = next(line for line in lines if line.startswith("    test_plateau_patience"))
    assert patience.endswith(f"failed: {heading} write the patience rule"), patience
    factor = next(line for line in lines if line.startswith("    test_plateau_cooldown"))
    assert factor.endswith("failed: factor is not applied"), factor


def _pass_messages(source: str) -> list[str]:
    """The messages a test cell's source gives `passed(...)`, read by parsing it (not with self_check's pattern)."""
    return [
        node.args[0].value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "passed"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]


@pytest.mark.parametrize("chapter", chapters(ROOT))
def test_every_test_cells_pass_message_is_the_description_lrcourse_check_prints(chapter):
    """Issue 23 (R23z): chapter 6's restore message was 121 characters, one more than `labels` reads, so `lrcourse
    check` printed its line with no description. Every test cell of every chapter says what it checks in one
    passed("...") that `labels` reads whole."""
    [path] = sorted((ROOT / "source" / chapter).glob("*.ipynb"))
    tests = [cell for cell in nbformat.read(path, as_version=4).cells if cells.is_test(cell)]
    found = labels(tests)
    for cell in tests:
        [message] = _pass_messages(cell.source)
        shown = "your prediction" if message.startswith("Prediction recorded") else message
        assert found.get(cells.nbgrader_id(cell)) == shown, (cells.nbgrader_id(cell), len(message), message)


def test_the_total_across_chapters_counts_the_autograded_points_of_the_chapters_graded():
    half = plateau_grades(lambda items: {i.key: (i.max_score / 2 if i.autograded else PENDING) for i in items})
    failed = ChapterResult("05_training", failed="every kernel died", seconds=3)
    assert half.total() == (10.0, 20.0)  # half of each graded test cell's points (the prediction has 0)
    half.feedback = [Path("feedback.html")]
    died = plateau_grades(lambda items: {i.key: (i.max_score / 2 if i.autograded else PENDING) for i in items})
    died.name = "03_kernel_died"  # graded by the trusted verdicts, but no feedback: why the check exits 1
    lines = total_lines([half, died, failed], 95.4)
    assert lines[0].startswith("Total of the 2 chapter(s) graded: 20 / 40 autograded points") and "(95 s)" in lines[0]
    assert lines[1] == "Not graded, so not in the total: 05_training."
    assert lines[2] == "Graded without feedback (its note above says why): 03_kernel_died."
    assert chapter_lines(failed)[-1] == "  could not be graded: every kernel died"


def test_the_feedback_page_names_every_item_escapes_headings_and_takes_mathjax_from_the_configuration():
    """nbgrader's feedback template, extended, as nbgrader's GenerateFeedback makes its exporter with the course's
    configuration (no kernel: a notebook rendered)."""
    heading = nbformat.v4.new_markdown_cell("## Exercise <img src=x onerror=alert(1)> (4 points)\n\nText $a^2$.")
    test = nbformat.v4.new_code_cell("check()")
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "test_one", "points": 2, "score": 1}
    written = nbformat.v4.new_markdown_cell("My answer.")
    written.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": "written_one", "points": 2, "score": 0}
    config = Config()
    config.HTMLExporter.mathjax_url = "file:///here/MathJax.js?config=Safe"
    use_feedback_template(config)
    converter = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
    # as nbgrader's BaseConverter.start does (the course's: `feedback_exporter.FeedbackExporter`)
    exporter = converter.exporter_class(parent=converter, config=converter.config)
    resources = {"nbgrader": {"notebook": "nb", "score": 1, "max_score": 4, "late_penalty": 0}}
    page, _ = exporter.from_notebook_node(nbformat.v4.new_notebook(cells=[heading, test, written]), resources)
    assert (
        '<a href="#test_one">Test cell <code>test_one</code></a> · Exercise &lt;img src=x onerror=alert(1)&gt; (Score'
        in page
    )  # the heading's "(4 points)" left out: each item shows its own score
    assert '<a href="#written_one">Written response <code>written_one</code></a>' in page
    assert "<img src=x onerror" not in page.split('<div class="panel-body">')[0]  # the contents hold no markup of it
    assert page.count('<script src="') == 1 and '<script src="file:///here/MathJax.js?config=Safe">' in page
    assert page.count("Grade cell: <code>test_one</code>") == 1  # the notebook is shown once, under the contents


def render_feedback(self_study: bool) -> str:
    """A graded notebook's feedback page as nbgrader renders it (a test cell at 1 / 2, a written answer graded by
    hand at 1.5 / 2), with `lrcourse check`'s template or the instructor's."""
    test = nbformat.v4.new_code_cell("check()")
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "test_one", "points": 2, "score": 1}
    written = nbformat.v4.new_markdown_cell("My answer.")
    written.metadata["nbgrader"] = {
        "grade": True, "solution": True, "grade_id": "written_one", "points": 2, "score": 1.5
    }  # fmt: skip
    config = Config()
    use_feedback_template(config, self_study)
    converter = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
    exporter = converter.exporter_class(parent=converter, config=converter.config)
    resources = {"nbgrader": {"notebook": "nb", "score": 2.5, "max_score": 4, "late_penalty": 0}}
    return exporter.from_notebook_node(nbformat.v4.new_notebook(cells=[test, written]), resources)[0]


def test_the_self_study_feedback_page_says_what_the_terminal_says_and_the_instructors_keeps_hand_grades(tmp_path):
    """`lrcourse check`: written answers "graded by hand", out of the total (1 / 2, as the terminal's autograded
    total); the instructor's feedback after hand grading: the hand grade and nbgrader's total."""
    page = render_feedback(self_study=True)
    assert "<h4>nb (Score: 1.0 / 2.0 autograded points)</h4>" in page
    assert f'<a href="#written_one">Written response <code>written_one</code></a> ({BY_HAND})</li>' in page
    assert '<a href="#test_one">Test cell <code>test_one</code></a> (Score: 1.0 / 2.0)' in page
    body = page.split('<div class="panel-body">', 1)[1]
    assert f"{BY_HAND} <a href" in body and "Score: 1.5" not in page and "2.5 / 4" not in page
    instructor = render_feedback(self_study=False)
    assert "<h4>nb (Score: 2.5 / 4.0)</h4>" in instructor and BY_HAND not in instructor
    assert "<code>written_one</code></a> (Score: 1.5 / 2.0)" in instructor
    assert "Score: 1.5 / 2.0 <a href" in instructor.split('<div class="panel-body">', 1)[1]  # the cell's own heading


def test_lrcourse_checks_scratch_course_asks_for_the_self_study_page(tmp_path):
    from lrcourse.grading.course import course_config, lrcourse_flag
    from lrcourse.self_check import prepare

    (tmp_path / "mine" / "01_learning_rate").mkdir(parents=True)
    prepare(tmp_path / "scratch", ["01_learning_rate"], tmp_path / "mine")
    assert lrcourse_flag(course_config(tmp_path / "scratch", "sqlite://"), "self_study_feedback")
    assert not lrcourse_flag(course_config(ROOT, "sqlite://"), "self_study_feedback")
