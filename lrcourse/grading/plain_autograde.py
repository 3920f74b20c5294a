"""nbgrader's own autograde (`nbgrader autograde`, formgrader's Autograde button) refuses to run on this course.

Both run each student's notebook unsandboxed, as the instructor (formgrader's button inside the Jupyter server
itself), and save the scores the student's kernel chose (issue 20). The course's `nbgrader_config.py` puts
`RefuseUnsandboxed` first among autograde's sanitizing steps, so nbgrader fails every student before any of
their code runs or any score is saved, with a message pointing at `lrcourse grade CHAPTER`. A grading worker
of `lrcourse grade` removes the step from its own configuration (`allow_in_worker`): there the notebook runs
in the sandbox and the trusted verdicts write the scores. An instructor who trusts the notebooks can still run
plain nbgrader with `--Lrcourse.allow_unsandboxed_autograde=True` (literally True: any other value but False
is refused).
"""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor

from lrcourse.grading.course import lrcourse_flag

NAME = "lrcourse.grading.plain_autograde.RefuseUnsandboxed"  # as nbgrader_config.py names it
OPT_IN = "allow_unsandboxed_autograde"  # c.Lrcourse.<OPT_IN>
MESSAGE = (
    "this course refuses nbgrader's own autograde (it runs a student's code unsandboxed, as you, and keeps the "
    "scores the student's kernel chose): autograde through `lrcourse grade CHAPTER`: sandboxed, trusted "
    "verdicts. For notebooks you trust, `--Lrcourse.allow_unsandboxed_autograde=True` runs nbgrader's autograde."
)


class UnsandboxedAutogradeRefused(Exception):
    pass


class RefuseUnsandboxed(NbGraderPreprocessor):
    """Fails the notebook (nbgrader then fails that student and exits non-zero) unless the instructor opted in."""

    def preprocess(self, nb, resources):
        if not lrcourse_flag(self.config, OPT_IN):
            raise UnsandboxedAutogradeRefused(MESSAGE)
        return nb, resources


def allow_in_worker(config) -> None:
    """Remove the refusal from a grading worker's configuration: its autograde is sandboxed, its scores trusted."""
    if "sanitize_preprocessors" in config.Autograde:
        steps = config.Autograde.sanitize_preprocessors
        config.Autograde.sanitize_preprocessors = [step for step in steps if step not in (NAME, RefuseUnsandboxed)]
