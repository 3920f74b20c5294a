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
sys.path[:0] = [str(ROOT / "grader"), str(ROOT / "tests")]


def configurations() -> list[tuple[str, int]]:
    import torch

    capabilities = ["default", "avx2"]
    if "AVX512" in torch.backends.cpu.get_cpu_capability():
        capabilities.append("avx512")
    return [(capability, threads) for capability in capabilities for threads in (1, 2)]


def compute(cases: dict[str, list[dict]]) -> dict[str, list[dict]]:
    from lrcourse import checking

    references = checking._grader_references()
    return {kind: [json.loads(json.dumps(getattr(references, f"reference_{kind}")(p))) for p in found]
            for kind, found in cases.items()}


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
                    if len(values) != len(theirs_values):
                        largest[name] = math.inf
                        continue
                    flat = [(a, b) for a, b in zip(values, theirs_values) for a, b in (
                        zip(a, b) if isinstance(a, list) else [(a, b)])]
                    change = max((relative(a, b) for a, b in flat if isinstance(a, float)), default=0.0)
                    largest[name] = max(largest.get(name, 0.0), change)
    return largest


def margins(payloads: list[dict], results: list[dict]) -> list[str]:
    """How far each range test's stop and suggestion stand from flipping (relative)."""
    import make_expected

    lines = []
    for payload, result in zip(payloads, results):
        stop, lowest = make_expected.flip_margins(payload, result)
        lines.append(f"  {payload['optimizer']} end_lr={payload['end_lr']} seed={payload['seed']} "
                     f"head_ratio={payload['head_ratio']}: {len(result['losses'])} steps, closest to the stop rule "
                     f"{stop:.2e}, lowest loss ahead of the next by {lowest:.2e}")
    return lines


def run_child(capability: str, threads: int, *arguments: str) -> str:
    environment = {**os.environ, "ATEN_CPU_CAPABILITY": capability, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, __file__, *arguments], env=environment, capture_output=True, text=True,
                          check=True)
    return done.stdout


def notebook_spread(capability: str, threads: int) -> dict[str, float]:
    import nbformat
    from printed import differences, largest_relative_change

    from lrcourse.build import execute, source_notebooks

    largest = {}
    for path in source_notebooks(ROOT):
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
        print(json.dumps(notebook_spread(os.environ["ATEN_CPU_CAPABILITY"], int(os.environ["OMP_NUM_THREADS"]))))
        return

    import make_expected

    from lrcourse import tolerances

    cases = make_expected.every_case()
    case_file = ROOT / "test-artifacts" / "cpu-spread-cases.json"
    case_file.parent.mkdir(exist_ok=True)
    case_file.write_text(json.dumps(cases))
    runs = {config: json.loads(run_child(*config, "--compute", str(case_file))) for config in configurations()}
    print(f"{sum(map(len, cases.values()))} cases under {', '.join(f'{c}/{t} thread(s)' for c, t in runs)}")
    print("largest relative change from the first configuration, by field:")
    for field, change in sorted(spread(list(runs.values())).items()):
        print(f"  {field:<22} {change:.2e}")
    table = json.loads((ROOT / "lrcourse" / "expected_visible.json").read_text())
    here = compute({kind: [json.loads(key) for key in cases_] for kind, cases_ in table.items()})
    written = {kind: list(cases_.values()) for kind, cases_ in table.items()}
    print("largest relative change between lrcourse/expected_visible.json (written on another machine) and here:")
    for field, change in sorted(spread([written, here]).items()):
        print(f"  {field:<22} {change:.2e}")
    print(f"tolerances: rates {tolerances.RATE_RTOL:.0e}, training losses {tolerances.LOSS_RTOL:.0e}, "
          f"losses of a run that diverges {tolerances.DIVERGING_LOSS_RTOL:.0e}")
    print("range tests, from the first configuration:")
    print("\n".join(margins(cases["range_test"], next(iter(runs.values()))["range_test"])))
    if arguments.notebooks:
        print(f"chapters' printed decimals, largest relative change from solutions/ (tolerance "
              f"{tolerances.PRINTED_RTOL:.0e} or one unit of the last printed digit):")
        for capability, threads in configurations():
            figures = json.loads(run_child(capability, threads, "--run-notebooks"))
            print(f"  {capability}/{threads} thread(s): {json.dumps(figures)}")


if __name__ == "__main__":
    main()
