"""A course folder whose nbgrader_config.py names the class paths of lrcourse before its grading rooms (an
instructor's course not yet upgraded): lrcourse refuses it with what to do, and nbgrader's Validate still finds the
course's students' folders (lrcourse/grading/course.py, autograde/plain_validate.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lrcourse.build import tool_environment
from lrcourse.grading.autograde.plain_validate import in_students_folder
from lrcourse.grading.course import OutdatedCourseConfig, course_config, outdated_class_paths

from support.paths import ROOT

# the lines of the course's nbgrader_config.py before the regroup that name lrcourse's classes
OLD_CONFIG = """c = get_config()  # noqa: F821
c.Autograde.exporter_class = "lrcourse.grading.plain_autograde.RefusingExporter"
c.ExchangeFactory.collect = "lrcourse.grading.nbgrader_collect.TrustedCollect"
c.HTMLExporter.preprocessors = ["lrcourse.grading.sanitize.SafeToShow"]
c.ExportApp.plugin_class = "lrcourse.grading.export.GradesCsvExportPlugin"
try:
    from lrcourse.grading.plain_validate import refuse_students_notebooks
    from lrcourse.grading.content_policy import guard_this_server
except ImportError:
    c.Execute.kernel_name = "lrcourse-is-not-importable"
else:
    guard_this_server()
    refuse_students_notebooks()
"""
OLD_NAMES = [
    "lrcourse.grading.content_policy",
    "lrcourse.grading.export",
    "lrcourse.grading.nbgrader_collect",
    "lrcourse.grading.plain_autograde",
    "lrcourse.grading.plain_validate",
    "lrcourse.grading.sanitize",
]


@pytest.fixture
def old_course(tmp_path):
    course = tmp_path / "course"
    (course / "source" / "ch1").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(OLD_CONFIG)
    return course


def test_the_repositorys_configuration_names_no_old_class_path():
    assert outdated_class_paths((ROOT / "nbgrader_config.py").read_text()) == []
    assert outdated_class_paths(OLD_CONFIG) == OLD_NAMES


def test_an_old_configuration_is_refused_with_what_to_do(old_course):
    with pytest.raises(OutdatedCourseConfig) as refused:
        course_config(old_course, "sqlite://")
    message = str(refused.value)
    assert all(name in message for name in OLD_NAMES), message
    assert "README" in message and "scripts/setup_lab.py" in message and "Nothing was graded" in message


def test_lrcourse_grade_stops_on_an_old_configuration_without_a_traceback(old_course):
    run = subprocess.run(
        [sys.executable, "-m", "lrcourse.cli", "grade", "ch1", "--course", str(old_course), "--no-sandbox"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout + run.stderr
    # refused before starting: exit 2, as `lrcourse grade --help` says (it was 1, a SystemExit's text: "not all graded")
    assert run.returncode == 2 and "Traceback" not in output, (run.returncode, output[-3000:])
    assert run.stderr.startswith("lrcourse grade: ") and run.stderr.count("scripts/setup_lab.py") == 1, run.stderr
    assert "2: refused before starting" in " ".join(help_text("grade").split())
    assert "lrcourse.grading.plain_validate" in output and "scripts/setup_lab.py" in output, output[-3000:]
    assert not (old_course / "grades.csv").exists() and not (old_course / "autograded").exists()


def help_text(command: str) -> str:
    found = subprocess.run([sys.executable, "-m", "lrcourse.cli", command, "--help"], capture_output=True, text=True)
    return found.stdout


def test_nbgrader_stops_on_an_old_configuration_without_a_traceback(old_course):
    """The environment's nbgrader configuration (scripts/setup_lab.py), read before the folder's, refuses it: else
    nbgrader ends in traitlets' traceback on the first class it cannot import."""
    run = subprocess.run(
        [sys.executable, "-m", "nbgrader", "autograde", "ch1"],
        cwd=old_course,
        env=tool_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0 and "Traceback" not in output, output[-3000:]
    assert "lrcourse.grading.plain_autograde" in output and "scripts/setup_lab.py" in output, output[-3000:]
    assert not (old_course / "autograded").exists() and not (old_course / "gradebook.db").exists()


def test_validate_still_finds_the_students_folders_of_an_old_configuration(old_course):
    (old_course / "submitted" / "mallory" / "ch1").mkdir(parents=True)
    notebook = old_course / "submitted" / "mallory" / "ch1" / "ch1.ipynb"
    assert in_students_folder(notebook) == old_course / "submitted"
