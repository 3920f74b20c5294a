"""nbgrader's Validate refuses the course's students' notebooks: those in its `submitted/`, `autograded/` and
`feedback/` folders and in nbgrader's exchange.

Validate (`nbgrader validate`, the Validate buttons of the notebook and the assignment list) runs the notebook
in a kernel of its own, unsandboxed, as whoever asks: on a student's notebook, the student's code would run as
the instructor, in the course folder (issue 20). Grading runs students' code only in the sandbox
(`lrcourse grade CHAPTER`); learners validate their own notebooks, which lie elsewhere, as before.

nbgrader offers no setting that acts before Validate's kernel starts (the validator's steps are not
configurable, and its execute step receives its kernel manager as an argument), so the course's
`nbgrader_config.py` calls `refuse_students_notebooks()`: in the process that reads that configuration,
`Validator.validate` first checks where the notebook lies, before reading it. The folders are the course's
(nbgrader's course directory as configured: its root, the current folder unless set) and the exchange's root.
`scripts/setup_lab.py` writes the same call into the virtual environment's own `etc/jupyter/nbgrader_config.py`,
which nbgrader reads from any folder: a command run inside a student's folder, where the course's configuration is
not read, is refused too (`in_students_folder`: the notebook's path under the nearest course folder above it).
For notebooks you trust, `--Lrcourse.allow_unsandboxed_validate=True` (a yes or no, read as `course.lrcourse_flag` reads it) lets
Validate run them.
"""

from __future__ import annotations

import functools
from pathlib import Path

from lrcourse.grading.course import lrcourse_flag

OPT_IN = "allow_unsandboxed_validate"  # c.Lrcourse.<OPT_IN>
# nbgrader's default folders of students' work in a course (zip_collect's downloaded/ too), and what marks a
# course's own nbgrader_config.py: it installs this guard
STUDENTS_FOLDERS = ("submitted", "autograded", "feedback", "downloaded")
COURSE_MARK = "lrcourse.grading.autograde.plain_validate"
# a course's nbgrader_config.py older than the grading rooms names the guard by its old path; its folders are still
# students' work (lrcourse's own commands refuse that configuration: course.OutdatedCourseConfig)
COURSE_MARKS = (COURSE_MARK, "lrcourse.grading.plain_validate")
MESSAGE = (
    "this course refuses nbgrader's Validate on {path}: it lies in {folder}, where notebooks are students' work, "
    "and Validate would run it unsandboxed, as you. Grade students' notebooks with `lrcourse grade CHAPTER` "
    "(sandboxed, trusted verdicts) and validate only your own; for notebooks you trust, "
    "`--Lrcourse.allow_unsandboxed_validate=True` lets Validate run them."
)


class UnsandboxedValidateRefused(Exception):
    pass


def students_folders(config) -> list[Path]:
    """The course's submitted, autograded and feedback folders and the exchange, as nbgrader is configured."""
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default.exchange import Exchange

    course = CourseDirectory(config=config)
    folders = [course.submitted_directory, course.autograded_directory, course.feedback_directory]
    exchange = config.get("Exchange", {}).get("root", Exchange.class_traits()["root"].default())
    return [Path(course.root, folder).resolve() for folder in folders] + [Path(exchange).resolve()]


def check(config, filename: str) -> None:
    """Raise UnsandboxedValidateRefused if the notebook (links followed) lies in a student's folder of the
    course, unless the instructor opted in."""
    if lrcourse_flag(config, OPT_IN):
        return
    path = Path(filename).resolve()
    for folder in [*students_folders(config), in_students_folder(path)]:
        if folder is not None and path.is_relative_to(folder):
            raise UnsandboxedValidateRefused(MESSAGE.format(path=path, folder=folder))


def in_students_folder(path: Path) -> Path | None:
    """The students' folder `path` lies in, by its place under a folder above it holding a course's
    nbgrader_config.py (one that installs this guard), whatever folder the command runs in; else None. Every
    such folder above counts, not only the nearest: a student's own nbgrader_config.py is not a course."""
    for course in path.parents:
        first = path.relative_to(course).parts[0]
        if first not in STUDENTS_FOLDERS:
            continue
        try:
            text = (course / "nbgrader_config.py").read_text(errors="replace")
            if any(mark in text for mark in COURSE_MARKS):
                return course / first
        except OSError:
            continue
    return None


def refuse_students_notebooks() -> None:
    """Make nbgrader's `Validator.validate` call `check` first, with the validator's configuration. Once per
    process: the Jupyter server reads the course's configuration again on each Validate."""
    from nbgrader.validator import Validator

    validate = Validator.validate
    if getattr(validate, "checks_the_folder", False):
        return

    @functools.wraps(validate)
    def checked_validate(self, filename):
        try:
            check(self.config, filename)
        except UnsandboxedValidateRefused as refusal:
            self.log.error(str(refusal))  # the command's output, the server's log
            raise
        return validate(self, filename)

    checked_validate.checks_the_folder = True
    Validator.validate = checked_validate
