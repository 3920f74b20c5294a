"""Late penalties from the trusted score.

nbgrader assigns a late penalty while it autogrades (`AssignLatePenalties`), from the score the student's
kernel reported: a late student whose notebook makes its own test cells fail gets no penalty, and the
trusted verdicts then restore the full score. So once the trusted scores are in the gradebook, the penalty
is assigned again here, by the course's configured `LateSubmissionPlugin` (nbgrader's `plugin_class`), from
those scores. How late comes from the submission's timestamp in the gradebook, which autograde read from
`submitted/<id>/<assignment>/timestamp.txt`; `lrcourse collect` writes that file with the time the kernel
recorded for the inbound folder, not the one the student wrote.
"""

from __future__ import annotations


def assign_penalties(book, config, assignment: str, student: str) -> float:
    """Set every notebook's late penalty of the submission from its current (trusted) score; the total."""
    from nbgrader.preprocessors import AssignLatePenalties

    late = AssignLatePenalties(config=config)
    late.init_plugin()  # the configured plugin class, with the course's settings (penalty_method, ...)
    submission = book.find_submission(assignment, student)
    seconds_late = submission.total_seconds_late
    total = 0.0
    for notebook in submission.notebooks:
        penalty = None
        if seconds_late > 0:
            penalty = late.plugin_inst.late_submission_penalty(student, notebook.score, seconds_late)
        if penalty is not None:  # nbgrader's own bounds: no bonus, never below zero
            penalty = min(max(float(penalty), 0.0), notebook.score)
            total += penalty
        notebook.late_submission_penalty = penalty
    book.db.commit()
    return total


def penalised_score(submission) -> float:
    """A submission's score after its late penalty, as grades.csv and the gradebook's export have it (nbgrader's
    `SubmittedAssignment`: its `score` is before the penalty). The summary table `lrcourse grade` prints shows this
    one: it showed the score before the penalty while grades.csv had it (F20)."""
    return max(0.0, submission.score - (submission.late_submission_penalty or 0.0))
