"""Install what the grading sandbox needs (bubblewrap), when this machine lets us: Debian/Ubuntu as root.

Run by `make` after pip. Elsewhere it only says what to install; `lrcourse grade` refuses to run students'
code unsandboxed unless told `--no-sandbox`. Idempotent.
"""

import os
import shutil
import subprocess
import sys


def main() -> int:
    if shutil.which("bwrap") and shutil.which("setpriv") and shutil.which("prlimit"):
        return 0
    if sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "bubblewrap", "util-linux"], env=env, check=False, capture_output=True
        )
    if shutil.which("bwrap"):
        print("bubblewrap installed: students' code is graded in a sandbox")
    else:
        print(
            "bubblewrap is not installed: install it (e.g. `sudo apt-get install bubblewrap`) before grading "
            "a class; `lrcourse grade` refuses to run students' code without it unless given --no-sandbox"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
