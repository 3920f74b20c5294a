"""A graded class read back: results, the exports an instructor uploads, the class report.

Nothing is imported here."""
