"""Grading itself: `lrcourse grade`'s run, its workers and the trusted verdicts, what a run may keep and
what it leaves on disk; nbgrader's own autograde and Validate refused.

Nothing is imported here."""
