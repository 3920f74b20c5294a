"""`make test` starts the longest units first (tests/conftest.py): each one it names still exists."""

import importlib
from pathlib import Path

from conftest import LONGEST_FIRST, ROOT


def test_every_unit_the_suite_starts_first_exists():
    """conftest.LONGEST_FIRST names test files and classes; a renamed one would silently stop being ordered."""
    for unit in LONGEST_FIRST:
        path, _, name = unit.partition("::")
        assert (ROOT / path).is_file(), unit
        if name and not name.startswith("test_"):
            module = importlib.import_module(Path(path).stem)
            assert hasattr(module, name), unit
