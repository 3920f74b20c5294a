"""What the tests share: scratch courses and submissions (`course`), the graded catalogue (`gradedclass`), the
example class graded for the results tests (`classresults`), hostile submissions (`hostile`, `hostile_html`),
a JupyterLab server and headless Chromium (`labserver`, `chromium`), a PostgreSQL server (`postgres`), and
printed numbers compared within their rounding (`printed`)."""
