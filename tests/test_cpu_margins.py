"""Chapter 6's discrete outcomes keep clear of what another CPU changes.

The chapter's range test runs live in every kernel, on every student's machine. Its divergence stop and its
three suggestion rules (an argmin, a steepest slope, fastai's valley: a longest falling sequence) turn float32
losses into one step or one rate, and a suggested rate is what the chapter trains with next (and looks up in its
shipped runs). So no comparison they make may sit within another processor's spread. The test measures that
spread step by step, between this process and one under another of PyTorch's CPU kernels
(ATEN_CPU_CAPABILITY), and requires every outcome to stay the same when each smoothed loss moves by ten times
the change seen at its step (never less than ten times `FLOOR`, above the largest change seen before any curve's
lowest point, so a step where the two kernels happened to agree is not taken as exact).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, read

CHAPTER = ROOT / "source" / "06_choosing_the_rate" / "choosing_the_rate.ipynb"
CURVES = ((1.0, 128), (10.0, 128), (10.0, 32), (10.0, 512))  # (end_lr, batch size): every range test the chapter reads
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


def smoothed_curves(chapter: dict) -> dict[str, list[float]]:
    curves = {}
    for end_lr, batch_size in CURVES:
        _, raw = chapter["sweep"](end_lr=end_lr, batch_size=batch_size)
        curves[f"{end_lr}/{batch_size}"] = chapter["smooth"](raw, 0.98).tolist()
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


def outcomes(chapter: dict, lrs, losses) -> tuple:
    """The step the test stops at, and each rule's suggestion from the curve up to it, as `range_test` keeps it."""
    stop = chapter["stop_step"](losses, 4.0)
    return stop, tuple(rule(lrs[: stop + 1], losses[: stop + 1]) for rule in chapter["RULES"].values())


@pytest.mark.slow  # it compares two kernels itself: not run again in the other-CPU pass
def test_stop_and_suggestions_hold_under_ten_times_another_cpus_change():
    with open(os.devnull, "w") as quiet, redirect(quiet):
        chapter = chapter_functions()
        here = smoothed_curves(chapter)
    elsewhere = other_kernels_curves()
    generator = np.random.default_rng(0)
    for (end_lr, _), name in zip(CURVES, here):
        mine, theirs = np.array(here[name]), np.array(elsewhere[name])
        change = np.abs(mine - theirs) / np.abs(theirs)
        bound = 10 * np.maximum(change, FLOOR)
        rates = np.array([1e-5 * (end_lr / 1e-5) ** (step / 99) for step in range(len(mine))])  # sweep's rates
        expected = outcomes(chapter, rates, mine)
        assert outcomes(chapter, rates, theirs) == expected, f"{name}: another CPU's kernels flip an outcome"
        for _ in range(TRIALS):
            moved = mine * (1 + generator.uniform(-1, 1, len(mine)) * bound)
            assert outcomes(chapter, rates, moved) == expected, f"{name}: an outcome flips within ten times the change"


def redirect(stream):
    import contextlib

    return contextlib.redirect_stdout(stream)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "tests"))
    with open(os.devnull, "w") as quiet, redirect(quiet):
        curves = smoothed_curves(chapter_functions())
    print(json.dumps(curves))
