"""The shared console shell and sign-in pages in a small app served for real on loopback.

The app declares a console as a tier does, with a sign-in backend of its own that keeps its
links and sessions in memory (the tiers' tests run the same pages on their real tables).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from consolekit.csrf import check_csrf, csrf_token
from consolekit.signin import LinkState
from consolekit.signin_pages import sign_in_router
from consolekit.templating import console_templates
from consolekit.web import Console, NavEntry, SignInRequired, ViewerRefused, is_htmx
from wrktalk_testing.servers import ServedApp

TEMPLATES = {
    "sign_in.html": "<form>{{ csrf }} {{ next_path }}</form>",
    "sign_in_sent.html": "sent to {{ email }} for {{ minutes }} minutes",
    "sign_in_link.html": "link {{ token }} {{ csrf }} {{ next_path }}",
    "home.html": (
        '{% extends "consolekit/base.html" %}{% block content %}'
        '<p id="who">{{ user.signed_in_as }}</p>{% endblock %}'
    ),
}


class BadRequest(Exception):
    """A tier's service error: a status and a sentence."""

    status_code = 409
    detail = "Another deployment is active."


@dataclass(frozen=True)
class Person:
    email: str
    role: str
    session_token: str

    @property
    def signed_in_as(self) -> str:
        return self.email

    @property
    def can_act(self) -> bool:
        return self.role == "admin"

    @property
    def csrf_token(self) -> str:
        return csrf_token(self.session_token)


@dataclass
class MemorySignIn:
    """Links and sessions of the test app, in memory."""

    links: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, Person] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)
    plain_http: bool = True
    link_minutes: int = 15

    async def request_link(self, *, email: str, next_path: str) -> None:
        self.asked.append((email, next_path))

    async def check_link(self, *, token: str) -> LinkState:
        return LinkState.VALID if token in self.links else LinkState.UNKNOWN

    async def sign_in(self, *, token: str) -> tuple[LinkState, str | None]:
        email = self.links.pop(token, None)
        if email is None:
            return LinkState.USED, None
        session_token = f"session-of-{email}"
        role = "viewer" if email.startswith("viewer") else "admin"
        self.sessions[session_token] = Person(email, role, session_token)
        return LinkState.VALID, session_token

    async def sign_out(self, *, session_token: str) -> None:
        self.sessions.pop(session_token, None)


def build_app(directory: Path, backend: MemorySignIn) -> FastAPI:
    console = Console(
        name="Kit console",
        prefix="/console",
        session_cookie_name="kit_console",
        form_cookie_name="kit_form",
        templates=console_templates(directory),
        nav=(
            NavEntry("home", "Home", ""),
            NavEntry("people", "People", "/people", for_actors_only=True),
        ),
        home_label="Back home",
        viewer_refusal="Viewers change nothing.",
    )
    app = FastAPI()

    async def signed_in(request: Request) -> Person:
        token = console.session_cookie(plain_http=True).read(request)
        person = backend.sessions.get(token or "")
        if person is None:
            raise SignInRequired
        await check_csrf(request, person.session_token)
        return person

    async def session_token(person: Annotated[Person, Depends(signed_in)]) -> str:
        return person.session_token

    async def memory_backend() -> MemorySignIn:
        return backend

    app.include_router(
        sign_in_router(console, backend=memory_backend, signed_in_session=session_token)
    )

    @app.get("/console")
    async def home(request: Request, person: Annotated[Person, Depends(signed_in)]) -> Response:
        return console.render(request, "home.html", {}, user=person, current="home")

    @app.post("/console/act")
    async def act(person: Annotated[Person, Depends(signed_in)]) -> Response:
        if not person.can_act:
            raise ViewerRefused
        return console.see_other("", done="Done: it was changed.")

    @app.post("/console/refuse")
    async def refuse(person: Annotated[Person, Depends(signed_in)]) -> Response:
        raise BadRequest

    @app.get("/api/missing")
    async def api_missing() -> JSONResponse:
        return JSONResponse({"error": "notFound"}, status_code=404)

    console.install(app, service_error=BadRequest)
    return app


@pytest.fixture(scope="module")
def backend() -> MemorySignIn:
    return MemorySignIn()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, backend: MemorySignIn) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("templates")
    for name, text in TEMPLATES.items():
        (directory / name).write_text(text)
    app = ServedApp(build_app(directory, backend))
    app.start()
    yield app.base_url
    app.stop()


def sign_in(client: httpx.Client, backend: MemorySignIn, email: str) -> None:
    backend.links[f"token-{email}"] = email
    page = client.get("/console/sign-in/link", params={"token": f"token-{email}"})
    form_token = re.search(r"link \S+ (\S+)", page.text)
    assert form_token is not None
    answer = client.post(
        "/console/sign-in/link",
        data={"token": f"token-{email}", "csrf_token": form_token[1], "next": "/console"},
        follow_redirects=False,
    )
    assert answer.status_code == 303


