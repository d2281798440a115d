"""A real image-service server and a real browser (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# No sandbox (CI runs as root), and nothing that reaches for the network this machine lacks.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope: sync Playwright keeps an event loop running in this thread while it is open,
    # which would break later tests that call asyncio.run().
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (`apt-get install chromium`; .ci/run installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()
