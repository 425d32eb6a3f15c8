"""The base template in a real Chromium: local times, the browser's zone, and axe-core."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wrktalk_testing.browser import axe_violations, describe_violations, launched_chromium
from wrktalk_testing.servers import ServedApp

from .test_web import build_app


@pytest.fixture(scope="module")
def served() -> Iterator[ServedApp]:
    app = ServedApp(build_app())
    app.start()
    yield app
    app.stop()


async def test_base_page_has_no_serious_axe_violations(served: ServedApp) -> None:
    async with launched_chromium() as browser:
        page = await browser.new_page(timezone_id="Asia/Kolkata")
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{served.base_url}/console/page?page=2&per_page=10")
        assert await page.title() == "Rows 11 to 20 · Kit console"
        violations = await axe_violations(page)
        assert violations == [], describe_violations(violations)
        await page.keyboard.press("Tab")
        focused = await page.evaluate("() => document.activeElement.textContent")
        assert focused == "Skip to content"
        assert errors == []
