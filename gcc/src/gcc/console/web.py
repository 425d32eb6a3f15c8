"""What every console page shares: the signed-in operator, the CSRF check, rendering and the
pages that answer errors.

A page's dependencies find the operator from the session cookie (:data:`ConsoleViewer`), check
the CSRF token of every state-changing request before anything else, and refuse a viewer's
action (:data:`ConsoleActor`). A service's error reaches the app's handlers after the request
session rolled back; on console paths it is answered with a page that says what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from consolekit.cookies import CookiePolicy
from consolekit.csrf import CsrfRefused, check_csrf, csrf_token
from consolekit.templating import ConsoleChrome, NavItem, console_static_files, console_templates
from contracts import OperatorRole
from gcc.audit.service import Actor
from gcc.deps import ClockDep, SessionDep, SettingsDep
from gcc.operators import signin
from gcc.operators.models import Operator
from gcc.settings import Settings
from servicekit.errors import InvalidInput, ServiceError

PREFIX = "/console"
STATIC_URL = f"{PREFIX}/static"
CONSOLE_NAME = "WrkTalk operator console"
SESSION_COOKIE = "gcc_console"
FORM_COOKIE = "gcc_console_form"
"""Holds the pre-session secret the sign-in forms' CSRF tokens are made from."""

templates = console_templates(Path(__file__).parent / "templates")

NAV = (
    ("fleet", "Fleet", ""),
    ("releases", "Releases", "/releases"),
    ("escalations", "Escalations", "/escalations"),
    ("artifacts", "Artifacts", "/artifacts"),
    ("audit", "Audit", "/audit"),
)


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page."""


class ViewerRefused(Exception):
    """A viewer asked to change something."""


def url(path: str = "") -> str:
    """A console address."""
    return f"{PREFIX}{path}"


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
    """The signed-in operator and the session their cookie holds."""

    operator: Operator
    session_token: str

    @property
    def csrf_token(self) -> str:
        """The token every form of this session carries."""
        return csrf_token(self.session_token)

    @property
    def can_act(self) -> bool:
        """Whether the role may change anything (a viewer may not)."""
        return self.operator.role == OperatorRole.OPERATOR

    @property
    def actor(self) -> Actor:
        """Who the audit trail names for this operator's changes."""
        return Actor.named_operator(self.operator.id, self.operator.email)


async def console_user(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> ConsoleUser:
    """The signed-in operator; a state-changing request must carry this session's CSRF
    token, checked before anything else happens."""
    token = session_cookie(settings).read(request)
    if token is None:
        raise SignInRequired
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


def chrome_for(
    user: ConsoleUser | None, *, current: str | None = None, notices: tuple[str, ...] = ()
) -> ConsoleChrome:
    """What the base template draws around a page for ``user``."""
    if user is None:
        return ConsoleChrome(name=CONSOLE_NAME, static_url=STATIC_URL, home_url=url())
    return ConsoleChrome(
        name=CONSOLE_NAME,
        static_url=STATIC_URL,
        home_url=url(),
        nav=[NavItem(label, url(path), is_current=key == current) for key, label, path in NAV],
        signed_in_as=f"{user.operator.name} <{user.operator.email}>",
        role=user.operator.role,
        sign_out_url=url("/sign-out"),
        csrf_token=user.csrf_token,
        notices=notices,
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
    notice = request.query_params.get("done")
    response = templates.TemplateResponse(
        request,
        template,
        {
            "chrome": chrome_for(user, current=current, notices=(notice,) if notice else ()),
            "user": user,
            "url": url,
            **context,
        },
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
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
            "next_url": next_url or url(),
            "next_label": next_label or "Back to the fleet",
        },
        user=None,
        status_code=status_code,
    )


def see_other(path: str, *, done: str | None = None) -> RedirectResponse:
    """After a form, the page to show next (303: reloading it does not post again), with a
    sentence saying what was done."""
    target = url(path)
    if done:
        target += ("&" if "?" in target else "?") + "done=" + quote(done)
    return RedirectResponse(target, status_code=303)


def _is_console(request: Request) -> bool:
    return request.url.path == PREFIX or request.url.path.startswith(f"{PREFIX}/")


def install_console_error_pages(app: FastAPI) -> None:
    """Answer errors on console paths with pages; the JSON API keeps its JSON handlers."""
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
    if request.method == "GET" and request.url.path != target:
        target += "?next=" + quote(request.url.path, safe="/")
    return RedirectResponse(target, status_code=303)


def _csrf_refused(request: Request, _exc: Exception) -> Response:
    return message_page(
        request,
        heading="This form was refused",
        sentences=[
            "It arrived without this session's security token: it may come from another "
            "site, or from a page opened before you signed in again. Nothing was changed.",
            "Go back, reload the page and send the form again.",
        ],
        status_code=403,
    )


def _viewer_refused(request: Request, _exc: Exception) -> Response:
    return message_page(
        request,
        heading="Viewers cannot change anything",
        sentences=[
            f"Your role is {OperatorRole.VIEWER}: you see every page and change nothing. "
            "Nothing was changed; ask an operator if something needs doing."
        ],
        status_code=403,
    )


def _service_error_page(request: Request, exc: ServiceError) -> Response:
    headings = {404: "Not found", 409: "Not possible right now", 403: "Not allowed"}
    return message_page(
        request,
        heading=headings.get(exc.status_code, "That did not work"),
        sentences=[exc.detail, "Nothing was changed."],
        status_code=exc.status_code,
    )


def _validation_error_page(request: Request, exc: RequestValidationError) -> Response:
    sentences = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ())[1:]) or "the request"
        sentences.append(f"{where}: {error.get('msg', 'not valid')}.")
    return message_page(
        request,
        heading="That request could not be read",
        sentences=[*sentences, "Nothing was changed."],
        status_code=422,
    )


def _http_error_page(request: Request, exc: StarletteHTTPException) -> Response:
    return message_page(
        request,
        heading="Page not found" if exc.status_code == 404 else "That did not work",
        sentences=[str(exc.detail)],
        status_code=exc.status_code,
    )


def mount_static(app: FastAPI) -> None:
    """Serve consolekit's CSS, script and vendored files, and the console's own styles."""
    app.mount(STATIC_URL, console_static_files(), name="console-static")
    app.mount(
        url("/assets"),
        StaticFiles(directory=Path(__file__).parent / "static"),
        name="console-assets",
    )


def install_console(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Add the console to the service's app: its pages, files and error pages."""
    for router in routers:
        app.include_router(router)
    mount_static(app)
    install_console_error_pages(app)
