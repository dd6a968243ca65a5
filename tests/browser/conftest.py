"""A real headless browser for the operators' flows: Playwright driving Debian's Chromium.

Playwright's own browser downloads are never used: the tests launch the
Chromium that ``apt-get install chromium`` puts at ``/usr/bin/chromium`` (or
the one ``PRICEHUB_CHROMIUM`` names). Where there is none, or Playwright is not
installed, each browser test is skipped with the reason (shown by ``-ra``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = Path(os.environ.get("PRICEHUB_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 20_000


@pytest.fixture
def browser(monkeypatch):
    """A headless Chromium for one test; skipped, saying why, where it cannot run."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed: pip install -r requirements-dev.txt"
    )
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no browser: Chromium is not installed at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    # Playwright's sync API keeps an asyncio loop running in this thread; the test's own
    # queries are plain synchronous ones (the live server answers in its own thread).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
            # While that loop runs, Django keeps this thread's connections apart from the
            # test's usual ones: close them here, or the test database cannot be dropped.
            connections.close_all()


@pytest.fixture
def page(browser):
    """A fresh browser page (its own cookies), failing fast rather than hanging."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    """Where the flows save their screenshots: ``PRICEHUB_SCREENSHOT_DIR`` when set, else the test's tmp dir."""
    directory = Path(os.environ.get("PRICEHUB_SCREENSHOT_DIR") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory

