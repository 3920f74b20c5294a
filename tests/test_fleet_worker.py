"""A grading worker's scratch courses (`fleet_worker`): removed when its process ends, and those of processes that
died (kill -9) removed when the next one starts. test_fleet checks the same with real workers."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from lrcourse.grading.fleet_worker import SCRATCH, Station, remove_leftovers

from support.paths import ROOT


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_dead_processs_scratch_course_is_removed_and_a_live_ones_kept():
    dead = Path(tempfile.mkdtemp(prefix=f"{SCRATCH}{dead_pid()}-"))
    (dead / "gradebook.db").write_text("")
    alive = Path(tempfile.mkdtemp(prefix=f"{SCRATCH}{os.getpid()}-"))
    try:
        remove_leftovers()
        assert not dead.exists()
        assert alive.is_dir()
    finally:
        for path in (dead, alive):
            shutil.rmtree(path, ignore_errors=True)


def test_closing_a_station_removes_its_scratch_course():
    station = Station(ROOT)
    station.scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH}{os.getpid()}-"))
    (station.scratch / "submitted").mkdir()
    scratch = station.scratch
    station.close()
    assert not scratch.exists() and station.scratch is None
