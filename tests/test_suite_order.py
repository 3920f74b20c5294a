"""`make test` starts the longest units first (tests/conftest.py): each one it names still exists."""

import importlib
from pathlib import Path

from conftest import LONGEST_FIRST, ROOT


def test_every_unit_the_suite_starts_first_exists():
    """conftest.LONGEST_FIRST names test files and classes; a renamed one would silently stop being ordered."""
    for unit in LONGEST_FIRST:
        path, _, name = unit.partition("::")
        assert (ROOT / path).is_file(), unit
        if name.startswith("test_"):  # the module's own test functions, one unit apart from its classes
            module = importlib.import_module(Path(path).stem)
            assert any(attr.startswith(name) and callable(getattr(module, attr)) for attr in dir(module)), unit
        elif name:
            module = importlib.import_module(Path(path).stem)
            assert hasattr(module, name), unit
