"""The operator API of organizations, over HTTP against the served GCC."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import select

from gcc.organizations.models import Organization
from gcc.security import hash_api_key
from servicekit.db import SessionFactory
from signing import build_headers, verify
from timekeeping import ManualClock


def create_body(name: str = "customer-x", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "deploymentType": "kubernetes",
        "webhookEndpoint": "https://customer-x.example.com/api/deployment/webhook",
        "licenseExpiresAt": "2027-06-01T00:00:00Z",
        "currentVersion": "2.2.0",
        "contacts": {
            "spocName": "Ada Admin",
            "spocEmail": "ada@customer-x.example.com",
            "spocPhone": "+1 555 0100",
        },
        "accountManagerEmail": "am@wrktalk.example.com",
    }
    body.update(overrides)
    return body


def heartbeat_body() -> dict[str, Any]:
    return {"status": "healthy", "timestamp": "2026-06-01T12:00:00Z"}


def assert_no_secrets(document: Any) -> None:
    text = repr(document)
    for key in ("apiKey", "webhookSecret", "apiKeyHash", "previousWebhookSecret"):
        assert key not in text


async def test_create_answers_201_with_key_and_secret_once(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str], gcc_sessions: SessionFactory
) -> None:
    response = await gcc_client.post(
        "/api/operator/organizations", json=create_body(), headers=operator_headers
    )

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["apiKey"].startswith("gcc_")
    assert created["webhookSecret"].startswith("whsec_")
    view = created["organization"]
    assert view["name"] == "customer-x"
    assert view["deploymentType"] == "kubernetes"
    assert view["currentVersion"] == "2.2.0"
    assert view["healthStatus"] == "unknown"
    assert view["contacts"]["spocEmail"] == "ada@customer-x.example.com"
    assert view["accountManagerEmail"] == "am@wrktalk.example.com"
    assert_no_secrets(view)
    async with gcc_sessions() as session:
        row = (await session.exec(select(Organization))).one()
    assert row.api_key_hash == hash_api_key(created["apiKey"])
    assert created["apiKey"] not in repr(row.model_dump())


async def test_get_and_list_never_show_secrets(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    created = (
        await gcc_client.post(
            "/api/operator/organizations", json=create_body(), headers=operator_headers
        )
    ).json()

    one = await gcc_client.get("/api/operator/organizations/customer-x", headers=operator_headers)
    listed = await gcc_client.get("/api/operator/organizations", headers=operator_headers)

    assert one.status_code == 200
    assert listed.status_code == 200
    for document in (one.text, listed.text):
        assert created["apiKey"] not in document
        assert created["webhookSecret"] not in document
        assert_no_secrets(document)
    assert listed.json()["total"] == 1


async def test_created_key_opens_the_customer_api(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    created = (
        await gcc_client.post(
            "/api/operator/organizations", json=create_body(), headers=operator_headers
        )
    ).json()

    response = await gcc_client.post(
        "/api/v1/organizations/customer-x/heartbeat",
        json=heartbeat_body(),
        headers={"Authorization": f"Bearer {created['apiKey']}"},
    )

    assert response.status_code == 200
    assert response.json() == {"received": True}


async def test_duplicate_name_is_409(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    first = await gcc_client.post(
        "/api/operator/organizations", json=create_body(), headers=operator_headers
    )
    second = await gcc_client.post(
        "/api/operator/organizations", json=create_body(), headers=operator_headers
    )

    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["field"] == "name"


async def test_name_of_a_deleted_organization_is_not_reused(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    await gcc_client.post(
        "/api/operator/organizations", json=create_body(), headers=operator_headers
    )
    await gcc_client.delete("/api/operator/organizations/customer-x", headers=operator_headers)

    again = await gcc_client.post(
        "/api/operator/organizations", json=create_body(), headers=operator_headers
    )

    assert again.status_code == 409


async def test_bad_input_is_422_naming_the_field(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    cases = {
        "name": create_body(name="Customer X"),
        "deploymentType": create_body(deploymentType="openshift"),
        "webhookEndpoint": create_body(webhookEndpoint="customer-x.example.com/hook"),
        "licenseExpiresAt": create_body(licenseExpiresAt="2027-06-01T00:00:00"),
        "currentVersion": create_body(currentVersion="two"),
        "contacts.spocEmail": create_body(contacts={"spocEmail": "not an email"}),
        "accountManagerEmail": create_body(accountManagerEmail="nobody"),
    }
    for field, body in cases.items():
        response = await gcc_client.post(
            "/api/operator/organizations", json=body, headers=operator_headers
        )
        assert response.status_code == 422, (field, response.text)
        assert response.json()["field"] == field, response.text


async def test_missing_field_and_malformed_json_are_4xx(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    body = create_body()
    del body["webhookEndpoint"]
    missing = await gcc_client.post(
        "/api/operator/organizations", json=body, headers=operator_headers
    )
    malformed = await gcc_client.post(
        "/api/operator/organizations",
        content=b'{"name": ',
        headers={**operator_headers, "Content-Type": "application/json"},
    )

    assert missing.status_code == 422
    assert missing.json()["field"] == "webhookEndpoint"
    assert malformed.status_code == 400
    assert malformed.json()["error"] == "malformed_json"


async def test_operator_routes_refuse_missing_or_customer_credentials(
    gcc_client: httpx.AsyncClient, organization_factory: Any
) -> None:
    customer = await organization_factory("customer-y")

    anonymous = await gcc_client.get("/api/operator/organizations")
    as_customer = await gcc_client.get("/api/operator/organizations", headers=customer.headers)
    create_as_customer = await gcc_client.post(
        "/api/operator/organizations", json=create_body(), headers=customer.headers
    )

    assert anonymous.status_code == 401
    assert as_customer.status_code == 401
    assert create_as_customer.status_code == 401


async def test_list_filters_by_health_and_deployment_type(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str], organization_factory: Any
) -> None:
    await organization_factory("docker-online", deployment_type="docker", health_status="online")
    await organization_factory("k8s-online", deployment_type="kubernetes", health_status="online")
    await organization_factory("k8s-offline", deployment_type="kubernetes", health_status="offline")

    online = await gcc_client.get(
        "/api/operator/organizations", params={"health": "online"}, headers=operator_headers
    )
    kubernetes_online = await gcc_client.get(
        "/api/operator/organizations",
        params={"health": "online", "deploymentType": "kubernetes"},
        headers=operator_headers,
    )
    bad = await gcc_client.get(
        "/api/operator/organizations", params={"health": "sleepy"}, headers=operator_headers
    )

    assert [item["name"] for item in online.json()["organizations"]] == [
        "docker-online",
        "k8s-online",
    ]
    assert [item["name"] for item in kubernetes_online.json()["organizations"]] == ["k8s-online"]
    assert bad.status_code == 422
    assert bad.json()["field"] == "health"


async def test_get_unknown_organization_is_404(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    response = await gcc_client.get("/api/operator/organizations/nobody", headers=operator_headers)

    assert response.status_code == 404
    assert response.json()["field"] == "name"


async def test_patch_changes_only_the_fields_given(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str], gcc_clock: ManualClock
) -> None:
    await gcc_client.post(
        "/api/operator/organizations", json=create_body(), headers=operator_headers
    )
    gcc_clock.advance(timedelta(minutes=5))

    response = await gcc_client.patch(
        "/api/operator/organizations/customer-x",
        json={
            "webhookEndpoint": "https://new.customer-x.example.com/hook",
            "contacts": {"spocPhone": "+1 555 0199"},
            "deploymentType": "gitops",
        },
        headers=operator_headers,
    )

    assert response.status_code == 200, response.text
    view = response.json()
    assert view["webhookEndpoint"] == "https://new.customer-x.example.com/hook"
    assert view["deploymentType"] == "gitops"
    assert view["contacts"] == {
        "spocName": "Ada Admin",
        "spocEmail": "ada@customer-x.example.com",
        "spocPhone": "+1 555 0199",
    }
    assert view["accountManagerEmail"] == "am@wrktalk.example.com"
    assert view["licenseExpiresAt"] == "2027-06-01T00:00:00Z"
    assert view["updatedAt"] != view["createdAt"]


async def test_patch_null_clears_license_and_account_manager(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    await gcc_client.post(
        "/api/operator/organizations", json=create_body(), headers=operator_headers
    )

    response = await gcc_client.patch(
        "/api/operator/organizations/customer-x",
        json={"licenseExpiresAt": None, "accountManagerEmail": None},
        headers=operator_headers,
    )

    assert response.status_code == 200
    assert response.json()["licenseExpiresAt"] is None
    assert response.json()["accountManagerEmail"] is None


async def test_patch_refuses_bad_values_naming_the_field(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    await gcc_client.post(
        "/api/operator/organizations", json=create_body(), headers=operator_headers
    )

    bad_type = await gcc_client.patch(
        "/api/operator/organizations/customer-x",
        json={"deploymentType": "vm"},
        headers=operator_headers,
    )
    null_endpoint = await gcc_client.patch(
        "/api/operator/organizations/customer-x",
        json={"webhookEndpoint": None},
        headers=operator_headers,
    )
    unknown = await gcc_client.patch(
        "/api/operator/organizations/nobody", json={}, headers=operator_headers
    )

    assert bad_type.status_code == 422
    assert bad_type.json()["field"] == "deploymentType"
    assert null_endpoint.status_code == 422
    assert null_endpoint.json()["field"] == "webhookEndpoint"
    assert unknown.status_code == 404


async def test_delete_soft_deletes_and_the_key_stops_working(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str], gcc_sessions: SessionFactory
) -> None:
    created = (
        await gcc_client.post(
            "/api/operator/organizations", json=create_body(), headers=operator_headers
        )
    ).json()

    deleted = await gcc_client.delete(
        "/api/operator/organizations/customer-x", headers=operator_headers
    )
    after = await gcc_client.get("/api/operator/organizations/customer-x", headers=operator_headers)
    heartbeat = await gcc_client.post(
        "/api/v1/organizations/customer-x/heartbeat",
        json=heartbeat_body(),
        headers={"Authorization": f"Bearer {created['apiKey']}"},
    )
    again = await gcc_client.delete(
        "/api/operator/organizations/customer-x", headers=operator_headers
    )

    assert deleted.status_code == 204
    assert deleted.content == b""
    assert after.status_code == 404
    assert heartbeat.status_code == 401
    assert again.status_code == 404
    async with gcc_sessions() as session:
        row = (await session.exec(select(Organization))).one()
    assert row.deleted_at is not None


async def test_rotate_secret_keeps_the_previous_one_for_the_grace_period(
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    created = (
        await gcc_client.post(
            "/api/operator/organizations", json=create_body(), headers=operator_headers
        )
    ).json()

    response = await gcc_client.post(
        "/api/operator/organizations/customer-x/rotate-secret", headers=operator_headers
    )

    assert response.status_code == 200, response.text
    rotated = response.json()
    assert rotated["webhookSecret"].startswith("whsec_")
    assert rotated["webhookSecret"] != created["webhookSecret"]
    assert rotated["previousSecretExpiresAt"] == "2026-06-02T12:00:00Z"
    async with gcc_sessions() as session:
        row = (await session.exec(select(Organization))).one()
    assert row.webhook_secret == rotated["webhookSecret"]
    assert row.previous_webhook_secret == created["webhookSecret"]
    assert row.previous_secret_expires_at == gcc_clock.now() + timedelta(hours=24)
    # a receiver holding either secret accepts a webhook signed with both
    assert row.previous_webhook_secret is not None
    headers = build_headers(
        [row.webhook_secret, row.previous_webhook_secret],
        "msg_1",
        int(gcc_clock.now().timestamp()),
        b"{}",
    )
    for secret in (created["webhookSecret"], rotated["webhookSecret"]):
        verify(secret, headers, b"{}", now=int(gcc_clock.now().timestamp()))
    view = await gcc_client.get("/api/operator/organizations/customer-x", headers=operator_headers)
    assert rotated["webhookSecret"] not in view.text
    assert created["webhookSecret"] not in view.text


async def test_rotate_secret_of_unknown_organization_is_404(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    response = await gcc_client.post(
        "/api/operator/organizations/nobody/rotate-secret", headers=operator_headers
    )

    assert response.status_code == 404


async def test_fleet_counts_per_health_state_and_version(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str], organization_factory: Any
) -> None:
    await organization_factory("a", current_version="2.3.0", health_status="online")
    await organization_factory("b", current_version="2.3.0", health_status="online")
    await organization_factory("c", current_version="2.10.0", health_status="critical")
    await organization_factory("d", current_version=None)
    deleted = await organization_factory("e", current_version="1.0.0", health_status="online")
    await gcc_client.delete(
        f"/api/operator/organizations/{deleted.organization.name}", headers=operator_headers
    )

    response = await gcc_client.get("/api/operator/fleet", headers=operator_headers)

    assert response.status_code == 200
    assert response.json() == {
        "total": 4,
        "health": {"online": 2, "degraded": 0, "offline": 0, "critical": 1, "unknown": 1},
        "versions": [
            {"version": "2.10.0", "count": 1},
            {"version": "2.3.0", "count": 2},
            {"version": None, "count": 1},
        ],
    }


async def test_patch_places_the_organization_in_a_ring(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    created = await gcc_client.post(
        "/api/operator/organizations", json=create_body(), headers=operator_headers
    )

    response = await gcc_client.patch(
        "/api/operator/organizations/customer-x", json={"ring": "canary"}, headers=operator_headers
    )
    unknown_ring = await gcc_client.patch(
        "/api/operator/organizations/customer-x", json={"ring": "beta"}, headers=operator_headers
    )
    bad_name = await gcc_client.patch(
        "/api/operator/organizations/customer-x", json={"ring": "Canary!"}, headers=operator_headers
    )

    assert created.json()["organization"]["ring"] == "general"
    assert response.status_code == 200, response.text
    assert response.json()["ring"] == "canary"
    assert unknown_ring.status_code == 422
    assert unknown_ring.json()["field"] == "ring"
    assert "canary, early, general" in unknown_ring.json()["detail"]
    assert bad_name.status_code == 422
    assert bad_name.json()["field"] == "ring"
