"""The operator console in a real Chromium, against GCC served on loopback with its database,
Redis, a Celery worker, the SMTP sink and customer endpoints on loopback.

An operator signs in with the emailed link, publishes a release and watches its delivery reach
100% without reloading, sees a failing customer's retries and then its escalation, resolves it
with a reason and finds it in the audit page, rotates a secret; a viewer sees no action.
axe-core checks every page. ``WRKTALK_CONSOLE_SCREENSHOTS=docs/images`` refreshes the
runbook's screenshots.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from celery.contrib.testing.worker import start_worker
from fastapi import FastAPI, Request, Response
from playwright.async_api import Page, expect

from contracts import ArtifactType, OperatorRole, ReleaseStatus
from gcc.artifacts.models import Artifact
from gcc.audit.service import Actor
from gcc.operators.service import add_operator
from gcc.releases.models import Release
from gcc.settings import Settings
from gcc.worker import celery_app, configure_celery, use_clock
from servicekit.db import SessionFactory, session_scope
from timekeeping import ManualClock
from wrktalk_testing.browser import axe_violations, describe_violations, launched_chromium
from wrktalk_testing.servers import ServedApp
from wrktalk_testing.smtp import SmtpSink

SCREENSHOTS_ENV = "WRKTALK_CONSOLE_SCREENSHOTS"
"""A directory to save each page's screenshot in; ``docs/images`` refreshes the runbook's."""
VERSION = "2.4.0"


class CustomerEndpoints:
    """Customer backends on one loopback server: each organization's path answers 200, or
    500 for those told to fail."""

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.received: list[str] = []
        app = FastAPI()

        @app.post("/hook/{name}")
        async def hook(name: str, request: Request) -> Response:
            await request.body()
            self.received.append(name)
            if name in self.failing:
                return Response("backend exploded: database unavailable", status_code=500)
            return Response('{"received":true}', media_type="application/json")

        self.served = ServedApp(app)

    def endpoint(self, name: str) -> str:
        return f"{self.served.base_url}/hook/{name}"


@pytest.fixture
def endpoints() -> Iterator[CustomerEndpoints]:
    built = CustomerEndpoints()
    built.served.start()
    yield built
    built.served.stop()


@pytest.fixture
def celery_worker(gcc_settings: Settings, gcc_clock: ManualClock) -> Iterator[None]:
    """A real Celery worker in this process, on the test's broker and clock."""
    configure_celery(gcc_settings)
    use_clock(gcc_clock)
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        yield
    use_clock(None)


def forward_to_broker(name: str, *args: Any, **kwargs: Any) -> None:
    celery_app.send_task(name, args=args, kwargs=kwargs)


async def add_draft(sessions: SessionFactory, clock: ManualClock, version: str) -> None:
    """A draft release with its Helm chart recorded, as CI leaves it."""
    now = clock.now()
    async with session_scope(sessions) as session:
        session.add(
            Release(
                version=version,
                status=str(ReleaseStatus.DRAFT),
                image_tags={"backend": "sha-abc123"},
                release_notes="Faster search",
                new_non_essential_envs=[],
                created_by="ci",
                created_at=now,
                updated_at=now,
            )
        )
        session.add(
            Artifact(
                version=version,
                type=str(ArtifactType.HELM),
                bucket_path=f"charts/helm/wrktalk-{version}.tgz",
                sha256="c" * 64,
                size_bytes=48_213,
                created_at=now,
            )
        )


async def add_operator_named(
    sessions: SessionFactory, clock: ManualClock, email: str, role: OperatorRole
) -> None:
    async with session_scope(sessions) as session:
        await add_operator(
            session,
            clock=clock,
            actor=Actor.command_line(),
            email=email,
            name=email.split("@")[0].capitalize(),
            role=role,
        )


