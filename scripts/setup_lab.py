"""Finish the JupyterLab set-up inside the course's virtual environment.

Run by `make` after pip: no first-run prompts for students (news, update checks), and nbgrader's
extensions switched on for instructors. Idempotent: safe to run again.
"""
import json
import subprocess
import sys
from pathlib import Path

PREFIX = Path(sys.prefix)
OVERRIDES = PREFIX / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
QUIET_LAB = {
    # The "Would you like to get notified about official Jupyter news?" prompt, and update checks.
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}
NBGRADER_SERVER_EXTENSIONS = [
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
]
# A Content-Security-Policy on formgrader's pages of student work (lrcourse/grading/content_policy.py).
CONTENT_POLICY = PREFIX / "etc" / "jupyter" / "jupyter_server_config.d" / "lrcourse.json"


def write_overrides() -> None:
    OVERRIDES.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(OVERRIDES.read_text()) if OVERRIDES.exists() else {}
    current.update(QUIET_LAB)
    OVERRIDES.write_text(json.dumps(current, indent=2) + "\n")


def jupyter(*args: str) -> None:
    subprocess.run([str(PREFIX / "bin" / "jupyter"), *args], check=True, capture_output=True)


def enable_nbgrader() -> None:
    for name in NBGRADER_SERVER_EXTENSIONS:
        jupyter("server", "extension", "enable", "--sys-prefix", name)
    jupyter("labextension", "enable", "--level=sys_prefix", "@jupyter/nbgrader")
    CONTENT_POLICY.parent.mkdir(parents=True, exist_ok=True)  # `jupyter server extension enable` needs this file
    CONTENT_POLICY.write_text(json.dumps({"ServerApp": {"jpserver_extensions": {"lrcourse.grading.content_policy": True}}}))


if __name__ == "__main__":
    write_overrides()
    enable_nbgrader()
    print(f"JupyterLab set up in {PREFIX}: quiet first run, nbgrader extensions enabled")
