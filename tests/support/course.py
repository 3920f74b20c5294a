"""A scratch nbgrader course for the grading tests: release, submit answers, autograde, read scores."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from filelock import FileLock

from lrcourse import cells
from lrcourse.build import generate_release, tool_environment

from support.paths import RELEASES_VARIABLE, ROOT

NOTEBOOK = {path.parent.name: path.name for path in (ROOT / "source").glob("*/*.ipynb")}


def make_course(directory: Path, chapters: list[str]) -> Path:
    """`directory` made a course of `chapters`: source/, the config, the release and its gradebook. Released once per
    test run and set of chapters (`released_once`), then copied: `nbgrader generate_assignment` and the gradebook's
    creation cost about 8 CPU-s a course, and the released files do not depend on the folder they are made in."""
    shared = os.environ.get(RELEASES_VARIABLE)
    if not shared:
        return release(directory, chapters)
    shutil.copytree(released_once(Path(shared), chapters), directory, symlinks=True, dirs_exist_ok=True)
    return directory


def release(directory: Path, chapters: list[str]) -> Path:
    """Copy source/ and the config into `directory` and release `chapters` there (with a gradebook)."""
    directory.mkdir(parents=True, exist_ok=True)
    for chapter in chapters:
        shutil.copytree(ROOT / "source" / chapter, directory / "source" / chapter)
    shutil.copy(ROOT / "nbgrader_config.py", directory)
    generate_release(directory, chapters)
    return directory


def released_once(shared: Path, chapters: list[str]) -> Path:
    """The course of `chapters` released in `shared` by the first test to ask (the others wait on its lock), moved
    into place only once whole, so a failed release is made again by the next test rather than copied half-made."""
    course = shared / "+".join(chapters)
    with FileLock(f"{course}.lock"):
        if not course.is_dir():
            partial = Path(tempfile.mkdtemp(prefix="partial-", dir=shared))
            release(partial / "course", chapters)
            (partial / "course").rename(course)
            partial.rmdir()
    return course


def released(course: Path, chapter: str) -> nbformat.NotebookNode:
    return nbformat.read(course / "notebooks" / chapter / NOTEBOOK[chapter], as_version=4)


def submission_path(course: Path, student: str, chapter: str) -> Path:
    return course / "submitted" / student / chapter / NOTEBOOK[chapter]


def submit(course: Path, student: str, chapter: str, answers: dict[str, str] | None = None) -> Path:
    """Submit the released notebook with the given answer cells (grade_id -> source) filled in."""
    notebook = released(course, chapter)
    for cell in notebook.cells:
        if answers and cell.get("id") in answers:
            cell.source = answers[cell.id]
    path = submission_path(course, student, chapter)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def submit_text(course: Path, student: str, chapter: str, text: str) -> Path:
    """Submit a file with arbitrary content (a malformed notebook)."""
    path = submission_path(course, student, chapter)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def solution_answers(chapter: str) -> dict[str, str]:
    """The instructor's solutions, as they appear in source/ (markers included)."""
    notebook = nbformat.read(ROOT / "source" / chapter / NOTEBOOK[chapter], as_version=4)
    return {cell.id: cell.source for cell in notebook.cells if cells.is_solution(cell)}


def autograde(course: Path, chapter: str, *extra: str, opt_in: bool = True) -> subprocess.CompletedProcess:
    """Plain `nbgrader autograde CHAPTER` over every submitted student, in one process; with the instructor's
    opt-in for trusted notebooks, without which the course refuses it (lrcourse/grading/autograde/plain_autograde.py)."""
    flags = ["--Lrcourse.allow_unsandboxed_autograde=True"] if opt_in else []
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", "autograde", chapter, "--force", *flags, *extra],
        cwd=course,
        env=tool_environment(),
        capture_output=True,
        text=True,
        timeout=3600,
    )


def scores(course: Path, chapter: str, db_url: str | None = None) -> dict[str, dict[str, tuple[float, float]]]:
    """{student: {test cell grade_id: (score, max_score)}} from the gradebook."""
    from lrcourse.gradebook_db import gradebook

    with gradebook(db_url or f"sqlite:///{course / 'gradebook.db'}") as book:
        result = {}
        for submission in book.assignment_submissions(chapter):
            notebook = submission.notebooks[0]
            result[submission.student_id] = {
                grade.name: (grade.score, grade.max_score)
                for grade in notebook.grades
                if grade.cell_type == "code" and grade.name.startswith("test_")
            }
        return result


def total(course: Path, chapter: str, student: str) -> tuple[float, float]:
    """The student's score in the gradebook, and the part of it her code cells hold."""
    from lrcourse.gradebook_db import gradebook

    with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        notebook = book.find_submission_notebook(Path(NOTEBOOK[chapter]).stem, chapter, student)
        return notebook.score, sum(g.score for g in notebook.grades if g.cell_type == "code")


def submission_id(course: Path, chapter: str, student: str) -> str:
    """The gradebook's id of the student's submitted notebook (formgrader's address of it)."""
    from lrcourse.gradebook_db import gradebook

    with gradebook(f"sqlite:///{course / 'gradebook.db'}") as book:
        return book.find_submission_notebook(Path(NOTEBOOK[chapter]).stem, chapter, student).id
