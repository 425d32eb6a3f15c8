"""The fleet page: counts, the versions chart and the organizations, filtered on the server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx

from timekeeping import ManualClock

ConsoleClientMaker = Callable[..., Awaitable[httpx.AsyncClient]]


async def test_without_a_session_the_browser_is_sent_to_sign_in(
    gcc_client: httpx.AsyncClient,
) -> None:
    response = await gcc_client.get("/console?q=bank")

    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?next=/console"


async def test_counts_chart_and_filtered_rows(
    console_client: ConsoleClientMaker, organization_factory: Any, gcc_clock: ManualClock
) -> None:
    now = gcc_clock.now()
    await organization_factory("alpha-bank", current_version="2.9.0", health_status="online")
    await organization_factory(
        "beta-bank",
        current_version="2.10.0",
        health_status="critical",
        license_expires_at=now - timedelta(days=2),
    )
    await organization_factory("gamma-insurance", current_version="2.10.0")
    client = await console_client()

    page = await client.get("/console", params={"q": "bank", "sort": "version", "dir": "desc"})

    assert page.status_code == 200, page.text
    html = page.text
    assert "<svg" in html
    assert "2.10.0: 2; 2.9.0: 1" in html  # the chart's description names every bar
    assert "2 organizations match" in html
    assert html.index("beta-bank") < html.index("alpha-bank")  # newest version first
    assert "gamma-insurance" not in html.split("<tbody>")[1]
    assert 'aria-sort="descending"' in html


async def test_an_unknown_filter_value_is_a_page_saying_so(
    console_client: ConsoleClientMaker,
) -> None:
    client = await console_client()

    page = await client.get("/console", params={"health": "sideways"})

    assert page.status_code == 422
    assert "health must be one of online, degraded" in page.text
    assert "Traceback" not in page.text


async def test_the_forms_empty_choices_mean_any(
    console_client: ConsoleClientMaker, organization_factory: Any
) -> None:
    await organization_factory("alpha-bank")
    client = await console_client()

    page = await client.get(
        "/console",
        params={"q": "", "health": "", "version": "", "license": "", "type": "", "page": 1},
    )
    audit = await client.get("/console/audit", params={"actor": "", "action": ""})
    escalations = await client.get("/console/escalations", params={"type": ""})

    assert page.status_code == 200
    assert "1 organizations match" in page.text
    assert audit.status_code == 200
    assert escalations.status_code == 200
