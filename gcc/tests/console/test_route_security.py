"""Every console page asks for a session, and every console form for this session's token."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx
from fastapi.routing import APIRoute

from gcc.console.routers import console_routers

ConsoleClientMaker = Callable[..., Awaitable[httpx.AsyncClient]]
OPEN = {"/console/sign-in", "/console/sign-in/link"}
SAMPLES = {"{name}": "acme", "{version}": "2.3.0", "{escalation_id}": str(uuid.uuid4())}


def console_routes() -> list[tuple[str, str]]:
    routes = []
    for route in (route for router in console_routers() for route in router.routes):
        assert isinstance(route, APIRoute)
        path = route.path
        for placeholder, value in SAMPLES.items():
            path = path.replace(placeholder, value)
        assert "{" not in path, f"no sample value for {route.path}"
        routes.extend((method, path) for method in route.methods if route.path not in OPEN)
    assert len(routes) > 10
    return routes


async def test_every_page_sends_a_stranger_to_sign_in(
    gcc_client: httpx.AsyncClient,
) -> None:
    for method, path in console_routes():
        answer = await gcc_client.request(method, path)
        assert answer.status_code == 303, (method, path, answer.status_code)
        assert answer.headers["location"].startswith("/console/sign-in"), (method, path)


async def test_every_form_without_the_token_is_refused(
    console_client: ConsoleClientMaker,
) -> None:
    client = await console_client()
    for method, path in console_routes():
        if method != "POST":
            continue
        answer = await client.post(path, data={"reason": "x", "expires_on": "2027-01-01"})
        assert answer.status_code == 403, (path, answer.status_code)
        assert "This form was refused" in answer.text
