"""What every console page shares: who is signed in, the CSRF check, rendering, error pages.

Pages are one more adapter over the domains' service functions. A page's dependencies find
the admin from the session cookie (:data:`ConsoleViewer`), check the CSRF token of every
state-changing request before anything else, and refuse a viewer's action
(:data:`ConsoleActor`). Errors reach the app's exception handlers after the request session
has rolled back, and on console paths they are answered with a page instead of JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException

from consolekit.cookies import CookiePolicy
from consolekit.csrf import CsrfRefused, check_csrf, csrf_token
from consolekit.templating import (
    ConsoleChrome,
    NavItem,
    console_static_files,
    console_templates,
)
from customer_backend.admins.models import ACTING_ROLES, Admin, AdminRole
from customer_backend.console import service
from customer_backend.deps import ClockDep, SessionDep, SettingsDep
from customer_backend.settings import Settings
from servicekit.errors import ServiceError

T = TypeVar("T")

PREFIX = "/console"
STATIC_URL = f"{PREFIX}/static"
CONSOLE_NAME = "WrkTalk Control Tower"
SESSION_COOKIE = "wrktalk_console"
FORM_COOKIE = "wrktalk_console_form"
"""Holds the pre-session secret that the sign-in forms' CSRF tokens are made from."""

templates = console_templates(Path(__file__).parent / "templates")

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # the pages load their own CSS and one script, and post only to themselves
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
}

NAV = (
    ("overview", "Overview", ""),
    ("releases", "Releases", "/releases"),
    ("deployments", "Deployments", "/deployments"),
    ("configuration", "Configuration", "/configuration"),
    ("maintenance", "Maintenance", "/maintenance"),
    ("emails", "Email sent", "/emails"),
    ("admins", "Admins", "/admins"),
)


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page."""


class ViewerRefused(Exception):
    """A viewer asked to change something."""


def session_cookie(settings: Settings) -> CookiePolicy:
    """The session cookie: HttpOnly, SameSite=Lax, Secure unless the console is plain HTTP.

    A browser-session cookie, without Max-Age: it is written once, at sign-in, so an age would
    sign out someone still at work when it ran out. The server's idle limit
    (``console_idle_hours``, renewed by every request) is what ends a session.
    """
    return CookiePolicy(
        name=SESSION_COOKIE,
        path=PREFIX,
        secure=not settings.console_plain_http,
        max_age=None,
    )


def form_cookie(settings: Settings) -> CookiePolicy:
    """The pre-session cookie of the sign-in forms."""
    return CookiePolicy(
        name=FORM_COOKIE,
        path=PREFIX,
        secure=not settings.console_plain_http,
        max_age=timedelta(hours=1),
    )


@dataclass(frozen=True)
class ConsoleUser:
    """The signed-in admin and the session their cookie holds."""

    admin: Admin
    session_token: str

    @property
    def csrf_token(self) -> str:
        """The token every form of this session carries."""
        return csrf_token(self.session_token)

    @property
    def can_act(self) -> bool:
        """Whether the role may change anything (a viewer may not)."""
        return self.admin.role in ACTING_ROLES

    @property
    def manages_admins(self) -> bool:
        """Whether the Admins page is open to this role."""
        return self.can_act


async def console_user(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> ConsoleUser:
    """The signed-in admin; a state-changing request must carry this session's CSRF token."""
    token = session_cookie(settings).read(request)
    if token is None:
        raise SignInRequired
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


def url(path: str = "") -> str:
    """A console address."""
    return f"{PREFIX}{path}"


