"""The operator console's own parts: who is signed in (an operator), the role checks, the
filters' choices, and its description for :class:`consolekit.web.Console`, which does the rest
(rendering, cookies, redirects, error pages) as it does for every console.

A page's dependencies find the operator from the session cookie (:data:`ConsoleViewer`), check
the CSRF token of every state-changing request before anything else, and refuse a viewer's
action (:data:`ConsoleActor`). A service's error reaches the app's handlers after the request
session rolled back; on console paths it is answered with a page that says what happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles

from consolekit.csrf import check_csrf
from consolekit.templating import console_templates
from consolekit.web import Console, NavEntry, SignedIn, SignInRequired, ViewerRefused
from contracts import OperatorRole
from gcc.audit.service import Actor
from gcc.deps import ClockDep, SessionDep, SettingsDep
from gcc.operators import signin
from gcc.operators.models import Operator
from servicekit.errors import InvalidInput, ServiceError

PREFIX = "/console"
SESSION_COOKIE = "gcc_console"

CONSOLE = Console(
    name="WrkTalk operator console",
    prefix=PREFIX,
    session_cookie_name=SESSION_COOKIE,
    form_cookie_name="gcc_console_form",
    templates=console_templates(Path(__file__).parent / "templates"),
    nav=(
        NavEntry("fleet", "Fleet", ""),
        NavEntry("releases", "Releases", "/releases"),
        NavEntry("escalations", "Escalations", "/escalations"),
        NavEntry("artifacts", "Artifacts", "/artifacts"),
        NavEntry("audit", "Audit", "/audit"),
    ),
    home_label="Back to the fleet",
    viewer_refusal=(
        f"Your role is {OperatorRole.VIEWER}: you see every page and change nothing. "
        "Nothing was changed; ask an operator if something needs doing."
    ),
)

render = CONSOLE.render
message_page = CONSOLE.message_page
see_other = CONSOLE.see_other
url = CONSOLE.url


@dataclass(frozen=True, kw_only=True)
class ConsoleUser(SignedIn):
    """The signed-in operator and the session their cookie holds."""

    operator: Operator

    @property
    def can_act(self) -> bool:
        """Whether the role may change anything (a viewer may not)."""
        return self.operator.role == OperatorRole.OPERATOR

    @property
    def signed_in_as(self) -> str:
        """How the header names the operator."""
        return f"{self.operator.name} <{self.operator.email}>"

    @property
    def role(self) -> str:
        """The operator's role."""
        return str(self.operator.role)

    @property
    def actor(self) -> Actor:
        """Who the audit trail names for this operator's changes."""
        return Actor.named_operator(self.operator.id, self.operator.email)


async def console_user(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> ConsoleUser:
    """The signed-in operator; a state-changing request must carry this session's CSRF
    token, checked before anything else happens."""
    token = CONSOLE.session_token_of(request, plain_http=settings.console_plain_http)
    operator = await signin.signed_in_operator(
        session, clock=clock, settings=settings, session_token=token
    )
    if operator is None:
        raise SignInRequired
    await check_csrf(request, token)
    return ConsoleUser(operator=operator, session_token=token)


ConsoleViewer = Annotated[ConsoleUser, Depends(console_user)]


async def console_actor(user: ConsoleViewer) -> ConsoleUser:
    """The signed-in operator, if their role may act."""
    if not user.can_act:
        raise ViewerRefused
    return user


ConsoleActor = Annotated[ConsoleUser, Depends(console_actor)]


E = TypeVar("E", bound=StrEnum)


def choice(kind: type[E], value: str | None, *, field: str) -> E | None:
    """A filter's value from a form: an empty choice is none, anything else one of ``kind``
    or a 422 naming the choices."""
    if not value:
        return None
    try:
        return kind(value)
    except ValueError as exc:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidInput(f"{field} must be one of {allowed}.", field=field) from exc


def install_console(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Add the console to the service's app: its pages, files (consolekit's and the
    console's own styles) and error pages."""
    for router in routers:
        app.include_router(router)
    app.mount(
        url("/assets"),
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="console-assets",
    )
    CONSOLE.install(app, service_error=ServiceError)
