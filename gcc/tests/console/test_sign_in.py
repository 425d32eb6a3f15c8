"""Signing in with a one-time link sent by email, through the served GCC and its SMTP server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from contracts import OperatorRole
from gcc.audit.service import Actor
from gcc.console.web import SESSION_COOKIE
from gcc.operators.service import add_operator, deactivate_operator
from servicekit.db import SessionFactory, session_scope
from timekeeping import ManualClock
from wrktalk_testing.servers import ServedApp
from wrktalk_testing.smtp import SmtpSink


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


async def add(sessions: SessionFactory, clock: ManualClock, email: str) -> None:
    async with session_scope(sessions) as session:
        await add_operator(
            session,
            clock=clock,
            actor=Actor.command_line(),
            email=email,
            name="Alice Ops",
            role=OperatorRole.OPERATOR,
        )


async def ask_for_link(client: httpx.AsyncClient, email: str) -> httpx.Response:
    form = await client.get("/console/sign-in")
    return await client.post("/console/sign-in", data={"email": email, "csrf_token": csrf_of(form)})


async def emailed_link(sink: SmtpSink, recipient: str) -> str:
    [message] = await asyncio.to_thread(
        sink.wait_for, lambda message: recipient in message.recipients
    )
    link = re.search(r"http\S+/sign-in/link\?\S+", message.text)
    assert link, message.text
    parts = urlsplit(link.group(0))
    return f"{parts.path}?{parts.query}"


@pytest.fixture
async def browser(
    gcc_server: ServedApp, gcc_sessions: SessionFactory
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gcc_server.base_url, timeout=30) as client:
        yield client


async def test_the_emailed_link_signs_in_once(
    browser: httpx.AsyncClient,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    smtp_sink: SmtpSink,
) -> None:
    await add(gcc_sessions, gcc_clock, "alice@vendor.example")

    sent = await ask_for_link(browser, "Alice@Vendor.Example")
    link = await emailed_link(smtp_sink, "alice@vendor.example")
    landing = await browser.get(link)
    signed_in = await browser.post(
        "/console/sign-in/link",
        data={"token": link.split("token=")[1].split("&")[0], "csrf_token": csrf_of(landing)},
    )
    fleet = await browser.get("/console")
    reused = await browser.get(link)

    assert "Check your email" in sent.text
    assert landing.status_code == 200  # opening the link spends nothing: a button does
    assert signed_in.status_code == 303
    assert "HttpOnly" in signed_in.headers["set-cookie"]
    assert "samesite=lax" in signed_in.headers["set-cookie"].lower()
    # the server's idle limit ends the session, never an age the browser counts from sign-in
    (session,) = [
        cookie
        for cookie in signed_in.headers.get_list("set-cookie")
        if cookie.startswith(f"{SESSION_COOKIE}=")
    ]
    assert "max-age" not in session.lower()
    assert fleet.status_code == 200
    assert "Alice Ops &lt;alice@vendor.example&gt;" in fleet.text
    assert reused.status_code == 410
    assert "already been used" in reused.text


async def test_an_unknown_address_gets_the_same_answer_and_no_email(
    browser: httpx.AsyncClient, gcc_sessions: SessionFactory, smtp_sink: SmtpSink
) -> None:
    answer = await ask_for_link(browser, "nobody@vendor.example")

    assert answer.status_code == 200
    assert "If nobody@vendor.example belongs to an operator" in answer.text
    await asyncio.sleep(0.5)
    assert smtp_sink.messages == []


async def test_an_expired_link_is_refused_with_a_page_that_says_so(
    browser: httpx.AsyncClient,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    smtp_sink: SmtpSink,
) -> None:
    await add(gcc_sessions, gcc_clock, "alice@vendor.example")
    await ask_for_link(browser, "alice@vendor.example")
    link = await emailed_link(smtp_sink, "alice@vendor.example")

    gcc_clock.advance(timedelta(minutes=16))
    page = await browser.get(link)

    assert page.status_code == 410
    assert "expired" in page.text


async def test_deactivating_an_operator_ends_their_session(
    browser: httpx.AsyncClient,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    smtp_sink: SmtpSink,
) -> None:
    await add(gcc_sessions, gcc_clock, "alice@vendor.example")
    await ask_for_link(browser, "alice@vendor.example")
    link = await emailed_link(smtp_sink, "alice@vendor.example")
    landing = await browser.get(link)
    await browser.post(
        "/console/sign-in/link",
        data={"token": link.split("token=")[1].split("&")[0], "csrf_token": csrf_of(landing)},
    )
    assert (await browser.get("/console")).status_code == 200

    async with session_scope(gcc_sessions) as session:
        await deactivate_operator(
            session, clock=gcc_clock, actor=Actor.command_line(), email="alice@vendor.example"
        )

    assert (await browser.get("/console")).status_code == 303


async def test_signing_out_ends_the_session(
    browser: httpx.AsyncClient,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    smtp_sink: SmtpSink,
) -> None:
    await add(gcc_sessions, gcc_clock, "alice@vendor.example")
    await ask_for_link(browser, "alice@vendor.example")
    link = await emailed_link(smtp_sink, "alice@vendor.example")
    landing = await browser.get(link)
    await browser.post(
        "/console/sign-in/link",
        data={"token": link.split("token=")[1].split("&")[0], "csrf_token": csrf_of(landing)},
    )
    cookie = browser.cookies.get("gcc_console")
    fleet = await browser.get("/console")

    await browser.post("/console/sign-out", data={"csrf_token": csrf_of(fleet)})
    browser.cookies.set("gcc_console", cookie or "", path="/console")  # a copied cookie

    assert (await browser.get("/console")).status_code == 303
