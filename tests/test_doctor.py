"""`lrcourse doctor` (issue 21): a pre-flight that starts what grading starts, once, and says what is missing.

Here the sandbox works: every check passes, with one real answer process and one real kernel. With bubblewrap
off PATH (no root needed to arrange) it fails on the line that says so and how to fix it, starting nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lrcourse.build import tool_environment

from support.paths import ROOT


def doctor(path: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lrcourse.cli", "doctor", "--course", str(ROOT)],
        cwd=ROOT,
        env={**tool_environment(), "PATH": path},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_doctor_starts_a_sandboxed_kernel_and_answer_process_here():
    run = doctor(os.environ["PATH"])
    lines = run.stdout.splitlines()
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "ok    a sandboxed kernel starts and sees the environment" in lines, run.stdout
    assert "ok    a sandboxed answer process starts and sees the environment" in lines, run.stdout
    assert all(line.startswith(("ok ", "warn ")) for line in lines[:-1]), run.stdout
    assert lines[-1] == "students' code can be graded here", run.stdout


def test_the_doctor_says_bubblewrap_is_missing_and_how_to_install_it(tmp_path: Path):
    bare = tmp_path / "bin"  # a PATH without bwrap (nor the rest of util-linux)
    bare.mkdir()
    run = doctor(str(bare))
    assert run.returncode == 1, run.stdout + run.stderr[-3000:]
    line = "FAIL  sandbox tools: bubblewrap is not installed -- fix: `apt-get install bubblewrap` (Debian/Ubuntu)"
    assert line in run.stdout.splitlines(), run.stdout
    assert "kernel" not in run.stdout and run.stdout.splitlines()[-1] == "students' code cannot be graded here"
