"""`lrcourse worker` started outside a checkout of the course (README's step 2 from the wrong folder, or a mistyped
--course): one line saying so and status 1, before any broker is asked, not a FileNotFoundError traceback (R25t N4:
`Station.serving` listed a source/ that is not there before `serve` could say "nothing to serve")."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lrcourse.grading.fleet import broker as fleet


@pytest.mark.parametrize(
    "course", [[], ["--course", "nowhere"], ["--course", "afile"]], ids=["here", "missing", "file"]
)
def test_a_worker_outside_a_checkout_says_so_without_a_traceback(tmp_path, course):
    (tmp_path / "afile").write_text("not a course\n")  # R25u N1: the config's open raised NotADirectoryError
    env = {**os.environ, fleet.BROKER_VARIABLE: "redis://:S3CRETpw@127.0.0.1:9/0"}  # never reached
    done = subprocess.run(
        [sys.executable, "-m", "lrcourse.cli", "worker", *course],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=env,
    )
    said = done.stdout + done.stderr
    where = tmp_path.resolve() / course[1] if course else tmp_path.resolve()
    expected = f"lrcourse worker: {where} has no assignment in source/: nothing to serve (is --course a checkout of"
    status = 1
    if course[1:] == ["afile"] and os.geteuid() == 0:  # root's check of its course comes first (R20y W1)
        expected, status = "lrcourse worker: afile is not a folder (give --course the course's folder)", 2
    assert done.returncode == status and expected in done.stderr, said[-3000:]
    assert "Traceback" not in said and "S3CRETpw" not in said, said[-3000:]
