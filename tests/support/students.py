"""Real OS users for the exchange tests (test_collect, test_collect_flood): one per role, with a home in a folder
every user can enter, acting as themselves through `runuser`.

The venv's interpreter lives under /root, which other users cannot enter: a student's command runs with
`runuser` inside a mount namespace of its own where a tmpfs covers /root and the interpreter is mounted back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

from support import hostile
from support.course import NOTEBOOK

CHAPTER = hostile.CHAPTER
FILE = NOTEBOOK[CHAPTER]

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("unshare"),
    reason="needs root, useradd and unshare to create students",
)


class Students:
    """Real OS users, one per role, with homes in a folder every user can enter; removed afterwards."""

    def __init__(self, scratch: Path, roles: tuple[str, ...]):
        self.scratch = scratch
        tag = uuid.uuid4().hex[:5]
        self.name = {role: f"lrc{tag}{role}" for role in roles}
        self.python_mount = scratch / "python"
        for name in self.name.values():
            subprocess.run(["useradd", "-M", "-d", str(self.home(name)), "-s", "/bin/sh", name], check=True)
            self.home(name).mkdir(parents=True)
            shutil.chown(self.home(name), name, name)

    def home(self, name: str) -> Path:
        return self.scratch / "home" / name

    def remove(self) -> None:
        for name in self.name.values():
            subprocess.run(["userdel", name], capture_output=True)

    def shell(self, role: str, script: str, *args: str) -> None:
        """`sh -c script args` as the student (coreutils only: nothing under /root needed)."""
        name = self.name[role]
        subprocess.run(
            [shutil.which("runuser"), "-u", name, "--", "sh", "-ec", script, "sh", *args],
            cwd=self.home(name), check=True, timeout=30, env={"PATH": "/usr/bin:/bin", "HOME": str(self.home(name))},
        )  # fmt: skip

    def python(self, role: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """The venv's python as the student, with the interpreter under /root mounted back into reach."""
        name, base = self.name[role], sys.base_prefix
        self.python_mount.mkdir(exist_ok=True)
        mounts = (
            'mount --bind "$1" "$2" && mount -t tmpfs -o mode=755 tmpfs /root && mkdir -p "$1" && '
            'mount --bind "$2" "$1" && shift 2 && exec runuser -u "$0" -- "$@"'
        )
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(self.home(name))}
        if os.environ.get("PYTHONPATH"):  # a checkout tested with PYTHONPATH: its lrcourse, not the venv's editable one
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        return subprocess.run(
            ["unshare", "--mount", "--", "sh", "-c", mounts, name, base, str(self.python_mount), "env", *[
                f"{key}={value}" for key, value in env.items()], sys.executable, *args],
            cwd=self.home(name), capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def write_notebook(self, role: str, notebook) -> Path:
        """The student's own copy of the assignment in their home, as `nbgrader fetch` would leave it."""
        name = self.name[role]
        folder = self.home(name) / CHAPTER
        folder.mkdir(exist_ok=True)
        shutil.chown(folder, name, name)
        nbformat.write(notebook, folder / FILE)
        shutil.chown(folder / FILE, name, name)
        return folder / FILE

    def submit(self, role: str, notebook, exchange: Path) -> Path:
        self.write_notebook(role, notebook)
        run = self.python(
            role, "-m", "nbgrader", "submit", CHAPTER, "--course", "lr-schedules", f"--Exchange.root={exchange}"
        )
        assert run.returncode == 0, run.stdout + run.stderr
        inbound = exchange / "lr-schedules" / "inbound"
        return next(p for p in inbound.iterdir() if p.name.startswith(self.name[role] + "+"))


@contextmanager
def grader_account(prefix: str):
    """The grader account (a real OS user) and a scratch folder, root's, every account may enter: (scratch, Students),
    both removed at the end (the root-grading tests' course owner)."""
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    scratch.chmod(0o755)
    students = Students(scratch, ("grader",))
    try:
        yield scratch, students
    finally:
        students.remove()
        shutil.rmtree(scratch, ignore_errors=True)
