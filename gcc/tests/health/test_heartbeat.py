"""`POST /api/v1/organizations/{name}/heartbeat` over HTTP."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from gcc.app import create_app
from gcc.health.endpoints import HeartbeatContext, heartbeat_context
from gcc.health.heartbeats import HeartbeatOutcome, HeartbeatRecorder
from gcc.organizations.models import Organization
from gcc.organizations.repository import get_by_name
from gcc.settings import Settings
from servicekit.db import SessionFactory, create_engine
from servicekit.errors import Unauthorized
from timekeeping import ManualClock
from wrktalk_testing.network import free_port


def heartbeat(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": "2.3.0",
        "status": "healthy",
        "agentLastPoll": "2026-06-01T11:58:00Z",
        # a customer clock far off: GCC must record its own time
        "timestamp": "2020-01-01T00:00:00Z",
    }
    body.update(overrides)
    return body


async def load(sessions: SessionFactory, name: str) -> Organization:
    async with sessions() as session:
        organization = await get_by_name(session, name)
    assert organization is not None
    return organization


async def test_heartbeat_records_clock_time_version_status_and_agent_poll(
    gcc_client: httpx.AsyncClient,
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    customer = await organization_factory("customer-x", current_version="2.2.0")
    gcc_clock.advance(timedelta(seconds=30))

    response = await gcc_client.post(
        "/api/v1/organizations/customer-x/heartbeat", json=heartbeat(), headers=customer.headers
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"received": True}
    row = await load(gcc_sessions, "customer-x")
    assert row.last_heartbeat_at == gcc_clock.now()
    assert row.last_seen_at == gcc_clock.now()
    assert row.current_version == "2.3.0"
    assert row.reported_status == "healthy"
    assert row.agent_last_poll_at == datetime(2026, 6, 1, 11, 58, tzinfo=UTC)
    assert row.health_status == "online"
    assert row.is_online is True


async def test_heartbeat_without_version_keeps_the_known_one(
    gcc_client: httpx.AsyncClient, organization_factory: Any, gcc_sessions: SessionFactory
) -> None:
    customer = await organization_factory("customer-x", current_version="2.2.0")

    response = await gcc_client.post(
        "/api/v1/organizations/customer-x/heartbeat",
        json=heartbeat(version=None, status="degraded", agentLastPoll=None),
        headers=customer.headers,
    )

    assert response.status_code == 200
    row = await load(gcc_sessions, "customer-x")
    assert row.current_version == "2.2.0"
    assert row.reported_status == "degraded"
    assert row.agent_last_poll_at is None


async def test_heartbeat_without_credentials_is_401(
    gcc_client: httpx.AsyncClient, organization_factory: Any
) -> None:
    await organization_factory("customer-x")

    missing = await gcc_client.post("/api/v1/organizations/customer-x/heartbeat", json=heartbeat())
    not_bearer = await gcc_client.post(
        "/api/v1/organizations/customer-x/heartbeat",
        json=heartbeat(),
        headers={"Authorization": "Basic abc"},
    )

    assert missing.status_code == 401
    assert missing.json()["error"] == "unauthorized"
    assert not_bearer.status_code == 401


async def test_heartbeat_with_unknown_key_is_401(
    gcc_client: httpx.AsyncClient, organization_factory: Any, operator_headers: dict[str, str]
) -> None:
    await organization_factory("customer-x")

    unknown = await gcc_client.post(
        "/api/v1/organizations/customer-x/heartbeat",
        json=heartbeat(),
        headers={"Authorization": "Bearer gcc_not-a-key"},
    )
    operator = await gcc_client.post(
        "/api/v1/organizations/customer-x/heartbeat", json=heartbeat(), headers=operator_headers
    )

    assert unknown.status_code == 401
    assert operator.status_code == 401


async def test_heartbeat_for_another_organization_is_403_and_changes_nothing(
    gcc_client: httpx.AsyncClient, organization_factory: Any, gcc_sessions: SessionFactory
) -> None:
    await organization_factory("customer-x")
    other = await organization_factory("customer-y", current_version="1.0.0")

    response = await gcc_client.post(
        "/api/v1/organizations/customer-x/heartbeat", json=heartbeat(), headers=other.headers
    )

    assert response.status_code == 403
    assert response.json()["field"] == "name"
    for name in ("customer-x", "customer-y"):
        row = await load(gcc_sessions, name)
        assert row.last_heartbeat_at is None
    assert (await load(gcc_sessions, "customer-y")).current_version == "1.0.0"


async def test_heartbeat_of_deleted_organization_is_401(
    gcc_client: httpx.AsyncClient, organization_factory: Any, gcc_clock: ManualClock
) -> None:
    customer = await organization_factory("customer-x", deleted_at=gcc_clock.now())

    response = await gcc_client.post(
        "/api/v1/organizations/customer-x/heartbeat", json=heartbeat(), headers=customer.headers
    )

    assert response.status_code == 401


async def test_bad_heartbeat_body_is_4xx_naming_the_field(
    gcc_client: httpx.AsyncClient, organization_factory: Any
) -> None:
    customer = await organization_factory("customer-x")
    cases = {
        "status": heartbeat(status="sleepy"),
        "version": heartbeat(version="not-a-version"),
        "timestamp": heartbeat(timestamp="yesterday"),
        "agentLastPoll": heartbeat(agentLastPoll="2026-06-01T11:58:00"),
    }
    for field, body in cases.items():
        response = await gcc_client.post(
            "/api/v1/organizations/customer-x/heartbeat", json=body, headers=customer.headers
        )
        assert response.status_code == 422, (field, response.text)
        assert response.json()["field"] == field

    malformed = await gcc_client.post(
        "/api/v1/organizations/customer-x/heartbeat",
        content=b"{",
        headers={**customer.headers, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400


async def test_concurrent_heartbeats_each_get_their_own_answer(
    gcc_client: httpx.AsyncClient,
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    customers = [await organization_factory(f"customer-{index}") for index in range(20)]
    requests = []
    for index, customer in enumerate(customers):
        name = customer.organization.name
        requests.append((name, customer.headers, 200))
        requests.append((name, customer.headers, 200))  # twice in the same batch
        if index % 4 == 0:
            requests.append((customers[index - 1].organization.name, customer.headers, 403))
        if index % 5 == 0:
            requests.append((name, {"Authorization": f"Bearer gcc_unknown-{index}"}, 401))

    responses = await asyncio.gather(
        *(
            gcc_client.post(
                f"/api/v1/organizations/{name}/heartbeat", json=heartbeat(), headers=headers
            )
            for name, headers, _ in requests
        )
    )

    assert [response.status_code for response in responses] == [
        expected for _, _, expected in requests
    ]
    for customer in customers:
        row = await load(gcc_sessions, customer.organization.name)
        assert row.last_heartbeat_at == gcc_clock.now()
        assert row.current_version == "2.3.0"


async def test_recorder_fails_every_waiter_when_the_database_is_unreachable() -> None:
    engine = create_engine(
        f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere", pool_size=1
    )
    recorder = HeartbeatRecorder(engine)
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

    async def record(index: int) -> HeartbeatOutcome:
        return await recorder.record(
            api_key_hash=f"{index:064x}",
            name=f"customer-{index}",
            at=now,
            current_version=None,
            reported_status="healthy",
            agent_last_poll_at=None,
        )

    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(record(index) for index in range(5)), return_exceptions=True),
            timeout=30,
        )
        again = await asyncio.wait_for(
            asyncio.gather(record(9), return_exceptions=True), timeout=30
        )
    finally:
        await engine.dispose()

    assert all(isinstance(result, OSError) for result in [*results, *again]), results


async def test_heartbeat_not_declared_as_json_is_422_and_records_nothing(
    gcc_client: httpx.AsyncClient, organization_factory: Any, gcc_sessions: SessionFactory
) -> None:
    customer = await organization_factory("customer-x")

    response = await gcc_client.post(
        "/api/v1/organizations/customer-x/heartbeat",
        content=json.dumps(heartbeat()).encode(),
        headers={**customer.headers, "Content-Type": "text/plain"},
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation_error"
    assert (await load(gcc_sessions, "customer-x")).last_heartbeat_at is None


async def test_the_heartbeat_route_goes_through_dependency_injection(
    gcc_settings: Settings,
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    customer = await organization_factory("customer-x")
    app = create_app(gcc_settings, clock=gcc_clock, send_task=lambda *args, **kwargs: None)

    async def refuse_everyone() -> HeartbeatContext:
        raise Unauthorized("Closed for maintenance.")

    app.dependency_overrides[heartbeat_context] = refuse_everyone
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gcc") as client,
    ):
        recorder = app.state.runtime.heartbeat_recorder
        response = await client.post(
            "/api/v1/organizations/customer-x/heartbeat",
            json=heartbeat(),
            headers=customer.headers,
        )

    # the process's batch writer exists from start-up, not from the first heartbeat
    assert isinstance(recorder, HeartbeatRecorder)
    assert response.status_code == 401
    assert response.json()["detail"] == "Closed for maintenance."
    assert (await load(gcc_sessions, "customer-x")).last_heartbeat_at is None


async def test_one_organizations_bad_heartbeat_leaves_the_others_in_its_batch_recorded(
    gcc_engine: Any,
    organization_factory: Any,
    gcc_sessions: SessionFactory,
) -> None:
    customers = [await organization_factory(f"customer-{index}") for index in range(7)]
    recorder = HeartbeatRecorder(gcc_engine)
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    # A version the column cannot hold: the contract refuses it, the recorder must cope anyway.
    too_long = "2.3.0-" + "x" * 200

    async def record(index: int) -> HeartbeatOutcome:
        organization = customers[index].organization
        return await recorder.record(
            api_key_hash=organization.api_key_hash,
            name=organization.name,
            at=now,
            current_version=too_long if index == 3 else "2.3.0",
            reported_status="healthy",
            agent_last_poll_at=None,
        )

    # Handed over together, the seven heartbeats share one flush.
    results = await asyncio.gather(*(record(index) for index in range(7)), return_exceptions=True)

    assert [type(result).__name__ for result in results] == [
        *["HeartbeatOutcome"] * 3,
        "StringDataRightTruncationError",
        *["HeartbeatOutcome"] * 3,
    ]
    for index, customer in enumerate(customers):
        row = await load(gcc_sessions, customer.organization.name)
        if index == 3:
            assert row.last_heartbeat_at is None
        else:
            assert row.last_heartbeat_at == now
            assert row.current_version == "2.3.0"
