"""Releases and scheduling in a real Chromium: the browser's time zone, the 409 and the past
time as sentences next to the field, cancel, and what a viewer may do."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from playwright.async_api import expect

from consolekit.csrf import csrf_token
from contracts import LocalDeploymentStatus
from customer_backend.console.web import SESSION_COOKIE
from timekeeping import ManualClock
from wrktalk_testing.browser import axe_violations, describe_violations

from .conftest import SignIn, screenshot


async def test_schedule_in_the_browsers_zone_then_a_second_is_refused_with_a_sentence(
    sign_in: SignIn,
    console: str,
    release_factory,
    rows,
    gcc_clock: ManualClock,  # type: ignore[no-untyped-def]
) -> None:
    first = await release_factory("2.3.0")
    await release_factory("2.4.0")
    page = await sign_in()
    await page.get_by_role("link", name="Releases").click()
    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations)
    await screenshot(page, "releases")
    # the clock is 2026-06-01 12:00 UTC; the browser is in Berlin (UTC+2)
    await page.get_by_label("Deploy 2.3.0 at").fill("2026-06-01T22:30")
    await page.get_by_role("button", name="Schedule 2.3.0").click()
    await expect(page.get_by_text("Scheduled. The agent starts it")).to_be_visible()
    [task] = await rows.tasks()
    assert task.execute_after.isoformat() == "2026-06-01T20:30:00+00:00"
    await expect(page.get_by_text("(2026-06-01 20:30 UTC)").first).to_be_visible()
    await screenshot(page, "deployment-scheduled")

    await page.get_by_role("link", name="Releases").click()
    await page.get_by_label("Deploy 2.4.0 at").fill("2026-06-01T23:00")
    await page.get_by_role("button", name="Schedule 2.4.0").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("Another deployment is already scheduled or running")
    await expect(page.get_by_label("Deploy 2.4.0 at")).to_have_value("2026-06-01T23:00")
    assert len(await rows.tasks()) == 1
    assert (await rows.get(type(first.deployment), first.id)).status == "scheduled"


async def test_a_past_time_is_a_sentence_next_to_the_field(
    sign_in: SignIn,
    release_factory,
    rows,  # type: ignore[no-untyped-def]
) -> None:
    await release_factory("2.3.0")
    page = await sign_in()
    await page.get_by_role("link", name="Releases").click()
    await page.get_by_label("Deploy 2.3.0 at").fill("2026-06-01T09:00")
    await page.get_by_role("button", name="Schedule 2.3.0").click()
    await expect(page.get_by_role("alert")).to_contain_text("That time has passed")
    assert await rows.tasks() == []


async def test_cancel_a_scheduled_deployment(
    sign_in: SignIn,
    console: str,
    release_factory,
    rows,  # type: ignore[no-untyped-def]
) -> None:
    release = await release_factory("2.3.0")
    page = await sign_in()
    await page.get_by_role("link", name="Releases").click()
    await page.get_by_label("Deploy 2.3.0 at").fill("2026-06-02T10:00")
    await page.get_by_role("button", name="Schedule 2.3.0").click()
    await expect(page.get_by_text("Scheduled. The agent starts it")).to_be_visible()
    await page.evaluate("() => { window.stillTheSamePage = true; }")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Cancel this deployment").click()
    # htmx puts the cancelled summary and timeline in place, without a reload
    await expect(page.locator("#summary")).to_contain_text("cancelled")
    await expect(page.locator("#timeline")).to_contain_text("cancelled")
    assert await page.evaluate("() => window.stillTheSamePage === true")
    await expect(page.get_by_role("button", name="Cancel this deployment")).to_have_count(0)
    deployment = await rows.get(type(release.deployment), release.id)
    assert deployment.status == LocalDeploymentStatus.CANCELLED


async def test_a_viewer_sees_no_action_and_a_forged_post_changes_nothing(
    sign_in: SignIn,
    console: str,
    release_factory,
    rows,
    context,  # type: ignore[no-untyped-def]
) -> None:
    release = await release_factory("2.3.0")
    page = await sign_in("vera@acme.example", role="viewer")
    await expect(page.get_by_text("vera@acme.example (viewer)")).to_be_visible()
    await expect(page.get_by_role("link", name="Admins")).to_have_count(0)
    await page.get_by_role("link", name="Releases").click()
    await expect(page.get_by_text("2.3.0").first).to_be_visible()
    await expect(page.get_by_role("button", name="Schedule 2.3.0")).to_have_count(0)
    session = next(c for c in await context.cookies() if c["name"] == SESSION_COOKIE)["value"]
    async with httpx.AsyncClient(cookies={SESSION_COOKIE: session}) as client:
        response = await client.post(
            f"{console}/releases/{release.id}/schedule",
            data={
                "scheduled_for": "2026-06-02T10:00",
                "time_zone": "UTC",
                "csrf_token": csrf_token(session),
            },
        )
    assert response.status_code == 403
    assert "Viewers cannot change anything" in response.text
    assert await rows.tasks() == []


async def test_a_form_without_its_token_or_with_another_sessions_is_refused(
    sign_in: SignIn,
    console: str,
    release_factory,
    rows,
    context,  # type: ignore[no-untyped-def]
) -> None:
    release = await release_factory("2.3.0")
    await sign_in()
    session = next(c for c in await context.cookies() if c["name"] == SESSION_COOKIE)["value"]
    form = {"scheduled_for": "2026-06-02T10:00", "time_zone": "UTC"}
    async with httpx.AsyncClient(cookies={SESSION_COOKIE: session}) as client:
        for token in (None, csrf_token("another-session-token")):
            data = form if token is None else {**form, "csrf_token": token}
            response = await client.post(f"{console}/releases/{release.id}/schedule", data=data)
            assert response.status_code == 403
            assert "This form was refused" in response.text
    assert await rows.tasks() == []


async def test_overview_shows_versions_agent_and_a_forced_deadline(
    sign_in: SignIn,
    console: str,
    release_factory,
    set_agent_poll,
    gcc_clock: ManualClock,  # type: ignore[no-untyped-def]
) -> None:
    await release_factory("2.3.0", is_forced=True)
    await set_agent_poll(gcc_clock.now() - timedelta(minutes=2))
    page = await sign_in()
    main = page.locator("main")
    await expect(main).to_contain_text("online")
    await expect(main).to_contain_text("kubernetes")
    await expect(main).to_contain_text("must be deployed by")
    await expect(main).to_contain_text(re.compile(r"23 h 59 min left|24 h 0 min left"))
    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations)
    await screenshot(page, "overview")


async def test_scheduling_and_cancelling_work_without_javascript(
    browser,
    console: str,
    mailer,
    make_admin,
    release_factory,
    rows,  # type: ignore[no-untyped-def]
) -> None:
    release = await release_factory("2.3.0")
    await make_admin()
    context = await browser.new_context(java_script_enabled=False)
    try:
        page = await context.new_page()
        await page.goto(f"{console}/sign-in")
        await page.get_by_label("Email address").fill("ada@acme.example")
        await page.get_by_role("button", name="Email me a sign-in link").click()
        [link] = await mailer.sign_in_links("ada@acme.example")
        await page.goto(link)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("link", name="Releases").click()
        # without the script the time is read in UTC, as the page says
        await page.get_by_label("Deploy 2.3.0 at").fill("2026-06-01T22:30")
        await page.get_by_role("button", name="Schedule 2.3.0").click()
        await expect(page.get_by_text("Scheduled. The agent starts it")).to_be_visible()
        [task] = await rows.tasks()
        assert task.execute_after.isoformat() == "2026-06-01T22:30:00+00:00"
        await page.get_by_role("button", name="Cancel this deployment").click()
        await expect(page.locator("#summary")).to_contain_text("cancelled")
        assert (await rows.get(type(release.deployment), release.id)).status == "cancelled"
    finally:
        await context.close()


async def test_the_schedule_form_is_reachable_by_keyboard(
    sign_in: SignIn,
    release_factory,
    rows,  # type: ignore[no-untyped-def]
) -> None:
    await release_factory("2.3.0")
    page = await sign_in()
    await page.get_by_role("link", name="Releases").click()
    field = page.get_by_label("Deploy 2.3.0 at")
    for _ in range(40):
        await page.keyboard.press("Tab")
        if await field.evaluate("(element) => element === document.activeElement"):
            break
    else:
        raise AssertionError("the schedule field is not reachable with Tab")
    await field.fill("2026-06-02T10:00")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await expect(page.get_by_text("Scheduled. The agent starts it")).to_be_visible()
    assert len(await rows.tasks()) == 1
