"""The grading queue: the enqueuing command (`lrcourse grade --broker-file`), its workers (`lrcourse worker`),
and the Celery broker both sides share.

Nothing is imported here."""
