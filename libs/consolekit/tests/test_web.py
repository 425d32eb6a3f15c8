"""Cookie, CSRF and template pieces in a small app served for real on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from consolekit.cookies import CookiePolicy
from consolekit.csrf import CsrfRefused, check_csrf, csrf_token, csrf_token_matches
from consolekit.pagination import Page, PageRequest, page_request, page_url
from consolekit.templating import ConsoleChrome, NavItem, console_static_files, console_templates
from wrktalk_testing.servers import ServedApp

POLICY = CookiePolicy(name="kit_session", path="/console", secure=False)
SECURE_POLICY = CookiePolicy(name="kit_secure", path="/console")


def build_app() -> FastAPI:
    app = FastAPI()
    templates = console_templates()
    app.mount("/console/static", console_static_files(), name="console-static")

    @app.exception_handler(CsrfRefused)
    async def refused(_request: Request, error: CsrfRefused) -> PlainTextResponse:
        return PlainTextResponse(str(error), status_code=403)

    @app.get("/console/set")
    async def set_cookie() -> PlainTextResponse:
        response = PlainTextResponse("set")
        POLICY.write(response, "secret-value")
        SECURE_POLICY.write(response, "other")
        return response

    @app.post("/console/change")
    async def change(request: Request, note: Annotated[str, Form()]) -> PlainTextResponse:
        await check_csrf(request, POLICY.read(request))
        return PlainTextResponse(f"changed {note}")

    @app.get("/console/page", response_class=HTMLResponse)
    async def page(request: Request, wanted: Annotated[PageRequest, Depends(page_request)]):  # type: ignore[no-untyped-def]
        rows = list(range(1, 101))
        shown = Page(rows[wanted.offset : wanted.offset + wanted.size], wanted, len(rows))
        chrome = ConsoleChrome(
            name="Kit console",
            static_url="/console/static",
            home_url="/console",
            nav=[NavItem("Home", "/console", is_current=True)],
            signed_in_as="ada@example.com",
            role="viewer",
            sign_out_url="/console/sign-out",
            csrf_token=csrf_token("secret-value"),
        )
        return templates.TemplateResponse(
            request,
            "consolekit/message.html",
            {
                "chrome": chrome,
                "heading": f"Rows {shown.first_row} to {shown.last_row}",
                "sentences": [f"page {shown.number} of {shown.pages}", page_url(request, 2)],
            },
        )

    @app.get("/console/json")
    async def as_json() -> JSONResponse:
        return JSONResponse({})

    return app


@pytest.fixture(scope="module")
def served() -> Iterator[ServedApp]:
    app = ServedApp(build_app())
    app.start()
    yield app
    app.stop()


def test_cookies_are_http_only_lax_and_secure_unless_told(served: ServedApp) -> None:
    response = httpx.get(f"{served.base_url}/console/set")
    headers = {value.split("=")[0]: value for value in response.headers.get_list("set-cookie")}
    plain, secure = headers["kit_session"], headers["kit_secure"]
    for cookie in (plain, secure):
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Path=/console" in cookie
        assert "Max-Age=28800" in cookie
    assert "Secure" not in plain
    assert "Secure" in secure


def test_form_with_its_token_passes(served: ServedApp) -> None:
    with httpx.Client(base_url=served.base_url) as client:
        client.get("/console/set")
        response = client.post(
            "/console/change", data={"note": "x", "csrf_token": csrf_token("secret-value")}
        )
    assert (response.status_code, response.text) == (200, "changed x")


@pytest.mark.parametrize("token", [None, "", csrf_token("another-session")])
def test_form_without_this_sessions_token_is_403(served: ServedApp, token: str | None) -> None:
    data = {"note": "x"} | ({} if token is None else {"csrf_token": token})
    with httpx.Client(base_url=served.base_url) as client:
        client.get("/console/set")
        response = client.post("/console/change", data=data)
    assert response.status_code == 403


def test_header_token_passes_for_scripts(served: ServedApp) -> None:
    with httpx.Client(base_url=served.base_url) as client:
        client.get("/console/set")
        response = client.post(
            "/console/change",
            data={"note": "y"},
            headers={"X-CSRF-Token": csrf_token("secret-value")},
        )
    assert response.status_code == 200


def test_no_secret_matches_nothing() -> None:
    assert not csrf_token_matches(None, csrf_token(""))
    assert not csrf_token_matches("secret", None)


def test_base_template_renders_chrome_and_escapes(served: ServedApp) -> None:
    response = httpx.get(f"{served.base_url}/console/page?page=3&per_page=10&q=<b>")
    html = response.text
    assert response.status_code == 200
    assert "<title>Rows 21 to 30 · Kit console</title>" in html
    assert "page 3 of 10" in html
    assert "/console/page?per_page=10&amp;q=%3Cb%3E&amp;page=2" in html
    assert 'aria-current="page"' in html
    assert "ada@example.com (viewer)" in html
    assert f'value="{csrf_token("secret-value")}"' in html
    assert 'href="/console/static/vendor/simple.min.css"' in html


def test_static_files_are_served(served: ServedApp) -> None:
    for path in ("consolekit.css", "consolekit.js", "vendor/simple.min.css"):
        assert httpx.get(f"{served.base_url}/console/static/{path}").status_code == 200


@pytest.mark.parametrize("query", ["page=0", "page=x", "per_page=1000"])
def test_page_out_of_bounds_is_422(served: ServedApp, query: str) -> None:
    assert httpx.get(f"{served.base_url}/console/page?{query}").status_code == 422


def test_page_numbers_leave_gaps() -> None:
    page = Page(items=[1], request=PageRequest(number=10, size=1), total=40)
    assert page.numbers() == [1, None, 8, 9, 10, 11, 12, None, 40]
    assert (page.has_previous, page.has_next) == (True, True)
    empty = Page(items=[], request=PageRequest(), total=0)
    assert (empty.pages, empty.first_row, empty.last_row, empty.has_next) == (1, 0, 0, False)
