"""Where the suite finds the repository and writes what a person looks at after a run (screenshots, logs)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
# The environment variable naming a folder the whole test run shares (xdist's workers inherit it from the controller:
# tests/conftest.py), where each set of chapters is released once (support/course.py: make_course); unset (a script
# using make_course), every course is released afresh.
RELEASES_VARIABLE = "LRCOURSE_TEST_RELEASES"
