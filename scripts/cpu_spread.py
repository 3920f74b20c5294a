"""How much float32 results move from one CPU to another: the figures behind lrcourse/tolerances.py.

    python scripts/cpu_spread.py               # the training exercises' cases (visible and hidden)
    python scripts/cpu_spread.py --notebooks   # and the numbers the chapters print

Another processor changes float32 results in the last bits (another vector width, another order of a
reduction, another thread count). PyTorch's ATEN_CPU_CAPABILITY (default, avx2, avx512) switches the
vectorised kernels the way another CPU does, so this script recomputes every case of the training
exercises, and optionally runs every chapter, under each capability this CPU has and under one and two
threads, and prints the largest relative change of each kind of value next to the tolerance that covers it,
and how far each discrete outcome (a range test's stop, its suggestion) stands from flipping.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]  # tests/support; grader/ stays off the path (grader_scripts loads it by file)


def configurations() -> list[dict[str, str]]:
    """PyTorch's vectorised kernels (each capability this CPU has), one or two threads, and MKL's own kernels
    held to their portable path (MKL_CBWR=COMPATIBLE): each changes float32 results as another CPU does."""
    import torch

    capabilities = ["default", "avx2"] + (["avx512"] if "AVX512" in torch.backends.cpu.get_cpu_capability() else [])
    found = [{"ATEN_CPU_CAPABILITY": c, "OMP_NUM_THREADS": str(t)} for c in capabilities for t in (1, 2)]
    return [*found, {"ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "1", "MKL_CBWR": "COMPATIBLE"}]


def describe(configuration: dict[str, str]) -> str:
    return " ".join(f"{name}={value}" for name, value in configuration.items())


def compute(cases: dict[str, list[dict]]) -> dict[str, list[dict]]:
    from lrcourse.checking import expected
    from lrcourse.fixtures import range_fixture, state_vector
    from lrcourse.training import one_thread

    references = expected.grader_references()
    results = {
        kind: [json.loads(json.dumps(getattr(references, f"reference_{kind}")(p))) for p in found]
        for kind, found in cases.items()
    }
    for payload, result in zip(cases.get("range_test", []), results.get("range_test", [])):
        with one_thread():  # what a restored range test is compared with: the fixture's trained state
            model, optimizer, _ = range_fixture(payload)
            result["fingerprint"] = state_vector(model, optimizer)
    return results


def relative(a: float, b: float) -> float:
    return 0.0 if a == b else abs(a - b) / max(abs(a), abs(b))


def spread(results: list[dict[str, list[dict]]]) -> dict[str, float]:
    """The largest relative change of each field between the first configuration and the others."""
    largest: dict[str, float] = {}
    first, *others = results
    for other in others:
        for kind, cases in first.items():
            for mine, theirs in zip(cases, other[kind]):
                for field, values in mine.items():
                    if not isinstance(values, list):
                        values, theirs_values = [values], [theirs[field]]
                    else:
                        theirs_values = theirs[field]
                    name = f"{kind}.{field}"
                    if field == "fingerprint":  # each tensor's sum, relative to the sum of its magnitudes
                        change = max(abs(a[0] - b[0]) / a[1] for a, b in zip(values, theirs_values) if a[1])
                        largest[name] = max(largest.get(name, 0.0), change)
                        continue
                    if len(values) != len(theirs_values):
                        largest[name] = math.inf
                        continue
                    flat = [
                        (a, b)
                        for a, b in zip(values, theirs_values)
                        for a, b in (zip(a, b) if isinstance(a, list) else [(a, b)])
                    ]
                    if name == "range_test.losses":  # a trained loss's spread, then a diverging one's
                        lowest = values.index(min(values))
                        parts = {f"{name} up to the lowest": flat[: lowest + 1], f"{name} after it": flat[lowest + 1 :]}
                    else:
                        parts = {name: flat}
                    for part, pairs in parts.items():
                        change = max((relative(a, b) for a, b in pairs if isinstance(a, float)), default=0.0)
                        largest[part] = max(largest.get(part, 0.0), change)
    return largest


def margins(payloads: list[dict], results: list[dict]) -> list[str]:
    """How far each range test's stop and suggestion stand from flipping (relative)."""
    from support.grader_scripts import make_expected

    script = make_expected()
    lines = []
    for payload, result in zip(payloads, results):
        stop, lowest = script.flip_margins(payload, result)
        lines.append(
            f"  {payload['optimizer']} end_lr={payload['end_lr']} seed={payload['seed']} "
            f"head_ratio={payload['head_ratio']}: {len(result['losses'])} steps, closest to the stop rule "
            f"{stop:.2e}, lowest loss ahead of the next by {lowest:.2e}"
        )
    return lines


