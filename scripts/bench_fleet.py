"""Benchmark of grading through the queue (issue 25; nothing is asserted): a chapter-2 class graded by local
`lrcourse grade --workers 1`, then through a Redis broker by 1 and by 2 `lrcourse worker` processes (one checkout
with an environment of its own, as tests/test_fleet.py makes). Prints each run's wall time, throughput, time to
first feedback, the queue's overhead per submission against local grading, and the fleet arithmetic for a
5,000-submission deadline.

python scripts/bench_fleet.py [--students 60]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

CHAPTER = "02_ordered_schedules"


def make_class(directory: Path, students: int) -> Path:
    """A chapter-2 class cycling through the answer catalogue (correct, wrong, forbidden)."""
    import catalogue
    from support.course import make_course
    from support.gradedclass import submit_answer

    answers = catalogue.STEP_CORRECT + catalogue.STEP_WRONG + catalogue.STEP_FORBIDDEN
    course = make_course(directory, [CHAPTER])
    for index in range(students):
        submit_answer(course, f"student{index:03d}", answers[index % len(answers)])
    return course


def grade(course: Path, *options: str) -> tuple[float, float, float]:
    """Wall seconds of `lrcourse grade` on `course`, seconds to the first student's feedback, and the seconds its
    writer took per result (through a queue: the command says so at its end)."""
    start = time.time()
    command = [sys.executable, "-m", "lrcourse.cli", "grade", CHAPTER, "--course", str(course), *options]
    said = subprocess.run(command, cwd=course, check=False, capture_output=True, text=True).stderr
    wall = time.time() - start
    marks = [p.stat().st_mtime for p in (course / "autograded").glob(f"*/{CHAPTER}/.lrcourse-graded.json")]
    pace = re.search(r"result\(s\) written in [0-9.]+ s, ([0-9.]+) s each", said)
    return wall, (min(marks) - start if marks else math.nan), float(pace.group(1)) if pace else math.nan


def workers(python: Path, clone: Path, broker: Path, count: int, logs: Path) -> list[subprocess.Popen]:
    started = []
    for index in range(count):
        log = logs / f"worker-{count}-{index}.log"
        command = [str(python), "-m", "lrcourse.cli", "worker", "--broker-file", str(broker), "--course", str(clone)]
        with open(log, "w") as out:
            started.append(
                subprocess.Popen(command, cwd=clone, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            )
    for index in range(count):  # every pool process warm (`Station.warm`): a fleet is started before the deadline
        log = logs / f"worker-{count}-{index}.log"
        while not re.search(r"process \d+ (warm in|not warmed)", log.read_text()):
            time.sleep(0.2)
    return started


def phases(logs: Path, count: int) -> dict[str, list[float]]:
    """{phase: seconds of each task} from the workers' logs (`fleet_worker.Phases`)."""
    found: dict[str, list[float]] = {}
    for log in logs.glob(f"worker-{count}-*.log"):
        for line in log.read_text().splitlines():
            if "lrcourse worker: " in line and " s, " in line:
                for name, seconds in re.findall(r"(unpacked|graded|result made) ([0-9.]+) s", line):
                    found.setdefault(name, []).append(float(seconds))
    return found


def warmed(logs: Path, count: int) -> list[float]:
    return [
        float(x)
        for log in logs.glob(f"worker-{count}-*.log")
        for x in re.findall(r"warm in ([0-9.]+) s", log.read_text())
    ]


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        process.wait(120)


def report(label: str, students: int, wall: float, first: float) -> None:
    print(
        f"  {label:<34} {wall:7.1f} s   {students / wall * 60:6.1f} submissions/min   "
        f"{wall / students:5.2f} s per submission   first feedback after {first:5.1f} s",
        flush=True,
    )


def main() -> None:
    from support.checkouts import checkout
    from support.redis_broker import redis_server

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=60)
    students = parser.parse_args().students
    base = Path(tempfile.mkdtemp(prefix="lrcourse-bench-fleet-"))
    print(f"Grading {students} chapter-2 submissions on {os.cpu_count()} cores (folder {base}):", flush=True)
    local, local_first, _ = grade(make_class(base / "local", students), "--workers", "1")
    report("lrcourse grade --workers 1 (local)", students, local, local_first)
    python = checkout(base / "checkout")
    walls, graded, writes = {}, {}, {}
    with redis_server() as url:
        broker = base / "broker-url"
        broker.write_text(url)
        for count in (1, 2):
            running = workers(python, base / "checkout", broker, count, base)
            print(f"  {count} worker process(es) warmed before the run in {warmed(base, count)} s", flush=True)
            try:
                course = make_class(base / f"fleet-{count}", students)
                walls[count], first, writes[count] = grade(course, "--broker-file", str(broker))
            finally:
                stop(running)
            report(f"queue, {count} worker process(es)", students, walls[count], first)
            timed = phases(base, count)
            graded[count] = sum(timed.get("graded", [math.nan])) / max(len(timed.get("graded", [])), 1)
            means = ", ".join(f"{name} {sum(t) / len(t):.2f} s" for name, t in timed.items())
            print(f"    a task's phases on the worker, mean of {len(timed.get('graded', []))}: {means}", flush=True)
            print(f"    the enqueuer's writer: {writes[count]:.2f} s per result", flush=True)
    overhead = (walls[1] - local) / students
    beside = walls[1] / students - graded[1]
    print(f"  2 workers over 1: {walls[1] / walls[2]:.2f}x (target 1.7x)")
    print(
        f"  the queue's overhead against local grading: {overhead:+.2f} s per submission, "
        f"{100 * overhead / (local / students):+.1f} % of local's time per submission (target under 5 %; local's wall "
        "includes its workers' start, the queue's workers were warmed before)"
    )
    print(
        f"  the queue's overhead against its own grading: {beside:+.2f} s per submission beside nbgrader's and the "
        f"verdicts' {graded[1]:.2f} s ({100 * beside / graded[1]:+.1f} %): dispatch, unpacking, the result, the "
        "enqueuer's polling and its writes left after the last task"
    )
    per_core = walls[1] / students  # one worker process on one core
    cores = math.ceil(5000 * per_core / 600)
    print(
        f"  a 5,000-submission deadline with feedback within 10 minutes, at {per_core:.2f} s per submission per "
        f"worker process: {cores} worker processes, e.g. {math.ceil(cores / 8)} machines of 8 cores"
    )
    each = min(writes.values())
    print(
        f"  ... and the one enqueuing command writes 5,000 results one at a time at {each:.2f} s each: "
        f"{5000 * each / 60:.0f} min, {'within' if 5000 * each <= 600 else 'beyond'} the 10 minutes whatever the fleet"
    )


if __name__ == "__main__":
    main()
