"""The grader's scripts as the tests reach them. grader/ is outside the package on purpose (references.py holds
the training exercises' answers) and on no import path, the tests' included: make_expected.py is loaded by its
file, as `lrcourse.checking.expected` loads references.py, so no test imports the grader's files as modules."""

import importlib.util
from types import ModuleType

from support.paths import ROOT


def make_expected() -> ModuleType:
    """grader/make_expected.py (the table of the visible cases), loaded from its file."""
    spec = importlib.util.spec_from_file_location("make_expected", ROOT / "grader" / "make_expected.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
