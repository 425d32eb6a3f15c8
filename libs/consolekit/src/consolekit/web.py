"""What every console's pages share, whichever tier serves them: its addresses and cookies,
rendering with the chrome and security headers, redirects after a form, and the pages that
answer errors.

A tier describes its console once as a :class:`Console` (name, path, cookie names, navigation,
templates) and keeps only what differs: who may sign in and what they may do (a
:class:`ConsolePrincipal`), and its pages. Requests from htmx are told apart with
:func:`is_htmx`: an error answers them with the whole error page, swapped in for the page's
body, so a refused form inside a swapped part still says why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from consolekit.cookies import CookiePolicy
from consolekit.csrf import CsrfRefused, csrf_token
from consolekit.templating import ConsoleChrome, NavItem, console_static_files

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # the pages load their own CSS and scripts, and post only to themselves
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
}
"""Sent with every console page."""

DONE_PARAMETER = "done"
"""The query parameter a redirect after a form carries its sentence of what was done in."""


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page."""


class ViewerRefused(Exception):
    """A viewer asked to change something."""


class ConsolePrincipal(Protocol):
    """Who is signed in, as the chrome and the role checks see them."""

    @property
    def signed_in_as(self) -> str:
        """How the header names them."""

    @property
    def role(self) -> str:
        """Their role's name."""

    @property
    def can_act(self) -> bool:
        """Whether the role may change anything (a viewer may not)."""

    @property
    def csrf_token(self) -> str:
        """The token every form of their session carries."""


@dataclass(frozen=True)
class SignedIn:
    """What every tier's signed-in person carries: their session's token, and the CSRF token
    made from it. A tier's own class adds the person and their role."""

    session_token: str

    @property
    def csrf_token(self) -> str:
        """The token every form of this session carries."""
        return csrf_token(self.session_token)


