"""The sign-in pages every console has: ask for a link, follow it, sign out.

The flow is the same in every tier; what differs is who may sign in and how the link is
emailed, which the tier supplies as a :class:`SignInBackend` through a FastAPI dependency. The
tier's templates ``sign_in.html``, ``sign_in_sent.html`` and ``sign_in_link.html`` say it in
the tier's words.

The forms before sign-in carry a CSRF token made from a random pre-session secret held in an
HttpOnly cookie (:meth:`~consolekit.web.Console.form_cookie`); the link page shows a button
that spends the link, so a mail scanner fetching the link does not use it up.
"""

import secrets
from collections.abc import Callable
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from consolekit.csrf import check_csrf, csrf_token
from consolekit.signin import LinkState
from consolekit.web import Console

MAX_EMAIL_LENGTH = 320
MAX_TOKEN_LENGTH = 200
MAX_NEXT_LENGTH = 500

REFUSED_LINKS = {
    LinkState.EXPIRED: (
        410,
        "This sign-in link has expired",
        "Sign-in links work for a short time only. Ask for a new one.",
    ),
    LinkState.USED: (
        410,
        "This sign-in link has already been used",
        "Each link signs in once. Ask for a new one.",
    ),
    LinkState.UNKNOWN: (
        404,
        "This sign-in link is not valid",
        "It may have been copied incompletely, or its owner was deactivated. Ask for a new one.",
    ),
}


NextQuery = Annotated[str | None, Query(alias="next", max_length=MAX_NEXT_LENGTH)]
NextForm = Annotated[str | None, Form(alias="next", max_length=MAX_NEXT_LENGTH)]


class SignInBackend(Protocol):
    """What a tier does for its sign-in pages, bound to the request's database session."""

    @property
    def plain_http(self) -> bool:
        """Whether the console is served over plain HTTP (cookies without ``Secure``)."""

    @property
    def link_minutes(self) -> int:
        """How long an emailed link works, for the page that says it was sent."""

    async def request_link(self, *, email: str, next_path: str) -> None:
        """Email a link if ``email`` may sign in; do nothing otherwise."""

    async def check_link(self, *, token: str) -> LinkState:
        """Whether the link can still be used, without using it."""

    async def sign_in(self, *, token: str) -> tuple[LinkState, str | None]:
        """Spend the link: ``(VALID, session token)``, or its state and None."""

    async def sign_out(self, *, session_token: str) -> None:
        """End the session of ``session_token``."""


class ConsoleSettings(Protocol):
    """The settings every tier's console reads (each tier's settings class has them)."""

    @property
    def console_plain_http(self) -> bool:
        """Whether the console is served over plain HTTP."""

    @property
    def console_link_minutes(self) -> float:
        """How long a sign-in link works."""


class SettingsSignIn:
    """The part of a tier's :class:`SignInBackend` its settings answer; the tier adds the four
    methods that reach its people and tables."""

    settings: ConsoleSettings

    @property
    def plain_http(self) -> bool:
        """Whether the console is served over plain HTTP."""
        return self.settings.console_plain_http

    @property
    def link_minutes(self) -> int:
        """How long a link works, in whole minutes."""
        return round(self.settings.console_link_minutes)


def _form_secret(console: Console, request: Request, signin: SignInBackend) -> tuple[str, bool]:
    """This browser's pre-session secret, and whether it is new (and must be set)."""
    existing = console.form_cookie(plain_http=signin.plain_http).read(request)
    return (existing, False) if existing else (secrets.token_urlsafe(32), True)


def _pre_session_page(
    console: Console,
    request: Request,
    signin: SignInBackend,
    template: str,
    context: dict[str, Any],
) -> Response:
    """A page with a form before sign-in: its CSRF token from the pre-session secret."""
    secret, is_new = _form_secret(console, request, signin)
    page = console.render(request, template, {"csrf": csrf_token(secret), **context}, user=None)
    if is_new:
        console.form_cookie(plain_http=signin.plain_http).write(page, secret)
    return page


