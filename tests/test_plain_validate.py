"""nbgrader's Validate refuses students' notebooks (the course's submitted/, autograded/ and feedback/ folders and
the exchange) and still runs a learner's own (issue 20). A folder with the course's configuration and chapter 1's
released notebook, no gradebook. Each notebook's first cell leaves a marker file if it ever runs."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from types import SimpleNamespace

import nbformat
import pytest
from nbgrader.server_extensions.validate_assignment.handlers import ValidateAssignmentHandler
from traitlets.config import Config

from lrcourse.build import tool_environment
from lrcourse.grading.autograde.plain_validate import (
    COURSE_MARK,
    OPT_IN,
    UnsandboxedValidateRefused,
    check,
    in_students_folder,
)

from support.course import NOTEBOOK
from support.paths import ROOT

CHAPTER = "01_learning_rate"
REFUSED = "this course refuses nbgrader's Validate on"
STUDENTS = {  # where the instructor's Validate could meet a student's notebook (relative to the course's parent)
    "submitted": f"course/submitted/mallory/{CHAPTER}",
    "autograded": f"course/autograded/mallory/{CHAPTER}",
    "feedback": f"course/feedback/mallory/{CHAPTER}",
    "exchange": f"exchange/lr-schedules/inbound/mallory+{CHAPTER}+2026-12-01 10:00:00.000000 UTC+x1",
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The course's configuration, with the exchange beside the course (as an instructor would set it)."""
    course = tmp_path_factory.mktemp("validate") / "course"
    course.mkdir()
    config = (ROOT / "nbgrader_config.py").read_text()
    (course / "nbgrader_config.py").write_text(config + f"c.Exchange.root = {str(course.parent / 'exchange')!r}\n")
    return course


def place(course, folder: str):
    """Chapter 1's released notebook in `folder` (under the course's parent), with a first cell that leaves a
    marker; (the notebook's path, the marker's)."""
    marker = course.parent / ("ran-" + folder.replace("/", "_"))
    notebook = nbformat.read(ROOT / "notebooks" / CHAPTER / NOTEBOOK[CHAPTER], as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(f"open({str(marker)!r}, 'w').close()"))
    path = course.parent / folder / NOTEBOOK[CHAPTER]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path, marker


def validate_button(course, path, monkeypatch) -> dict:
    """What a Validate button asks a Jupyter server started in the course folder and serving its parent:
    nbgrader's own handler code (the course's configuration read from the server's folder, as it does)."""
    monkeypatch.chdir(course)
    handler = SimpleNamespace(root_dir=str(course.parent), log=logging.getLogger("validate-button"))
    handler.load_config = lambda: ValidateAssignmentHandler.load_config(handler)
    return ValidateAssignmentHandler.validate_notebook(handler, str(path.relative_to(course.parent)))


def test_nbgrader_validate_refuses_a_submitted_notebook(course):
    path, marker = place(course, STUDENTS["submitted"])
    run = subprocess.run(
        [sys.executable, "-m", "nbgrader", "validate", str(path.relative_to(course))],
        cwd=course,
        env=tool_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert REFUSED in output and "`lrcourse grade CHAPTER`" in output, output[-3000:]
    assert not marker.exists()


def test_nbgrader_validate_run_inside_a_students_folder_refuses_it(course):
    """From inside the submitted folder the course's nbgrader_config.py is not read: the environment's is
    (scripts/setup_lab.py), and the guard finds the course above the notebook."""
    path, marker = place(course, STUDENTS["submitted"])
    (path.parent / "nbgrader_config.py").write_text(f"# {COURSE_MARK}, planted by the student\n")
    run = subprocess.run(
        [sys.executable, "-m", "nbgrader", "validate", path.name],
        cwd=path.parent,
        env=tool_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0 and REFUSED in output, output[-3000:]
    assert not marker.exists()


@pytest.mark.parametrize(
    "folder, refused",
    [
        ("submitted/mallory/ch", True),
        ("autograded/mallory/ch", True),
        ("feedback/mallory/ch", True),
        ("downloaded/ch/archive", True),
        ("workspace", False),
        ("notebooks/ch", False),
        ("submitted-notes", False),
    ],
)
def test_a_students_folder_is_found_from_the_notebook_whatever_the_configuration(tmp_path, folder, refused):
    course = tmp_path / "course"
    (course / folder).mkdir(parents=True)
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    (course / folder / "nbgrader_config.py").write_text(COURSE_MARK)  # a student's own: not where the course is
    notebook = course / folder / "nb.ipynb"
    expected = course / folder.split("/")[0] if refused else None
    assert in_students_folder(notebook) == expected
    if refused:
        with pytest.raises(UnsandboxedValidateRefused, match="lies in " + re.escape(str(expected))):
            check(Config({"CourseDirectory": {"root": str(tmp_path / "elsewhere")}}), str(notebook))


@pytest.mark.parametrize("where", [*STUDENTS, "a link to a submitted notebook"])
def test_the_validate_buttons_refuse_students_notebooks(course, where, monkeypatch):
    if where in STUDENTS:
        path, marker = place(course, STUDENTS[where])
    else:
        submitted, marker = place(course, STUDENTS["submitted"].replace("mallory", "oscar"))
        path = course / "notebooks" / "linked" / NOTEBOOK[CHAPTER]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(submitted)
    result = validate_button(course, path, monkeypatch)
    assert not result["success"] and REFUSED in result["value"], result
    assert not marker.exists()


def test_a_learners_own_notebook_still_validates(course, monkeypatch):
    """The course's configuration is read (the refusal installed), and Validate runs the learner's notebook."""
    path, marker = place(course, f"course/notebooks/{CHAPTER}")
    result = validate_button(course, path, monkeypatch)
    assert result["success"], result
    assert "NotImplementedError" in str(result["value"]["failed"])  # the released notebook's unanswered exercises
    assert marker.exists()


@pytest.mark.parametrize("value, refused", [(None, True), ("False", True), (True, False), ("True", False)])
def test_the_validate_opt_in_is_read_as_a_yes_or_no(course, value, refused, monkeypatch):
    monkeypatch.chdir(course)
    path, _ = place(course, STUDENTS["submitted"])
    config = Config({"Lrcourse": {OPT_IN: value}} if value is not None else {})
    if refused:
        with pytest.raises(UnsandboxedValidateRefused, match=re.escape(str(course / "submitted"))):
            check(config, str(path))
    else:
        check(config, str(path))


def test_where_lrcourse_cannot_be_imported_no_nbgrader_kernel_starts(monkeypatch):
    """The course's configuration cannot guard Validate without lrcourse: it names a kernel that does not exist."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setitem(sys.modules, "lrcourse.grading.autograde.plain_validate", None)  # its import raises ImportError
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    with pytest.raises(NoSuchKernel):
        KernelSpecManager().get_kernel_spec(config.Execute.kernel_name)
