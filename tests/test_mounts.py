"""`lrcourse collect` and the mount table (`mounts`): change times are submission times, so an inbound folder on
tmpfs (where a write through a shared memory mapping never moves them), or on an overlay whose upper layer is
tmpfs or cannot be established, is refused unless the instructor accepts it; a folder mounted in the inbound
folder is not the student's writing there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lrcourse.grading.exchange.collect import collect
from lrcourse.grading.exchange.inbound_folder import Exchange, ExchangeUnusable
from lrcourse.grading.exchange.mounts import Mount, filesystem_of, mount_table

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


def test_an_overlay_is_judged_by_its_upper_layer(tmp_path, monkeypatch):
    """The mount table names an overlay by its own type: its upperdir (escaped as the table writes it) is followed
    to the file system holding it. On tmpfs, refused; one that is not a folder here, or none, refused as unknown
    (collected with a note when the instructor allows it); on another file system, collected. The inbound
    folder's own device is listed last as the overlay."""
    from lrcourse.grading.exchange import inbound_folder as exchange_inbound

    if not os.path.isdir("/dev/shm") or filesystem_of_path("/dev/shm") != "tmpfs":
        pytest.skip("no tmpfs at /dev/shm")
    course, exchange = exchange_course(tmp_path)
    _, mine = inbound_folder(exchange.inbound)
    device = os.stat(exchange.inbound).st_dev
    line = f"999 1 {os.major(device)}:{os.minor(device)} / /x rw - overlay overlay rw,lowerdir=/l{{}},workdir=/w\n"

    def outcome(options: str, allow: bool = False):
        table = mount_table(mount_table_text() + line.format(options))
        monkeypatch.setattr(exchange_inbound, "mount_table", lambda: table)
        exchange.memory_fs_ok = allow
        try:
            return collect(course, CHAPTER, exchange)
        except ExchangeUnusable as error:
            return str(error)

    shm = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        (shm / "up per,1").mkdir()
        on_tmpfs = outcome(f",upperdir={shm}/up\\040per\\0541")
    finally:
        shutil.rmtree(shm)
    assert f"is on an overlay whose upper layer ({shm}/up per,1) is on tmpfs, where" in on_tmpfs, on_tmpfs
    assert "--allow-tmpfs" in on_tmpfs
    for options, why in (
        (",upperdir=/nonexistent/upper", "upperdir=/nonexistent/upper is not a folder here"),
        (",upperdir=upper", "upperdir=upper is not a folder here"),  # relative: to the mounter's folder
        ("", "it has none"),
    ):
        refused = outcome(options)
        assert f"is on an overlay whose upper layer cannot be established ({why}), where" in refused, refused
        assert "may never move (tmpfs, ramfs) a file's change time" in refused, refused
        allowed = outcome(options, allow=True)  # the instructor's --allow-tmpfs: collected, times not trusted
        assert [row["submission"] for row in allowed.collected] == [mine], allowed
        assert allowed.notes[0]["note"].startswith("times not trusted: "), allowed.notes
    elsewhere = outcome(",upperdir=/proc")  # neither memory nor overlay (the disk's device is the overlay's here)
    assert [row["submission"] for row in elsewhere.collected] == [mine] and not elsewhere.notes, elsewhere


def filesystem_of_path(path: str) -> str | None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return filesystem_of(fd, mount_table())
    finally:
        os.close(fd)


def test_the_mount_table_is_read_with_its_escapes_and_a_mounted_folder_refused(tmp_path, monkeypatch):
    """A folder mounted in the inbound folder is not the student's writing there: refused (the mount table
    writes a space in a name as \\040)."""
    from lrcourse.grading.exchange import inbound_folder as exchange_inbound

    course, exchange = exchange_course(tmp_path)
    _, mine = inbound_folder(exchange.inbound)
    _, mounted = inbound_folder(exchange.inbound, "2026-01-02 00:00:00.000000 UTC")
    point = str(exchange.inbound / mounted).replace(" ", "\\040")
    table = mount_table(mount_table_text() + f"999 1 0:999 / {point}/sub rw,relatime - tmpfs tmpfs rw\n")
    assert Mount("0:999", str(exchange.inbound / mounted) + "/sub", "tmpfs", "rw") in table
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
from lrcourse.grading.exchange.collect import collect
from lrcourse.grading.exchange.inbound_folder import Exchange
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


OVERLAY_AND_COLLECT = """
import json, os, subprocess, sys
from pathlib import Path
from lrcourse.grading.exchange.collect import collect
from lrcourse.grading.exchange.inbound_folder import Exchange, ExchangeUnusable
from lrcourse.grading.exchange.inbound import user_name
course, root, chapter, notebook, layers, upper, lower, allow = sys.argv[1:]
if upper == "tmpfs":
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", layers], check=True)
for folder in ("upper", "work", "lower/lr-schedules/inbound"):
    os.makedirs(f"{layers}/{folder}")
os.chmod(f"{layers}/lower/lr-schedules/inbound", 0o3733)  # as the README's set-up makes it
lowerdir = f"{layers}/lower" if lower == "tmpfs" else root  # the exchange's folders, on tmpfs or on disk
options = f"lowerdir={lowerdir},upperdir={layers}/upper,workdir={layers}/work"
subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, root], check=True)
exchange = Exchange(Path(root), "lr-schedules", memory_fs_ok=allow == "allow")
folder = exchange.inbound / f"{user_name(os.geteuid())}+{chapter}+2026-01-01 00:00:00.000000 UTC+x"
folder.mkdir()  # through the overlay, as a student writes: in its upper layer
(folder / notebook).write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
(folder / "submission_secret.txt").write_text("5e" * 64)  # nbgrader submit's last file: a finished submit
try:
    result = collect(Path(course), chapter, exchange)
except ExchangeUnusable as error:
    print(json.dumps({"unusable": str(error)}))
else:
    print(json.dumps({"collected": result.collected, "refused": result.refused, "notes": result.notes}))
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare to mount")
@pytest.mark.parametrize(
    "upper, lower, allow",
    [("tmpfs", "tmpfs", "refuse"), ("tmpfs", "tmpfs", "allow"), ("tmpfs", "disk", "allow"), ("disk", "disk", "refuse")],
)
def test_an_exchange_on_an_overlay_with_a_tmpfs_upper_layer_is_refused(tmp_path, upper, lower, allow):
    """A real overlay over the exchange in a mount namespace of the test's own, the submission written through
    it. With its upper layer on tmpfs, refused (the mount table says overlay), or collected with the times noted
    as not trusted when the instructor allows it, also when its layers are on two file systems (files then report
    a device of the overlay's own that no mount lists); with its upper layer on disk, collected."""
    from support.inbound_folders import FILE

    course, exchange = exchange_course(tmp_path)
    (tmp_path / "layers").mkdir()
    run = subprocess.run(
        ["unshare", "--mount", "--", sys.executable, "-c", OVERLAY_AND_COLLECT, str(course), str(exchange.root),
         CHAPTER, FILE, str(tmp_path / "layers"), upper, lower, allow],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.splitlines()[-1])
    if allow == "refuse" and upper == "tmpfs":
        expected = f"is on an overlay whose upper layer ({tmp_path}/layers/upper) is on tmpfs, where"
        assert expected in result.get("unusable", ""), result
        return
    assert [row["submission"].split("+")[1] for row in result["collected"]] == [CHAPTER], result
    assert result["refused"] == [], result
    notes = [row["note"] for row in result["notes"]]
    assert notes == ([] if upper == "disk" else [notes[0]]) and all("times not trusted" in n for n in notes), notes
