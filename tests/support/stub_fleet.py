"""A real `lrcourse worker` (Celery, the queue's app from `fleet_worker.make_app`, the version checks, the lease, the
attempts) whose grading is a stand-in, for the queue's fault and flow tests that must take seconds, not the minutes a
warmed grader takes: the process does not warm, and a student is "graded" by returning the submitted notebook as the
autograded one (the enqueuer writes it into the real gradebook as it writes a real result: SaveAutoGrades, the
trusted scores, here none, so 0 points) with a one-line feedback page. What it does is set by the student's id:

- `sleep-S-...`: the grading takes S seconds (a task to kill a worker in the middle of);
- `poison-...`: the grading process dies (SIGKILL), every time, as a submission that kills its workers does;
- anything else: a short pause (STEP_SECONDS).

The worker's look at its checkout (`fleet_watch.CheckoutWatch`) and the enqueuer's at its version (`Unserved`) come
every `every` seconds (30 s as shipped); kombu's sweep of the unacknowledged tasks every `restore` seconds (Celery's
broker option `unacked_restore_interval`, `fleet.RESTORE_SECONDS` as shipped), made short by the tests that wait for
a sweep.

Each grading prints `stub graded STUDENT by NAME` (NAME: the worker's name), which the tests count: a student graded
twice shows twice. The broker's URL is read from stdin, never from a command line. test_fleet.py runs real grading.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lrcourse.grading.fleet.broker import RESTORE_SECONDS
from lrcourse.grading.fleet.outage import BROKER_WAIT_SECONDS
from lrcourse.grading.fleet.watch import CHECK_SECONDS

STEP_SECONDS = 0.3

WORKER = """
import base64, os, signal, sys, tempfile, time
from dataclasses import asdict
from pathlib import Path
from lrcourse.grading.fleet import worker as fleet_worker
from lrcourse.grading.outcomes import Outcome

url = sys.stdin.read().strip()
checkout, name, visibility = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
app, station = fleet_worker.make_app(url, checkout, sandboxed=False, visibility_seconds=visibility)
app.conf.broker_transport_options = {**app.conf.broker_transport_options, "unacked_restore_interval": float(sys.argv[7])}
station.warm = lambda: print(f"lrcourse worker: process {os.getpid()} warm in 0.0 s", flush=True)
station.open = lambda: setattr(station, "scratch", station.scratch or Path(tempfile.mkdtemp(prefix="stub-")))
station.release = lambda assignment: None

def grade_here(assignment, student, files):
    if student.startswith("poison"):
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(float(student.split("-")[1]) if student.startswith("sleep-") else STEP)
    page = base64.b64encode(b"<p>stub feedback</p>").decode()
    print(f"stub graded {student} by {name}", flush=True)
    outcome = Outcome(student, "graded", seconds=0.1)
    return {"outcome": asdict(outcome), "autograded": files, "feedback": {"stub.html": page}, "scores": {}}

station.grade_here = grade_here
STEP = float(sys.argv[4])
sys.exit(fleet_worker.run_station(app, station, int(sys.argv[5]), visibility, name, float(sys.argv[6])))
"""

ENQUEUE = """
import json, sys
from pathlib import Path
from lrcourse.grading.fleet.grade import grade_class_remote
from lrcourse.grading.fleet import outage as fleet_outage, watch as fleet_watch
fleet_watch.CHECK_SECONDS = float(sys.argv[4])  # the enqueuer's looks at its version (`Unserved`), made quick
wait = float(sys.argv[5]) if len(sys.argv) > 5 else fleet_outage.BROKER_WAIT_SECONDS  # a test's own argv may lack it
url = sys.stdin.read().strip()
course, chapter, window = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
result = grade_class_remote(course, chapter, url, progress=False, window=window, broker_wait=wait)
print(json.dumps([[o.student, o.status, o.reason] for o in result.outcomes]))
"""


def started(script: str, url: str, *args: str, **options) -> subprocess.Popen:
    """`script` run by this environment's python, the broker's URL on its stdin (never on a command line)."""
    process = subprocess.Popen([sys.executable, "-c", script, *args], stdin=subprocess.PIPE, text=True, **options)
    process.stdin.write(url)
    process.stdin.close()
    process.stdin = None  # closed: communicate() would flush it
    return process


def stub_worker(
    url: str,
    checkout: Path,
    name: str,
    log: Path,
    visibility: float = 3600,
    step: float = STEP_SECONDS,
    concurrency: int = 1,
    every: float = CHECK_SECONDS,
    restore: float = RESTORE_SECONDS,
) -> subprocess.Popen:
    """A stand-in worker (see the module's text) from `checkout`, logging to `log`; in a session of its own, so that
    a test can kill it whole (the worker and its pool) with one killpg."""
    out = log.open("a")
    args = (str(checkout), name, str(visibility), str(step), str(concurrency), str(every), str(restore))
    return started(WORKER, url, *args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=checkout)


@contextmanager
def running_worker(url: str, checkout: Path, name: str, log: Path, **options) -> Iterator[subprocess.Popen]:
    """`stub_worker(url, checkout, name, log, **options)`, stopped on leaving, whatever happened inside, as a supervisor
    stops it: SIGTERM (Celery's warm shutdown, which finishes a student in hand), then its exit awaited."""
    worker = stub_worker(url, checkout, name, log, **options)
    try:
        yield worker
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)


def enqueue(
    url: str,
    course: Path,
    chapter: str,
    window: int = 64,
    every: float = CHECK_SECONDS,
    broker_wait: float = BROKER_WAIT_SECONDS,
    **options,
) -> subprocess.Popen:
    """The enqueuing command on `course`; `every`: how often it looks at its course version (`fleet_watch.Unserved`);
    `broker_wait`: how long it waits for a broker away mid-run (`fleet_outage`)."""
    args = (str(course), chapter, str(window), str(every), str(broker_wait))
    return started(ENQUEUE, url, *args, stdout=subprocess.PIPE, cwd=course, **options)


def outcomes(stdout: str) -> dict[str, list]:
    """{student: [status, reason]} of the run's last line; a student written twice fails the test here."""
    import json

    listed = json.loads(stdout.strip().splitlines()[-1])
    found = {student: [status, reason] for student, status, reason in listed}
    assert len(found) == len(listed), f"a student has two outcomes: {listed}"
    return found


def graded_lines(log: Path) -> list[str]:
    """Each `stub graded STUDENT by NAME` the log holds (Celery's logger puts its own prefix before a task's print)."""
    text = log.read_text() if log.exists() else ""
    return [line[line.index("stub graded ") :] for line in text.splitlines() if "stub graded " in line]


def wait_for(condition, seconds: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def queued(client, version: str) -> int:
    """Tasks waiting in the version's queue (kombu's Redis list of that name), not yet taken by a worker."""
    from lrcourse.grading.fleet import broker as fleet

    return int(client.llen(fleet.queue_name(version)))


class Bar:
    """tqdm's write, kept with the file it was given."""

    def __init__(self):
        self.said: list[tuple[str, object]] = []

    def write(self, text: str, file=None) -> None:
        self.said.append((text, file))
