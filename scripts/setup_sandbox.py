"""Install what the grading sandbox needs (bubblewrap), when this machine lets us: Debian/Ubuntu as root.

Run by `make` after pip. Elsewhere it only says what is missing and how to fix it (the sandbox's own checks,
`bwrap.missing_for_sandbox`); `lrcourse grade` refuses to run students' code unsandboxed unless told
`--no-sandbox`, and `lrcourse doctor` starts a sandboxed kernel to check the rest. Idempotent.
"""

import os
import shutil
import subprocess
import sys

from lrcourse.grading.sandbox.bwrap import missing_for_sandbox  # pip installed lrcourse just before


def main() -> int:
    if not missing_for_sandbox():
        return 0
    if sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "bubblewrap", "util-linux"], env=env, check=False, capture_output=True
        )
    missing = missing_for_sandbox()
    for problem, fix in missing:
        print(f"{problem}: {fix}")
    if missing:
        print("`lrcourse grade` refuses to run students' code until then, unless given --no-sandbox")
    else:
        print("the sandbox's tools are installed: `.venv/bin/lrcourse doctor` checks that a sandboxed kernel starts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
