"""What the grader removes or unmounts after a student's code ran (r20ad W1, W2): folders nested past Python's
recursion limit are removed without an exception; a killed run's leftovers are cleared only where they are the grader's
own folders, never through a student's link or in a folder of hers named like one. The ids its sandboxes run as:
test_sandbox_uid."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from lrcourse.grading.sandbox.tree_removal import remove_tree

from support.doctor_exchange import STUDENT

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="a folder of another uid and a mount need root")


def nested(top: Path, depth: int = 1500) -> None:
    """`depth` folders one in another below `top`, made as a student's code makes them (relative names: no path
    ever reaches PATH_MAX), the deepest closed to its owner."""
    start = os.getcwd()
    try:
        os.chdir(top)
        for _ in range(depth):
            os.mkdir("d")
            os.chdir("d")
        os.mkdir("closed")
        (Path("closed") / "f").mkdir()
        os.chmod("closed", 0o500)
    finally:
        os.chdir(start)


def test_folders_nested_past_the_recursion_limit_are_removed_and_no_link_is_followed(tmp_path):
    """r20ad W1: shutil.rmtree recursed once a level and raised RecursionError out of the grader's clean-up."""
    top, kept = tmp_path / "home", tmp_path / "kept"
    top.mkdir()
    kept.mkdir()
    (kept / "file").write_text("the instructor's")
    nested(top)
    (top / "link").symlink_to(kept)
    (top / "d" / "link").symlink_to(kept / "file")
    assert remove_tree(top) is True and not top.exists()
    assert (kept / "file").read_text() == "the instructor's"
    link = tmp_path / "a-link"
    link.symlink_to(kept)
    assert remove_tree(link) is True and not os.path.lexists(link) and kept.is_dir()
    assert remove_tree(tmp_path / "missing") is True


@as_root
def test_a_folder_its_student_closed_is_opened_to_her_and_removed(open_tmp):
    """A grader that is not root runs students as itself (a user namespace): a folder the student's code closed
    (0500) keeps its owner from removing what it holds until it is opened again."""
    from support.other_uid import as_user

    top = open_tmp / "sandbox" / "home"
    top.mkdir(parents=True)
    nested(top, depth=20)
    subprocess.run(["chown", "-R", f"{STUDENT}:{STUDENT}", str(top.parent)], check=True)
    assert as_user(STUDENT, lambda: remove_tree(top)) == "True" and not top.exists()


@as_root
def test_a_folder_a_students_code_closed_or_filled_is_emptied_in_one_go(open_tmp, monkeypatch):
    """r20af 2: without root a kernel runs as the grader's uid and closed its socket folder (0500): every later kernel
    of the worker failed to make its folder there. r20af 3: an `rm` per entry made 20,000 empty folders cost the
    worker 39 s. The folder is set back to 0700 and emptied by one find (its `rm`s take many entries each)."""
    from lrcourse.grading.sandbox import tree_removal

    from support.other_uid import as_user

    sockets = open_tmp / "grader" / "lrc-sockets"
    sockets.mkdir(parents=True)
    for number in range(3000):
        (sockets / f"k{number}").mkdir()
    nested(sockets / "k0", depth=20)
    subprocess.run(["chown", "-R", f"{STUDENT}:{STUDENT}", str(sockets.parent)], check=True)
    sockets.chmod(0o500)
    runs = []
    real_run = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda command, **kw: runs.append(command[0]) or real_run(command, **kw))

    def emptied() -> str:
        tree_removal.empty_folder(sockets)
        return f"{os.listdir(sockets)} {oct(sockets.stat().st_mode & 0o777)} {len(runs)}"

    said = as_user(STUDENT, emptied)
    assert said.startswith("'[] 0o700 ") and int(said.strip("'").split()[-1]) <= 3, said


def dead_pid() -> int:
    """A process id no process can have: above the kernel's largest."""
    return int(Path("/proc/sys/kernel/pid_max").read_text()) + 1


