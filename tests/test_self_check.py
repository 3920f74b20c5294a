"""`lrcourse check`: a self-study learner grades their own workspace without it being touched."""

import hashlib
import subprocess
import sys

import pytest

from lrcourse.build import tool_environment
from lrcourse.workspace import update_workspace

from support.paths import ROOT


def digest(folder):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_check_grades_a_copy_and_prints_the_score_per_exercise(tmp_path):
    workspace = tmp_path / "workspace"
    update_workspace(workspace)
    before = digest(workspace)
    env = {**tool_environment(), "LRCOURSE_WORKSPACE": str(workspace)}  # what `make check` passes
    result = subprocess.run(
        [sys.executable, "-m", "lrcourse.cli", "check", "01_learning_rate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert digest(workspace) == before, "the learner's workspace must not change"
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert "test_largest_stable_lr" in result.stdout and "0 / 2" in result.stdout
    assert "total" in result.stdout and "0 / 11" in result.stdout  # 7 autograded + 4 for the written answers
    feedback = [line.split("feedback: ")[1] for line in result.stdout.splitlines() if "feedback: " in line]
    assert feedback and (ROOT / feedback[0]).exists() and feedback[0].endswith(".html")
