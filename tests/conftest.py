"""The suite's fixtures and its order; what tests share as code is in tests/support/ (on the path by pyproject's
`pythonpath`)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from support.paths import RELEASES_VARIABLE, ROOT
from support.suite_order import rank

MADE_RELEASES = pytest.StashKey[str]()  # the shared releases' folder, in the process that made it


def pytest_configure(config):
    """One folder of released courses for the run (support/course.py: make_course), made by the first process (xdist's
    controller, before it starts the workers, which inherit it) and removed by that process at the end."""
    if not os.environ.get(RELEASES_VARIABLE):
        os.environ[RELEASES_VARIABLE] = config.stash[MADE_RELEASES] = tempfile.mkdtemp(prefix="lrcourse-releases-")


def pytest_unconfigure(config):
    if MADE_RELEASES in config.stash:
        shutil.rmtree(config.stash[MADE_RELEASES], ignore_errors=True)
        os.environ.pop(RELEASES_VARIABLE, None)


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


@pytest.fixture(scope="module")
def url():
    """One throw-away Redis server with a password per test file that asks for it (tests/support/redis_broker.py): its
    broker URL, redis://:password@127.0.0.1:port/0."""
    from support.redis_broker import redis_server

    with redis_server() as address:
        yield address


@pytest.fixture
def shells():
    """An IPython shell a test started is cleared after it (tests/support/saved_cells.py starts one)."""
    from IPython.core.interactiveshell import InteractiveShell

    yield
    InteractiveShell.clear_instance()


@pytest.fixture
def open_tmp():
    """A folder every user may enter and those above it too (pytest's tmp_path and its parents are 0700: students
    could not reach an exchange there, which the doctor warns of, R20c M1), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="lrcourse-doctor-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
