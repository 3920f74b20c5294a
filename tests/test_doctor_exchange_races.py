"""The doctor's mends, run as root as printed, against what a student does meanwhile (r20k W2, W3;
lrcourse/grading/exchange/kept_folders.py): the aside is a rename on the exchange's own file system, never a copy
(W2: with the exchange on a tmpfs, `mv` into /var/tmp copied, and removed what had arrived meanwhile: 10 of 349
submissions lost); a course folder its group may write in is closed (`chmod g-w`) first, in the same command as the
moves, and a move refuses a link on its way at run time (W3: a student swapped her link in after the doctor looked:
(a) it became the class's inbound, (b) the aside of a chapter followed it into a classmate's home)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import lrcourse.grading.exchange.nbgrader_release  # noqa: F401  as root: a uid of no account cannot import it

from support.doctor_exchange import GRADER, STUDENT, course_in, doctor, follow, listing

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid, and mounting, need root")
SUBMISSION = "alice+ch1+2026-12-07 10:00:00.000000 UTC+abc"


def first_mend(said: str) -> subprocess.CompletedProcess:
    """The line's first command, run by bash as root, as printed."""
    command = said.split("fix: `", 1)[1].split("`", 1)[0]
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True)


@pytest.fixture
def tmpfs(open_tmp):
    """A tmpfs mounted in `open_tmp` for the test (another file system than /var/tmp's), unmounted after."""
    where = open_tmp / "fs"
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(where)], capture_output=True).returncode:
        pytest.skip("mount -t tmpfs is not permitted here")
    try:
        where.chmod(0o755)
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def test_the_aside_is_a_rename_on_the_exchange_file_system_and_loses_nothing(tmpfs, monkeypatch):
    """W2: a student's inbound (collect refuses it) on a tmpfs exchange, while a classmate keeps submitting: the
    printed mend moves it aside by a rename (the same inode, in the exchange's root), and every submission made
    is in the aside or in the inbound made again."""
    course = course_in(monkeypatch, tmpfs, 0o1777)
    inbound = course / "inbound"
    os.chown(inbound, STUDENT, STUDENT)
    for number in range(300):  # a copy of these takes a while: long enough to lose what arrives meanwhile
        (inbound / f"bob+ch1+2026-12-07 10:00:{number:02d} UTC").mkdir()
        (inbound / f"bob+ch1+2026-12-07 10:00:{number:02d} UTC" / "learning_rate.ipynb").write_bytes(b"x" * 20_000)
    said = doctor(tmpfs)
    assert f"d=$(mktemp -d {course.parent}/.lrcourse-aside.XXXXXX)" in said and "/var/tmp" not in said, said
    assert "on another file system" in said, said
    inode, made, stop = os.stat(inbound).st_ino, [], threading.Event()

    def classmate():
        while not stop.is_set():
            name = f"al+ch1+2026-12-07 11:00:00.{len(made):06d} UTC+x"
            try:
                (inbound / name).mkdir()
                made.append(name)
            except OSError:
                pass

    writer = threading.Thread(target=classmate)
    writer.start()
    try:
        aside = follow(said)
    finally:
        stop.set()
        writer.join()
    assert aside is not None and aside.parent == course.parent and aside.name.startswith(".lrcourse-aside.")
    assert os.stat(aside / "inbound").st_ino == inode and (aside.stat().st_mode & 0o777) == 0o700  # renamed
    kept = set(os.listdir(aside / "inbound")) | set(os.listdir(inbound))
    assert made and not set(made) - kept, sorted(set(made) - kept)[:5]
    assert os.stat(inbound).st_uid == GRADER and len(os.listdir(aside / "inbound")) >= 300


