"""What the grader's clean-up of a student's folders costs (`lrcourse/grading/sandbox/tree_removal.py`), printed:
an empty socket folder (paid twice per notebook), 20,000 empty folders a kernel made, and 1,500 nested ones (which
`shutil.rmtree` could not remove: RecursionError).

    .venv/bin/python scripts/bench_tree_removal.py
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from lrcourse.grading.sandbox.tree_removal import empty_folder, remove_tree


def seconds(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def nested(top: Path, depth: int) -> None:
    start = os.getcwd()
    os.chdir(top)
    try:
        for _ in range(depth):
            os.mkdir("d")
            os.chdir("d")
    finally:
        os.chdir(start)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "sockets"
        folder.mkdir()
        runs = [seconds(lambda: empty_folder(folder)) for _ in range(20)]
        print(f"empty folder, emptied: {1000 * min(runs):.1f} ms (median {1000 * sorted(runs)[10]:.1f} ms)")
        for number in range(20_000):
            (folder / f"k{number}").mkdir()
        print(f"20,000 empty folders, emptied: {seconds(lambda: empty_folder(folder)):.2f} s")
        deep = Path(scratch) / "deep"
        deep.mkdir()
        nested(deep, 1500)
        print(f"1,500 nested folders, removed: {seconds(lambda: remove_tree(deep)):.2f} s")


if __name__ == "__main__":
    main()
