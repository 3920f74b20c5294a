"""Benchmark: what the two display floods of r20e N3 cost the grader (nothing is asserted).

python scripts/bench_display_floods.py [--no-sandbox] [--shape NAME ...]

For each shape (an honest student alone, for reference; `display-id-amplify`: 1,000 displays sharing one display id
then a 900 kB update of it; `update-flood`: one display updated 1,500 times with 400 kB each), grades a chapter-2
class of that one student (a correct answer followed by the flood cell) with `lrcourse grade --workers 1`, and prints
the run's time, the grading worker's peak resident memory (VmHWM, read while it runs), the student's line of the
summary, the graded notebook's and the feedback's sizes, and whether the feedback holds a note of the output caps.
Run it with another checkout's interpreter and code to compare (`--no-sandbox` from a git worktree: the sandbox
imports the installed checkout).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "scripts"))

import nbformat  # noqa: E402
from bench_output_flood import graded  # noqa: E402
from nbformat.v4 import new_code_cell  # noqa: E402

SHAPES = {
    "honest": "",
    "display-id-amplify": (
        "from IPython.display import HTML, display\nfor _ in range(1000):\n    display(HTML('x'), display_id='d')\n"
        "display(HTML('y' * 900_000), display_id='d', update=True)\nprint('AFTER-AMPLIFY')"
    ),
    "update-flood": (
        "from IPython.display import HTML, display\nh = display(HTML('start'), display_id=True)\n"
        "for i in range(1500):\n    h.update(HTML(str(i % 10) * 400_000))\nprint('AFTER-UPDATES')"
    ),
}


def main() -> None:
    from support import hostile
    from support.course import make_course, submit

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-sandbox", action="store_true")
    parser.add_argument("--shape", action="append", choices=sorted(SHAPES))
    args = parser.parse_args()
    for shape in args.shape or list(SHAPES):
        with tempfile.TemporaryDirectory(prefix="display-floods-") as folder:
            course = make_course(Path(folder) / "course", [hostile.CHAPTER])
            path = submit(course, shape, hostile.CHAPTER, hostile.answers(hostile.CORRECT))
            if SHAPES[shape]:
                notebook = nbformat.read(path, as_version=4)
                at = next(i for i, cell in enumerate(notebook.cells) if cell.get("id") == hostile.ANSWER_CELL) + 1
                notebook.cells.insert(at, new_code_cell(SHAPES[shape]))
                nbformat.write(notebook, path)
            command = [sys.executable, "-m", "lrcourse.cli", "grade", hostile.CHAPTER, "--workers", "1"]
            command += ["--no-sandbox"] * args.no_sandbox + ["--course", str(course)]
            out, peaks, seconds = graded(command, course)
            peak = max(peaks.values(), default=0) / 1024
            print(f"{shape}: run {seconds:.1f} s, grading worker's peak RSS {peak:.0f} MB")
            print("\n".join(line[:200] for line in out.splitlines() if line.startswith(f"  {shape} ")))
            for written in sorted([*course.glob("autograded/*/*/*.ipynb"), *course.glob("feedback/*/*/*.html")]):
                text = written.read_text()
                noted = "output truncated" in text or "display update was not kept" in text
                print(f"  {written.relative_to(course)}: {written.stat().st_size / 2**20:.2f} MB, note: {noted}")


if __name__ == "__main__":
    main()
