"""Deployment reports: `POST /api/v1/deployments/scheduled` and `/status` over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from gcc.escalations.models import Escalation
from gcc.organizations.models import Organization, VersionHistory
from gcc.releases.models import DeploymentTarget, Release
from servicekit.db import SessionFactory
from testsupport.gcc_fixtures import CreatedOrganization, OrganizationFactory
from timekeeping import ManualClock

CUSTOMER = "customer-x"
SCHEDULED = "/api/v1/deployments/scheduled"
STATUS = "/api/v1/deployments/status"
SCHEDULED_FOR = "2026-06-02T02:00:00Z"
DEPLOYED_AT = "2026-06-01T12:30:00Z"


def status_report(organization: str, release_id: uuid.UUID, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "organizationName": organization,
        "releaseId": str(release_id),
        "status": "success",
    }
    body.update(fields)
    return body


def scheduled_report(organization: str, release_id: uuid.UUID | str) -> dict[str, Any]:
    return {
        "organizationName": organization,
        "releaseId": str(release_id),
        "scheduledFor": SCHEDULED_FOR,
    }


async def escalations(sessions: SessionFactory) -> list[Escalation]:
    async with sessions() as session:
        return list((await session.exec(select(Escalation))).all())


@dataclass
class Customer:
    """An organization's backend reporting to GCC with its own key, and what GCC stored of it."""

    client: httpx.AsyncClient
    sessions: SessionFactory
    created: CreatedOrganization
    release_factory: Any
    target_factory: Any

    @property
    def id(self) -> uuid.UUID:
        return self.created.organization.id

    async def deploying(
        self, version: str = "2.3.0", *, status: str = "notified", **release_fields: Any
    ) -> tuple[Release, DeploymentTarget]:
        """A release of ``version`` and this organization's target of it, in ``status``."""
        release = await self.release_factory(version, **release_fields)
        target = await self.target_factory(release, self.id, status=status)
        return release, target

    async def report_scheduled(
        self, release_id: uuid.UUID | str, organization: str = CUSTOMER
    ) -> httpx.Response:
        return await self.client.post(
            SCHEDULED,
            json=scheduled_report(organization, release_id),
            headers=self.created.headers,
        )

    async def report_status(
        self, release_id: uuid.UUID, organization: str = CUSTOMER, **fields: Any
    ) -> httpx.Response:
        return await self.post_status(status_report(organization, release_id, **fields))

    async def post_status(self, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(STATUS, json=body, headers=self.created.headers)

    async def target(self, target_id: uuid.UUID) -> DeploymentTarget:
        async with self.sessions() as session:
            target = await session.get(DeploymentTarget, target_id)
        assert target is not None
        return target

    async def current_version(self) -> str | None:
        async with self.sessions() as session:
            organization = await session.get(Organization, self.id)
        assert organization is not None
        return organization.current_version

    async def history(self) -> list[VersionHistory]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(VersionHistory)
                .where(VersionHistory.organization_id == self.id)
                .order_by(col(VersionHistory.deployed_at))
            )
            return list(rows.all())


CustomerFactory = Callable[..., Awaitable[Customer]]


@pytest.fixture
def customer_factory(
    gcc_client: httpx.AsyncClient,
    gcc_sessions: SessionFactory,
    organization_factory: OrganizationFactory,
    release_factory: Any,
    target_factory: Any,
) -> CustomerFactory:
    """Insert an organization (``customer-x`` unless named) that reports over HTTP."""

    async def create(name: str = CUSTOMER, **organization_fields: Any) -> Customer:
        created = await organization_factory(name, **organization_fields)
        return Customer(gcc_client, gcc_sessions, created, release_factory, target_factory)

    return create


