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

from lrcourse.gradebook_db import gradebook
from lrcourse.grading.late_rule import late_plugin, penalty_due


def assign_penalties(book, config, assignment: str, student: str) -> float:
    """Set every notebook's late penalty of the submission from its current (trusted) score, the gradebook's due
    date and her extension (`late_rule.penalty_due`, which also tells a stale penalty at intake); the total."""
    plugin = late_plugin(config)  # the configured plugin class, with the course's settings (penalty_method, ...)
    submission = book.find_submission(assignment, student)
    seconds_late = submission.total_seconds_late
    total = 0.0
    for notebook in submission.notebooks:
        penalty = penalty_due(plugin, student, notebook.score, seconds_late)
        total += penalty or 0.0
        notebook.late_submission_penalty = penalty
    book.db.commit()
    return total


def late_reason(submission) -> str:
    """Why a submission's score is below its raw score, for her row's reason in the summary and
    reports/<chapter>.csv ("late by 0.66 s: late penalty 9"); "" when on time. grades.csv alone said it."""
    seconds = submission.total_seconds_late
    if seconds <= 0:
        return ""
    return f"late by {how_long(seconds)}: late penalty {submission.late_submission_penalty or 0.0:g}"


def lateness_in(db_url: str, assignment: str, student: str) -> tuple[float, str]:
    """How late her submission in the gradebook at `db_url` is (seconds) and its `late_reason`; (0, "") if none."""
    from nbgrader.api import MissingEntry

    with gradebook(db_url) as book:
        try:
            submission = book.find_submission(assignment, student)
            return submission.total_seconds_late, late_reason(submission)
        except MissingEntry:
            return 0.0, ""


def how_long(seconds: float) -> str:
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.2f} s"


def penalised_score(submission) -> float:
    """A submission's score after its late penalty, as grades.csv and the gradebook's export have it (nbgrader's
    `SubmittedAssignment`: its `score` is before the penalty). The summary table `lrcourse grade` prints shows this
    one: it showed the score before the penalty while grades.csv had it (F20)."""
    return max(0.0, submission.score - (submission.late_submission_penalty or 0.0))