async def sign_in(page: Page, base_url: str, email: str, sink: SmtpSink) -> None:
    """Sign in as a person does: type the address, open the emailed link, press the button."""
    await page.goto(f"{base_url}/console")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_role("button", name="Email me a sign-in link").click()
    await expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    [message] = await asyncio.to_thread(sink.wait_for, lambda message: email in message.recipients)
    link = re.search(r"http\S+/sign-in/link\?\S+", message.text)
    assert link, message.text
    parts = urlsplit(link.group(0))
    await page.goto(f"{base_url}{parts.path}?{parts.query}")
    await page.get_by_role("button", name="Sign in to the console").click()
    await expect(page.get_by_role("heading", name="Fleet")).to_be_visible()


async def check_page(page: Page, name: str) -> None:
    """No serious axe-core violation; a screenshot when asked for (the runbook's)."""
    violations = await axe_violations(page)
    assert violations == [], describe_violations(violations)
    directory = os.environ.get(SCREENSHOTS_ENV)
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        target = Path(directory) / f"operator-console-{name}.png"
        await page.screenshot(path=str(target), full_page=True)


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    async with launched_chromium() as browser:
        yield browser


async def test_an_operator_publishes_watches_resolves_and_finds_it_audited(
    chromium: Any,
    celery_worker: None,
    gcc_server: ServedApp,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    task_recorder: Any,
    smtp_sink: SmtpSink,
    endpoints: CustomerEndpoints,
    organization_factory: Any,
) -> None:
    task_recorder.forward_to = forward_to_broker
    for name in ("alpha-bank", "beta-insurance", "gamma-retail"):
        await organization_factory(name, webhook_endpoint=endpoints.endpoint(name))
    await organization_factory("delta-failing", webhook_endpoint=endpoints.endpoint("delta"))
    endpoints.failing.add("delta")
    await organization_factory(
        "epsilon-lapsed",
        webhook_endpoint=endpoints.endpoint("epsilon"),
        license_expires_at=gcc_clock.now() - timedelta(days=3),
    )
    await add_draft(gcc_sessions, gcc_clock, VERSION)
    await add_operator_named(gcc_sessions, gcc_clock, "alice@vendor.example", OperatorRole.OPERATOR)
    page = await chromium.new_page()
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    base = gcc_server.base_url

    await sign_in(page, base, "alice@vendor.example", smtp_sink)
    await check_page(page, "fleet")
    # htmx: the filter form swaps in the organizations only, and keeps its address
    await page.evaluate("() => { window.stillTheSamePage = true; }")
    await page.get_by_label("Name contains").fill("alpha")
    await page.get_by_role("button", name="Show").click()
    await expect(page).to_have_url(re.compile(r"q=alpha"))
    organizations = page.locator("#organizations tbody")
    await expect(organizations).to_contain_text("alpha-bank")
    await expect(organizations).not_to_contain_text("delta-failing")
    assert await page.evaluate("() => window.stillTheSamePage === true")

    await page.get_by_role("link", name="Releases").click()
    await expect(page.get_by_role("heading", name="Releases", exact=True)).to_be_visible()
    await check_page(page, "releases")
    await page.get_by_role("link", name=VERSION).click()
    await page.get_by_role("link", name=f"Publish {VERSION}…").click()
    await expect(page.locator("#reach")).to_have_text("4")  # the lapsed license is held back
    await check_page(page, "publish")
    await page.get_by_role("button", name="Publish to 4 organizations").click()

    # the worker delivers; the page follows without a reload (htmx polls the section)
    await expect(page.get_by_role("heading", name="Delivery")).to_be_visible()
    await page.evaluate("() => { window.stillTheSamePage = true; }")
    delivery = page.locator("#delivery")
    await expect(delivery.locator('[data-count="acknowledged"]')).to_have_text("3", timeout=30_000)
    await expect(delivery.locator('[data-count="retrying"]')).to_have_text("1", timeout=30_000)
    await expect(delivery.locator('[data-count="withheld"]')).to_have_text("1")
    for _ in range(2):  # what beat does once each retry is due
        gcc_clock.advance(timedelta(seconds=61))
        celery_app.send_task("delivery.dispatch_due")
        await asyncio.sleep(1)
    await expect(page.locator("#delivery-percent")).to_have_text("100%", timeout=30_000)
    await expect(delivery.locator('[data-count="failed"]')).to_have_text("1")
    assert await page.evaluate("() => window.stillTheSamePage === true")
    await expect(delivery).not_to_have_attribute("hx-trigger", re.compile("every"))  # settled
    await check_page(page, "release")
    assert endpoints.received.count("delta") == 3

    await page.get_by_role("link", name="delta-failing").first.click()
    await expect(page.get_by_text("backend exploded").first).to_be_visible()
    failed_escalation = page.locator("article.escalation", has_text="WEBHOOK_FAILED")
    await expect(failed_escalation).to_contain_text("failed every attempt")
    await check_page(page, "organization")

    await page.get_by_role("link", name="Escalations").click()
    await expect(page.locator("article.escalation", has_text="LICENSE_EXPIRED")).to_be_visible()
    await check_page(page, "escalations")
    failed_escalation = page.locator("article.escalation", has_text="WEBHOOK_FAILED")
    await failed_escalation.get_by_label("Reason for resolving").fill(
        "Customer's database is back; the backend polled the release"
    )
    await page.evaluate("() => { window.stillTheSamePage = true; }")
    await failed_escalation.get_by_role("button", name="Resolve").click()
    # htmx puts the resolved escalation in place of the open one, without a reload
    await expect(page.get_by_text("Resolved the WEBHOOK_FAILED escalation")).to_be_visible()
    await expect(failed_escalation).to_contain_text("the backend polled the release")
    assert await page.evaluate("() => window.stillTheSamePage === true")

    await page.get_by_role("link", name="Audit").click()
    await page.get_by_label("Change").select_option("escalation.resolve")
    await page.get_by_role("button", name="Show").click()
    row = page.locator("tbody tr").first
    await expect(row).to_contain_text("alice@vendor.example")
    await expect(row).to_contain_text("the backend polled the release")
    await page.get_by_label("Change").select_option("")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("tbody")).to_contain_text("release.publish")
    await check_page(page, "audit")

    await page.goto(f"{base}/console/organizations/alpha-bank")
    await page.get_by_role("button", name="Rotate the webhook secret").click()
    await expect(page.locator("#new-secret")).to_have_text(re.compile(r"\S{20,}"))
    await expect(page.get_by_text("1 d 0 h")).to_be_visible()
    await check_page(page, "secret-rotated")

    await page.get_by_role("link", name="Artifacts").click()
    await expect(page.get_by_text("c" * 64)).to_be_visible()
    await check_page(page, "artifacts")


