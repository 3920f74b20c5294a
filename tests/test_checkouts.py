"""The test support that gives a grading worker an environment of its own (`support.checkouts`): hard links on one
file system, a copy across two (where hard links fail)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from support.checkouts import copy_environment


def small_environment(folder: Path) -> Path:
    (folder / "venv" / "bin").mkdir(parents=True)
    (folder / "venv" / "bin" / "python").write_text("#!/bin/sh\n")
    return folder / "venv"


def test_an_environment_is_hard_linked_on_one_file_system(tmp_path):
    venv = small_environment(tmp_path)
    copy_environment(venv, tmp_path / "copy")
    assert os.stat(tmp_path / "copy" / "bin" / "python").st_nlink == 2


def test_an_environment_is_copied_where_hard_links_fail(tmp_path):
    venv = small_environment(tmp_path)
    if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system (/dev/shm) to copy to")
    other = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        copy_environment(venv, other / "copy")
        copied = other / "copy" / "bin" / "python"
        assert copied.read_text() == "#!/bin/sh\n" and os.stat(copied).st_nlink == 1
    finally:
        shutil.rmtree(other)