@as_root
def test_a_killed_runs_leftovers_are_cleared_only_where_they_are_the_graders_own(tmp_path):
    """r20ad W1: her folder of 1,500 nested ones, named like a sandbox's in /tmp, stopped every run at its start.
    r20ad W2: her link named like a socket folder had root's grade unmount what it led to and remove what it held.
    Both are left alone; the grader's own leftover is removed however deep."""
    from lrcourse.grading.sandbox.leftovers import remove_stale

    tag, pid = uuid.uuid4().hex[:8], dead_pid()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "file").write_text("a classmate's")
    link = Path(f"/var/tmp/lrc-{pid}-{tag}link")
    hers = Path(f"/tmp/lrcourse-sandbox-{pid}-{tag}")
    ours = Path(f"/var/tmp/lrc-{pid}-{tag}ours")
    huge = Path(f"/var/tmp/lrc-{2**31}-{tag}huge")  # r20af 1: os.kill raised OverflowError out of every run's start
    ours_huge = Path(f"/dev/shm/lrc-{10**30}-{tag}ours")
    try:
        huge.mkdir()
        os.chown(huge, STUDENT, STUDENT)
        ours_huge.mkdir()
        link.symlink_to(victim)
        os.lchown(link, STUDENT, STUDENT)
        hers.mkdir()
        nested(hers)
        os.chown(hers, STUDENT, STUDENT)
        ours.mkdir()
        nested(ours)
        remove_stale()
        assert os.path.islink(link) and (victim / "file").read_text() == "a classmate's"
        assert (hers / "d" / "d").is_dir() and not ours.exists()
        assert huge.is_dir() and not ours_huge.exists()
    finally:
        for path in (link, hers, ours, huge, ours_huge):
            remove_tree(path)


@as_root
def test_a_fleet_workers_leftovers_are_cleared_only_where_they_are_its_own():
    """r20af 1: the fleet's pool process, as it starts, took any `/tmp/lrcourse-worker-<pid>-*`: a name of 2**31 raised
    OverflowError, a folder of hers 1,500 deep RecursionError, and one of another account's was removed."""
    from lrcourse.grading.fleet.worker import SCRATCH, remove_leftovers

    tag = uuid.uuid4().hex[:8]
    hers, huge = Path(f"/tmp/{SCRATCH}{dead_pid()}-{tag}"), Path(f"/tmp/{SCRATCH}{2**31}-{tag}")
    ours = Path(f"/tmp/{SCRATCH}{dead_pid()}-{tag}ours")
    try:
        for path in (hers, huge, ours):
            path.mkdir()
        nested(hers)
        nested(ours)
        os.chown(hers, STUDENT, STUDENT)
        os.chown(huge, STUDENT, STUDENT)
        remove_leftovers()
        assert (hers / "d").is_dir() and huge.is_dir() and not ours.exists()
    finally:
        for path in (hers, huge, ours):
            remove_tree(path)


@as_root
def test_an_unmount_never_follows_a_link(tmp_path):
    """r20ad W2: umount2 without UMOUNT_NOFOLLOW detached the mount a student's link named. In a mount namespace
    of its own: a tmpfs on a folder, a link to it, and the grader's `unmount` of the link."""
    victim, link = tmp_path / "victim", tmp_path / "link"
    victim.mkdir()
    link.symlink_to(victim)
    script = (
        "import os, subprocess, sys\n"
        "from lrcourse.grading.sandbox.namespaces import unmount\n"
        "victim, link = sys.argv[1:]\n"
        "subprocess.run(['mount', '-t', 'tmpfs', 'tmpfs', victim], check=True)\n"
        "unmount(link)\n"
        "print('mounted' if os.path.ismount(victim) else 'detached')\n"
        "unmount(victim)\n"
        "print('mounted' if os.path.ismount(victim) else 'detached')\n"
    )
    run = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, "-c", script, str(victim), str(link)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.stdout.split() == ["mounted", "detached"], run.stdout + run.stderr