async def test_a_viewer_sees_every_page_and_no_action(
    chromium: Any,
    gcc_server: ServedApp,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    smtp_sink: SmtpSink,
    organization_factory: Any,
) -> None:
    await organization_factory("alpha-bank")
    await add_draft(gcc_sessions, gcc_clock, VERSION)
    await add_operator_named(gcc_sessions, gcc_clock, "vera@vendor.example", OperatorRole.VIEWER)
    page = await chromium.new_page()
    base = gcc_server.base_url

    await sign_in(page, base, "vera@vendor.example", smtp_sink)
    await page.goto(f"{base}/console/releases/{VERSION}")
    await expect(page.get_by_role("heading", name=f"Release {VERSION}")).to_be_visible()
    assert await page.get_by_role("link", name=f"Publish {VERSION}…").count() == 0
    await page.goto(f"{base}/console/organizations/alpha-bank")
    assert await page.get_by_role("button", name="Rotate the webhook secret").count() == 0

    # a hand-made form, even with the session's token, is refused for a viewer
    status = await page.evaluate(
        """async (version) => {
            const token = document.querySelector('input[name=csrf_token]').value;
            const body = new URLSearchParams({csrf_token: token});
            const answer = await fetch(`/console/releases/${version}/publish`,
                                       {method: 'POST', body, redirect: 'manual'});
            return answer.status;
        }""",
        VERSION,
    )
    assert status == 403
    await page.goto(f"{base}/console/releases/{VERSION}")
    await expect(page.get_by_text("draft").first).to_be_visible()


async def test_the_sign_in_page_passes_axe(chromium: Any, gcc_server: ServedApp) -> None:
    page = await chromium.new_page()
    await page.goto(f"{gcc_server.base_url}/console/sign-in")
    await check_page(page, "sign-in")
