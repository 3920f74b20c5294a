"""The user id a sandbox runs as when the grader is root (`lrcourse/grading/sandbox/sandbox_uid.py`): none an
account, a group or a subordinate range names (r20ad W3: a student whose account had it could signal, read and trace
a classmate's sandboxed kernel; r20ak 6: newuidmap gives a user's processes the ids of her /etc/subuid range), and a
range with none free is said, not looped on (r20af 9)."""

from __future__ import annotations

import os
import pwd
import random
import subprocess
import uuid

import pytest

from lrcourse.grading.sandbox import sandbox_uid
from lrcourse.grading.sandbox.sandbox_uid import UID_BASE, free_uid


def test_no_free_uid_in_the_range_is_said_not_looped_on(monkeypatch):
    """r20af 9: with every uid of the range an account's (a directory service), the pick looped forever."""
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: None)
    with pytest.raises(RuntimeError, match=f"no free user id for a sandbox in {UID_BASE}-"):
        free_uid()


@pytest.mark.skipif(os.geteuid() != 0, reason="an account and a group are made")
def test_a_sandbox_never_runs_as_an_account_or_group_of_the_machine(monkeypatch):
    """r20ad W3: the uid was picked among those no process had; a student whose account had it (no process running
    then) could signal, read and trace a classmate's sandboxed kernel. An account at the first pick and a group at
    the second are passed over."""
    name = f"lrc{uuid.uuid4().hex[:6]}"
    picks = iter([5, 6, 7])
    monkeypatch.setattr(random, "randrange", lambda n: next(picks))
    subprocess.run(["useradd", "-M", "-N", "-u", str(UID_BASE + 5), name], check=True)
    subprocess.run(["groupadd", "-g", str(UID_BASE + 6), name + "g"], check=True)
    try:
        assert free_uid() == UID_BASE + 7
    finally:
        subprocess.run(["userdel", name], check=False)
        subprocess.run(["groupdel", name + "g"], check=False)


def test_a_sandbox_never_runs_as_an_id_of_a_subordinate_range(monkeypatch, tmp_path):
    """r20ak 6: a site handing out subordinate ids from below 100,000 gives a student (through newuidmap) processes
    whose real uid or gid is in the sandboxes' range. Ranges of /etc/subuid and /etc/subgid are passed over, their
    malformed lines ignored, a missing file read as none."""
    subuid, subgid = tmp_path / "subuid", tmp_path / "subgid"
    subuid.write_text(f"malice:{UID_BASE + 10}:5\nnot a line\nbob:x:3\ncarol:{UID_BASE}:\u00b2\ndan:\uff17:1\n")
    subgid.write_text(f"1004:{UID_BASE + 20}:1\n")
    picks = iter([10, 14, 20, 15])
    monkeypatch.setattr(random, "randrange", lambda n: next(picks))
    assert free_uid((str(subuid), str(subgid), str(tmp_path / "missing"))) == UID_BASE + 15
    assert sandbox_uid.SUBORDINATE_FILES == ("/etc/subuid", "/etc/subgid")  # what a run reads by default
