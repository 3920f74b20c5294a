"""Start JupyterLab on 127.0.0.1 with a token and a free port, wait until it answers, stop it after."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from jupyter_core.paths import jupyter_runtime_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@contextmanager
def running_lab(command: list[str], cwd: Path, token: str, port: int, log: Path, timeout: float = 90):
    """Run `command` (which must start JupyterLab on `port` with `token`) until the block ends.

    Each server keeps its notebook signatures (which saved outputs it trusts) in a data folder of its own, as one
    learner's machine does: the suite's servers run side by side, and when nbformat cannot open the signature store
    (another server holding it locked counts) it renames it aside and starts an empty one, so a notebook one server
    saved would open untrusted, its widgets shown as text."""
    with tempfile.TemporaryDirectory(prefix="lab-data-", ignore_cleanup_errors=True) as data:
        env = {**os.environ, "JUPYTER_DATA_DIR": data, "JUPYTER_RUNTIME_DIR": jupyter_runtime_dir()}
        with open(log, "w") as out:
            process = subprocess.Popen(
                command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env
            )
        with stopped_at_end(process):
            yield wait_until_up(process, token, port, log, timeout)


@contextmanager
def stopped_at_end(process: subprocess.Popen):
    try:
        yield
    finally:
        stop(process)


def wait_until_up(process: subprocess.Popen, token: str, port: int, log: Path, timeout: float) -> str:
    """The server's address once it answers; its log's end in the error if it stopped or did not answer in time."""
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            get_json(f"{base}/api/status?token={token}")
            return base
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start; its log:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.5)


def stop(process: subprocess.Popen) -> None:
    """Stop the process group (make, jupyter and its kernels) politely, then firmly."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def lab_command(port: int, token: str, root: Path, workspaces: Path, *extra: str) -> list[str]:
    """`jupyter lab` on 127.0.0.1:`port` with `token`, serving `root`, as the browser tests start it."""
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        *extra,
        f"--LabApp.workspaces_dir={workspaces}",
        f"--ServerApp.root_dir={root}",
    ]
    return command + (["--allow-root"] if os.geteuid() == 0 else [])
