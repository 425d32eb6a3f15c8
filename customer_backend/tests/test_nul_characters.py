"""A NUL character (which PostgreSQL cannot store in text) is a 422 naming the field, never a
500, and the keep-alive connection that carried it goes on serving."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from testsupport.backend_fixtures import AdminFactory
from wrktalk_testing.connections import assert_connection_still_serves

TASK = f"/internal/agent/tasks/{uuid.uuid4()}"
FOLLOWING_PATH = "/internal/license/status"
"""A request that answers 200 once the refused one is done."""


def log_line(line: str) -> dict[str, str]:
    return {"timestamp": "2026-06-01T12:00:00Z", "stream": "stdout", "line": line}


@pytest.mark.parametrize(
    ("method", "path", "party", "body", "field"),
    [
        (
            "POST",
            f"{TASK}/logs",
            "agent",
            {"lines": [log_line("fine"), log_line("helm: \x00")]},
            "lines.1.line",
        ),
        (
            "POST",
            f"{TASK}/status",
            "agent",
            {"status": "failed", "errorMessage": "helm upgrade failed:\x00", "retryable": False},
            "errorMessage",
        ),
        ("POST", "/internal/config", "agent", {"key": "NEW_FEATURE", "value": "on\x00"}, "value"),
        ("POST", "/internal/config", "agent", {"key": "NEW\x00", "value": "on"}, "key"),
        (
            "POST",
            "/api/admin/config",
            "admin",
            {"key": "THEME", "value": "dark", "description": "Colour\x00scheme"},
            "description",
        ),
        ("PATCH", "/api/admin/config/THEME", "admin", {"value": "\x00"}, "value"),
        (
            "PUT",
            "/api/admin/config/essential",
            "admin",
            {"content": "tier: gold\x00\n"},
            "content",
        ),
    ],
    ids=[
        "task-log-line",
        "task-error-message",
        "agent-config-value",
        "agent-config-key",
        "admin-config-description",
        "admin-config-update",
        "essential-config",
    ],
)
async def test_a_nul_in_a_body_field_is_a_422_naming_the_field(
    method: str,
    path: str,
    party: str,
    body: dict[str, Any],
    field: str,
    backend_client: httpx.AsyncClient,
    agent_headers: dict[str, str],
    admin_factory: AdminFactory,
) -> None:
    headers = agent_headers if party == "agent" else (await admin_factory()).headers

    response = await backend_client.request(method, path, json=body, headers=headers)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert "NUL" in response.json()["detail"]
    await assert_connection_still_serves(backend_client, response, FOLLOWING_PATH, agent_headers)


@pytest.mark.parametrize(
    ("method", "path", "params", "field"),
    [
        ("DELETE", "/api/admin/config/THEME%00", None, "key"),
        ("PATCH", "/api/admin/config/%00", None, "key"),
        ("GET", "/api/admin/deployment/releases", {"status": "scheduled\x00"}, "status"),
    ],
    ids=["config-delete-path", "config-update-path", "deployments-query"],
)
async def test_a_nul_in_a_path_or_query_parameter_is_a_4xx(
    method: str,
    path: str,
    params: dict[str, str] | None,
    field: str,
    backend_client: httpx.AsyncClient,
    agent_headers: dict[str, str],
    admin_factory: AdminFactory,
) -> None:
    admin = await admin_factory()
    body = {"value": "dark"} if method == "PATCH" else None

    response = await backend_client.request(
        method, path, params=params, json=body, headers=admin.headers
    )

    assert 400 <= response.status_code < 500, response.text
    assert response.json()["field"] == field
    await assert_connection_still_serves(backend_client, response, FOLLOWING_PATH, agent_headers)
