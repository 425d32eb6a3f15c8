"""Deployment reports: `POST /api/v1/deployments/scheduled` and `/status` over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlmodel import col, select

from gcc.db import SessionFactory
from gcc.delivery.models import DeploymentTarget
from gcc.escalations.models import Escalation
from gcc.health.models import VersionHistory
from gcc.organizations.models import Organization
from timekeeping import ManualClock

DEPLOYED_AT = "2026-06-01T12:30:00Z"


def status_report(organization: str, release_id: uuid.UUID, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "organizationName": organization,
        "releaseId": str(release_id),
        "status": "success",
    }
    body.update(fields)
    return body


async def target_of(sessions: SessionFactory, target_id: uuid.UUID) -> DeploymentTarget:
    async with sessions() as session:
        target = await session.get(DeploymentTarget, target_id)
    assert target is not None
    return target


async def organization_of(sessions: SessionFactory, organization_id: uuid.UUID) -> Organization:
    async with sessions() as session:
        organization = await session.get(Organization, organization_id)
    assert organization is not None
    return organization


async def history_of(sessions: SessionFactory, organization_id: uuid.UUID) -> list[VersionHistory]:
    async with sessions() as session:
        rows = await session.exec(
            select(VersionHistory)
            .where(VersionHistory.organization_id == organization_id)
            .order_by(col(VersionHistory.deployed_at))
        )
        return list(rows.all())


async def escalations(sessions: SessionFactory) -> list[Escalation]:
    async with sessions() as session:
        return list((await session.exec(select(Escalation))).all())


async def test_scheduled_report_marks_the_target_scheduled(
    gcc_client: httpx.AsyncClient,
    organization_factory: Any,
    release_factory: Any,
    target_factory: Any,
    gcc_sessions: SessionFactory,
) -> None:
    customer = await organization_factory("customer-x")
    release = await release_factory("2.3.0")
    target = await target_factory(release, customer.organization.id)

    response = await gcc_client.post(
        "/api/v1/deployments/scheduled",
        json={
            "organizationName": "customer-x",
            "releaseId": str(release.id),
            "scheduledFor": "2026-06-02T02:00:00Z",
        },
        headers=customer.headers,
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"received": True}
    stored = await target_of(gcc_sessions, target.id)
    assert stored.status == "scheduled"
    assert stored.scheduled_for == datetime(2026, 6, 2, 2, 0, tzinfo=UTC)


async def test_scheduled_report_for_unknown_release_or_missing_target_is_404(
    gcc_client: httpx.AsyncClient, organization_factory: Any, release_factory: Any
) -> None:
    customer = await organization_factory("customer-x")
    release = await release_factory("2.3.0")
    body = {"organizationName": "customer-x", "scheduledFor": "2026-06-02T02:00:00Z"}

    unknown = await gcc_client.post(
        "/api/v1/deployments/scheduled",
        json={**body, "releaseId": str(uuid.uuid4())},
        headers=customer.headers,
    )
    no_target = await gcc_client.post(
        "/api/v1/deployments/scheduled",
        json={**body, "releaseId": str(release.id)},
        headers=customer.headers,
    )

    assert unknown.status_code == 404
    assert unknown.json()["field"] == "releaseId"
    assert no_target.status_code == 404
    assert no_target.json()["field"] == "releaseId"


async def test_reports_for_another_organization_are_403(
    gcc_client: httpx.AsyncClient,
    organization_factory: Any,
    release_factory: Any,
    target_factory: Any,
) -> None:
    await organization_factory("customer-x")
    other = await organization_factory("customer-y")
    release = await release_factory("2.3.0")
    await target_factory(release, other.organization.id)

    scheduled = await gcc_client.post(
        "/api/v1/deployments/scheduled",
        json={
            "organizationName": "customer-x",
            "releaseId": str(release.id),
            "scheduledFor": "2026-06-02T02:00:00Z",
        },
        headers=other.headers,
    )
    status = await gcc_client.post(
        "/api/v1/deployments/status",
        json=status_report("customer-x", release.id),
        headers=other.headers,
    )

    assert scheduled.status_code == 403
    assert scheduled.json()["field"] == "organizationName"
    assert status.status_code == 403
    assert status.json()["field"] == "organizationName"


async def test_reports_without_valid_key_are_401(
    gcc_client: httpx.AsyncClient, release_factory: Any
) -> None:
    release = await release_factory("2.3.0")

    response = await gcc_client.post(
        "/api/v1/deployments/status",
        json=status_report("customer-x", release.id),
        headers={"Authorization": "Bearer gcc_wrong"},
    )

    assert response.status_code == 401


async def test_in_progress_report_sets_started_at(
    gcc_client: httpx.AsyncClient,
    organization_factory: Any,
    release_factory: Any,
    target_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    customer = await organization_factory("customer-x")
    release = await release_factory("2.3.0")
    target = await target_factory(release, customer.organization.id, status="scheduled")
    gcc_clock.advance(timedelta(minutes=7))

    response = await gcc_client.post(
        "/api/v1/deployments/status",
        json=status_report("customer-x", release.id, status="inProgress"),
        headers=customer.headers,
    )

    assert response.status_code == 200, response.text
    stored = await target_of(gcc_sessions, target.id)
    assert stored.status == "inProgress"
    assert stored.started_at == gcc_clock.now()
    assert await history_of(gcc_sessions, customer.organization.id) == []


async def test_success_report_moves_version_target_and_history(
    gcc_client: httpx.AsyncClient,
    organization_factory: Any,
    release_factory: Any,
    target_factory: Any,
    gcc_sessions: SessionFactory,
) -> None:
    customer = await organization_factory("customer-x", current_version="2.2.0")
    release = await release_factory("2.3.0")
    target = await target_factory(release, customer.organization.id, status="inProgress")

    response = await gcc_client.post(
        "/api/v1/deployments/status",
        json=status_report("customer-x", release.id, deployedAt=DEPLOYED_AT, helmRevision=5),
        headers=customer.headers,
    )

    assert response.status_code == 200, response.text
    stored = await target_of(gcc_sessions, target.id)
    assert stored.status == "success"
    assert stored.completed_at == datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
    assert stored.helm_revision == 5
    assert (await organization_of(gcc_sessions, customer.organization.id)).current_version == (
        "2.3.0"
    )
    [history] = await history_of(gcc_sessions, customer.organization.id)
    assert history.release_version == "2.3.0"
    assert history.release_id == release.id
    assert history.status == "success"
    assert history.helm_revision == 5
    assert history.is_rollback is False
    assert history.deployed_at == datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
    assert await escalations(gcc_sessions) == []


async def test_retried_success_report_records_history_once(
    gcc_client: httpx.AsyncClient,
    organization_factory: Any,
    release_factory: Any,
    target_factory: Any,
    gcc_sessions: SessionFactory,
) -> None:
    customer = await organization_factory("customer-x")
    release = await release_factory("2.3.0")
    await target_factory(release, customer.organization.id, status="inProgress")
    body = status_report("customer-x", release.id, deployedAt=DEPLOYED_AT)

    for _ in range(2):
        response = await gcc_client.post(
            "/api/v1/deployments/status", json=body, headers=customer.headers
        )
        assert response.status_code == 200

    assert len(await history_of(gcc_sessions, customer.organization.id)) == 1


async def test_current_version_of_the_report_wins_over_the_release_version(
    gcc_client: httpx.AsyncClient,
    organization_factory: Any,
    release_factory: Any,
    target_factory: Any,
    gcc_sessions: SessionFactory,
) -> None:
    customer = await organization_factory("customer-x", current_version="2.2.0")
    release = await release_factory("2.3.0")
    target = await target_factory(release, customer.organization.id, status="inProgress")

    response = await gcc_client.post(
        "/api/v1/deployments/status",
        json=status_report(
            "customer-x",
            release.id,
            status="rolledBack",
            currentVersion="2.2.0",
            errorMessage="migration failed; helm --atomic restored 2.2.0",
            deployedAt=DEPLOYED_AT,
        ),
        headers=customer.headers,
    )

    assert response.status_code == 200, response.text
    stored = await target_of(gcc_sessions, target.id)
    assert stored.status == "rolledBack"
    assert stored.error_message == "migration failed; helm --atomic restored 2.2.0"
    assert (await organization_of(gcc_sessions, customer.organization.id)).current_version == (
        "2.2.0"
    )
    [history] = await history_of(gcc_sessions, customer.organization.id)
    assert history.status == "rolledBack"
    assert history.is_rollback is True


async def test_rollback_to_a_release_without_target_records_history_and_version(
    gcc_client: httpx.AsyncClient,
    organization_factory: Any,
    release_factory: Any,
    gcc_sessions: SessionFactory,
) -> None:
    customer = await organization_factory("customer-x", current_version="2.3.0")
    older = await release_factory("2.1.0")

    response = await gcc_client.post(
        "/api/v1/deployments/status",
        json=status_report(
            "customer-x", older.id, isRollback=True, helmRevision=7, deployedAt=DEPLOYED_AT
        ),
        headers=customer.headers,
    )

    assert response.status_code == 200, response.text
    assert (await organization_of(gcc_sessions, customer.organization.id)).current_version == (
        "2.1.0"
    )
    [history] = await history_of(gcc_sessions, customer.organization.id)
    assert history.release_version == "2.1.0"
    assert history.is_rollback is True
    assert history.helm_revision == 7


async def test_status_report_for_unknown_release_is_404(
    gcc_client: httpx.AsyncClient, organization_factory: Any
) -> None:
    customer = await organization_factory("customer-x")

    response = await gcc_client.post(
        "/api/v1/deployments/status",
        json=status_report("customer-x", uuid.uuid4()),
        headers=customer.headers,
    )

    assert response.status_code == 404
    assert response.json()["field"] == "releaseId"


async def test_in_progress_report_without_target_is_404(
    gcc_client: httpx.AsyncClient, organization_factory: Any, release_factory: Any
) -> None:
    customer = await organization_factory("customer-x")
    release = await release_factory("2.3.0")

    response = await gcc_client.post(
        "/api/v1/deployments/status",
        json=status_report("customer-x", release.id, status="inProgress"),
        headers=customer.headers,
    )

    assert response.status_code == 404


async def test_failed_report_raises_deployment_failed_once(
    gcc_client: httpx.AsyncClient,
    organization_factory: Any,
    release_factory: Any,
    target_factory: Any,
    gcc_sessions: SessionFactory,
) -> None:
    customer = await organization_factory("customer-x", current_version="2.2.0")
    release = await release_factory("2.3.0")
    target = await target_factory(release, customer.organization.id, status="inProgress")
    body = status_report(
        "customer-x", release.id, status="failed", errorMessage="ImagePullBackOff: media"
    )

    for _ in range(2):
        response = await gcc_client.post(
            "/api/v1/deployments/status", json=body, headers=customer.headers
        )
        assert response.status_code == 200, response.text

    stored = await target_of(gcc_sessions, target.id)
    assert stored.status == "failed"
    assert stored.error_message == "ImagePullBackOff: media"
    assert (await organization_of(gcc_sessions, customer.organization.id)).current_version == (
        "2.2.0"
    )
    [escalation] = await escalations(gcc_sessions)
    assert escalation.type == "DEPLOYMENT_FAILED"
    assert escalation.organization_id == customer.organization.id
    assert escalation.release_id == release.id
    assert "ImagePullBackOff" in escalation.reason
    assert escalation.notified_at is None


async def test_deadline_exceeded_report_raises_forced_24h_exceeded(
    gcc_client: httpx.AsyncClient,
    organization_factory: Any,
    release_factory: Any,
    target_factory: Any,
    gcc_sessions: SessionFactory,
) -> None:
    customer = await organization_factory("customer-x")
    release = await release_factory("2.3.0", is_forced=True)
    target = await target_factory(release, customer.organization.id)

    response = await gcc_client.post(
        "/api/v1/deployments/status",
        json=status_report("customer-x", release.id, status="deadlineExceeded"),
        headers=customer.headers,
    )

    assert response.status_code == 200, response.text
    assert (await target_of(gcc_sessions, target.id)).status == "deadlineExceeded"
    [escalation] = await escalations(gcc_sessions)
    assert escalation.type == "FORCED_24H_EXCEEDED"


async def test_bad_status_reports_are_4xx_naming_the_field(
    gcc_client: httpx.AsyncClient, organization_factory: Any, release_factory: Any
) -> None:
    customer = await organization_factory("customer-x")
    release = await release_factory("2.3.0")
    cases = {
        "status": status_report("customer-x", release.id, status="notified"),
        "releaseId": status_report("customer-x", release.id, releaseId="rel-1"),
        "organizationName": status_report("Customer X", release.id),
        "helmRevision": status_report("customer-x", release.id, helmRevision=0),
        "currentVersion": status_report("customer-x", release.id, currentVersion="latest"),
    }
    for field, body in cases.items():
        response = await gcc_client.post(
            "/api/v1/deployments/status", json=body, headers=customer.headers
        )
        assert response.status_code == 422, (field, response.text)
        assert response.json()["field"] == field
