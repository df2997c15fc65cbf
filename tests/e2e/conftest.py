"""The browser for end-to-end page tests: Debian's Chromium driven by Playwright (no browser download).

Module-scoped: a sync Playwright left running across modules upsets the asyncio loop the other tests share."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

CHROMIUM = "/usr/bin/chromium"

# On a developer's machine without Chromium, browser tests skip; in CI (.ci/run installs it) they fail.
needs_chromium = pytest.mark.skipif(
    not shutil.which(CHROMIUM) and not os.environ.get("CI"),
    reason="Debian's chromium is not installed: apt-get install -y chromium",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )  # fmt: skip
        yield browser
        browser.close()
