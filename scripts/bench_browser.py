"""Benchmark: a slider move as a student sees it, from the key press to the new plot in the browser (`make bench`).

For every chapter of notebooks/ (a scratch copy): JupyterLab in headless Chromium opens it, runs all cells, then
presses an arrow key on the first slider of each panel MOVES times, waiting for each redraw before the next press
(a student's step at a time), and prints the milliseconds from the key press to the moment the panel's image
changed: median and max per panel, and the chapter's median. Nothing is asserted: the figures depend on the machine
and its load (tests/test_browser.py checks that every panel redraws, one move each).

python scripts/bench_browser.py [--chapters 05 06] [--moves 10]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.chromium import launched  # noqa: E402
from support.labpage import move_slider, open_notebook, run_all  # noqa: E402
from support.labserver import free_port, lab_command, running_lab  # noqa: E402

TOKEN = "bench-browser"
PAUSE_MS = 200  # between moves: the last redraw's image decoded and shown before the next press


def chapter_latencies(page, base: str, notebook: Path, moves: int) -> list[list[float]]:
    """The milliseconds of `moves` moves of each panel of `notebook` (a path below the server's root)."""
    open_notebook(page, base, notebook.as_posix(), f"bench-{notebook.parent.name}", TOKEN)
    run_all(page)
    panels = page.locator(".lrcourse-panel")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.lrcourse-panel')].every(p => p.querySelector('.lrcourse-image img'))",
        timeout=60_000,
    )
    latencies = []
    for index in range(panels.count()):
        panels.nth(index).scroll_into_view_if_needed()
        times = []
        for _ in range(moves):
            times.append(move_slider(page, index))
            page.wait_for_timeout(PAUSE_MS)
        latencies.append(times)
    return latencies


def bench_browser(chapters: list[str] | None = None, moves: int = 10) -> None:
    print(f"Slider move to new plot in the browser (JupyterLab, headless Chromium; ms over {moves} moves a panel):")
    with tempfile.TemporaryDirectory(prefix="lrcourse-bench-browser-") as scratch:
        home = Path(scratch)
        shutil.copytree(ROOT / "notebooks", home / "notebooks")
        shutil.copy(ROOT / "nbgrader_config.py", home)
        port = free_port()
        command = lab_command(port, TOKEN, home, home / "workspaces", "--LabApp.expose_app_in_browser=True")
        with running_lab(command, home, TOKEN, port, home / "lab.log") as base, launched() as chromium:
            context = chromium.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            for path in sorted((home / "notebooks").glob("*/*.ipynb")):
                chapter = path.parent.name
                if chapters and not any(chapter.startswith(name) for name in chapters):
                    continue
                latencies = chapter_latencies(page, base, path.relative_to(home), moves)
                every = [ms for times in latencies for ms in times]
                median = f"median {statistics.median(every):6.1f} ms" if every else "no slider panel"
                print(f"  {chapter:<24} {median}")
                for index, times in enumerate(latencies):
                    print(
                        f"      panel {index + 1:<16} median {statistics.median(times):6.1f} ms   "
                        f"max {max(times):6.1f} ms   ({len(times)} moves)"
                    )
            context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chapters", nargs="*", help="only these chapters (a folder name or its start, e.g. 05 06)")
    parser.add_argument("--moves", type=int, default=10)
    args = parser.parse_args()
    bench_browser(args.chapters, args.moves)


if __name__ == "__main__":
    main()
