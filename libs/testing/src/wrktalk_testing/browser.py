"""A real Chromium for the consoles' browser tests, driven by Playwright for Python.

No browser download works here: Playwright launches Debian's ``chromium`` by its path
(``WRKTALK_CHROMIUM`` overrides it). When it is missing the tests are skipped with a message
naming the script that installs it. :func:`axe_violations` runs axe-core (vendored by
``tools/vendor_frontend.py``) in a page and returns what it finds.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

CHROMIUM_ENV = "WRKTALK_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
INSTALL_HINT = "install it with .ci/install-chromium.sh (Debian's chromium)"
AXE_SCRIPT = Path(__file__).parent / "vendor" / "axe.min.js"
SERIOUS_IMPACTS = frozenset({"serious", "critical"})


def chromium_path() -> str | None:
    """The Chromium executable to drive, or None when it is not installed."""
    configured = os.environ.get(CHROMIUM_ENV, DEFAULT_CHROMIUM)
    if Path(configured).is_file() and os.access(configured, os.X_OK):
        return configured
    return shutil.which("chromium")


@asynccontextmanager
async def launched_chromium() -> AsyncIterator[Browser]:
    """A headless Chromium launched by path; skips the test when Chromium or Playwright is
    missing."""
    executable = chromium_path()
    if executable is None:
        pytest.skip(f"Chromium is not installed: {INSTALL_HINT}")
    try:
        from playwright.async_api import async_playwright
    except ImportError:  # pragma: no cover - a development dependency
        pytest.skip("Playwright for Python is not installed (uv sync --all-packages)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            # root in a container has no user namespaces for Chromium's sandbox
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def axe_violations(
    page: Page, *, impacts: Collection[str] = SERIOUS_IMPACTS
) -> list[dict[str, Any]]:
    """axe-core's violations on ``page`` with one of ``impacts``, each as ``{"id", "impact",
    "help", "targets"}``."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        # evaluated through the debugging protocol, so a page's Content-Security-Policy,
        # which forbids inline scripts, does not stop it
        await page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    results = await page.evaluate("async () => await window.axe.run(document)")
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "targets": [node["target"] for node in violation["nodes"]],
        }
        for violation in results["violations"]
        if violation["impact"] in impacts
    ]


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """The violations as readable lines, for an assertion message."""
    return "\n".join(json.dumps(violation) for violation in violations)
