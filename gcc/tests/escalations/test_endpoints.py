"""`GET /api/operator/escalations` and `POST /api/operator/escalations/{id}/resolve`."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx

from contracts import EscalationType
from gcc.escalations.service import raise_escalation
from gcc.releases.models import Release
from servicekit.db import SessionFactory, session_scope
from timekeeping import ManualClock


async def escalate(
    sessions: SessionFactory,
    clock: ManualClock,
    organization_id: uuid.UUID,
    escalation_type: EscalationType,
    reason: str = "something happened",
) -> None:
    async with session_scope(sessions) as session:
        await raise_escalation(
            session,
            clock=clock,
            escalation_type=escalation_type,
            organization_id=organization_id,
            reason=reason,
            details={"note": reason},
        )


async def test_list_shows_escalations_newest_first_with_filters(
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    x = await organization_factory("customer-x")
    y = await organization_factory("customer-y")
    await escalate(gcc_sessions, gcc_clock, x.organization.id, EscalationType.LICENSE_EXPIRED)
    gcc_clock.advance(timedelta(minutes=1))
    await escalate(gcc_sessions, gcc_clock, y.organization.id, EscalationType.CLIENT_OFFLINE)
    gcc_clock.advance(timedelta(minutes=1))
    await escalate(gcc_sessions, gcc_clock, x.organization.id, EscalationType.CLIENT_OFFLINE)

    everything = await gcc_client.get("/api/operator/escalations", headers=operator_headers)
    offline = await gcc_client.get(
        "/api/operator/escalations", params={"type": "CLIENT_OFFLINE"}, headers=operator_headers
    )
    of_x = await gcc_client.get(
        "/api/operator/escalations",
        params={"organization": "customer-x"},
        headers=operator_headers,
    )

    assert everything.status_code == 200, everything.text
    listed = everything.json()
    assert listed["total"] == 3
    assert [(item["organizationName"], item["type"]) for item in listed["escalations"]] == [
        ("customer-x", "CLIENT_OFFLINE"),
        ("customer-y", "CLIENT_OFFLINE"),
        ("customer-x", "LICENSE_EXPIRED"),
    ]
    first = listed["escalations"][0]
    assert first["isOpen"] is True
    assert first["resolvedAt"] is None
    assert first["details"] == {"note": "something happened"}
    assert offline.json()["total"] == 2
    assert {item["type"] for item in of_x.json()["escalations"]} == {
        "CLIENT_OFFLINE",
        "LICENSE_EXPIRED",
    }


async def test_resolve_closes_the_escalation_and_open_filter_follows(
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    x = await organization_factory("customer-x")
    await escalate(gcc_sessions, gcc_clock, x.organization.id, EscalationType.DEPLOYMENT_FAILED)
    await escalate(gcc_sessions, gcc_clock, x.organization.id, EscalationType.CLIENT_OFFLINE)
    listed = (await gcc_client.get("/api/operator/escalations", headers=operator_headers)).json()
    target = next(item for item in listed["escalations"] if item["type"] == "DEPLOYMENT_FAILED")
    gcc_clock.advance(timedelta(hours=1))

    resolved = await gcc_client.post(
        f"/api/operator/escalations/{target['id']}/resolve",
        json={"resolution": "Customer re-ran the deployment after fixing the registry."},
        headers=operator_headers,
    )
    still_open = await gcc_client.get(
        "/api/operator/escalations", params={"open": "true"}, headers=operator_headers
    )
    closed = await gcc_client.get(
        "/api/operator/escalations", params={"open": "false"}, headers=operator_headers
    )

    assert resolved.status_code == 200, resolved.text
    view = resolved.json()
    assert view["isOpen"] is False
    assert view["resolvedAt"] == "2026-06-01T13:00:00Z"
    assert view["resolution"] == "Customer re-ran the deployment after fixing the registry."
    assert [item["type"] for item in still_open.json()["escalations"]] == ["CLIENT_OFFLINE"]
    assert [item["id"] for item in closed.json()["escalations"]] == [target["id"]]


async def test_resolving_twice_is_409(
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    x = await organization_factory("customer-x")
    await escalate(gcc_sessions, gcc_clock, x.organization.id, EscalationType.LICENSE_EXPIRED)
    [item] = (await gcc_client.get("/api/operator/escalations", headers=operator_headers)).json()[
        "escalations"
    ]
    url = f"/api/operator/escalations/{item['id']}/resolve"

    first = await gcc_client.post(url, json={"resolution": "renewed"}, headers=operator_headers)
    second = await gcc_client.post(url, json={"resolution": "again"}, headers=operator_headers)

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json()["error"] == "conflict"


async def test_resolve_unknown_is_404_and_bad_input_is_422(
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    x = await organization_factory("customer-x")
    await escalate(gcc_sessions, gcc_clock, x.organization.id, EscalationType.LICENSE_EXPIRED)
    [item] = (await gcc_client.get("/api/operator/escalations", headers=operator_headers)).json()[
        "escalations"
    ]

    unknown = await gcc_client.post(
        f"/api/operator/escalations/{uuid.uuid4()}/resolve",
        json={"resolution": "done"},
        headers=operator_headers,
    )
    not_a_uuid = await gcc_client.post(
        "/api/operator/escalations/42/resolve",
        json={"resolution": "done"},
        headers=operator_headers,
    )
    empty = await gcc_client.post(
        f"/api/operator/escalations/{item['id']}/resolve",
        json={"resolution": ""},
        headers=operator_headers,
    )
    missing = await gcc_client.post(
        f"/api/operator/escalations/{item['id']}/resolve", json={}, headers=operator_headers
    )
    bad_type = await gcc_client.get(
        "/api/operator/escalations", params={"type": "BORED"}, headers=operator_headers
    )
    bad_open = await gcc_client.get(
        "/api/operator/escalations", params={"open": "perhaps"}, headers=operator_headers
    )

    assert unknown.status_code == 404
    assert unknown.json()["field"] == "id"
    assert not_a_uuid.status_code == 422
    assert not_a_uuid.json()["field"] == "id"
    assert empty.status_code == 422
    assert empty.json()["field"] == "resolution"
    assert missing.status_code == 422
    assert missing.json()["field"] == "resolution"
    assert bad_type.status_code == 422
    assert bad_type.json()["field"] == "type"
    assert bad_open.status_code == 422
    assert bad_open.json()["field"] == "open"


async def test_escalation_routes_refuse_missing_or_customer_credentials(
    gcc_client: httpx.AsyncClient, organization_factory: Any
) -> None:
    customer = await organization_factory("customer-x")

    anonymous = await gcc_client.get("/api/operator/escalations")
    as_customer = await gcc_client.post(
        f"/api/operator/escalations/{uuid.uuid4()}/resolve",
        json={"resolution": "done"},
        headers=customer.headers,
    )

    assert anonymous.status_code == 401
    assert as_customer.status_code == 401


async def test_list_names_the_version_recorded_with_the_escalation(
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    customer = await organization_factory("customer-x")
    release = Release(
        version="2.3.0",
        status="published",
        image_tags={"api": "2.3.0"},
        new_non_essential_envs=[],
        created_by="ci",
        created_at=gcc_clock.now(),
        updated_at=gcc_clock.now(),
    )
    async with session_scope(gcc_sessions) as session:
        session.add(release)
        await session.flush()
        await raise_escalation(
            session,
            clock=gcc_clock,
            escalation_type=EscalationType.DEPLOYMENT_FAILED,
            organization_id=customer.organization.id,
            release_id=release.id,
            release_version=release.version,
            reason="Deployment of 2.3.0 failed",
        )

    response = await gcc_client.get("/api/operator/escalations", headers=operator_headers)

    assert response.status_code == 200, response.text
    [listed] = response.json()["escalations"]
    assert (listed["releaseId"], listed["releaseVersion"]) == (str(release.id), "2.3.0")
