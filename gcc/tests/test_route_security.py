"""Every GCC route refuses a caller without credentials and one holding another party's."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

PUBLIC = {"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/static"}
SAMPLE_PATH_VALUES = {"version": "2.3.0", "name": "acme", "id": str(uuid.uuid4())}


def party_of(path: str) -> str:
    if path.startswith("/api/operator/"):
        return "operator"
    if path.startswith("/api/internal/"):
        return "ci"
    if path.startswith(("/api/artifacts/", "/api/v1/")):
        return "customer"
    raise AssertionError(f"route {path} belongs to no known party: add it here")


def concrete(path: str) -> str:
    for key, value in SAMPLE_PATH_VALUES.items():
        path = path.replace(f"{{{key}}}", value)
    assert "{" not in path, f"no sample value for a parameter of {path}"
    return path


async def routes(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    document: dict[str, Any] = (await client.get("/openapi.json")).json()
    found = [
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if path not in PUBLIC
    ]
    assert len(found) > 20
    return found


# Valid bodies, so that only the credentials are wrong.
SAMPLE_BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/organizations/{name}/heartbeat": {
        "status": "healthy",
        "timestamp": "2026-06-01T12:00:00Z",
    }
}


async def call(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    body = {"json": SAMPLE_BODIES.get(path, {})} if method in {"POST", "PUT", "PATCH"} else {}
    return await client.request(method, concrete(path), **body, **kwargs)


async def test_every_route_refuses_a_caller_without_credentials(
    gcc_client: httpx.AsyncClient,
) -> None:
    refused = []
    for method, path in await routes(gcc_client):
        response = await call(gcc_client, method, path)
        refused.append((method, path, response.status_code))
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["error"] == "unauthorized"
    assert refused


async def test_every_route_refuses_another_partys_credentials(
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    operator_headers: dict[str, str],
    organization_factory: Any,
) -> None:
    other_customer = await organization_factory("globex")
    wrong_party = {
        "operator": ci_headers,
        "ci": other_customer.headers,
        "customer": operator_headers,
    }
    for method, path in await routes(gcc_client):
        response = await call(gcc_client, method, path, headers=wrong_party[party_of(path)])
        assert response.status_code == 401, (method, path, response.text)


MALFORMED_BODIES = {
    "json-syntax": ("application/json", b'{"version": '),
    "json-nested-100000-deep": ("application/json", b"[" * 100_000),
    "multipart": ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form"),
    "form": ("application/x-www-form-urlencoded", b"%%%"),
}


@pytest.mark.parametrize("kind", MALFORMED_BODIES)
async def test_every_route_refuses_a_caller_without_credentials_whatever_the_body(
    gcc_client: httpx.AsyncClient, kind: str
) -> None:
    content_type, content = MALFORMED_BODIES[kind]
    for method, path in await routes(gcc_client):
        response = await gcc_client.request(
            method, concrete(path), content=content, headers={"Content-Type": content_type}
        )
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize("kind", MALFORMED_BODIES)
async def test_every_route_refuses_another_partys_credentials_whatever_the_body(
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    operator_headers: dict[str, str],
    organization_factory: Any,
    kind: str,
) -> None:
    other_customer = await organization_factory("globex")
    wrong_party = {
        "operator": ci_headers,
        "ci": other_customer.headers,
        "customer": operator_headers,
    }
    content_type, content = MALFORMED_BODIES[kind]
    for method, path in await routes(gcc_client):
        headers = {**wrong_party[party_of(path)], "Content-Type": content_type}
        response = await gcc_client.request(
            method, concrete(path), content=content, headers=headers
        )
        assert response.status_code == 401, (method, path, response.text)


async def test_a_body_nested_too_deeply_is_422_for_a_caller_with_credentials(
    gcc_client: httpx.AsyncClient, ci_headers: dict[str, str]
) -> None:
    response = await gcc_client.post(
        "/api/internal/releases",
        content=b'{"a":' * 100_000,
        headers={**ci_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "body"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/organizations/acme/updates"),
        ("POST", "/api/v1/organizations/acme/heartbeat"),
    ],
)
async def test_a_customer_key_does_not_open_another_organization(
    gcc_client: httpx.AsyncClient, organization_factory: Any, method: str, path: str
) -> None:
    await organization_factory("acme")
    other_customer = await organization_factory("globex")
    body = (
        {"json": {"status": "healthy", "timestamp": "2026-06-01T12:00:00Z"}}
        if method == "POST"
        else {}
    )
    response = await gcc_client.request(method, path, headers=other_customer.headers, **body)
    assert response.status_code == 403


async def test_every_route_refuses_another_partys_credentials_with_an_invalid_body(
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    operator_headers: dict[str, str],
    organization_factory: Any,
) -> None:
    other_customer = await organization_factory("globex")
    wrong_party = {
        "operator": ci_headers,
        "ci": other_customer.headers,
        "customer": operator_headers,
    }
    invalid = {"status": 42, "timestamp": "yesterday", "version": ["x"], "name": None}
    for method, path in await routes(gcc_client):
        body = {"json": invalid} if method in {"POST", "PUT", "PATCH"} else {}
        response = await gcc_client.request(
            method, concrete(path), headers=wrong_party[party_of(path)], **body
        )
        assert response.status_code == 401, (method, path, response.text)


@pytest.mark.parametrize(
    "content", [b"{", b'{"status": "sleepy"}', b"[" * 100_000], ids=["malformed", "invalid", "deep"]
)
async def test_a_heartbeat_with_an_unknown_key_is_401_whatever_its_body(
    gcc_client: httpx.AsyncClient, organization_factory: Any, content: bytes
) -> None:
    await organization_factory("acme")
    response = await gcc_client.post(
        "/api/v1/organizations/acme/heartbeat",
        content=content,
        headers={"Authorization": "Bearer gcc_unknown", "Content-Type": "application/json"},
    )

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "unauthorized"
