"""The graded exercises never misgrade: real nbgrader grading of correct, wrong, forbidden and broken answers.

Every answer in `tests/catalogue/` is submitted by a student of a scratch course graded by `lrcourse grade`
(nbgrader's own autograde, per student; two workers for chapters 2 and 3, one for the shorter classes): see
`gradedclass.py`; in chapters 2 and 3 an answer that is plain data rides with a correct answer of another exercise,
neither able to change the other's outcome (`support/packing.py`); the catalogue's students without the chapter's demonstrations no kept cell needs (most of their
kernel time; the trusted verdicts never run them), the solution graded both ways and held alike. Each test cell must
give full marks or zero exactly as the catalogue says.
`test_class_grading.py` holds plain sequential `nbgrader autograde` (the in-kernel hidden tests) to the catalogue
on a sample of it.

One class per chapter, each grading a course of that chapter alone: `make test` hands each class
(`--dist loadscope`) to a worker of its own, so the chapters are graded side by side.
"""

from __future__ import annotations

import csv
import json
import re

import nbformat
import pytest

from lrcourse.build import chapters

import catalogue
from support.gradedclass import ANSWERS, BROKEN, BROKEN_CHAPTER, WITHOUT_DEMONSTRATIONS, student_name
from support.paths import ROOT


def pytest_generate_tests(metafunc):
    """`answer`: every catalogue answer of the class's chapter."""
    if "answer" in metafunc.fixturenames:
        answers = [answer for answer in ANSWERS if answer.chapter == metafunc.cls.chapter]
        metafunc.parametrize("answer", answers, ids=student_name)


@pytest.fixture(scope="class")
def graded(request, tmp_path_factory):
    """The class's chapter graded once (see gradedclass.py)."""
    from support.gradedclass import build_graded_chapter

    chapter = request.cls.chapter
    return build_graded_chapter(tmp_path_factory.mktemp(f"graded-{chapter}"), chapter)


def unreadable_students(chapter: str) -> dict[str, str]:
    """student -> why no notebook reader accepts the submission (those are reported failed, not graded)."""
    if chapter == BROKEN_CHAPTER:
        return {student: why for student, why in BROKEN.items() if why}
    return {}


@pytest.mark.slow
def graded_error(graded, student: str, chapter: str, cell_id: str):
    """The error output of one test cell in a student's autograded notebook."""
    folder = graded.path / "autograded" / student / chapter
    cells = nbformat.read(next(folder.glob("*.ipynb")), as_version=4).cells
    cell = next(c for c in cells if c.get("id") == cell_id)
    return next(o for o in cell.outputs if o.output_type == "error")


