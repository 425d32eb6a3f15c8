"""`GET /api/operator/audit`: changes made through the operator API, with who made them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from contracts import AuditAction, EscalationType
from gcc.audit import service as audit_service
from gcc.audit.service import Actor
from gcc.escalations.service import raise_escalation
from gcc.operators.service import add_operator
from servicekit.db import SessionFactory, session_scope
from timekeeping import ManualClock


async def test_resolving_an_escalation_records_the_reason(
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    created = await organization_factory("customer-x")
    async with session_scope(gcc_sessions) as session:
        await raise_escalation(
            session,
            clock=gcc_clock,
            escalation_type=EscalationType.CLIENT_OFFLINE,
            organization_id=created.organization.id,
            reason="not seen",
        )
    listed = await gcc_client.get("/api/operator/escalations", headers=operator_headers)
    escalation_id = listed.json()["escalations"][0]["id"]

    await gcc_client.post(
        f"/api/operator/escalations/{escalation_id}/resolve",
        json={"resolution": "customer restarted the backend"},
        headers=operator_headers,
    )
    trail = await gcc_client.get(
        "/api/operator/audit", params={"organization": "customer-x"}, headers=operator_headers
    )

    [entry] = trail.json()["entries"]
    assert entry["action"] == "escalation.resolve"
    assert entry["actor"] == "operator token"
    assert entry["escalationId"] == escalation_id
    assert entry["details"]["reason"] == "customer restarted the backend"


async def test_license_change_and_rotation_are_recorded_apart_from_other_fields(
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    organization_factory: Any,
) -> None:
    created = await organization_factory("customer-x")
    before = created.organization.license_expires_at

    await gcc_client.patch(
        "/api/operator/organizations/customer-x",
        json={"licenseExpiresAt": "2028-01-31T00:00:00Z", "accountManagerEmail": "am@x.com"},
        headers=operator_headers,
    )
    await gcc_client.post(
        "/api/operator/organizations/customer-x/rotate-secret", headers=operator_headers
    )
    trail = await gcc_client.get("/api/operator/audit", headers=operator_headers)

    entries = {entry["action"]: entry for entry in trail.json()["entries"]}
    assert set(entries) == {
        "organization.license",
        "organization.update",
        "organization.rotateSecret",
    }
    license_change = entries["organization.license"]["details"]
    assert datetime.fromisoformat(license_change["from"]) == before
    assert datetime.fromisoformat(license_change["to"]) == datetime(2028, 1, 31, tzinfo=UTC)
    assert entries["organization.update"]["details"] == {"fields": ["accountManagerEmail"]}
    assert "webhookSecret" not in str(entries["organization.rotateSecret"])


async def test_pages_follow_the_cursor_and_filters_narrow(
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    async with session_scope(gcc_sessions) as session:
        operator = await add_operator(
            session,
            clock=gcc_clock,
            actor=Actor.command_line(),
            email="alice@vendor.example",
            name="Alice",
        )
        alice = Actor.named_operator(operator.id, operator.email)
        for index in range(5):
            gcc_clock.advance(timedelta(seconds=1))
            await audit_service.record(
                session,
                clock=gcc_clock,
                actor=alice if index % 2 else Actor.operator_token(),
                action=AuditAction.RELEASE_PUBLISH,
                release_version=f"2.{index}.0",
            )

    first = await gcc_client.get(
        "/api/operator/audit",
        params={"limit": 2, "action": "release.publish"},
        headers=operator_headers,
    )
    second = await gcc_client.get(
        "/api/operator/audit",
        params={"limit": 2, "action": "release.publish", "before": first.json()["nextCursor"]},
        headers=operator_headers,
    )
    third = await gcc_client.get(
        "/api/operator/audit",
        params={"limit": 2, "action": "release.publish", "before": second.json()["nextCursor"]},
        headers=operator_headers,
    )
    of_alice = await gcc_client.get(
        "/api/operator/audit", params={"actor": alice.name}, headers=operator_headers
    )

    def versions(response: httpx.Response) -> list[str]:
        return [entry["releaseVersion"] for entry in response.json()["entries"]]

    assert versions(first) == ["2.4.0", "2.3.0"]
    assert versions(second) == ["2.2.0", "2.1.0"]
    assert versions(third) == ["2.0.0"]
    assert third.json()["nextCursor"] is None
    assert versions(of_alice) == ["2.3.0", "2.1.0"]
    assert {entry["actorKind"] for entry in of_alice.json()["entries"]} == {"operator"}


async def test_a_cursor_this_api_never_gave_is_422(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    response = await gcc_client.get(
        "/api/operator/audit", params={"before": "not-a-cursor"}, headers=operator_headers
    )

    assert response.status_code == 422
    assert response.json()["field"] == "before"


async def test_the_trail_needs_the_operator_token(
    gcc_client: httpx.AsyncClient, ci_headers: dict[str, str]
) -> None:
    assert (await gcc_client.get("/api/operator/audit")).status_code == 401
    assert (await gcc_client.get("/api/operator/audit", headers=ci_headers)).status_code == 401
