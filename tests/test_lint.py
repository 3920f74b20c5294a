"""Ruff keeps the code in one style: no lint finding, nothing the formatter would change; and no module grows past
what a newcomer reads in one sitting."""

import subprocess
import sys

import pytest

from support.paths import ROOT

PATHS = ["lrcourse", "grader", "scripts", "tests", "hub", "nbgrader_config.py"]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff_finds_nothing(command):
    run = subprocess.run([sys.executable, "-m", "ruff", *command, *PATHS], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


MAX_LINES = 400  # issue 22: one job per module; a module past this has grown a second one
MODULE_FOLDERS = ["lrcourse", "grader", "scripts", "tests"]


def test_no_module_passes_400_lines():
    modules = [path for folder in MODULE_FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))]
    long = {str(p.relative_to(ROOT)): n for p in modules if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert modules and long == {}, f"split by job: {long}"
