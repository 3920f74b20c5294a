"""The graded chapters of the fidelity tests (grading is the slow part).

Each chapter is a course of its own whose students are the solution, the untouched release and every
catalogue answer of the chapter (these without the demonstrations no graded cell needs: support/demonstrations.py,
and the solution once more so; in chapters 2 and 3 an answer that is plain data rides with a correct answer of
another exercise, one student for both: support/packing.py); chapter 3 also gets the broken submissions an
instructor meets in a real class. Each is graded by the `lrcourse grade` command as an instructor would run it: two workers for a class long
enough to gain from them, one for the rest (`workers_for`). (The README's
example class, in chapter 2, is graded once per session for the export and class-report tests, which also hold
it to the README: classresults.py.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from lrcourse.build import tool_environment

import catalogue
from support.course import NOTEBOOK, make_course, scores, solution_answers, submit, submit_text
from support.demonstrations import strip_demonstrations
from support.packing import packed

ANSWERS = (
    catalogue.CORRECT + catalogue.WRONG + catalogue.FORBIDDEN + catalogue.BROKEN + [catalogue.STEP_HANGS_AT_DEFINITION]
)
WITHOUT_DEMONSTRATIONS = "solution-without-demonstrations"  # the solution submitted as the catalogue's students are
BROKEN_CHAPTER = "03_adaptive_schedules"
# student -> why it cannot be graded (None: it can, as far as it goes; a crashed kernel is graded by the
# trusted verdicts, with the crash as the reason)
BROKEN = {
    "broken-invalid-json": "not valid JSON",
    "broken-nbformat-3": "not an nbformat 4 notebook",
    "broken-kernel-crash": None,
    "broken-missing-test-cell": None,
    "broken-prints-megabytes": None,
}


def student_name(answer) -> str:
    return f"{answer.cell}-{answer.name}".replace("_", "-")


def submit_broken(course: Path, unreadable: bool = True) -> None:
    """The broken submissions of BROKEN; `unreadable=False` leaves out the two no notebook reader accepts."""
    chapter, good = BROKEN_CHAPTER, catalogue.PLATEAU_CORRECT[0].source
    if unreadable:
        submit_text(course, "broken-invalid-json", chapter, '{"cells": [{"cell_type": "code", "source": "x"')
        submit_text(
            course,
            "broken-nbformat-3",
            chapter,
            json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}),
        )
    others = solution_answers(chapter)  # the chapter's other answer cells (its prediction) answered right
    submit(
        course, "broken-kernel-crash", chapter, {**others, "my_reduce_lr_on_plateau": "import os\nos._exit(1)\n" + good}
    )
    submit(
        course,
        "broken-prints-megabytes",
        chapter,
        {**others, "my_reduce_lr_on_plateau": "print('x' * 5_000_000)\n" + good},
    )
    path = submit(course, "broken-missing-test-cell", chapter, {**others, "my_reduce_lr_on_plateau": good})
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [cell for cell in notebook.cells if cell.get("id") != "test_plateau_min_lr_eps"]
    nbformat.write(notebook, path)


def submit_answer(course: Path, student: str, answer) -> Path:
    """A catalogue answer submitted with the chapter's other answer cells (a prediction, say) answered right, so
    that the student loses exactly the cells the catalogue lists."""
    return submit(course, student, answer.chapter, {**solution_answers(answer.chapter), answer.cell: answer.source})


def class_of(directory: Path, answer, students) -> Path:
    """A course of `answer`'s chapter in which each of `students` submitted `answer` (the fleet tests' class)."""
    course = make_course(directory, [answer.chapter])
    for student in students:
        submit_answer(course, student, answer)
    return course


def broken_expectations() -> dict[str, set[str]]:
    """The test cells each readable broken submission loses (it is otherwise a correct answer)."""
    every = set(catalogue.PLATEAU_CELLS).union(  # a crash loses them all
        *(
            catalogue.CELLS[name]
            for name in ("predicted_drop_steps", "inferred_plateau_arguments", "diagnosed_loops", "epochs_to_floor")
        )
    )
    return {
        "broken-kernel-crash": every,
        "broken-missing-test-cell": {"test_plateau_min_lr_eps"},
        "broken-prints-megabytes": set(),
    }


def unexpected_scores(graded: dict, expected_losses: dict[str, set[str]]) -> dict:
    """Students whose per-cell scores differ from "full marks except the expected losses (zero)"."""
    wrong = {}
    for student, lost in expected_losses.items():
        cells = graded.get(student)
        if cells is None:
            wrong[student] = "not in the gradebook"
            continue
        expected = {name: (0.0 if name in lost else maximum) for name, (_, maximum) in cells.items()}
        actual = {name: score for name, (score, _) in cells.items()}
        if actual != expected:
            wrong[student] = {name: (actual[name], expected[name]) for name in cells if actual[name] != expected[name]}
    return wrong


def lrcourse(course: Path, *args: str, python: str = sys.executable, **kwargs) -> subprocess.CompletedProcess:
    """`lrcourse ARGS --course COURSE`, run by `python` (this environment's, unless another path to it is given)."""
    return subprocess.run(
        [python, "-m", "lrcourse.cli", *args, "--course", str(course)],
        cwd=course,
        env=tool_environment(),
        capture_output=True,
        text=True,
        **kwargs,
    )


@dataclass
class GradedChapter:
    path: Path
    chapter: str
    scores: dict  # student -> test cell -> (score, max)
    run: subprocess.CompletedProcess  # `lrcourse grade` of the chapter
    carriers: dict  # a catalogue answer's student_name -> the student who submitted it (support/packing.py)


# A grading worker's start (nbgrader, its kernel zygote, the answers' zygote) costs about 12 CPU-s, as much as
# four students of a light chapter or one of chapter 6: a second worker buys a shorter class at that price, worth it
# only for the long classes (chapters 2 and 3), which `make test` starts first. Concurrent workers on one gradebook
# are held to the catalogue there, and in test_class_grading, test_hostile and test_sandbox.
SECOND_WORKER_FROM = 30  # students


def workers_for(students: int) -> int:
    """How many workers grade a fidelity class of `students`."""
    return 2 if students >= SECOND_WORKER_FROM else 1


def build_graded_chapter(directory: Path, chapter: str) -> GradedChapter:
    """A course of one chapter whose students are the solution, the untouched release and every catalogue
    answer of the chapter (some two or more to a student: support/packing.py; plus the broken submissions in chapter
    3), graded by `lrcourse grade`. One chapter a course, so that the chapters are graded side by side."""
    course = make_course(directory, [chapter])
    submit(course, "solution", chapter, solution_answers(chapter))
    submit(course, "untouched", chapter)
    # The catalogue's students without the demonstrations no graded cell needs (most of their kernel time):
    # `solution-without-demonstrations` holds them alike (tests/test_grading_fidelity.py), the two above keep them all.
    strip_demonstrations(submit(course, WITHOUT_DEMONSTRATIONS, chapter, solution_answers(chapter)), chapter)
    carriers = {}
    for group in packed(chapter, [answer for answer in ANSWERS if answer.chapter == chapter]):
        path = submit(course, student_name(group[0]), chapter, {answer.cell: answer.source for answer in group})
        strip_demonstrations(path, chapter)
        carriers.update((student_name(answer), student_name(group[0])) for answer in group)
    if chapter == BROKEN_CHAPTER:
        submit_broken(course)
    students = sum(1 for folder in (course / "submitted").iterdir() if (folder / chapter).is_dir())
    run = lrcourse(course, "grade", chapter, "--workers", str(workers_for(students)), timeout=3600)
    return GradedChapter(course, chapter, scores(course, chapter), run, carriers)


__all__ = [
    "broken_expectations",
    "submit_answer",
    "submit_broken",
    "unexpected_scores",
    "workers_for",
    "ANSWERS",
    "BROKEN",
    "BROKEN_CHAPTER",
    "WITHOUT_DEMONSTRATIONS",
    "GradedChapter",
    "NOTEBOOK",
    "build_graded_chapter",
    "lrcourse",
    "student_name",
]
