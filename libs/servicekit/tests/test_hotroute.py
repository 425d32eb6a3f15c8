"""HotRoute answers its route ahead of FastAPI and hands every declined request on intact."""

from __future__ import annotations

import json

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError

from servicekit.errors import Forbidden, Unauthorized, install_error_handlers
from servicekit.hotroute import HotRequest, HotResponse, HotRoute, path_pattern


class Note(BaseModel):
    text: str


def make_app(answered: list[str], *, hot: bool = True) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/notes/{name}")
    async def add_note(name: str, note: Note) -> dict[str, str]:
        return {"by": "fastapi", "name": name, "text": note.text}

    @app.get("/other")
    async def other() -> dict[str, str]:
        return {"by": "fastapi"}

    async def answer(request: HotRequest) -> HotResponse | None:
        if request.header(b"x-decline") is not None or not request.is_json():
            return None
        try:
            note = Note.model_validate_json(request.body)
        except ValidationError:
            return None
        name = request.path_params["name"]
        if name == "locked":
            raise Unauthorized("no key")
        if name == "foreign":
            raise Forbidden("not yours", field="name")
        if name == "broken":
            raise RuntimeError("boom")
        if name == "offline":
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")
        answered.append(name)
        body = {"by": "hot", "name": name, "text": note.text}
        return HotResponse(json.dumps(body).encode(), 201, [(b"x-hot", b"1")])

    if hot:
        app.add_middleware(HotRoute, method="POST", path="/notes/{name}", handler=answer)
    return app


@pytest.fixture
def answered() -> list[str]:
    return []


@pytest.fixture
async def client(answered: list[str]) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_app(answered), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_a_request_of_the_route_is_answered_by_the_handler(
    client: httpx.AsyncClient, answered: list[str]
) -> None:
    response = await client.post("/notes/acme", json={"text": "hello"})
    assert response.status_code == 201
    assert response.json() == {"by": "hot", "name": "acme", "text": "hello"}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-hot"] == "1"
    assert answered == ["acme"]


async def test_a_declined_request_reaches_the_app_with_its_body(
    client: httpx.AsyncClient, answered: list[str]
) -> None:
    declined = await client.post("/notes/acme", json={"text": "hello"}, headers={"x-decline": "1"})
    assert declined.status_code == 200
    assert declined.json() == {"by": "fastapi", "name": "acme", "text": "hello"}

    invalid = await client.post("/notes/acme", json={"text": 3})
    assert invalid.status_code == 422
    assert invalid.json()["field"] == "text"

    malformed = await client.post(
        "/notes/acme", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"] == "malformed_json"
    assert answered == []


async def test_a_body_over_the_limit_goes_to_the_app_whole(answered: list[str]) -> None:
    app = make_app(answered, hot=False)
    wrapped = HotRoute(app, method="POST", path="/notes/{name}", handler=_never, max_body_bytes=8)
    text = "x" * 100

    async def chunks():  # type: ignore[no-untyped-def]
        payload = json.dumps({"text": text}).encode()
        for start in range(0, len(payload), 10):
            yield payload[start : start + 10]

    transport = httpx.ASGITransport(app=wrapped)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/notes/acme", content=chunks(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 200
    assert response.json()["text"] == text


async def _never(request: HotRequest) -> HotResponse | None:
    raise AssertionError("the handler must not see a body over the limit")


async def test_service_errors_of_the_handler_answer_in_the_shared_shape(
    client: httpx.AsyncClient,
) -> None:
    locked = await client.post("/notes/locked", json={"text": "x"})
    assert locked.status_code == 401
    assert locked.json() == {"error": "unauthorized", "detail": "no key", "field": None}
    assert locked.headers["www-authenticate"] == "Bearer"

    foreign = await client.post("/notes/foreign", json={"text": "x"})
    assert foreign.status_code == 403
    assert foreign.json() == {"error": "forbidden", "detail": "not yours", "field": "name"}


async def test_an_error_the_app_has_a_handler_for_gets_that_handlers_answer(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/notes/offline", json={"text": "x"})
    assert response.status_code == 503
    assert response.json()["error"] == "service_unavailable"
    assert response.headers["retry-after"] == "5"


async def test_an_unexpected_error_of_the_handler_is_a_json_500(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/notes/broken", json={"text": "x"})
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert "boom" not in response.text


async def test_other_methods_and_paths_go_to_the_app(
    client: httpx.AsyncClient, answered: list[str]
) -> None:
    assert (await client.get("/other")).json() == {"by": "fastapi"}
    assert (await client.get("/notes/acme")).status_code == 405
    assert (await client.post("/notes/acme/more", json={"text": "x"})).status_code == 404
    assert answered == []


def test_path_templates_match_one_segment_per_parameter() -> None:
    pattern = path_pattern("/api/v1/organizations/{name}/heartbeat")
    match = pattern.fullmatch("/api/v1/organizations/acme-1/heartbeat")
    assert match is not None
    assert match.groupdict() == {"name": "acme-1"}
    assert pattern.fullmatch("/api/v1/organizations/a/b/heartbeat") is None
    assert pattern.fullmatch("/api/v1/organizations//heartbeat") is None
    assert path_pattern("/a.b/{x}").fullmatch("/aXb/1") is None
