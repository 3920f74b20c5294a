"""Ruff keeps the code in one style: no lint finding, nothing the formatter would change."""

import subprocess
import sys

import pytest

from support.paths import ROOT

PATHS = ["lrcourse", "grader", "scripts", "tests", "hub", "nbgrader_config.py"]


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff_finds_nothing(command):
    run = subprocess.run([sys.executable, "-m", "ruff", *command, *PATHS], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
