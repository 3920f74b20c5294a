"""`lrcourse collect` and the mount table (`mounts`): change times are submission times, so an inbound folder on
tmpfs (where a write through a shared memory mapping never moves them) is refused unless the instructor
accepts it; a folder mounted in the inbound folder is not the student's writing there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lrcourse.grading.collect import collect
from lrcourse.grading.exchange_inbound import Exchange, ExchangeUnusable
from lrcourse.grading.mounts import filesystem_of, mount_table

from support.inbound_folders import CHAPTER, exchange_course, inbound_folder


def test_an_inbound_folder_on_tmpfs_is_refused_unless_accepted(tmp_path):
    """On tmpfs a write through a shared memory mapping never moves a file's change time, so a student could
    edit their submission after the deadline and keep the time of before: refused, or noted when accepted."""
    if not os.path.isdir("/dev/shm") or filesystem_of_path("/dev/shm") != "tmpfs":
        pytest.skip("no tmpfs at /dev/shm")
    shm = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        course, _ = exchange_course(tmp_path)
        exchange = Exchange(shm / "exchange", "lr-schedules")
        exchange.inbound.mkdir(parents=True)
        _, mine = inbound_folder(exchange.inbound)
        with pytest.raises(ExchangeUnusable, match="is on tmpfs, where a write through a shared memory mapping"):
            collect(course, CHAPTER, exchange)
        assert not (course / "submitted").exists()
        exchange.memory_fs_ok = True
        result = collect(course, CHAPTER, exchange)
        assert [row["submission"] for row in result.collected] == [mine], result
        assert result.notes[0]["note"].startswith("times not trusted"), result.notes
    finally:
        shutil.rmtree(shm)


def filesystem_of_path(path: str) -> str | None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return filesystem_of(fd, mount_table())
    finally:
        os.close(fd)


def test_the_mount_table_is_read_with_its_escapes_and_a_mounted_folder_refused(tmp_path, monkeypatch):
    """A folder mounted in the inbound folder is not the student's writing there: refused (the mount table
    writes a space in a name as \\040)."""
    from lrcourse.grading import exchange_inbound

    course, exchange = exchange_course(tmp_path)
    _, mine = inbound_folder(exchange.inbound)
    _, mounted = inbound_folder(exchange.inbound, "2026-01-02 00:00:00.000000 UTC")
    point = str(exchange.inbound / mounted).replace(" ", "\\040")
    table = mount_table(mount_table_text() + f"999 1 0:999 / {point}/sub rw,relatime - tmpfs tmpfs rw\n")
    assert ("0:999", str(exchange.inbound / mounted) + "/sub", "tmpfs") in table
    monkeypatch.setattr(exchange_inbound, "mount_table", lambda: table)
    result = collect(course, CHAPTER, exchange)
    assert [row["submission"] for row in result.collected] == [mine], result
    assert result.refused == [
        {"submission": mounted, "reason": "a file system is mounted there: not the student's own folder"}
    ]


def mount_table_text() -> str:
    try:
        return Path("/proc/self/mountinfo").read_text()
    except OSError:
        return ""


MOUNT_AND_COLLECT = """
import json, subprocess, sys
from pathlib import Path
from lrcourse.grading.collect import collect
from lrcourse.grading.exchange_inbound import Exchange
course, root, chapter, *mounts = sys.argv[1:]
for kind, source, target in zip(mounts[::3], mounts[1::3], mounts[2::3]):
    subprocess.run(["mount", *(["--bind", source] if kind == "bind" else ["-t", "tmpfs", "tmpfs"]), target], check=True)
result = collect(Path(course), chapter, Exchange(Path(root), "lr-schedules"))
print(json.dumps({"collected": result.collected, "refused": result.refused}))
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare to mount")
def test_a_folder_mounted_in_the_inbound_folder_is_refused(tmp_path):
    """A bind mount (same device: only the mount table tells) and a tmpfs (another device) on submission folders,
    in a mount namespace of the test's own: both refused, the honest folder collected."""
    course, exchange = exchange_course(tmp_path)
    _, mine = inbound_folder(exchange.inbound)
    elsewhere, _ = inbound_folder(tmp_path, "2026-01-03 00:00:00.000000 UTC")  # outside the exchange
    bound, _ = inbound_folder(exchange.inbound, "2026-01-02 00:00:00.000000 UTC")
    covered, _ = inbound_folder(exchange.inbound, "2026-01-04 00:00:00.000000 UTC")
    mounts = ["bind", str(elsewhere), str(bound), "tmpfs", "-", str(covered)]
    run = subprocess.run(
        ["unshare", "--mount", "--", sys.executable, "-c", MOUNT_AND_COLLECT, str(course), str(exchange.root),
         CHAPTER, *mounts],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.splitlines()[-1])
    assert [row["submission"] for row in result["collected"]] == [mine], result
    reasons = {row["submission"]: row["reason"] for row in result["refused"]}
    mounted = "a file system is mounted there: not the student's own folder"
    assert reasons == {bound.name: mounted, covered.name: mounted}, reasons