def test_the_aside_refuses_a_folder_on_another_file_system(tmpfs, monkeypatch, open_tmp):
    """W2: a course folder that is a mount point of its own (`mv` would copy it): the mend fails, moving nothing."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    shutil.rmtree(course / "outbound")
    (course / "outbound").mkdir()
    subprocess.run(["mount", "--bind", str(tmpfs), str(course / "outbound")], check=True)
    try:
        os.chown(course / "outbound", STUDENT, STUDENT)  # hers: release refuses it; the mend moves it aside
        (course / "outbound" / "ch1").mkdir()  # what `mv` would copy, then remove
        said = doctor(open_tmp)
        assert "mktemp -d" in said, said
        ran = first_mend(said)
        assert ran.returncode and "moved to" not in ran.stdout and os.path.ismount(course / "outbound"), ran
        assert os.listdir(course / "outbound") == ["ch1"] and not list(course.parent.glob(".lrcourse-aside.*"))
    finally:
        subprocess.run(["umount", "-l", str(course / "outbound")], check=True)


def test_the_aside_refuses_a_bind_mount_of_the_same_disk(monkeypatch, open_tmp):
    """r20l W4, N1: the course folder a bind mount (of itself: the same disk, the same `stat -c %d`), its inbound a
    student's: `mv` out of it would copy; the mend moves nothing, fails, and says why on stderr."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    if subprocess.run(["mount", "--bind", str(course), str(course)], capture_output=True).returncode:
        pytest.skip("mount --bind is not permitted here")
    try:
        inbound = course / "inbound"
        os.chown(inbound, STUDENT, STUDENT)
        (inbound / SUBMISSION).mkdir()
        said, inode = doctor(open_tmp), os.stat(inbound).st_ino
        assert "mktemp -d" in said and os.stat(inbound).st_dev == os.stat(course.parent).st_dev, said
        ran = first_mend(said)
        assert ran.returncode and "moved to" not in ran.stdout and "nothing moved" in ran.stderr, ran
        assert os.stat(inbound).st_ino == inode and os.listdir(inbound) == [SUBMISSION]
        assert not list(course.parent.glob(".lrcourse-aside.*"))
    finally:
        subprocess.run(["umount", "-l", str(course)], check=True)


def group_course(monkeypatch, open_tmp) -> Path:
    """The README's set-up, with the course folder writable by a group that may hold students (2775)."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    os.chown(course, GRADER, STUDENT)
    course.chmod(0o2775)
    listing(monkeypatch, {STUDENT: ["alice"]})
    return course


def swap_in(name: Path, away: Path, mine: Path, swapped: str) -> None:
    """What she does between the doctor's line and root's run: the folder at `name` renamed to `away`, and at `name`
    her link to `mine` (`swapped` "link") or `mine` itself (a folder of hers)."""
    os.rename(name, away)
    if swapped == "link":
        name.symlink_to(mine.name)
    else:
        os.rename(mine, name)


def inbound_in_her_outbound(open_tmp, monkeypatch):
    """The course, its outbound/ and outbound/x/ a student's (0777), the class's inbound (one submission) moved into
    x/: the course, outbound/ and x."""
    course = course_in(monkeypatch, open_tmp, 0o1777)
    shutil.rmtree(course / "outbound")
    outbound, x = course / "outbound", course / "outbound" / "x"
    for folder in (outbound, x):
        folder.mkdir(mode=0o777)
        os.chown(folder, STUDENT, STUDENT)
    (course / "inbound" / SUBMISSION).mkdir()
    os.rename(course / "inbound", x / "inbound")
    return course, outbound, x


@pytest.mark.parametrize("swapped", ["", "link", "folder"])
def test_the_move_back_closes_the_group_first_and_moves_only_what_the_doctor_saw(open_tmp, monkeypatch, swapped):
    """r20k W3(a), r20l W2: inbound/ renamed `.i` in a course folder its group may write in; after the doctor looked,
    she renames `.i` and puts there her link to a folder of hers, or that 3733 folder itself. The line's first command
    closes the course folder to its group first, then moves `.i` only if it is no link, and the grader's 3733 folder
    the doctor saw: no inbound of hers; not swapped, it moves the class's inbound back."""
    course = group_course(monkeypatch, open_tmp)
    (course / "inbound" / SUBMISSION).mkdir()
    os.rename(course / "inbound", course / ".i")
    said = doctor(open_tmp)
    hidden = course / ".i"
    assert (
        f"fix: `chmod g-w -- {course} && [ ! -L {course} ] && [ ! -L {hidden} ] && s=$(stat -c %u:%a -- {hidden}) && "
        f'{{ [ "$s" = {GRADER}:3733 ]' in said
    ), said
    assert f"[ -d {hidden} ] && mv -T -- {hidden} {course}/inbound` (as root" in said, said
    if swapped:  # what she does between the doctor's line and root's run
        mine = course / "mine"
        mine.mkdir(mode=0o3733)
        os.chown(mine, STUDENT, STUDENT)
        (mine / SUBMISSION).mkdir()  # as `ls -la` shows the class's
        swap_in(hidden, course / ".j", mine, swapped)
    ran = first_mend(said)
    assert not course.stat().st_mode & 0o020  # closed to the group first, either way
    if swapped:
        assert ran.returncode and not os.path.lexists(course / "inbound"), ran
        assert os.listdir(course / ".j") == [SUBMISSION]
    else:
        assert not ran.returncode and os.listdir(course / "inbound") == [SUBMISSION], ran