@dataclass(frozen=True)
class NavEntry:
    """One page of the main navigation; ``for_actors_only`` hides it from viewers."""

    key: str
    label: str
    path: str
    for_actors_only: bool = False


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (it then swaps the answer into part of the page)."""
    return request.headers.get("hx-request") == "true"


@dataclass(frozen=True)
class Console:
    """One tier's console: where it lives, what it is called, and how it draws pages."""

    name: str
    prefix: str
    session_cookie_name: str
    form_cookie_name: str
    """Holds the pre-session secret the sign-in forms' CSRF tokens are made from."""
    templates: Jinja2Templates
    nav: Sequence[NavEntry]
    home_label: str
    """The link back to the console's first page, on pages that only say something."""
    viewer_refusal: str
    """What a viewer who tried to change something is told."""

    @property
    def static_url(self) -> str:
        """Where consolekit's CSS, scripts and vendored files are served."""
        return f"{self.prefix}/static"

    def url(self, path: str = "") -> str:
        """A console address."""
        return f"{self.prefix}{path}"

    def session_cookie(self, *, plain_http: bool) -> CookiePolicy:
        """The session cookie: HttpOnly, SameSite=Lax, Secure unless the console is plain HTTP.

        A browser-session cookie, without Max-Age: it is written once, at sign-in, so an age
        would sign out someone still at work when it ran out. The server's idle limit (renewed
        by every request) is what ends a session.
        """
        return CookiePolicy(
            name=self.session_cookie_name, path=self.prefix, secure=not plain_http, max_age=None
        )

    def form_cookie(self, *, plain_http: bool) -> CookiePolicy:
        """The pre-session cookie of the sign-in forms."""
        return CookiePolicy(
            name=self.form_cookie_name,
            path=self.prefix,
            secure=not plain_http,
            max_age=timedelta(hours=1),
        )

    def session_token_of(self, request: Request, *, plain_http: bool) -> str:
        """The session token the request's cookie holds; :class:`SignInRequired` without one.
        The tier looks the session up (and raises the same when it has ended), then checks the
        CSRF token of a state-changing request."""
        token = self.session_cookie(plain_http=plain_http).read(request)
        if token is None:
            raise SignInRequired
        return token

    def chrome_for(
        self,
        user: ConsolePrincipal | None,
        *,
        current: str | None = None,
        notices: Sequence[str] = (),
    ) -> ConsoleChrome:
        """What the base template draws around a page for ``user``."""
        if user is None:
            return ConsoleChrome(
                name=self.name, static_url=self.static_url, home_url=self.url(), notices=notices
            )
        nav = [
            NavItem(entry.label, self.url(entry.path), is_current=entry.key == current)
            for entry in self.nav
            if user.can_act or not entry.for_actors_only
        ]
        return ConsoleChrome(
            name=self.name,
            static_url=self.static_url,
            home_url=self.url(),
            nav=nav,
            signed_in_as=user.signed_in_as,
            role=user.role,
            sign_out_url=self.url("/sign-out"),
            csrf_token=user.csrf_token,
            notices=notices,
        )

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any],
        *,
        user: ConsolePrincipal | None,
        current: str | None = None,
        status_code: int = 200,
    ) -> Response:
        """A page (or a part of one, for htmx): ``template`` with ``context``, the chrome,
        the user and the sentence a redirect after a form brought."""
        notice = request.query_params.get(DONE_PARAMETER)
        response = self.templates.TemplateResponse(
            request,
            template,
            {
                "chrome": self.chrome_for(
                    user, current=current, notices=(notice[:300],) if notice else ()
                ),
                "user": user,
                "url": self.url,
                **context,
            },
            status_code=status_code,
        )
        response.headers.update(SECURITY_HEADERS)
        return response

    def message_page(
        self,
        request: Request,
        *,
        heading: str,
        sentences: Sequence[str],
        status_code: int,
        next_url: str | None = None,
        next_label: str | None = None,
    ) -> Response:
        """A page that only says something: an error, a link that cannot be used. An htmx
        request gets it in place of the page's body, not of the part it asked for."""
        response = self.render(
            request,
            "consolekit/message.html",
            {
                "heading": heading,
                "sentences": list(sentences),
                "next_url": next_url or self.url(),
                "next_label": next_label or self.home_label,
            },
            user=None,
            status_code=status_code,
        )
        if is_htmx(request):
            response.headers.update({"HX-Retarget": "body", "HX-Reswap": "innerHTML"})
        return response

    def see_other(self, path: str, *, done: str | None = None) -> RedirectResponse:
        """After a form, the page to show next (303: reloading it does not post again), with
        a sentence saying what was done."""
        target = self.url(path)
        if done:
            target += ("&" if "?" in target else "?") + f"{DONE_PARAMETER}=" + quote(done)
        return RedirectResponse(target, status_code=303)

    def safe_next(self, next_path: str | None) -> str:
        """Only a path inside the console, so a link can send nobody elsewhere."""
        if next_path and next_path.startswith(self.url("/")) and not next_path.startswith("//"):
            return next_path
        return self.url()

    def is_console_path(self, request: Request) -> bool:
        """Whether ``request`` is for one of this console's addresses."""
        return request.url.path == self.prefix or request.url.path.startswith(f"{self.prefix}/")

    def install(self, app: FastAPI, *, service_error: type[Exception] | None = None) -> None:
        """Serve consolekit's files under the console, and answer errors on console paths with
        pages (elsewhere the app's JSON handlers stay). ``service_error`` is the tier's error
        base class, whose ``status_code`` and ``detail`` the page shows."""
        app.mount(self.static_url, console_static_files(), name="console-static")
        json_handlers = dict(app.exception_handlers)

        def on_console(kind: type[Exception], page: Callable[[Request, Any], Response]) -> None:
            fallback = json_handlers.get(kind)

            async def handler(request: Request, exc: Exception) -> Response:
                if self.is_console_path(request) or fallback is None:
                    return page(request, exc)
                answer: Response = await fallback(request, exc)
                return answer

            app.add_exception_handler(kind, handler)

        on_console(SignInRequired, self._sign_in_redirect)
        on_console(CsrfRefused, self._csrf_refused)
        on_console(ViewerRefused, self._viewer_refused)
        if service_error is not None:
            on_console(service_error, self._service_error_page)
        on_console(RequestValidationError, self._validation_error_page)
        on_console(StarletteHTTPException, self._http_error_page)

    def _sign_in_redirect(self, request: Request, _exc: Exception) -> Response:
        target = self.url("/sign-in")
        if request.method == "GET" and request.url.path != target:
            target += "?next=" + quote(request.url.path, safe="/")
        if is_htmx(request):
            # a part of a page asked after the session ended: the whole page goes to sign-in
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    def _csrf_refused(self, request: Request, _exc: Exception) -> Response:
        return self.message_page(
            request,
            heading="This form was refused",
            sentences=[
                "It arrived without this session's security token: it may come from another "
                "site, or from a page opened before you signed in again. Nothing was changed.",
                "Go back, reload the page and send the form again.",
            ],
            status_code=403,
        )

    def _viewer_refused(self, request: Request, _exc: Exception) -> Response:
        return self.message_page(
            request,
            heading="Viewers cannot change anything",
            sentences=[self.viewer_refusal],
            status_code=403,
        )

    def _service_error_page(self, request: Request, exc: Any) -> Response:
        headings = {404: "Not found", 409: "Not possible right now", 403: "Not allowed"}
        status_code = int(getattr(exc, "status_code", 400))
        return self.message_page(
            request,
            heading=headings.get(status_code, "That did not work"),
            sentences=[str(getattr(exc, "detail", exc)), "Nothing was changed."],
            status_code=status_code,
        )

    def _validation_error_page(self, request: Request, exc: RequestValidationError) -> Response:
        sentences = []
        for error in exc.errors()[:5]:
            where = ".".join(str(part) for part in error.get("loc", ())[1:]) or "the request"
            sentences.append(f"{where}: {error.get('msg', 'not valid')}.")
        return self.message_page(
            request,
            heading="That request could not be read",
            sentences=[*sentences, "Nothing was changed."],
            status_code=422,
        )

    def _http_error_page(self, request: Request, exc: StarletteHTTPException) -> Response:
        return self.message_page(
            request,
            heading="Page not found" if exc.status_code == 404 else "That did not work",
            sentences=[str(exc.detail)],
            status_code=exc.status_code,
        )
