"""`lrcourse doctor` (issue 21): a pre-flight that starts what grading starts, once, and says what is missing.

Here the sandbox works: every check passes, with one real answer process and one real kernel. With bubblewrap
off PATH (no root needed to arrange), or a course whose sandbox limits are wrong, it fails on the line that says
so and how to fix it, starting nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lrcourse.build import tool_environment
from lrcourse.grading.doctor import Check, exchange_root, fix_for, private_homes, verdict

from support.paths import ROOT


def doctor(path: str, course: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lrcourse.cli", "doctor", "--course", str(course)],
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
    assert "starting one sandboxed answer process and one sandboxed kernel" in run.stderr  # not silent meanwhile


def test_the_doctor_says_bubblewrap_is_missing_and_how_to_install_it(tmp_path: Path):
    bare = tmp_path / "bin"  # a PATH without bwrap (nor the rest of util-linux)
    bare.mkdir()
    run = doctor(str(bare))
    assert run.returncode == 1, run.stdout + run.stderr[-3000:]
    line = "FAIL  sandbox tools: bubblewrap is not installed -- fix: `apt-get install bubblewrap` (Debian/Ubuntu)"
    assert line in run.stdout.splitlines(), run.stdout
    assert "kernel" not in run.stdout and run.stdout.splitlines()[-1] == "students' code cannot be graded here"
    assert "starting" not in run.stderr


def test_the_doctor_names_a_sandbox_limit_the_course_gets_wrong(tmp_path: Path):
    (tmp_path / "nbgrader_config.py").write_text('c = get_config()\nc.Sandbox.memory_mb = "lots"\n')
    run = doctor(os.environ["PATH"], tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr[-3000:]
    line = next(line for line in run.stdout.splitlines() if line.startswith("FAIL"))
    assert line.startswith("FAIL  the course's sandbox limits: ValueError: c.Sandbox.memory_mb must be"), line
    assert f"fix: correct c.Sandbox in {tmp_path / 'nbgrader_config.py'}" in line and "kernel" not in run.stdout


@pytest.mark.parametrize(
    "error, fix",
    [
        ("bwrap: setting up uid map: Permission denied", "kernel.apparmor_restrict_unprivileged_userns=0"),
        ("bwrap: No permissions to creating new namespace, likely because the kernel", "seccomp"),
        ("bwrap: unshare failed: Operation not permitted", "user.max_user_namespaces"),
        ("ModuleNotFoundError: No module named 'lrcourse'", "make .venv/.installed"),
    ],
)
def test_each_way_bubblewrap_fails_gets_its_own_fix(error, fix):
    """What bwrap prints where AppArmor (Ubuntu 24.04), a container's seccomp or a sysctl refuses it a user
    namespace, each with the fix for that cause."""
    assert fix in fix_for(error)


@pytest.mark.parametrize("mode, line", [
    (0o777, "FAIL  the nbgrader exchange's root: {root} (mode 0777) is writable by other users without the sticky bit"),
    (0o1777, "ok    the nbgrader exchange's root {root} keeps the course's folder in place (sticky bit)"),
])  # fmt: skip
def test_the_doctor_checks_the_exchanges_root_keeps_the_course_folder_in_place(tmp_path: Path, mode, line):
    root = tmp_path / "exchange"
    root.mkdir()
    root.chmod(mode)
    config = f'c = get_config()\nc.CourseDirectory.course_id = "lr-schedules"\nc.Exchange.root = "{root}"\n'
    (tmp_path / "nbgrader_config.py").write_text(config)
    said = exchange_root(tmp_path).line()
    assert said.startswith(line.format(root=root)), said
    assert (f"fix: `chmod 1777 {root}`" in said) == (mode == 0o777), said
    # the last line: grading works; only collect stops at an exchange whose root lets a student replace the course's
    others = [Check("sandbox tools"), Check("cgroups", "none", warning=True)]
    last = verdict([exchange_root(tmp_path), *others])
    assert last.startswith("students' code can be graded here"), last
    assert ("lrcourse collect refuses this exchange" in last) == (mode == 0o777), last
    assert verdict([exchange_root(tmp_path), Check("sandbox tools", "bubblewrap is not installed")]) == (
        "students' code cannot be graded here"
    )


def test_the_doctor_warns_of_homes_other_users_can_enter(tmp_path: Path):
    """A classmate who can enter a home reads nbgrader_cache/.../submission_secret.txt there (its path is fixed)."""
    for name, mode in (("alice", 0o700), ("bob", 0o755), ("carol", 0o711)):
        (tmp_path / name).mkdir()
        (tmp_path / name).chmod(mode)
    said = private_homes(tmp_path)
    assert said.warning and said.problem.startswith("2 of 3 can be entered by other users (bob, carol)"), said
    assert "HOME_MODE 0700 in /etc/login.defs" in said.fix
    for name in ("bob", "carol"):
        (tmp_path / name).chmod(0o700)
    assert (
        private_homes(tmp_path).line()
        == f"ok    students' homes in {tmp_path} closed to other users (mode 0700): 3 checked"
    )