@pytest.mark.parametrize("swapped", [False, True])
def test_a_chapters_aside_closes_the_group_first_and_never_follows_a_link(open_tmp, monkeypatch, swapped):
    """W3(b): a chapter folder others may write in (her file planted in it), in a course folder its group may write
    in; after the doctor looked, she renames outbound/ and puts a link to a classmate's folder there. The aside closes
    the course folder first and refuses the link: the classmate's folder stays; not swapped, the chapter is moved."""
    course = group_course(monkeypatch, open_tmp)
    chapter = course / "outbound" / "ch1"
    chapter.mkdir(mode=0o777)
    os.chown(chapter, GRADER, 0)
    chapter.chmod(0o777)
    (chapter / "planted.ipynb").write_text("hers")
    os.chown(chapter / "planted.ipynb", STUDENT, STUDENT)
    said = doctor(open_tmp)
    assert f"fix: `chmod g-w -- {course} && d=$(mktemp -d {course.parent}/.lrcourse-aside." in said, said
    assert f"[ ! -L {course / 'outbound'} ] && [ ! -L {chapter} ]" in said, said
    classmate = open_tmp / "home" / "al"
    (classmate / "ch1").mkdir(parents=True)
    (classmate / "ch1" / "work.ipynb").write_text("hers, fetched")
    if swapped:
        os.rename(course / "outbound", course / ".o")
        (course / "outbound").symlink_to(classmate)
    ran = first_mend(said)
    assert not course.stat().st_mode & 0o020
    assert (classmate / "ch1" / "work.ipynb").read_text() == "hers, fetched", ran
    if swapped:
        assert ran.returncode and "moved to" not in ran.stdout and (course / ".o" / "ch1").is_dir(), ran
    else:
        assert not ran.returncode and not os.path.lexists(chapter), ran
    for line in ran.stdout.splitlines():
        shutil.rmtree(line.removeprefix("moved to "))


@pytest.mark.parametrize("swapped", ["", "link", "folder"])
def test_the_inbound_in_her_own_outbound_is_moved_back_only_once_she_cannot_rename_there(
    open_tmp, monkeypatch, swapped
):
    """r20k W3, r20l W1: the class's inbound moved into outbound/x/ of hers, where she may rename whenever she likes:
    the move back first makes outbound/ root's and closes it, then x, then moves x/inbound only if it is the grader's
    3733 folder; swapped (x her link, or her folder holding a 3733 inbound of hers), nothing becomes inbound/."""
    course, outbound, x = inbound_in_her_outbound(open_tmp, monkeypatch)
    said = doctor(open_tmp)
    top, then = (f"[ ! -L {at} ] && chown -h root -- {at} && chmod go-w -- {at} && " for at in (outbound, x))
    assert f"{top}{then}[ ! -L {x / 'inbound'} ] && s=$(stat -c %u:%a" in said, said
    if swapped:
        mine = outbound / "mine"
        (mine / "inbound").mkdir(mode=0o3733, parents=True)
        for folder in (mine, mine / "inbound"):
            os.chown(folder, STUDENT, STUDENT)
        swap_in(x, outbound / "real", mine, swapped)
    ran = first_mend(said)
    assert os.stat(outbound).st_uid == 0 and not os.stat(outbound).st_mode & 0o022
    if swapped:
        assert ran.returncode and not os.path.lexists(course / "inbound"), ran
    else:
        assert not ran.returncode and os.listdir(course / "inbound") == [SUBMISSION], ran
        assert os.stat(course / "inbound").st_uid == GRADER


