"""Benchmark: what a submission that prints without end costs the grader (nothing is asserted).

python scripts/bench_output_flood.py [--megabytes 600] [--chunk-kb 1024] [--workers 1]

Grades one chapter-2 class of two students with `lrcourse grade`: an honest one, and one whose answer cell
prints MEGABYTES of text in chunks of CHUNK_KB before defining a correct class. Prints each grading
worker's peak resident memory (VmHWM, read while it runs), the run's time, the size of every graded
notebook and feedback file, and both students' scores. Run it with another checkout's interpreter to
compare (the script uses only what `lrcourse grade` had before output caps).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from lrcourse.build import tool_environment  # noqa: E402

CHAPTER = "02_ordered_schedules"


def flood(megabytes: int, chunk_kb: int) -> str:
    chunks = megabytes * 1024 // chunk_kb
    return f"for _ in range({chunks}):\n    print('x' * {chunk_kb * 1024 - 1})\n"


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def worker_peaks(process: subprocess.Popen) -> dict[int, int]:
    """pid -> peak RSS in kB of each grading worker (a spawned multiprocessing child), polled until the end."""
    peaks: dict[int, int] = {}
    while process.poll() is None:
        for pid in descendants(process.pid):
            try:
                if b"multiprocessing" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                    continue
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = max(peaks.get(pid, 0), int(line.split()[1]))
        time.sleep(0.2)
    return peaks


def graded(command: list[str], course: Path) -> tuple[str, dict[int, int], float]:
    """Run a grading `command` in `course`: what it printed, each grading worker's peak RSS (`worker_peaks`) and the
    seconds it took."""
    start = time.monotonic()
    process = subprocess.Popen(
        command, cwd=course, env=tool_environment(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    peaks = worker_peaks(process)
    return process.stdout.read(), peaks, time.monotonic() - start


def main() -> None:
    from support.course import make_course, scores, solution_answers, submit

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=int, default=600)
    parser.add_argument("--chunk-kb", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flood-") as folder:
        course = make_course(Path(folder) / "course", [CHAPTER])
        answers = solution_answers(CHAPTER)
        submit(course, "honest", CHAPTER, answers)
        submit(
            course,
            "flood",
            CHAPTER,
            {**answers, "my_step_lr": flood(args.megabytes, args.chunk_kb) + answers["my_step_lr"]},
        )
        command = [sys.executable, "-m", "lrcourse.cli", "grade", CHAPTER, "--force", "--course", str(course)]
        out, peaks, seconds = graded([*command, "--workers", str(args.workers)], course)
        print(f"flood: {args.megabytes} MB in chunks of {args.chunk_kb} KB; run: {seconds:.0f} s")
        for pid, peak in sorted(peaks.items()):
            print(f"  worker {pid}: peak RSS {peak / 1024:.0f} MB")
        for path in sorted([*course.glob("autograded/*/*/*.ipynb"), *course.glob("feedback/*/*/*.html")]):
            print(f"  {path.relative_to(course)}: {path.stat().st_size / 2**20:.1f} MB")
        for student, cells in sorted(scores(course, CHAPTER).items()):
            print(f"  {student}: {sum(s for s, _ in cells.values()):g} / {sum(m for _, m in cells.values()):g}")
        print("\n".join(line for line in out.splitlines() if "flood" in line or "honest" in line))


if __name__ == "__main__":
    main()