async def test_scheduled_report_marks_the_target_scheduled(
    customer_factory: CustomerFactory,
) -> None:
    customer = await customer_factory()
    release, target = await customer.deploying("2.3.0")

    response = await customer.report_scheduled(release.id)

    assert response.status_code == 200, response.text
    assert response.json() == {"received": True}
    stored = await customer.target(target.id)
    assert stored.status == "scheduled"
    assert stored.scheduled_for == datetime(2026, 6, 2, 2, 0, tzinfo=UTC)


async def test_scheduled_report_for_unknown_release_or_missing_target_is_404(
    customer_factory: CustomerFactory, release_factory: Any
) -> None:
    customer = await customer_factory()
    release = await release_factory("2.3.0")

    unknown = await customer.report_scheduled(uuid.uuid4())
    no_target = await customer.report_scheduled(release.id)

    assert unknown.status_code == 404
    assert unknown.json()["field"] == "releaseId"
    assert no_target.status_code == 404
    assert no_target.json()["field"] == "releaseId"


async def test_reports_for_another_organization_are_403(
    customer_factory: CustomerFactory,
) -> None:
    await customer_factory()
    other = await customer_factory("customer-y")
    release, _ = await other.deploying("2.3.0")

    scheduled = await other.report_scheduled(release.id, organization=CUSTOMER)
    status = await other.report_status(release.id, organization=CUSTOMER)

    assert scheduled.status_code == 403
    assert scheduled.json()["field"] == "organizationName"
    assert status.status_code == 403
    assert status.json()["field"] == "organizationName"


async def test_reports_without_valid_key_are_401(
    gcc_client: httpx.AsyncClient, release_factory: Any
) -> None:
    release = await release_factory("2.3.0")

    response = await gcc_client.post(
        STATUS,
        json=status_report(CUSTOMER, release.id),
        headers={"Authorization": "Bearer gcc_wrong"},
    )

    assert response.status_code == 401


async def test_in_progress_report_sets_started_at(
    customer_factory: CustomerFactory, gcc_clock: ManualClock
) -> None:
    customer = await customer_factory()
    release, target = await customer.deploying("2.3.0", status="scheduled")
    gcc_clock.advance(timedelta(minutes=7))

    response = await customer.report_status(release.id, status="inProgress")

    assert response.status_code == 200, response.text
    stored = await customer.target(target.id)
    assert stored.status == "inProgress"
    assert stored.started_at == gcc_clock.now()
    assert await customer.history() == []


async def test_success_report_moves_version_target_and_history(
    customer_factory: CustomerFactory, gcc_sessions: SessionFactory
) -> None:
    customer = await customer_factory(current_version="2.2.0")
    release, target = await customer.deploying("2.3.0", status="inProgress")

    response = await customer.report_status(release.id, deployedAt=DEPLOYED_AT, helmRevision=5)

    assert response.status_code == 200, response.text
    stored = await customer.target(target.id)
    assert stored.status == "success"
    assert stored.completed_at == datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
    assert stored.helm_revision == 5
    assert await customer.current_version() == "2.3.0"
    [history] = await customer.history()
    assert history.release_version == "2.3.0"
    assert history.release_id == release.id
    assert history.status == "success"
    assert history.helm_revision == 5
    assert history.is_rollback is False
    assert history.deployed_at == datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
    assert await escalations(gcc_sessions) == []


async def test_retried_success_report_records_history_once(
    customer_factory: CustomerFactory,
) -> None:
    customer = await customer_factory()
    release, _ = await customer.deploying("2.3.0", status="inProgress")

    for _ in range(2):
        response = await customer.report_status(release.id, deployedAt=DEPLOYED_AT)
        assert response.status_code == 200

    assert len(await customer.history()) == 1


