"""`lrcourse doctor`: whether students' code can be graded here, and the exchange's checks.

Nothing is imported here."""
