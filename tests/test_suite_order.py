"""`make test` starts the longest units first (tests/support/suite_order.py): each one it names still exists."""

import ast

from support.paths import ROOT
from support.suite_order import LONGEST_FIRST


def defined(path) -> set[str]:
    """The names a test file defines at its top level (read, not imported: a test file imports no other)."""
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def test_every_unit_the_suite_starts_first_exists():
    """LONGEST_FIRST names test files and classes; a renamed one would silently stop being ordered."""
    for unit in LONGEST_FIRST:
        path, _, name = unit.partition("::")
        assert (ROOT / path).is_file(), unit
        if name.startswith("test_"):  # the module's own test functions, one unit apart from its classes
            assert any(attr.startswith(name) for attr in defined(ROOT / path)), unit
        elif name:
            assert name in defined(ROOT / path), unit
