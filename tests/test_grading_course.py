"""The grading processes' set-up (lrcourse/grading/course.py): jsonschema's IRI check left out, notebooks still
validated."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

from support.paths import ROOT

READ_A_NOTEBOOK = """
import json, sys
from lrcourse.grading.course import skip_iri_format_check
skip_iri_format_check()
import jsonschema, nbformat
notebook = nbformat.read(sys.argv[1], as_version=4)
nbformat.validate(notebook)
notebook.cells[0].cell_type = "not a cell type"
try:
    nbformat.validate(notebook)
    invalid_refused = False
except nbformat.ValidationError:
    invalid_refused = True
print(json.dumps({
    "grammar_built": sys.modules.get("rfc3987_syntax") is not None or "rfc3987_syntax.syntax_helpers" in sys.modules,
    "formats": sorted(jsonschema.Draft7Validator.FORMAT_CHECKER.checkers),
    "invalid_refused": invalid_refused,
}))
"""


def test_a_grading_process_reads_and_validates_notebooks_without_building_the_iri_grammar():
    """The command and each worker call it first: a notebook is still validated (a bad one refused), only the
    "iri" formats, which no schema there uses, are left out of jsonschema's checks."""
    notebook = next((ROOT / "notebooks").glob("01_*/*.ipynb"))
    run = subprocess.run(
        [sys.executable, "-c", READ_A_NOTEBOOK, str(notebook)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout)
    assert not seen["grammar_built"] and seen["invalid_refused"], seen
    assert "iri" not in seen["formats"] and "iri-reference" not in seen["formats"], seen["formats"]
    assert {"date", "email", "ipv4", "regex"} <= set(seen["formats"]), seen["formats"]


def test_the_command_and_each_worker_leave_it_out_before_reading_a_notebook():
    """`lrcourse` (cli.main) and a grading worker (worker.start) call it before anything imports jsonschema."""
    from lrcourse import cli
    from lrcourse.grading.autograde import worker

    for function in (cli.main, worker.start):
        assert "skip_iri_format_check()" in inspect.getsource(function), function.__qualname__
