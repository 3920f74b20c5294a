"""nbgrader's exchange into submitted/: `lrcourse collect`, each submission and the inbound folder read as
the grader may trust them.

Nothing is imported here."""
