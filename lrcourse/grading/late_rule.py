"""The late penalty's rule: the course's configured `LateSubmissionPlugin`, and a notebook's penalty in nbgrader's
bounds. Shared by the grading (`autograde.late.assign_penalties`, from the trusted score) and the intake, which tells
an already-graded student whose penalty a moved due date or an extension would change (`intake.penalty_stale`).
Trust: the gradebook and the configuration are the instructor's; the score is the trusted one."""

from __future__ import annotations


def late_plugin(config):
    """The course's configured `LateSubmissionPlugin` (nbgrader's `plugin_class`, with its penalty_method...)."""
    from nbgrader.preprocessors import AssignLatePenalties

    late = AssignLatePenalties(config=config)
    late.init_plugin()
    return late.plugin_inst


def penalty_due(plugin, student: str, score: float, seconds_late: float) -> float | None:
    """The plugin's late penalty of a notebook's `score`, in nbgrader's bounds (no bonus, not below 0); None on time."""
    if seconds_late <= 0:
        return None
    penalty = plugin.late_submission_penalty(student, score, seconds_late)
    return None if penalty is None else min(max(float(penalty), 0.0), score)