def chrome_for(user: ConsoleUser | None, *, current: str | None = None) -> ConsoleChrome:
    """What the base template draws around a page for ``user``."""
    if user is None:
        return ConsoleChrome(name=CONSOLE_NAME, static_url=STATIC_URL, home_url=url())
    nav = [
        NavItem(label, url(path), is_current=key == current)
        for key, label, path in NAV
        if key != "admins" or user.manages_admins
    ]
    return ConsoleChrome(
        name=CONSOLE_NAME,
        static_url=STATIC_URL,
        home_url=url(),
        nav=nav,
        signed_in_as=user.admin.email,
        role=user.admin.role,
        sign_out_url=url("/sign-out"),
        csrf_token=user.csrf_token,
    )


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    user: ConsoleUser | None,
    current: str | None = None,
    status_code: int = 200,
) -> Response:
    """A page: ``template`` with ``context``, the chrome and the user."""
    response = templates.TemplateResponse(
        request,
        template,
        {
            "chrome": chrome_for(user, current=current),
            "user": user,
            "url": url,
            **context,
        },
        status_code=status_code,
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def message_page(
    request: Request,
    *,
    heading: str,
    sentences: list[str],
    status_code: int,
    next_url: str | None = None,
    next_label: str | None = None,
) -> Response:
    """A page that only says something: an error, a link that cannot be used."""
    return render(
        request,
        "consolekit/message.html",
        {
            "heading": heading,
            "sentences": sentences,
            "next_url": next_url,
            "next_label": next_label,
        },
        user=None,
        status_code=status_code,
    )


def see_other(path: str) -> RedirectResponse:
    """After a form: the page to show next (303, so reloading it does not post again)."""
    return RedirectResponse(url(path), status_code=303)


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


def _is_console(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(f"{PREFIX}/")


def install_console_error_pages(app: FastAPI) -> None:
    """Answer errors on console paths with pages; elsewhere the JSON handlers stay."""
    json_handlers = dict(app.exception_handlers)

    def on_console(kind: type[Exception], page: Callable[[Request, Any], Response]) -> None:
        fallback = json_handlers.get(kind)

        async def handler(request: Request, exc: Exception) -> Response:
            if _is_console(request) or fallback is None:
                return page(request, exc)
            answer: Response = await fallback(request, exc)
            return answer

        app.add_exception_handler(kind, handler)

    on_console(SignInRequired, _sign_in_redirect)
    on_console(CsrfRefused, _csrf_refused)
    on_console(ViewerRefused, _viewer_refused)
    on_console(ServiceError, _service_error_page)
    on_console(RequestValidationError, _validation_error_page)
    on_console(StarletteHTTPException, _http_error_page)


def _sign_in_redirect(request: Request, _exc: Exception) -> Response:
    target = url("/sign-in")
    if request.method == "GET" and request.url.path != url("/sign-in"):
        target += "?next=" + quote(request.url.path, safe="/")
    return RedirectResponse(target, status_code=303)


def _csrf_refused(request: Request, _exc: Exception) -> Response:
    return message_page(
        request,
        heading="This form was refused",
        sentences=[
            "It arrived without this session's security token: it may come from another site, "
            "or from a page opened before you signed in again. Nothing was changed.",
            "Go back, reload the page and send the form again.",
        ],
        status_code=403,
        next_url=url(),
        next_label="Back to the overview",
    )


def _viewer_refused(request: Request, _exc: Exception) -> Response:
    return message_page(
        request,
        heading="Viewers cannot change anything",
        sentences=[
            f"Your role is {AdminRole.VIEWER}: you see everything an admin sees and change "
            "nothing. Nothing was changed. Ask an admin if something needs doing."
        ],
        status_code=403,
        next_url=url(),
        next_label="Back to the overview",
    )


def _service_error_page(request: Request, exc: ServiceError) -> Response:
    headings = {404: "Not found", 409: "Not possible right now", 403: "Not allowed"}
    return message_page(
        request,
        heading=headings.get(exc.status_code, "That did not work"),
        sentences=[exc.detail, "Nothing was changed."],
        status_code=exc.status_code,
        next_url=url(),
        next_label="Back to the overview",
    )


def _validation_error_page(request: Request, exc: RequestValidationError) -> Response:
    sentences = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ())[1:]) or "the request"
        sentences.append(f"{where}: {error.get('msg', 'not valid')}.")
    return message_page(
        request,
        heading="That request could not be read",
        sentences=[*sentences[:5], "Nothing was changed."],
        status_code=422,
        next_url=url(),
        next_label="Back to the overview",
    )


def _http_error_page(request: Request, exc: StarletteHTTPException) -> Response:
    heading = "Page not found" if exc.status_code == 404 else "That did not work"
    return message_page(
        request,
        heading=heading,
        sentences=[str(exc.detail)],
        status_code=exc.status_code,
        next_url=url(),
        next_label="Back to the overview",
    )


def mount_static(app: FastAPI) -> None:
    """Serve consolekit's CSS, script and vendored files under the console."""
    app.mount(STATIC_URL, console_static_files(), name="console-static")
