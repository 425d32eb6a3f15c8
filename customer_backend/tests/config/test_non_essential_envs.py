"""Non-essential variables: the admin's CRUD at /api/admin/config."""

from __future__ import annotations

from typing import Any

import httpx

from timekeeping import ManualClock

CONFIG = "/api/admin/config"


async def test_admin_creates_lists_changes_and_deletes_a_variable(
    backend_client: httpx.AsyncClient, admin_factory: Any, gcc_clock: ManualClock
) -> None:
    admin = await admin_factory("ops@acme.example")

    created = await backend_client.post(
        CONFIG,
        json={"key": "LOG_LEVEL", "value": "info", "category": "logging"},
        headers=admin.headers,
    )
    await backend_client.post(
        CONFIG, json={"key": "FEATURE_X", "value": "false"}, headers=admin.headers
    )
    gcc_clock.advance(60)
    changed = await backend_client.patch(
        f"{CONFIG}/LOG_LEVEL", json={"value": "debug"}, headers=admin.headers
    )
    listed = await backend_client.get(CONFIG, headers=admin.headers)
    deleted = await backend_client.delete(f"{CONFIG}/FEATURE_X", headers=admin.headers)
    after = await backend_client.get(CONFIG, headers=admin.headers)

    assert created.status_code == 201, created.text
    assert created.json()["updatedBy"] == "ops@acme.example"
    assert changed.status_code == 200, changed.text
    assert changed.json()["value"] == "debug"
    assert changed.json()["category"] == "logging"
    assert changed.json()["updatedAt"] > created.json()["updatedAt"]
    assert [env["key"] for env in listed.json()["envs"]] == ["FEATURE_X", "LOG_LEVEL"]
    assert deleted.status_code == 204
    assert [env["key"] for env in after.json()["envs"]] == ["LOG_LEVEL"]


async def test_creating_an_existing_key_is_409_and_keeps_the_value(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()
    await backend_client.post(CONFIG, json={"key": "THEME", "value": "dark"}, headers=admin.headers)

    response = await backend_client.post(
        CONFIG, json={"key": "THEME", "value": "light"}, headers=admin.headers
    )

    assert response.status_code == 409
    assert response.json()["field"] == "key"
    listed = await backend_client.get(CONFIG, headers=admin.headers)
    assert listed.json()["envs"][0]["value"] == "dark"


async def test_patch_can_clear_the_description(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()
    await backend_client.post(
        CONFIG, json={"key": "THEME", "value": "dark", "description": "UI"}, headers=admin.headers
    )

    response = await backend_client.patch(
        f"{CONFIG}/THEME", json={"description": None}, headers=admin.headers
    )

    assert response.json()["description"] is None
    assert response.json()["value"] == "dark"


async def test_patch_of_an_unknown_key_is_404(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    response = await backend_client.patch(
        f"{CONFIG}/MISSING", json={"value": "x"}, headers=admin.headers
    )

    assert response.status_code == 404
    assert response.json()["field"] == "key"


async def test_patch_without_a_change_is_422(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()
    await backend_client.post(CONFIG, json={"key": "THEME", "value": "dark"}, headers=admin.headers)

    response = await backend_client.patch(f"{CONFIG}/THEME", json={}, headers=admin.headers)

    assert response.status_code == 422


async def test_delete_of_an_unknown_key_is_404(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    response = await backend_client.delete(f"{CONFIG}/MISSING", headers=admin.headers)

    assert response.status_code == 404


async def test_create_with_an_invalid_key_is_422_naming_the_key(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    response = await backend_client.post(
        CONFIG, json={"key": "1-bad key", "value": "x"}, headers=admin.headers
    )

    assert response.status_code == 422
    assert response.json()["field"] == "key"


async def test_config_without_an_admin_token_is_401(backend_client: httpx.AsyncClient) -> None:
    response = await backend_client.post(CONFIG, json={"key": "THEME", "value": "dark"})

    assert response.status_code == 401
