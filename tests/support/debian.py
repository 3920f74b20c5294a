"""Debian packages the tests need (Redis, PostgreSQL, Chromium), installed when root on a Debian machine.

Several pytest-xdist workers ask at once on a fresh machine (the fleet tests' Redis on two workers, the browser
tests' Chromium on three): the first installs while the others wait on a lock file, and apt-get waits for dpkg's
own lock (another apt-get on the machine) instead of failing. Unlocked, the worker that lost the race failed its
fixture, and every test of its module with it (a fresh clone's first fleet tests, stop 55). Package lists missing
or stale on a fresh machine: one `apt-get update`, then the install again.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile

APT = ["apt-get", "-o", "DPkg::Lock::Timeout=900"]  # wait for another apt-get, as long as an install may take
LOCK = os.path.join(tempfile.gettempdir(), "lrcourse-tests-apt.lock")


def install(*packages: str) -> bool:
    """Install `packages` with apt-get, one worker at a time; False where this is not root on Debian or it failed
    (the caller then says what to install)."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = os.open(LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when closed: a worker that dies frees it
        command = [*APT, "install", "-y", "-q", *packages]
        if subprocess.run(command, capture_output=True, env=env).returncode == 0:
            return True
        subprocess.run([*APT, "update", "-qq"], capture_output=True, env=env)
        return subprocess.run(command, capture_output=True, env=env).returncode == 0
    finally:
        os.close(lock)


def need_setfacl() -> None:
    """Skip the calling test unless `setfacl` runs here (Debian's acl, installed as root): a test that runs a mend as
    written. A fresh machine may not have it (stop 61: FileNotFoundError)."""
    import pytest

    if not shutil.which("setfacl") and not install("acl"):
        pytest.skip("the mend runs setfacl: install Debian's acl")
