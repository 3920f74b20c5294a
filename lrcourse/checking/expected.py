"""The expected values of the exercises' cases whose reference is an answer (chapters 3, 5, 6 and 7), and where they
come from.

The reference loops are the exercises' answers, so they are not in this package: they live in the course's
grader/references.py, which is loaded by its path (the sandboxes do not show it, and a student's
installation does not have it). A kernel's visible checks read their few fixed cases from
expected_visible.json instead, and compute from grader/references.py only where that file exists (an
instructor running the source notebooks). grader/make_expected.py writes that table by running the visible
checks `recording` into a `Recorder`.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib.util
import json
import os
from pathlib import Path

from lrcourse.checking.expect import CheckFailed

GRADER_REFERENCES = Path(__file__).resolve().parents[2] / "grader" / "references.py"
EXPECTED_VISIBLE = Path(__file__).resolve().parents[1] / "expected_visible.json"


class Recorder:
    """Every case computed while it records: {kind: {payload as JSON: expected values}}."""

    def __init__(self):
        self.table: dict[str, dict[str, dict]] = {}

    def keep(self, kind: str, key: str, result: dict) -> None:
        self.table.setdefault(kind, {})[key] = result


# The recorder of the checks running in this context, if any (set only by `recording`).
_RECORDER: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar("lrcourse_recorder", default=None)


@contextlib.contextmanager
def recording(recorder: Recorder):
    """Within this block, every expected value is computed by grader/references.py and kept in `recorder`."""
    token = _RECORDER.set(recorder)
    try:
        yield recorder
    finally:
        _RECORDER.reset(token)


class ExpectedValues:
    """What a training exercise's judge compares with, for one payload (a case's arguments)."""

    def reference_fit_steps(self, payload: dict) -> dict:
        return self._expected("fit_steps", payload)

    def reference_range_test(self, payload: dict) -> dict:
        return self._expected("range_test", payload)

    def reference_wsd(self, payload: dict) -> dict:
        return self._expected("wsd", payload)

    def reference_floor(self, payload: dict) -> dict:
        return self._expected("floor", payload)

    def _expected(self, kind: str, payload: dict) -> dict:
        key = json.dumps(payload, sort_keys=True)
        recorder = _RECORDER.get()
        if recorder is None:
            table = visible_table().get(kind, {})
            if key in table:
                return table[key]
        grader = grader_references()
        if grader is None:
            raise CheckFailed(
                f"the expected values of this case ({key}) are only on the grader's side; the "
                "visible checks use their own cases (keep the test cell's arguments as they are)"
            )
        result = json.loads(json.dumps(getattr(grader, f"reference_{kind}")(payload)))
        if recorder is not None:
            recorder.keep(kind, key, result)
        return result


@functools.lru_cache(maxsize=1)
def visible_table() -> dict:
    try:
        return json.loads(EXPECTED_VISIBLE.read_text())
    except (OSError, ValueError):
        return {}


@functools.lru_cache(maxsize=1)
def grader_references():
    """grader/references.py, or None where it is not (a student's installation, a sandbox).

    Loaded by its path on purpose: it holds the exercises' answers, so it must never be importable as a
    module of the package students install (tests/test_expected_values.py checks that it is not)."""
    path = Path(os.environ.get("LRCOURSE_GRADER_REFERENCES", GRADER_REFERENCES))
    try:
        spec = importlib.util.spec_from_file_location("lrcourse_grader_references", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except (OSError, ImportError, AttributeError):
        return None
    return module if hasattr(module, "reference_range_test") else None