class ChapterFidelity:
    """What every chapter's grading must hold; a subclass names the chapter."""

    chapter: str

    def test_the_solution_gets_full_marks(self, graded):
        cells = graded.scores["solution"]
        assert cells and all(score == maximum for score, maximum in cells.values()), cells

    def test_the_demonstrations_the_catalogue_leaves_out_change_nothing_graded(self, graded):
        """The catalogue's students are submitted without the demonstrations no kept cell reads (support/
        demonstrations.py): the solution so submitted scores as it does whole, cell by cell, and its kernel ran every
        kept cell without an error, each test cell's in-kernel score the grader's (nothing left out was needed there
        either)."""
        assert graded.scores[WITHOUT_DEMONSTRATIONS] == graded.scores["solution"], graded.scores[WITHOUT_DEMONSTRATIONS]
        folder = graded.path / "autograded" / WITHOUT_DEMONSTRATIONS / self.chapter
        notebook = nbformat.read(next(folder.glob("*.ipynb")), as_version=4)
        whole = nbformat.read(next((graded.path / "autograded" / "solution" / self.chapter).glob("*.ipynb")), 4)
        assert len(notebook.cells) < len(whole.cells), "nothing was left out: the test proves nothing"
        errors = [
            cell.get("id")
            for cell in notebook.cells
            for output in cell.get("outputs", ())
            if output.output_type == "error"
        ]
        assert errors == [], errors
        # the grader replaces a kernel's failed test cell its own check passed: the kernel's scores are in the record
        verdicts = json.loads((folder / ".lrcourse-verdicts.json").read_text())
        assert verdicts["corrected"] == [] and verdicts["out_of_time"] == [], verdicts

    def test_the_untouched_release_gets_zero_on_every_exercise(self, graded):
        cells = graded.scores["untouched"]
        assert cells and all(score == 0 for score, _ in cells.values()), cells

    def test_each_answer_loses_exactly_the_cells_it_should(self, graded, answer):
        everything = graded.scores[graded.carriers[student_name(answer)]]
        assert set(answer.cells) <= set(everything)
        cells = {name: everything[name] for name in answer.cells}  # the answered exercise's test cells
        partial = {name for name, (score, maximum) in cells.items() if 0 < score < maximum}
        assert not partial, f"a test cell gives all or nothing: {partial}"
        lost = {name for name, (score, maximum) in cells.items() if score != maximum}
        assert lost in answer.failings, (
            f"lost {sorted(lost)}, expected {' or '.join(map(str, map(sorted, answer.failings)))}"
        )
        if answer.score is not None:  # the points the lost cells carry, as the catalogue states them
            assert sum(score for score, _ in cells.values()) == answer.score, cells

    def test_only_the_broken_submissions_fail_to_grade(self, graded):
        run, expected_failures = graded.run, unreadable_students(self.chapter)
        failed = {
            line.split()[0]: line
            for line in run.stdout.splitlines()
            if " failed " in line and not line.startswith(self.chapter)
        }
        assert set(failed) == set(expected_failures), run.stdout[-3000:]
        for student, why in expected_failures.items():
            assert why in failed[student], failed[student]
        assert run.returncode == (1 if expected_failures else 0), run.stderr[-2000:]

    def test_every_readable_submission_is_in_the_gradebook_and_the_csv(self, graded):
        submitted = {p.name for p in (graded.path / "submitted").iterdir() if (p / self.chapter).is_dir()}
        assert set(graded.scores) == submitted - set(unreadable_students(self.chapter))
        rows = [row for row in csv.DictReader(open(graded.path / "grades.csv")) if row["assignment"] == self.chapter]
        assert {row["student_id"] for row in rows} >= set(graded.scores)
        for row in rows:
            if row["student_id"] in graded.scores:
                expected = sum(score for score, _ in graded.scores[row["student_id"]].values())
                assert float(row["score"]) == pytest.approx(expected)


class TestLearningRate(ChapterFidelity):
    chapter = "01_learning_rate"


class TestOrderedSchedules(ChapterFidelity):
    chapter = "02_ordered_schedules"

    def test_failure_messages_are_actionable(self, graded):
        """A failed test shows the configuration, the step, expected and actual values."""
        error = graded_error(graded, "my-step-lr-decays-one-step-early", self.chapter, "test_my_step_lr_one_group")
        message = error.evalue
        assert error.ename == "CheckFailed" and "lrcourse/checking" not in "\n".join(error.traceback), error
        assert "MyStepLR(optimizer, step_size=3, gamma=0.5)" in message
        assert "after step number 2" in message and "PyTorch's is 0.1" in message
        assert "PyTorch's StepLR:" in message and "yours:" in message

    def test_an_unanswered_exercise_reads_one_line_in_the_graded_notebook(self, graded):
        """The grader's kernels show what the learner's show (nbgrader's feedback is made of these outputs): in
        the untouched release every failed cell says "not answered yet" in one line."""
        folder = graded.path / "autograded" / "untouched" / self.chapter
        notebook = nbformat.read(next(folder.glob("*.ipynb")), as_version=4)
        shown = [
            "\n".join(output.traceback)
            for cell in notebook.cells
            if cell.cell_type == "code"
            for output in cell.outputs
            if output.output_type == "error"
        ]
        assert shown and all(text.startswith("not answered yet") and "\n" not in text for text in shown), shown


class TestAdaptiveSchedules(ChapterFidelity):
    chapter = "03_adaptive_schedules"

    def test_a_crashed_kernel_is_graded_by_the_trusted_verdicts_with_the_crash_as_reason(self, graded):
        line = next(line for line in graded.run.stdout.splitlines() if line.strip().startswith("broken-kernel-crash "))
        assert " graded " in line and "Kernel died" in line and "no feedback" in line, line


