"""Chapter 6's discrete outcomes keep clear of what another CPU changes.

The chapter's range tests run live in every kernel, on every student's machine. Their divergence stop, the
lowest loss and the three suggestion rules (the minimum divided by ten, the steepest slope, the valley: the
longest stretch of consecutive falling steps) turn float32 losses into one step or one rate, and a suggested
rate is what the chapter trains with next (and looks up in its shipped runs). So no comparison they make may
sit within another processor's spread. The test measures that spread step by step, between this process and
one under another of PyTorch's CPU kernels (ATEN_CPU_CAPABILITY), and requires every outcome to stay the same
when each smoothed loss moves by ten times the change seen at its step (never less than ten times `FLOOR`,
above the largest change seen before any curve's lowest point, so a step where the two kernels happened to
agree is not taken as exact).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from support.notebooks import read
from support.paths import ROOT

CHAPTER = ROOT / "source" / "06_choosing_the_rate" / "choosing_the_rate.ipynb"
# Every range test the chapter reads: its sweep's arguments, its smoothing, and whether the rules read it.
CURVES = {
    "end_lr=1": ({"end_lr": 1.0}, 0.98, True),
    "end_lr=10": ({"end_lr": 10.0}, 0.98, True),
    "batch 32": ({"end_lr": 10.0, "batch_size": 32}, 0.98, True),
    "batch 512": ({"end_lr": 10.0, "batch_size": 512}, 0.98, True),
    "SGD to 100": ({"start_lr": 1e-3, "end_lr": 100.0, "optimizer_class": "SGD"}, 0.9, False),  # `bound`
}
FLOOR = 5e-7  # the largest change seen here before a curve's lowest point was 3.4e-7
TRIALS = 200


def chapter_functions() -> dict:
    """The chapter's cells up to its suggestion rules, run in this process (headless plots)."""
    import matplotlib

    matplotlib.use("Agg")
    namespace = {"__name__": "__main__"}
    for cell in read(CHAPTER).cells:
        if cell.cell_type == "code":
            exec(compile(cell.source, f"<{cell.id}>", "exec"), namespace)
            if cell.id == "rules":
                return namespace
    raise AssertionError("chapter 6 has no `rules` cell")


def sweep(chapter: dict, arguments: dict):
    import torch

    arguments = dict(arguments)
    if "optimizer_class" in arguments:
        arguments["optimizer_class"] = getattr(torch.optim, arguments["optimizer_class"])
    return chapter["sweep"](**arguments)


def range_curves(chapter: dict) -> dict[str, tuple[list[float], list[float]]]:
    """Each curve's rates and smoothed losses."""
    curves = {}
    for name, (arguments, beta, _) in CURVES.items():
        rates, raw = sweep(chapter, arguments)
        curves[name] = (list(rates), chapter["smooth"](raw, beta).tolist())
    return curves


def other_kernels_curves() -> dict[str, list[float]]:
    """The same curves computed under another of PyTorch's CPU kernels, in a process of their own."""
    import torch

    other = "default" if torch.backends.cpu.get_cpu_capability() != "DEFAULT" else "avx2"
    environment = {**os.environ, "ATEN_CPU_CAPABILITY": other, "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, __file__], env=environment, capture_output=True, text=True, check=True, cwd=ROOT / "tests"
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def outcomes(chapter: dict, lrs, losses, rules: bool) -> tuple:
    """The step the test stops at, the step of its lowest loss, and (where the chapter applies them) each rule's
    suggestion from the curve up to the stop, as `range_test` keeps it."""
    stop = chapter["stop_step"](losses, 4.0)
    kept_lrs, kept = lrs[: stop + 1], losses[: stop + 1]
    suggestions = tuple(rule(kept_lrs, kept) for rule in chapter["RULES"].values()) if rules else ()
    return stop, int(np.argmin(kept)), suggestions


@pytest.mark.slow  # it compares two kernels itself: not run again in the other-CPU pass
def test_stop_and_suggestions_hold_under_ten_times_another_cpus_change():
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        chapter = chapter_functions()
        here = range_curves(chapter)
    elsewhere = other_kernels_curves()
    generator = np.random.default_rng(0)
    for name, (_, _, rules) in CURVES.items():
        rates, mine, theirs = np.array(here[name][0]), np.array(here[name][1]), np.array(elsewhere[name])
        bound = 10 * np.maximum(np.abs(mine - theirs) / np.abs(theirs), FLOOR)
        expected = outcomes(chapter, rates, mine, rules)
        assert outcomes(chapter, rates, theirs, rules) == expected, f"{name}: another CPU's kernels flip it"
        for _ in range(TRIALS):
            moved = mine * (1 + generator.uniform(-1, 1, len(mine)) * bound)
            assert outcomes(chapter, rates, moved, rules) == expected, f"{name}: flips within ten times the change"


if __name__ == "__main__":  # run as a script from tests/, whose folder Python puts first on the path
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        curves = range_curves(chapter_functions())
    print(json.dumps({name: losses for name, (_, losses) in curves.items()}))
