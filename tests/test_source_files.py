"""Nothing of source/<chapter>/ but its notebooks reaches students (F7, issue 20): nbgrader copies every other file
of that folder into the release and into each graded student's folder. An editor's backup there is the
instructor's notebook, hidden tests included. (Grading for real: tests/test_instructor_browser.py's stray files.)"""

from __future__ import annotations

import shutil

import pytest
from traitlets.config import Config

from lrcourse.build import generate_release, main
from lrcourse.grading.source_files import (
    StrayFiles,
    chapter_notebook,
    leave_out_of_grading,
    refuse_stray_files,
    stray_files,
)

from support.course import NOTEBOOK
from support.paths import ROOT

CHAPTER = "07_practice"
# F10: another notebook (a JupyterLab copy, the solutions) was released word for word and graded as a second one
STRAY = ["#practice.ipynb#", "notes/rubric.md", "practice-Copy1.ipynb", "practice.ipynb~", "solutions.ipynb"]
NOT_A_NOTEBOOK = "broken.ipynb"  # nbgrader deleted the earlier release, then failed on it


@pytest.fixture
def course(tmp_path):
    """A course whose chapter folder holds its notebook, editor backups, a rubric and nbgrader's own checkpoints."""
    folder = tmp_path / "source" / CHAPTER
    shutil.copytree(ROOT / "source" / CHAPTER, folder)
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    notebook = (folder / NOTEBOOK[CHAPTER]).read_text()
    for name in STRAY:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(notebook)
    (folder / NOT_A_NOTEBOOK).write_text("not a notebook")
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "practice-checkpoint.ipynb").write_text(notebook)  # nbgrader ignores these
    return tmp_path


def test_every_file_nbgrader_would_copy_besides_the_notebooks_is_found(course):
    assert stray_files(course, CHAPTER) == sorted([*STRAY, NOT_A_NOTEBOOK])
    assert chapter_notebook(course, CHAPTER) == NOTEBOOK[CHAPTER]
    assert stray_files(ROOT, CHAPTER) == [], "the repository's own chapter folders hold only their notebooks"


def test_a_folder_with_one_notebook_named_otherwise_ships_that_one_and_with_none_named_so_ships_none(tmp_path):
    folder = tmp_path / "source" / "03_extra"
    folder.mkdir(parents=True)
    (folder / "bonus.ipynb").write_text("{}")
    assert chapter_notebook(tmp_path, "03_extra") == "bonus.ipynb" and stray_files(tmp_path, "03_extra") == []
    (folder / "bonus-Copy1.ipynb").write_text("{}")
    assert chapter_notebook(tmp_path, "03_extra") is None
    assert stray_files(tmp_path, "03_extra") == ["bonus-Copy1.ipynb", "bonus.ipynb"]


def test_the_course_configured_ignore_list_is_the_one_read(course):
    """F10: stray_files used nbgrader's default CourseDirectory.ignore (which leaves out *.pyc), autograde the
    configured one: a course that ignores less had files released and copied that were never found."""
    (course / "source" / CHAPTER / "cache.pyc").write_bytes(b"\0")
    assert "cache.pyc" not in stray_files(course, CHAPTER)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write('\nc.CourseDirectory.ignore = [".ipynb_checkpoints", "rubric.md"]\n')
    assert "cache.pyc" in stray_files(course, CHAPTER) and "notes/rubric.md" not in stray_files(course, CHAPTER)
    given = Config()
    given.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc"]  # autograde's own, loaded: it wins
    assert "cache.pyc" not in stray_files(course, CHAPTER, given)


def test_the_release_is_refused_naming_each_stray_file_and_writes_nothing(course, capsys):
    with pytest.raises(StrayFiles) as refused:
        generate_release(course, [CHAPTER])
    for name in [*STRAY, NOT_A_NOTEBOOK]:
        assert f"source/{CHAPTER}/{name}" in str(refused.value)
    assert ".ipynb_checkpoints" not in str(refused.value)
    assert not (course / "notebooks").exists() and not (course / "gradebook.db").exists()
    refuse_stray_files(ROOT, [CHAPTER])  # the repository's chapter is released as before


def test_the_build_command_says_what_to_move_and_fails(course, monkeypatch, capsys):
    monkeypatch.setattr("lrcourse.build.ROOT", course)
    monkeypatch.setattr("lrcourse.build.chapters", lambda root=course: [CHAPTER])
    assert main(["notebooks"]) == 1
    error = capsys.readouterr().err
    assert "refused" in error and f"source/{CHAPTER}/practice.ipynb~" in error and "Move each out of source/" in error


def test_grading_excludes_every_stray_file_and_keeps_other_assignments_exclusions(course):
    config = Config()
    config.Autograde.exclude_overwriting = {"other": ["data.csv"]}
    leave_out_of_grading(config, course, CHAPTER)
    assert config.Autograde.exclude_overwriting == {"other": ["data.csv"], CHAPTER: sorted([*STRAY, NOT_A_NOTEBOOK])}


def test_grading_an_unreleased_chapter_with_stray_files_is_refused_before_the_release(course, capsys):
    from lrcourse.cli import main as lrcourse_main

    status = lrcourse_main(["grade", CHAPTER, "--course", str(course), "--no-sandbox"])
    error = capsys.readouterr().err
    assert status == 2 and "lrcourse grade: source/" in error and f"source/{CHAPTER}/practice.ipynb~" in error, error
    assert not (course / "notebooks").exists()
