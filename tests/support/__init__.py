"""What the tests share (on the path by pyproject's `pythonpath`; no test file imports another): the repository's
folders (`paths`), notebooks read and compared (`notebooks`), the order the suite starts in (`suite_order`),
scratch courses and submissions (`course`), the graded catalogue (`gradedclass`), the example class graded for
the results tests (`classresults`), hostile submissions (`hostile`, `hostile_html`), a JupyterLab server,
headless Chromium and a notebook run in it (`labserver`, `chromium`, `labpage`), a PostgreSQL server
(`postgres`), and printed numbers compared within their rounding (`printed`)."""