def run_child(configuration: dict[str, str], *arguments: str) -> str:
    # chapters 5-6 train afresh (no shipped or cached run), so their verdicts are derived again
    environment = {**os.environ, **configuration, "LRCOURSE_RUN_CACHE": "off"}
    done = subprocess.run(
        [sys.executable, __file__, *arguments], env=environment, capture_output=True, text=True, check=True
    )
    return done.stdout


def notebook_spread() -> dict:
    import nbformat

    from lrcourse.build import execute, source_notebooks

    from support.printed import differences, largest_relative_change

    largest = {}
    for path in source_notebooks(ROOT):
        if not path.parent.name.startswith(tuple(os.environ.get("SPREAD_CHAPTERS", "0").split(","))):
            continue
        notebook = execute(nbformat.read(path, as_version=4), cwd=path.parent)
        committed = nbformat.read(ROOT / "solutions" / path.parent.name / path.name, as_version=4)
        change, beyond = 0.0, []
        for mine, theirs in zip(notebook.cells, committed.cells):
            if mine.cell_type != "code":
                continue
            texts = ["".join(o.text for o in cell.outputs if o.output_type == "stream") for cell in (mine, theirs)]
            change = max(change, largest_relative_change(*texts))
            beyond += differences(*texts)
        largest[path.parent.name] = change
        if beyond:
            largest[f"{path.parent.name} BEYOND THE TOLERANCE"] = beyond
    return largest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notebooks", action="store_true", help="also run every chapter under each configuration")
    parser.add_argument("--compute", help=argparse.SUPPRESS)
    parser.add_argument("--run-notebooks", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.compute:
        print(json.dumps(compute(json.loads(Path(arguments.compute).read_text()))))
        return
    if arguments.run_notebooks:
        print(json.dumps(notebook_spread()))
        return

    from lrcourse import tolerances

    from support.grader_scripts import make_expected

    cases = make_expected().every_case()
    case_file = ROOT / "test-artifacts" / "cpu-spread-cases.json"
    case_file.parent.mkdir(exist_ok=True)
    case_file.write_text(json.dumps(cases))
    runs = {describe(config): json.loads(run_child(config, "--compute", str(case_file))) for config in configurations()}
    print(f"{sum(map(len, cases.values()))} cases under each of: {'; '.join(runs)}")
    print("largest relative change from the first configuration, by field:")
    for field, change in sorted(spread(list(runs.values())).items()):
        print(f"  {field:<38} {change:.2e}")
    table = json.loads((ROOT / "lrcourse" / "expected_visible.json").read_text())
    here = compute({kind: [json.loads(key) for key in cases_] for kind, cases_ in table.items()})
    written = {kind: list(cases_.values()) for kind, cases_ in table.items()}
    print("largest relative change between lrcourse/expected_visible.json (written on another machine) and here:")
    for field, change in sorted(spread([written, here]).items()):
        print(f"  {field:<38} {change:.2e}")
    print(
        f"tolerances: rates {tolerances.RATE_RTOL:.0e}, training losses {tolerances.LOSS_RTOL:.0e}, "
        f"losses of a run that diverges {tolerances.DIVERGING_LOSS_RTOL:.0e}"
    )
    print("range tests, from the first configuration:")
    print("\n".join(margins(cases["range_test"], next(iter(runs.values()))["range_test"])))
    if arguments.notebooks:
        print(
            f"chapters' printed decimals, largest relative change from solutions/ (tolerance "
            f"{tolerances.PRINTED_RTOL:.0e} or one unit of the last printed digit):"
        )
        for configuration in configurations():
            figures = json.loads(run_child(configuration, "--run-notebooks"))
            print(f"  {describe(configuration)}: {json.dumps(figures)}")


if __name__ == "__main__":
    main()
