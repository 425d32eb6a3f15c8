"""Signing in to the console in a real Chromium: the emailed link, its single use and expiry,
the session cookie, and signing out."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from playwright.async_api import BrowserContext, expect
from typer.testing import CliRunner

from customer_backend.cli import app
from customer_backend.console.web import SESSION_COOKIE
from customer_backend.settings import Settings, get_settings
from timekeeping import ManualClock
from wrktalk_testing.browser import axe_violations, describe_violations

from .conftest import AdminMaker, Mailer, SignIn, screenshot


async def test_sign_in_by_the_emailed_link_then_sign_out(
    sign_in: SignIn, context: BrowserContext, console: str
) -> None:
    page = await sign_in()
    await expect(page.get_by_text("ada@acme.example (admin)")).to_be_visible()
    cookies = {cookie["name"]: cookie for cookie in await context.cookies()}
    session = cookies[SESSION_COOKIE]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert session["path"] == "/console"
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_text("You are signed out.")).to_be_visible()
    await page.goto(console)
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


async def test_the_sign_in_pages_pass_axe(context: BrowserContext, console: str) -> None:
    page = await context.new_page()
    await page.goto(f"{console}/sign-in")
    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations)
    await screenshot(page, "sign-in")


async def test_a_used_link_is_refused_with_a_page_that_says_so(
    sign_in: SignIn, context: BrowserContext, mailer: Mailer
) -> None:
    page = await sign_in()
    [link] = await mailer.sign_in_links("ada@acme.example")
    await page.goto(link)
    await expect(
        page.get_by_role("heading", name="This sign-in link has already been used")
    ).to_be_visible()


async def test_an_expired_link_is_refused_with_a_page_that_says_so(
    context: BrowserContext,
    console: str,
    mailer: Mailer,
    make_admin: AdminMaker,
    gcc_clock: ManualClock,
) -> None:
    await make_admin()
    page = await context.new_page()
    await page.goto(f"{console}/sign-in")
    await page.get_by_label("Email address").fill("ada@acme.example")
    await page.get_by_role("button", name="Email me a sign-in link").click()
    [link] = await mailer.sign_in_links("ada@acme.example")
    gcc_clock.advance(timedelta(minutes=15))
    response = await page.goto(link)
    assert response is not None
    assert response.status == 410
    await expect(page.get_by_role("heading", name="This sign-in link has expired")).to_be_visible()


async def test_a_link_opened_then_left_expires_before_its_button_is_pressed(
    context: BrowserContext,
    console: str,
    mailer: Mailer,
    make_admin: AdminMaker,
    gcc_clock: ManualClock,
) -> None:
    await make_admin()
    page = await context.new_page()
    await page.goto(f"{console}/sign-in")
    await page.get_by_label("Email address").fill("ada@acme.example")
    await page.get_by_role("button", name="Email me a sign-in link").click()
    [link] = await mailer.sign_in_links("ada@acme.example")
    await page.goto(link)
    gcc_clock.advance(timedelta(minutes=16))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="This sign-in link has expired")).to_be_visible()
    assert SESSION_COOKIE not in {cookie["name"] for cookie in await context.cookies()}


async def test_an_unknown_address_gets_the_same_answer_and_no_email(
    context: BrowserContext, console: str, mailer: Mailer, make_admin: AdminMaker
) -> None:
    await make_admin()
    answers = []
    for address in ("ada@acme.example", "nobody@acme.example"):
        page = await context.new_page()
        await page.goto(f"{console}/sign-in")
        await page.get_by_label("Email address").fill(address)
        await page.get_by_role("button", name="Email me a sign-in link").click()
        text = await page.locator("main").inner_text()
        answers.append(text.replace(address, "ADDRESS"))
    assert answers[0] == answers[1]
    await mailer.deliver()
    assert [message.recipients for message in mailer.sink.messages] == [["ada@acme.example"]]


async def test_the_link_is_stored_hashed_and_leaves_the_outbox_once_sent(
    context: BrowserContext,
    console: str,
    mailer: Mailer,
    make_admin: AdminMaker,
    rows,  # type: ignore[no-untyped-def]
) -> None:
    await make_admin()
    page = await context.new_page()
    await page.goto(f"{console}/sign-in")
    await page.get_by_label("Email address").fill("ada@acme.example")
    await page.get_by_role("button", name="Email me a sign-in link").click()
    [queued] = await rows.notifications("console_sign_in")
    [link] = await mailer.sign_in_links("ada@acme.example")
    token = link.partition("token=")[2]
    [sent] = await rows.notifications("console_sign_in")
    assert token in queued.context["link"]
    assert "link" not in sent.context
    assert sent.recipients == ["ada@acme.example"]


async def test_the_session_ends_after_eight_idle_hours(
    sign_in: SignIn, console: str, gcc_clock: ManualClock
) -> None:
    page = await sign_in()
    gcc_clock.advance(timedelta(hours=7, minutes=59))
    await page.goto(f"{console}/releases")
    await expect(page.get_by_role("heading", name="Releases")).to_be_visible()
    gcc_clock.advance(timedelta(hours=8))
    await page.goto(f"{console}/releases")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.url.endswith("/console/sign-in?next=/console/releases")


async def test_a_sign_in_form_without_its_token_is_refused(
    console: str, make_admin: AdminMaker, mailer: Mailer
) -> None:
    await make_admin()
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{console}/sign-in", data={"email": "ada@acme.example"})
    assert response.status_code == 403
    assert await mailer.sign_in_links("ada@acme.example") == []


async def test_a_viewer_added_and_given_a_link_by_the_command_line_signs_in(
    context: BrowserContext,
    console: str,
    console_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WRKTALK_DATABASE_URL", console_settings.database_url)
    monkeypatch.setenv("WRKTALK_CONSOLE_URL", console_settings.console_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        added = await asyncio.to_thread(
            runner.invoke,
            app,
            ["admin", "add", "--email", "vera@acme.example", "--name", "Vera", "--role", "viewer"],
        )
        assert added.exit_code == 0, added.output
        assert "created admin vera@acme.example (viewer)" in added.output
        printed = await asyncio.to_thread(
            runner.invoke, app, ["admin", "sign-in-link", "vera@acme.example"]
        )
        unknown = await asyncio.to_thread(
            runner.invoke, app, ["admin", "sign-in-link", "nobody@acme.example"]
        )
    finally:
        get_settings.cache_clear()
    assert printed.exit_code == 0, printed.output
    assert unknown.exit_code != 0
    link = printed.output.strip().splitlines()[-1]
    assert link.startswith(f"{console}/sign-in/link?token=")
    page = await context.new_page()
    await page.goto(link)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_text("vera@acme.example (viewer)")).to_be_visible()


async def test_asking_for_links_again_and_again_sends_five_at_most(
    console: str, make_admin: AdminMaker, mailer: Mailer, context: BrowserContext
) -> None:
    await make_admin()
    page = await context.new_page()
    for _ in range(7):
        await page.goto(f"{console}/sign-in")
        await page.get_by_label("Email address").fill("ada@acme.example")
        await page.get_by_role("button", name="Email me a sign-in link").click()
        await expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert len(await mailer.sign_in_links("ada@acme.example")) == 5


async def test_the_refused_link_page_passes_axe(context: BrowserContext, console: str) -> None:
    page = await context.new_page()
    response = await page.goto(f"{console}/sign-in/link?token=made-up")
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_role("heading", name="This sign-in link is not valid")).to_be_visible()
    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations)
