"""What the instructor's browser is shown: students' HTML made inert (sanitize, content_policy), nbgrader's
feedback page and its exporter.

Nothing is imported here."""