class TestCustomSchedules(ChapterFidelity):
    chapter = "04_custom_schedules"


class TestTraining(ChapterFidelity):
    chapter = "05_training"


class TestChoosingTheRate(ChapterFidelity):
    chapter = "06_choosing_the_rate"


class TestPractice(ChapterFidelity):
    chapter = "07_practice"

    def test_failure_messages_name_the_phase_the_step_and_both_rates(self, graded):
        """A failed test says where the schedule went wrong (step, phase, yours against PyTorch's), not the formula."""
        error = graded_error(graded, "wsd-factor-decay-one-step-ahead", self.chapter, "test_wsd_decay")
        assert error.ename == "CheckFailed" and "lrcourse/checking" not in "\n".join(error.traceback), error
        assert "at step 15, the decay's step 1 of 5 (steps 15 to 19)" in error.evalue, error.evalue
        assert "the optimizer's rate is 0.064" in error.evalue and "is 0.1" in error.evalue, error.evalue


# Chapters released before their graded exercise. A chapter leaves this set when its exercise arrives, with its class
# above (chapter 7's arrived with issue 24).
NOT_GRADED_YET: set[str] = set()


def test_every_chapter_has_its_class():
    """A new chapter is graded only once a class above names it; a chapter still without a graded cell is named
    in NOT_GRADED_YET instead, and leaves it as soon as it has one."""
    named = {cls.chapter for cls in ChapterFidelity.__subclasses__()}
    assert named == set(chapters()) - NOT_GRADED_YET
    for chapter in NOT_GRADED_YET:
        [notebook] = (ROOT / "source" / chapter).glob("*.ipynb")
        graded = [
            cell
            for cell in nbformat.read(notebook, as_version=4).cells
            if cell.metadata.get("nbgrader", {}).get("grade")
        ]
        assert not graded, f"{chapter} has graded cells now: give it a class above and remove it from NOT_GRADED_YET"
    assert {answer.chapter for answer in ANSWERS} <= named, "a catalogue answer no class grades"


def test_answers_packed_into_one_student_cannot_touch_each_other():
    """support/packing.py's rule, read again from each student it makes: one correct answer carries plain data of
    other exercises (a literal bound to its exercise's names, no coin, not expected to lose every cell), one answer
    an exercise, and no answer nor its exercise's test cells names another's names. It packs in chapters 2 and 3."""
    import ast

    from support.packing import PACKED_CHAPTERS, cell_sources, exercise_names, packed

    for chapter in PACKED_CHAPTERS:
        names, sources = exercise_names(chapter), cell_sources(chapter)
        groups = packed(chapter, [answer for answer in ANSWERS if answer.chapter == chapter])
        assert sorted(a.name for group in groups for a in group) == sorted(
            a.name for a in ANSWERS if a.chapter == chapter
        )
        assert any(len(group) > 1 for group in groups), chapter
        for carrier, *passengers in groups:
            group = [carrier, *passengers]
            assert not passengers or (carrier in catalogue.CORRECT and not carrier.failing and not carrier.or_fails)
            assert len({answer.cell for answer in group}) == len(group), group
            for passenger in passengers:
                [statement] = ast.parse(passenger.source).body
                assert {target.id for target in statement.targets} == names[passenger.cell], passenger
                ast.literal_eval(statement.value)
                assert not passenger.or_fails and passenger.failing != set(passenger.cells), passenger
            for one in group:
                read = "\n".join([one.source, *(sources[cell] for cell in one.cells)])
                others = set().union(*(names[other.cell] for other in group if other is not one))
                assert not [name for name in others if re.search(rf"\b{re.escape(name)}\b", read)], (one.name, others)


def test_every_catalogue_student_has_an_id_the_intake_accepts():
    """A refused id (more than 64 characters, say) leaves its answer ungraded: the class fixture finds no scores."""
    from lrcourse.grading.intake import STUDENT_ID

    refused = [student_name(answer) for answer in ANSWERS if not STUDENT_ID.fullmatch(student_name(answer))]
    assert refused == []
