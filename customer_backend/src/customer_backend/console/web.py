"""The Control Tower console's own parts: who is signed in (an admin), the role checks, and
its description for :class:`consolekit.web.Console`, which does the rest (rendering, cookies,
redirects, error pages) as it does for every console.

A page's dependencies find the admin from the session cookie (:data:`ConsoleViewer`), check
the CSRF token of every state-changing request before anything else, and refuse a viewer's
action (:data:`ConsoleActor`). Errors reach the app's exception handlers after the request
session has rolled back, and on console paths they are answered with a page instead of JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

from fastapi import Depends, FastAPI, Request
from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession

from consolekit.csrf import check_csrf
from consolekit.templating import console_templates
from consolekit.web import Console, NavEntry, SignedIn, SignInRequired, ViewerRefused
from customer_backend.admins.models import ACTING_ROLES, Admin, AdminRole
from customer_backend.console import service
from customer_backend.deps import ClockDep, SessionDep, SettingsDep
from servicekit.errors import ServiceError

T = TypeVar("T")

PREFIX = "/console"
SESSION_COOKIE = "wrktalk_console"

CONSOLE = Console(
    name="WrkTalk Control Tower",
    prefix=PREFIX,
    session_cookie_name=SESSION_COOKIE,
    form_cookie_name="wrktalk_console_form",
    templates=console_templates(Path(__file__).parent / "templates"),
    nav=(
        NavEntry("overview", "Overview", ""),
        NavEntry("releases", "Releases", "/releases"),
        NavEntry("deployments", "Deployments", "/deployments"),
        NavEntry("configuration", "Configuration", "/configuration"),
        NavEntry("maintenance", "Maintenance", "/maintenance"),
        NavEntry("emails", "Email sent", "/emails"),
        NavEntry("admins", "Admins", "/admins", for_actors_only=True),
    ),
    home_label="Back to the overview",
    viewer_refusal=(
        f"Your role is {AdminRole.VIEWER}: you see everything an admin sees and change "
        "nothing. Nothing was changed. Ask an admin if something needs doing."
    ),
)

render = CONSOLE.render
message_page = CONSOLE.message_page
see_other = CONSOLE.see_other
url = CONSOLE.url

_BAD_STATUSES = frozenset(
    {"failed", "rolledBack", "deadlineExceeded", "downloadFailed", "missedSchedule", "cancelled"}
)


def deployment_status(value: object) -> Markup:
    """A deployment or task status, coloured by outcome (a function, not a template macro:
    the history draws one per row)."""
    text = str(value)
    kind = "ok" if text in ("success", "completed") else "bad" if text in _BAD_STATUSES else "warn"
    return Markup('<span class="status status-') + kind + Markup('">') + text + Markup("</span>")


CONSOLE.templates.env.globals["deployment_status"] = deployment_status


@dataclass(frozen=True, kw_only=True)
class ConsoleUser(SignedIn):
    """The signed-in admin and the session their cookie holds."""

    admin: Admin

    @property
    def can_act(self) -> bool:
        """Whether the role may change anything (a viewer may not)."""
        return self.admin.role in ACTING_ROLES

    @property
    def manages_admins(self) -> bool:
        """Whether the Admins page is open to this role."""
        return self.can_act

    @property
    def signed_in_as(self) -> str:
        """How the header names the admin."""
        return self.admin.email

    @property
    def role(self) -> str:
        """The admin's role."""
        return str(self.admin.role)


async def console_user(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> ConsoleUser:
    """The signed-in admin; a state-changing request must carry this session's CSRF token."""
    token = CONSOLE.session_token_of(request, plain_http=settings.console_plain_http)
    admin = await service.signed_in_admin(
        session, clock=clock, settings=settings, session_token=token
    )
    if admin is None:
        raise SignInRequired
    await check_csrf(request, token)
    return ConsoleUser(admin=admin, session_token=token)


ConsoleViewer = Annotated[ConsoleUser, Depends(console_user)]


async def console_actor(user: ConsoleViewer) -> ConsoleUser:
    """The signed-in admin, if their role may act."""
    if not user.can_act:
        raise ViewerRefused
    return user


ConsoleActor = Annotated[ConsoleUser, Depends(console_actor)]


async def attempt(
    session: AsyncSession, work: Callable[[], Awaitable[T]]
) -> tuple[T | None, ServiceError | None]:
    """Run ``work`` in a savepoint: its result, or the service's error with everything it
    wrote undone, so the page can show the error next to the form."""
    savepoint = await session.begin_nested()
    try:
        result = await work()
    except ServiceError as error:
        await savepoint.rollback()
        return None, error
    await savepoint.commit()
    return result, None


def install_console(app: FastAPI) -> None:
    """Serve the console's files and answer errors on its paths with pages."""
    CONSOLE.install(app, service_error=ServiceError)