async def test_current_version_of_the_report_wins_over_the_release_version(
    customer_factory: CustomerFactory,
) -> None:
    customer = await customer_factory(current_version="2.2.0")
    release, target = await customer.deploying("2.3.0", status="inProgress")

    response = await customer.report_status(
        release.id,
        status="rolledBack",
        currentVersion="2.2.0",
        errorMessage="migration failed; helm --atomic restored 2.2.0",
        deployedAt=DEPLOYED_AT,
    )

    assert response.status_code == 200, response.text
    stored = await customer.target(target.id)
    assert stored.status == "rolledBack"
    assert stored.error_message == "migration failed; helm --atomic restored 2.2.0"
    assert await customer.current_version() == "2.2.0"
    [history] = await customer.history()
    assert history.status == "rolledBack"
    assert history.is_rollback is True


async def test_rollback_to_a_release_without_target_records_history_and_version(
    customer_factory: CustomerFactory, release_factory: Any
) -> None:
    customer = await customer_factory(current_version="2.3.0")
    older = await release_factory("2.1.0")

    response = await customer.report_status(
        older.id, isRollback=True, helmRevision=7, deployedAt=DEPLOYED_AT
    )

    assert response.status_code == 200, response.text
    assert await customer.current_version() == "2.1.0"
    [history] = await customer.history()
    assert history.release_version == "2.1.0"
    assert history.is_rollback is True
    assert history.helm_revision == 7


async def test_status_report_for_unknown_release_is_404(
    customer_factory: CustomerFactory,
) -> None:
    customer = await customer_factory()

    response = await customer.report_status(uuid.uuid4())

    assert response.status_code == 404
    assert response.json()["field"] == "releaseId"


async def test_in_progress_report_without_target_is_404(
    customer_factory: CustomerFactory, release_factory: Any
) -> None:
    customer = await customer_factory()
    release = await release_factory("2.3.0")

    response = await customer.report_status(release.id, status="inProgress")

    assert response.status_code == 404


async def test_failed_report_raises_deployment_failed_once(
    customer_factory: CustomerFactory, gcc_sessions: SessionFactory
) -> None:
    customer = await customer_factory(current_version="2.2.0")
    release, target = await customer.deploying("2.3.0", status="inProgress")

    for _ in range(2):
        response = await customer.report_status(
            release.id, status="failed", errorMessage="ImagePullBackOff: media"
        )
        assert response.status_code == 200, response.text

    stored = await customer.target(target.id)
    assert stored.status == "failed"
    assert stored.error_message == "ImagePullBackOff: media"
    assert await customer.current_version() == "2.2.0"
    [escalation] = await escalations(gcc_sessions)
    assert escalation.type == "DEPLOYMENT_FAILED"
    assert escalation.organization_id == customer.id
    assert escalation.release_id == release.id
    assert escalation.release_version == "2.3.0"
    assert "ImagePullBackOff" in escalation.reason
    assert escalation.notified_at is None


async def test_deadline_exceeded_report_raises_forced_24h_exceeded(
    customer_factory: CustomerFactory, gcc_sessions: SessionFactory
) -> None:
    customer = await customer_factory()
    release, target = await customer.deploying("2.3.0", is_forced=True)

    response = await customer.report_status(release.id, status="deadlineExceeded")

    assert response.status_code == 200, response.text
    assert (await customer.target(target.id)).status == "deadlineExceeded"
    [escalation] = await escalations(gcc_sessions)
    assert escalation.type == "FORCED_24H_EXCEEDED"


async def test_bad_status_reports_are_4xx_naming_the_field(
    customer_factory: CustomerFactory, release_factory: Any
) -> None:
    customer = await customer_factory()
    release = await release_factory("2.3.0")
    cases = {
        "status": status_report(CUSTOMER, release.id, status="notified"),
        "releaseId": status_report(CUSTOMER, release.id, releaseId="rel-1"),
        "organizationName": status_report("Customer X", release.id),
        "helmRevision": status_report(CUSTOMER, release.id, helmRevision=0),
        "currentVersion": status_report(CUSTOMER, release.id, currentVersion="latest"),
    }
    for field, body in cases.items():
        response = await customer.post_status(body)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["field"] == field
