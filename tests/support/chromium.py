"""Headless Chromium for the browser tests: where to find it, how to start it on a machine with no network."""

from __future__ import annotations

import contextlib
import os
import shutil

import pytest

from support import debian

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str:
    """Debian's chromium (installed here when root on Debian), else Playwright's own browser."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if debian.install("chromium") and shutil.which("chromium"):
        return shutil.which("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        bundled = playwright.chromium.executable_path
    if os.path.exists(bundled):
        return bundled
    pytest.fail(
        "No Chromium found. Install Debian's package (`apt-get install chromium`), or Playwright's browser "
        "(`.venv/bin/python -m playwright install chromium`), then run the tests again."
    )


@contextlib.contextmanager
def launched():
    """A headless Chromium driven by Playwright, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()
