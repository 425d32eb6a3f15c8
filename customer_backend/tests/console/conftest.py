"""The console served on loopback, a real Chromium, and signing in through the emailed link.

The backend is the one the other tests serve (its database, Redis, S3 server and SMTP sink),
with the console's address set to the port it listens on and plain-HTTP cookies allowed.
Emails are sent as the worker sends them, by ``send_due_notifications``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from customer_backend.admins.service import create_admin
from customer_backend.app import create_app
from customer_backend.notifications.sending import send_due_notifications
from customer_backend.settings import Settings
from servicekit.db import SessionFactory
from testsupport.gcc_fixtures import TaskRecorder
from timekeeping import ManualClock
from wrktalk_testing.browser import launched_chromium
from wrktalk_testing.network import free_port
from wrktalk_testing.servers import ServedApp
from wrktalk_testing.smtp import SmtpSink

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS_ENV = "WRKTALK_CONSOLE_SCREENSHOTS"
"""Where screenshots go; ``docs/images`` refreshes the admin guide's (default: build/)."""
LINK = re.compile(r"https?://\S+/console/sign-in/link\?token=\S+")


def _deployment_fixtures() -> Any:
    """The deployments tests' factories (releases with artifacts, history rows, agent polls)."""
    path = Path(__file__).resolve().parent.parent / "deployments" / "conftest.py"
    spec = importlib.util.spec_from_file_location("console_deployment_fixtures", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_deployments = _deployment_fixtures()
backend_store = _deployments.backend_store
release_factory = _deployments.release_factory
record_history = _deployments.record_history
set_agent_poll = _deployments.set_agent_poll
task_factory = _deployments.task_factory
add_log_lines = _deployments.add_log_lines
rows = _deployments.rows


@pytest.fixture(scope="session")
def console_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def console_settings(backend_settings: Settings, console_port: int) -> Settings:
    return backend_settings.model_copy(
        update={
            "console_url": f"http://127.0.0.1:{console_port}/console",
            "console_plain_http": True,
        }
    )


@pytest.fixture(scope="session")
def console_server(
    console_settings: Settings,
    console_port: int,
    gcc_clock_session: ManualClock,
    backend_task_recorder_session: TaskRecorder,
) -> Iterator[ServedApp]:
    """The backend serving the console, on the port its emailed links name."""
    served = ServedApp(
        create_app(
            console_settings, clock=gcc_clock_session, send_task=backend_task_recorder_session
        ),
        port=console_port,
    )
    served.start()
    yield served
    served.stop()


@pytest.fixture
def console(
    console_server: ServedApp, backend_sessions: SessionFactory, gcc_organization: Any
) -> str:
    """The console's base address, with empty tables."""
    return f"{console_server.base_url}/console"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with launched_chromium() as launched:
        yield launched


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies) for one test; no page may raise a script error or
    log one (a file the Content-Security-Policy blocks, for instance)."""
    opened = await browser.new_context(timezone_id="Europe/Berlin", locale="en-GB")
    errors: list[str] = []

    def console_error(message: Any) -> None:
        # a page answered 4xx on purpose logs a failed load: resources are checked below
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def failed_resource(response: Any) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            errors.append(f"{response.status} {response.url}")

    def watch(page: Page) -> None:
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", console_error)
        page.on("response", failed_resource)

    opened.on("page", watch)
    yield opened
    await opened.close()
    assert errors == [], errors


@dataclass
class Mailer:
    """Sends due email as the worker does, and reads sign-in links from the SMTP sink."""

    sessions: SessionFactory
    clock: ManualClock
    settings: Settings
    sink: SmtpSink

    async def deliver(self) -> None:
        await send_due_notifications(self.sessions, clock=self.clock, settings=self.settings)

    async def sign_in_links(self, address: str) -> list[str]:
        await self.deliver()
        return [
            match.group(0)
            for message in self.sink.messages
            if address in message.recipients
            for match in [LINK.search(message.text)]
            if match is not None
        ]


@pytest.fixture
def mailer(
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
    console_settings: Settings,
    smtp_sink: SmtpSink,
) -> Mailer:
    return Mailer(backend_sessions, gcc_clock, console_settings, smtp_sink)


AdminMaker = Callable[..., Awaitable[str]]


@pytest.fixture
def make_admin(backend_sessions: SessionFactory, gcc_clock: ManualClock) -> AdminMaker:
    """Create an admin of a role; returns the address."""

    async def make(email: str = "ada@acme.example", role: str = "admin") -> str:
        async with backend_sessions() as session:
            await create_admin(session, clock=gcc_clock, email=email, name="Ada", role=role)
            await session.commit()
        return email

    return make


SignIn = Callable[..., Awaitable["Page"]]


@pytest.fixture
def sign_in(
    context: BrowserContext, console: str, mailer: Mailer, make_admin: AdminMaker
) -> SignIn:
    """Sign in through the pages and the emailed link; returns the page on the Overview."""

    async def run(email: str = "ada@acme.example", role: str = "admin") -> Page:
        await make_admin(email, role)
        page = await context.new_page()
        await page.goto(f"{console}/sign-in")
        await page.get_by_label("Email address").fill(email)
        await page.get_by_role("button", name="Email me a sign-in link").click()
        await page.get_by_role("heading", name="Check your email").wait_for()
        links = await mailer.sign_in_links(email)
        assert len(links) == 1
        await page.goto(links[0])
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("heading", name="Overview").wait_for()
        return page

    return run


async def screenshot(page: Page, name: str) -> None:
    """Save a screenshot of the whole page (for the admin guide, see ``SCREENSHOTS_ENV``)."""
    folder = ROOT / os.environ.get(SCREENSHOTS_ENV, "build/console-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"console-{name}.png"), full_page=True)