def test_asking_for_a_link_needs_the_pre_session_token(served: str, backend: MemorySignIn) -> None:
    with httpx.Client(base_url=served) as client:
        page = client.get("/console/sign-in", params={"next": "https://elsewhere.example/"})
        assert "kit_form" in client.cookies
        assert page.text.endswith("/console</form>")  # a next path outside is refused
        form_token = page.text.split("<form>")[1].split()[0]
        refused = client.post("/console/sign-in", data={"email": "ada@example.com"})
        sent = client.post(
            "/console/sign-in",
            data={"email": " ada@example.com ", "csrf_token": form_token, "next": "/console/x"},
        )
    assert refused.status_code == 403
    assert "Nothing was changed" in refused.text
    assert (sent.status_code, sent.text) == (200, "sent to ada@example.com for 15 minutes")
    assert backend.asked[-1] == (" ada@example.com ", "/console/x")


def test_a_link_signs_in_once_and_a_spent_one_says_so(served: str, backend: MemorySignIn) -> None:
    with httpx.Client(base_url=served) as client:
        sign_in(client, backend, "ada@example.com")
        home = client.get("/console")
        again = client.get("/console/sign-in/link", params={"token": "token-ada@example.com"})
    assert home.status_code == 200
    assert '<p id="who">ada@example.com</p>' in home.text
    assert 'href="/console/people"' in home.text
    assert home.headers["content-security-policy"].startswith("default-src 'self'")
    assert home.headers["cache-control"] == "no-store"
    assert again.status_code == 404
    assert "This sign-in link is not valid" in again.text


def test_a_form_answers_with_a_redirect_and_its_sentence(
    served: str, backend: MemorySignIn
) -> None:
    with httpx.Client(base_url=served, follow_redirects=True) as client:
        sign_in(client, backend, "ada@example.com")
        token = csrf_token("session-of-ada@example.com")
        answer = client.post("/console/act", data={"csrf_token": token})
    assert answer.status_code == 200
    assert "Done: it was changed." in answer.text


def test_a_viewer_sees_no_actors_page_and_is_refused_an_action(
    served: str, backend: MemorySignIn
) -> None:
    with httpx.Client(base_url=served) as client:
        sign_in(client, backend, "viewer@example.com")
        home = client.get("/console")
        token = csrf_token("session-of-viewer@example.com")
        refused = client.post("/console/act", data={"csrf_token": token})
    assert 'href="/console/people"' not in home.text
    assert refused.status_code == 403
    assert "Viewers change nothing." in refused.text


def test_errors_are_pages_on_the_console_and_json_elsewhere(
    served: str, backend: MemorySignIn
) -> None:
    with httpx.Client(base_url=served) as client:
        sign_in(client, backend, "ada@example.com")
        token = csrf_token("session-of-ada@example.com")
        service_error = client.post("/console/refuse", data={"csrf_token": token})
        missing_page = client.get("/console/nowhere")
        missing_api = client.get("/api/missing")
    assert service_error.status_code == 409
    assert "Not possible right now" in service_error.text
    assert "Another deployment is active." in service_error.text
    assert missing_page.status_code == 404
    assert "Page not found" in missing_page.text
    assert missing_api.json() == {"error": "notFound"}


def test_htmx_gets_error_pages_for_the_whole_body(served: str, backend: MemorySignIn) -> None:
    htmx = {"HX-Request": "true"}
    with httpx.Client(base_url=served) as client:
        sign_in(client, backend, "ada@example.com")
        token = csrf_token("session-of-ada@example.com")
        refused = client.post("/console/refuse", data={"csrf_token": token}, headers=htmx)
        forged = client.post("/console/act", headers=htmx)
    with httpx.Client(base_url=served) as stranger:
        signed_out = stranger.get("/console", headers=htmx)
        plain = stranger.get("/console")
    for answer in (refused, forged):
        assert answer.headers["hx-retarget"] == "body"
        assert answer.headers["hx-reswap"] == "innerHTML"
    assert (refused.status_code, forged.status_code) == (409, 403)
    assert (signed_out.status_code, signed_out.headers["hx-redirect"]) == (
        204,
        "/console/sign-in?next=/console",
    )
    assert (plain.status_code, plain.headers["location"]) == (303, "/console/sign-in?next=/console")


def test_sign_out_needs_its_token_and_ends_the_session(served: str, backend: MemorySignIn) -> None:
    with httpx.Client(base_url=served) as client:
        sign_in(client, backend, "ada@example.com")
        forged = client.post("/console/sign-out")
        still_in = client.get("/console")
        token = csrf_token("session-of-ada@example.com")
        out = client.post("/console/sign-out", data={"csrf_token": token})
        after = client.get("/console")
    assert forged.status_code == 403
    assert still_in.status_code == 200
    assert (out.status_code, out.headers["location"]) == (303, "/console/sign-in?signed_out=true")
    assert after.status_code == 303


def test_is_htmx_reads_the_request_header() -> None:
    def request(headers: list[tuple[bytes, bytes]]) -> Request:
        return Request({"type": "http", "headers": headers, "method": "GET", "path": "/"})

    assert is_htmx(request([(b"hx-request", b"true")]))
    assert not is_htmx(request([]))
