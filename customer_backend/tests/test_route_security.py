"""Every backend route refuses a caller without credentials and one holding another party's:
the Control Tower takes an admin token, the agent API the agent secret, the webhook a
signature made with the webhook secret, the application's settings the app config token."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from signing import build_headers, generate_secret
from timekeeping import ManualClock

PUBLIC = {"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/static"}
WEBHOOK = "/api/deployment/webhook"
APPLICATION = "/api/app/config"
SAMPLE_PATH_VALUES = {
    "deployment_id": str(uuid.uuid4()),
    "key": "LOG_LEVEL",
    "taskId": str(uuid.uuid4()),
    "task_id": str(uuid.uuid4()),
}


def concrete(path: str) -> str:
    for key, value in SAMPLE_PATH_VALUES.items():
        path = path.replace(f"{{{key}}}", value)
    assert "{" not in path, f"no sample value for a parameter of {path}"
    return path


def party_of(path: str) -> str:
    if path.startswith("/api/admin/"):
        return "admin"
    if path.startswith("/internal/"):
        return "agent"
    if path == WEBHOOK:
        return "gcc"
    if path == APPLICATION:
        return "application"
    raise AssertionError(f"route {path} belongs to no known party: add it here")


async def routes(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    document: dict[str, Any] = (await client.get("/openapi.json")).json()
    found = [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if path not in PUBLIC
    ]
    assert len(found) > 15
    return found


async def call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
    return await client.request(method, concrete(path), headers=headers or {}, **body)


async def test_every_route_refuses_a_caller_without_credentials(
    backend_client: httpx.AsyncClient,
) -> None:
    for method, path in await routes(backend_client):
        response = await call(backend_client, method, path)
        assert response.status_code == 401, (method, path, response.text)


async def test_every_route_refuses_another_partys_credentials(
    backend_client: httpx.AsyncClient,
    agent_headers: dict[str, str],
    admin_factory: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    body = json.dumps({"eventType": "release.published"}).encode()
    forged = build_headers(
        generate_secret(), f"msg_{uuid.uuid4().hex}", int(gcc_clock.now().timestamp()), body
    )
    wrong_party = {
        "admin": agent_headers,
        "agent": {**admin.headers, "X-Agent-Secret": "not-the-agent-secret"},
        "gcc": {**forged, "Content-Type": "application/json"},
        "application": {**admin.headers, **agent_headers},
    }
    for method, path in await routes(backend_client):
        if path == WEBHOOK:
            response = await backend_client.post(path, content=body, headers=wrong_party["gcc"])
        else:
            response = await call(backend_client, method, path, wrong_party[party_of(path)])
        assert response.status_code == 401, (method, path, response.text)


MALFORMED_BODIES = {
    "json-syntax": ("application/json", b'{"key": '),
    "json-nested-100000-deep": ("application/json", b"[" * 100_000),
    "multipart": ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form"),
    "form": ("application/x-www-form-urlencoded", b"%%%"),
}


@pytest.mark.parametrize("kind", MALFORMED_BODIES)
async def test_every_route_refuses_a_caller_without_credentials_whatever_the_body(
    backend_client: httpx.AsyncClient, kind: str
) -> None:
    content_type, content = MALFORMED_BODIES[kind]
    for method, path in await routes(backend_client):
        response = await backend_client.request(
            method, concrete(path), content=content, headers={"Content-Type": content_type}
        )
        assert response.status_code == 401, (method, path, response.text)


@pytest.mark.parametrize("kind", MALFORMED_BODIES)
async def test_every_route_refuses_another_partys_credentials_whatever_the_body(
    backend_client: httpx.AsyncClient,
    agent_headers: dict[str, str],
    admin_factory: Any,
    kind: str,
) -> None:
    admin = await admin_factory()
    wrong_party = {
        "admin": agent_headers,
        "agent": {**admin.headers, "X-Agent-Secret": "not-the-agent-secret"},
        "gcc": {},
        "application": {**admin.headers, **agent_headers},
    }
    content_type, content = MALFORMED_BODIES[kind]
    for method, path in await routes(backend_client):
        headers = {**wrong_party[party_of(path)], "Content-Type": content_type}
        response = await backend_client.request(
            method, concrete(path), content=content, headers=headers
        )
        assert response.status_code == 401, (method, path, response.text)


async def test_admin_token_of_a_deactivated_admin_is_refused(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    backend_sessions: Any,
    gcc_clock: ManualClock,
) -> None:
    from customer_backend.admins.service import deactivate_admin

    admin = await admin_factory()
    async with backend_sessions() as session:
        await deactivate_admin(session, clock=gcc_clock, email=admin.admin.email)
        await session.commit()
    response = await backend_client.get("/api/admin/deployment/releases", headers=admin.headers)
    assert response.status_code == 401
