"""A process holding a grading task's lease (`fleet_lease.Lease`), for the lease's tests: started, and returned once
it says it holds it."""

from __future__ import annotations

import subprocess
import sys

# holds the lease of the task named by its argument, 2 s long (renewed every 0.67 s), the broker's URL on its stdin
HOLD = """
import sys, time
from lrcourse.grading.fleet.lease import Lease
with Lease(sys.stdin.read().strip(), sys.argv[1], "machine-a@pod-7", 3600.0, seconds=2.0):
    print("held", flush=True)
    time.sleep(600)
"""


def holding(url: str, code: str, *argv: str) -> subprocess.Popen:
    """A process running `code` (the broker's URL on its stdin), once it says it holds its lease ("held")."""
    process = subprocess.Popen(
        [sys.executable, "-c", code, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    process.stdin.write(url)
    process.stdin.close()
    try:
        assert process.stdout.readline().strip() == "held"
    except BaseException:
        process.kill()
        process.wait(10)
        raise
    return process
