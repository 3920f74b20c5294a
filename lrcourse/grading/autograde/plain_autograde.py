"""nbgrader's own autograde (`nbgrader autograde`, formgrader's Autograde button) refuses to run on this course.

Both run each student's notebook unsandboxed, as the instructor (formgrader's button inside the Jupyter server
itself), and save the scores the student's kernel chose (issue 20). The course's `nbgrader_config.py` sets two
walls, each failing with a message pointing at `lrcourse grade CHAPTER`:

- `RefusingExporter`, autograde's exporter (`c.Autograde.exporter_class`). nbgrader creates it in
  `BaseConverter.start`, after finding the submissions and before touching anything: a refusal there leaves
  every student's `autograded/` folder, copied files and gradebook rows as they were. (Formgrader's button
  always forces, and a forced autograde's first step removes the student's autograded folder.)
- `RefuseUnsandboxed`, the first of autograde's sanitizing steps: should another setting replace the exporter,
  each student still fails before any of their code runs (their autograded folder already cleared by then).

The virtual environment's own nbgrader_config.py sets both too (`refuse_plain_autograde`), for course folders
whose configuration does not. A grading worker of `lrcourse grade` lifts both from its own configuration and nothing else (`allow_in_worker`):
there the notebook runs in the sandbox and the trusted verdicts write the scores. An instructor who trusts the
notebooks can still run plain nbgrader with `--Lrcourse.allow_unsandboxed_autograde=True` (a yes or no:
True, yes or 1, False, no or 0, in any case; any other value is refused: `course.lrcourse_flag`).
"""

from __future__ import annotations

from nbconvert.exporters import NotebookExporter
from nbgrader.converters.base import NbGraderException
from nbgrader.preprocessors import NbGraderPreprocessor

from lrcourse.grading.course import lrcourse_flag

EXPORTER = "lrcourse.grading.autograde.plain_autograde.RefusingExporter"  # as nbgrader_config.py names them
NAME = "lrcourse.grading.autograde.plain_autograde.RefuseUnsandboxed"
OPT_IN = "allow_unsandboxed_autograde"  # c.Lrcourse.<OPT_IN>
MESSAGE = (
    "this course refuses nbgrader's own autograde (it runs a student's code unsandboxed, as you, and keeps the "
    "scores the student's kernel chose): autograde through `lrcourse grade CHAPTER`: sandboxed, trusted "
    "verdicts. For notebooks you trust, `--Lrcourse.allow_unsandboxed_autograde=True` runs nbgrader's autograde."
)


class UnsandboxedAutogradeRefused(NbGraderException):
    """An NbGraderException: `nbgrader autograde` exits with status 1 after the logged message, no traceback."""


def refuse_unless_opted_in(config) -> None:
    if not lrcourse_flag(config, OPT_IN):
        raise UnsandboxedAutogradeRefused(MESSAGE)


class RefusingExporter(NotebookExporter):
    """nbgrader's own exporter for autograde (NotebookExporter), created only if the instructor opted in."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        try:
            refuse_unless_opted_in(self.config)
        except UnsandboxedAutogradeRefused:
            self.log.error(MESSAGE)  # autograde's log: the command's output, formgrader's error dialog
            raise


class RefuseUnsandboxed(NbGraderPreprocessor):
    """Fails the notebook (nbgrader then fails that student and exits non-zero) unless the instructor opted in."""

    def preprocess(self, nb, resources):
        refuse_unless_opted_in(self.config)
        return nb, resources


def refuse_plain_autograde(config) -> None:
    """Both refusals in `config`, as the course's nbgrader_config.py sets them. The virtual environment's own
    nbgrader_config.py calls this (scripts/setup_lab.py): nbgrader run from this environment on a course folder
    whose configuration does not set them refuses too. A course's own settings, read after, win."""
    from nbgrader.converters import Autograde

    config.Autograde.exporter_class = EXPORTER
    nbgraders_steps = Autograde.class_traits()["sanitize_preprocessors"].default()
    config.Autograde.sanitize_preprocessors = [NAME, *nbgraders_steps]


def allow_in_worker(config) -> None:
    """Lift both refusals from a grading worker's configuration, and nothing else: its autograde is sandboxed,
    its scores trusted. nbgrader's own exporter comes back; the other sanitizing steps stay as they are."""
    autograde = config.Autograde
    if autograde.get("exporter_class") in (EXPORTER, RefusingExporter):
        del autograde["exporter_class"]
    if "sanitize_preprocessors" in autograde:
        steps = autograde.sanitize_preprocessors
        autograde.sanitize_preprocessors = [step for step in steps if step not in (NAME, RefuseUnsandboxed)]
