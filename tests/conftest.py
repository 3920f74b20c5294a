"""The suite's fixtures and its order; what tests share as code is in tests/support/ (on the path by pyproject's
`pythonpath`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.paths import ROOT
from support.suite_order import rank


def pytest_collection_modifyitems(items):
    """The long units first (support/suite_order.py), the rest in their usual order."""
    items.sort(key=lambda item: rank(item.nodeid))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test file (tests/support/chromium.py)."""
    from support.chromium import launched

    with launched() as chromium:
        yield chromium