SWAP = """import ctypes, os, sys, time
libc, end = ctypes.CDLL(None, use_errno=True), time.time() + float(sys.argv[4])
os.chdir(sys.argv[1])
while time.time() < end:
    libc.renameat2(-100, sys.argv[2].encode(), -100, sys.argv[3].encode(), 2)
"""


def test_the_move_back_chmods_nothing_through_a_name_she_swaps(open_tmp, monkeypatch):
    """r20l W1: the class's inbound in outbound/x/ of hers, and `y` her link to the exchange's root; while she swaps
    x and y (renameat2 RENAME_EXCHANGE, in a loop), root runs the line's first command until it succeeds: the
    exchange's root keeps its mode (`chmod go-w` followed her link: 1755), and inbound/ is the grader's."""
    course, outbound, x = inbound_in_her_outbound(open_tmp, monkeypatch)
    os.symlink(course.parent, outbound / "y")
    os.lchown(outbound / "y", STUDENT, STUDENT)
    said = doctor(open_tmp)
    ids = [f"--reuid={STUDENT}", f"--regid={STUDENT}", "--clear-groups"]
    swap = subprocess.Popen(["setpriv", *ids, sys.executable, "-c", SWAP, str(outbound), "x", "y", "3"])
    try:
        time.sleep(0.3)  # her loop under way
        for _ in range(30):
            if not first_mend(said).returncode:
                break
    finally:
        swap.wait()
    assert not swap.returncode
    assert os.stat(course.parent).st_mode & 0o7777 == 0o1777
    if os.path.lexists(course / "inbound"):
        assert os.stat(course / "inbound").st_uid == GRADER and os.listdir(course / "inbound") == [SUBMISSION]


RELINK = """import os, sys, time
end = time.time() + float(sys.argv[3])
while time.time() < end:
    try:
        os.symlink(sys.argv[1], sys.argv[2])
    except OSError:
        pass
"""


@pytest.mark.parametrize("at_inbound", ["", "link", "relinked"])
def test_the_inbound_made_again_follows_no_link_and_locks_the_group_out_first(open_tmp, monkeypatch, at_inbound):
    """r20l W3: the inbound made again (missing, or a link of hers) in a course folder its group may write in: she
    puts her link to a folder of root's there after the doctor looked ("link"), or keeps making it (a loop) while
    root runs the line's first command until it succeeds ("relinked", the doctor having seen her link): `install -d`
    chowned and chmodded its target to the grader's 3733. The folder stays root's 0755; inbound/ is the grader's."""
    course = group_course(monkeypatch, open_tmp)
    shutil.rmtree(course / "inbound")
    victim = open_tmp / "victim"
    victim.mkdir(mode=0o755)
    if at_inbound == "relinked":
        (course / "inbound").symlink_to(victim)
        os.lchown(course / "inbound", STUDENT, STUDENT)
    said = doctor(open_tmp)
    assert f"fix: `chmod g-w -- {course} && " in said and "install -d -m 3733 -o" not in said, said
    assert f"mkdir -m 3733 -- {course}/inbound && chown -h {GRADER} -- {course}/inbound`" in said, said
    if at_inbound == "link":
        (course / "inbound").symlink_to(victim)
    loop = [f"--reuid={STUDENT}", f"--regid={STUDENT}", "--clear-groups", sys.executable, "-c", RELINK]
    seconds = "2" if at_inbound == "relinked" else "0"
    relink = subprocess.Popen(["setpriv", *loop, str(victim), str(course / "inbound"), seconds])
    try:
        time.sleep(0.3 if at_inbound == "relinked" else 0)
        for _ in range(30 if at_inbound == "relinked" else 1):
            if not (ran := first_mend(said)).returncode:
                break
    finally:
        relink.wait()
    assert os.stat(victim).st_uid == 0 and os.stat(victim).st_mode & 0o7777 == 0o755, ran
    assert not course.stat().st_mode & 0o020
    if at_inbound != "link":
        assert os.lstat(course / "inbound").st_uid == GRADER and os.lstat(course / "inbound").st_mode & 0o7777 == 0o3733