def _refused(console: Console, request: Request, state: LinkState) -> Response:
    """The page of a link that cannot be used, saying why."""
    status_code, heading, advice = REFUSED_LINKS.get(state, REFUSED_LINKS[LinkState.UNKNOWN])
    return console.message_page(
        request,
        heading=heading,
        sentences=[advice],
        status_code=status_code,
        next_url=console.url("/sign-in"),
        next_label="Ask for a new sign-in link",
    )


async def _check_form_csrf(console: Console, request: Request, signin: SignInBackend) -> None:
    await check_csrf(request, console.form_cookie(plain_http=signin.plain_http).read(request))


def sign_in_router(
    console: Console,
    *,
    backend: Callable[..., Any],
    signed_in_session: Callable[..., Any],
) -> APIRouter:
    """The console's sign-in pages. ``backend`` is a dependency giving the tier's
    :class:`SignInBackend`; ``signed_in_session`` a dependency giving the signed-in session's
    token (it checks the sign-out form's CSRF token)."""
    router = APIRouter(prefix=console.prefix, include_in_schema=False)
    backend_dependency = Annotated[SignInBackend, Depends(backend)]
    _add_address_pages(router, console, backend_dependency)
    _add_link_pages(router, console, backend_dependency)

    @router.post("/sign-out")
    async def sign_out(
        signin: backend_dependency,
        session_token: Annotated[str, Depends(signed_in_session)],
    ) -> Response:
        """End this session."""
        await signin.sign_out(session_token=session_token)
        response = console.see_other("/sign-in?signed_out=true")
        console.session_cookie(plain_http=signin.plain_http).clear(response)
        return response

    return router


def _add_address_pages(router: APIRouter, console: Console, backend: Any) -> None:
    """The address form and the page that says a link was sent."""

    @router.get("/sign-in")
    async def sign_in_page(
        request: Request,
        signin: backend,
        next_path: NextQuery = None,
        signed_out: Annotated[bool, Query()] = False,
    ) -> Response:
        """The address form."""
        context = {"next_path": console.safe_next(next_path), "signed_out": signed_out}
        return _pre_session_page(console, request, signin, "sign_in.html", context)

    @router.post("/sign-in")
    async def ask_for_link(
        request: Request,
        signin: backend,
        email: Annotated[str, Form(max_length=MAX_EMAIL_LENGTH)],
        next_path: NextForm = None,
    ) -> Response:
        """Email a link if the address may sign in; the answer is the same either way."""
        await _check_form_csrf(console, request, signin)
        await signin.request_link(email=email, next_path=console.safe_next(next_path))
        context = {"email": email.strip(), "minutes": signin.link_minutes}
        return console.render(request, "sign_in_sent.html", context, user=None)


def _add_link_pages(router: APIRouter, console: Console, backend: Any) -> None:
    """What an emailed link opens, and its button that signs in."""

    @router.get("/sign-in/link")
    async def link_page(
        request: Request,
        signin: backend,
        token: Annotated[str, Query(max_length=MAX_TOKEN_LENGTH)] = "",
        next_path: NextQuery = None,
    ) -> Response:
        """A button that signs in (a mail scanner fetching the link does not use it up), or a
        page saying why the link cannot be used."""
        state = await signin.check_link(token=token)
        if state is not LinkState.VALID:
            return _refused(console, request, state)
        context = {"token": token, "next_path": console.safe_next(next_path)}
        return _pre_session_page(console, request, signin, "sign_in_link.html", context)

    @router.post("/sign-in/link")
    async def use_link(
        request: Request,
        signin: backend,
        token: Annotated[str, Form(max_length=MAX_TOKEN_LENGTH)],
        next_path: NextForm = None,
    ) -> Response:
        """Spend the link and start a session."""
        await _check_form_csrf(console, request, signin)
        state, session_token = await signin.sign_in(token=token)
        if state is not LinkState.VALID or session_token is None:
            return _refused(console, request, state)
        response = console.see_other(console.safe_next(next_path).removeprefix(console.url()))
        console.session_cookie(plain_http=signin.plain_http).write(response, session_token)
        console.form_cookie(plain_http=signin.plain_http).clear(response)
        return response
