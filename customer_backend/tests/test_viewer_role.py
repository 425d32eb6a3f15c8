"""A viewer's token reads the Control Tower API and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


async def test_a_viewer_reads_but_every_change_is_403(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    viewer = await admin_factory("vera@acme.example", role="viewer")
    read = await backend_client.get("/api/admin/deployment/releases", headers=viewer.headers)
    assert read.status_code == 200
    for method, path, body in [
        (
            "POST",
            "/api/admin/deployment/schedule",
            {"deploymentId": str(uuid.uuid4()), "scheduledFor": "2030-01-01T00:00:00Z"},
        ),
        ("POST", "/api/admin/deployment/rollback", {}),
        ("POST", "/api/admin/config", {"key": "LOG_LEVEL", "value": "debug"}),
        ("PUT", "/api/admin/maintenance", {"enabled": True}),
    ]:
        response = await backend_client.request(method, path, json=body, headers=viewer.headers)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"] == "forbidden"
    envs = await backend_client.get("/api/admin/config", headers=viewer.headers)
    assert envs.json()["envs"] == []
