"""A release held back by the license or version gate is delivered once the gate clears.

Releases are published over HTTP as CI does, so the real gates decide; the operator renews a
license over its API and the customer reports its deployments over its own; the re-check runs
as beat runs it, and the webhooks reach customer endpoints on the loopback receiver.
"""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col, select

from contracts import EscalationType, ReleasePublishedWebhook, ReleaseStatus, UpdatesPollResponse
from gcc.delivery.pump import deliver_due
from gcc.escalations.models import Escalation
from gcc.releases.gate_recheck import GateRecheck, recheck_gates
from gcc.releases.models import DeploymentTarget, Release
from gcc.runtime import Runtime
from gcc.settings import Settings
from gcc.worker import celery_app
from servicekit.db import SessionFactory, session_scope
from testsupport.gcc_fixtures import CreatedOrganization, OrganizationFactory
from timekeeping import ManualClock

YEAR = timedelta(days=365)


@dataclass
class Gates:
    """Customers on the receiver, releases published to them over HTTP, and beat's re-check."""

    runtime: Runtime
    client: httpx.AsyncClient
    ci_headers: dict[str, str]
    operator_headers: dict[str, str]
    receiver: Any
    organization_factory: OrganizationFactory
    published_release: Any
    sessions: SessionFactory
    clock: ManualClock

    async def customer(self, name: str, **organization_fields: Any) -> CreatedOrganization:
        """An organization whose endpoint on the receiver acknowledges signed webhooks."""
        created = await self.organization_factory(
            name, webhook_endpoint=self.receiver.endpoint(name), **organization_fields
        )
        self.receiver.trust(name, created.webhook_secret)
        return created

    async def lapsed(self, name: str, **organization_fields: Any) -> CreatedOrganization:
        """A customer whose license expired yesterday."""
        return await self.customer(
            name, license_expires_at=self.clock.now() - timedelta(days=1), **organization_fields
        )

    async def publish(self, version: str, *, min_current_version: str | None = None) -> Release:
        """A draft with its artifacts, published through CI's route (the gates apply)."""
        draft: Release = await self.published_release(
            [], version=version, status=ReleaseStatus.DRAFT
        )
        if min_current_version is not None:
            async with self.sessions() as session:
                await session.exec(
                    update(Release)
                    .where(col(Release.id) == draft.id)
                    .values(min_current_version=min_current_version)
                )
                await session.commit()
        response = await self.client.post(
            f"/api/internal/releases/{version}/publish", headers=self.ci_headers
        )
        assert response.status_code == 200, response.text
        return draft

    async def renew_license(self, customer: CreatedOrganization) -> datetime:
        """The operator renews the license for a year; the new expiry."""
        expires_at = self.clock.now() + YEAR
        response = await self.client.patch(
            f"/api/operator/organizations/{customer.organization.name}",
            json={"licenseExpiresAt": expires_at.isoformat()},
            headers=self.operator_headers,
        )
        assert response.status_code == 200, response.text
        return expires_at

    async def report_deployed(self, customer: CreatedOrganization, release: Release) -> None:
        """The customer reports that it deployed ``release`` successfully."""
        response = await self.client.post(
            "/api/v1/deployments/status",
            json={
                "organizationName": customer.organization.name,
                "releaseId": str(release.id),
                "status": "success",
                "deployedAt": self.clock.now().isoformat(),
                "currentVersion": release.version,
            },
            headers=customer.headers,
        )
        assert response.status_code == 200, response.text

    async def recheck(self) -> GateRecheck:
        """One run of beat's re-check."""
        async with session_scope(self.runtime.session_factory) as session:
            return await recheck_gates(
                session, clock=self.runtime.clock, send_task=self.runtime.send_task
            )

    async def deliver(self) -> None:
        """What a worker's pump does: deliver what is due."""
        await deliver_due(self.runtime)

    async def poll(self, customer: CreatedOrganization) -> list[str]:
        """The versions the customer's updates poll offers."""
        response = await self.client.get(
            f"/api/v1/organizations/{customer.organization.name}/updates",
            headers=customer.headers,
        )
        assert response.status_code == 200, response.text
        updates = UpdatesPollResponse.model_validate_json(response.content)
        return [str(body.release.version) for body in updates.releases]

    async def targets(self, release: Release) -> dict[uuid.UUID, DeploymentTarget]:
        """The release's targets by organization id, as stored now."""
        async with self.sessions() as session:
            rows = await session.exec(
                select(DeploymentTarget).where(DeploymentTarget.release_id == release.id)
            )
            return {row.organization_id: row for row in rows}

    async def escalations(self, customer: CreatedOrganization) -> list[Escalation]:
        """The customer's escalations, oldest first."""
        async with self.sessions() as session:
            rows = await session.exec(
                select(Escalation)
                .where(Escalation.organization_id == customer.organization.id)
                .order_by(col(Escalation.escalated_at), col(Escalation.type))
            )
            return list(rows.all())


@pytest.fixture
def gates(
    runtime: Runtime,
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
    operator_headers: dict[str, str],
    receiver: Any,
    organization_factory: OrganizationFactory,
    published_release: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> Gates:
    return Gates(
        runtime,
        gcc_client,
        ci_headers,
        operator_headers,
        receiver,
        organization_factory,
        published_release,
        gcc_sessions,
        gcc_clock,
    )


async def test_a_renewed_license_gets_the_withheld_release_delivered(
    gates: Gates, task_recorder: Any
) -> None:
    lapsed = await gates.lapsed("lapsed")
    current = await gates.customer("current")
    release = await gates.publish("2.1.0")
    await gates.deliver()
    assert gates.receiver.received_by("lapsed") == []
    assert len(gates.receiver.received_by("current")) == 1
    assert set(await gates.targets(release)) == {current.organization.id}
    assert await gates.poll(lapsed) == []

    expires = await gates.renew_license(lapsed)
    gates.clock.advance(timedelta(seconds=30))
    task_recorder.sent.clear()
    result = await gates.recheck()

    assert result == GateRecheck(delivered=1)
    assert task_recorder.names() == ["delivery.dispatch_due"]
    [escalation] = await gates.escalations(lapsed)
    assert escalation.type == EscalationType.LICENSE_EXPIRED
    assert escalation.resolved_at == gates.clock.now()
    assert escalation.resolution == (
        f"gate cleared: license renewed until {expires.isoformat()}, release 2.1.0 delivered"
    )
    assert await gates.poll(lapsed) == ["2.1.0"]

    await gates.deliver()

    [webhook] = gates.receiver.received_by("lapsed")
    assert webhook.verified
    assert ReleasePublishedWebhook.model_validate_json(webhook.body).release.id == release.id
    target = (await gates.targets(release))[lapsed.organization.id]
    assert target.webhook_acked
    assert target.webhook_id == webhook.webhook_id
    assert await gates.poll(lapsed) == []


async def test_an_operator_sees_why_the_escalation_was_resolved(
    gates: Gates, operator_headers: dict[str, str]
) -> None:
    lapsed = await gates.lapsed("lapsed")
    await gates.publish("2.1.0")
    await gates.renew_license(lapsed)

    await gates.recheck()

    response = await gates.client.get(
        "/api/operator/escalations", params={"open": "false"}, headers=operator_headers
    )
    [view] = response.json()["escalations"]
    assert view["type"] == "LICENSE_EXPIRED"
    assert view["isOpen"] is False
    assert view["resolution"].startswith("gate cleared: license renewed until ")


async def test_an_expired_license_keeps_the_release_withheld(gates: Gates) -> None:
    lapsed = await gates.lapsed("lapsed")
    release = await gates.publish("2.1.0")

    result = await gates.recheck()

    assert result == GateRecheck(still_held=1)
    assert await gates.targets(release) == {}
    [escalation] = await gates.escalations(lapsed)
    assert escalation.resolved_at is None


async def test_a_step_wise_upgrade_gets_the_release_past_the_minimum_version(
    gates: Gates, task_recorder: Any
) -> None:
    behind = await gates.customer("behind", current_version="1.0.0")
    step = await gates.publish("1.5.0")
    release = await gates.publish("2.0.0", min_current_version="1.5.0")
    await gates.deliver()
    assert set(await gates.targets(step)) == {behind.organization.id}
    assert await gates.targets(release) == {}
    assert await gates.recheck() == GateRecheck(still_held=1)

    await gates.report_deployed(behind, step)
    task_recorder.sent.clear()
    result = await gates.recheck()

    assert result == GateRecheck(delivered=1)
    assert task_recorder.names() == ["delivery.dispatch_due"]
    assert set(await gates.targets(release)) == {behind.organization.id}
    [escalation] = await gates.escalations(behind)
    assert escalation.type == EscalationType.MIN_VERSION_BLOCKED
    assert escalation.resolution == (
        "gate cleared: behind now runs 1.5.0 (minimum 1.5.0), release 2.0.0 delivered"
    )
    assert await gates.poll(behind) == ["2.0.0"]
    await gates.deliver()
    versions = [
        str(ReleasePublishedWebhook.model_validate_json(hook.body).release.version)
        for hook in gates.receiver.received_by("behind")
        if hook.verified
    ]
    assert versions == ["1.5.0", "2.0.0"]


@pytest.mark.parametrize("running", ["2.1.0", "2.2.0"])
async def test_an_organization_on_the_version_or_a_newer_one_needs_no_delivery(
    gates: Gates, task_recorder: Any, running: str
) -> None:
    lapsed = await gates.lapsed("lapsed", current_version=running)
    release = await gates.publish("2.1.0")
    await gates.renew_license(lapsed)
    task_recorder.sent.clear()

    result = await gates.recheck()

    assert result == GateRecheck(not_needed=1)
    assert task_recorder.names() == []
    assert await gates.targets(release) == {}
    [escalation] = await gates.escalations(lapsed)
    assert escalation.resolved_at == gates.clock.now()
    assert escalation.resolution == (
        f"no longer needed: lapsed already runs {running}, not older than release 2.1.0; "
        "nothing sent"
    )


async def test_a_renewed_license_hands_the_release_over_to_the_version_gate(
    gates: Gates,
) -> None:
    lapsed = await gates.lapsed("lapsed", current_version="1.0.0")
    step = await gates.publish("1.5.0")
    release = await gates.publish("2.0.0", min_current_version="1.5.0")
    assert [escalation.type for escalation in await gates.escalations(lapsed)] == [
        EscalationType.LICENSE_EXPIRED,
        EscalationType.LICENSE_EXPIRED,
    ]

    await gates.renew_license(lapsed)
    gates.clock.advance(timedelta(seconds=1))
    result = await gates.recheck()

    # 1.5.0 had no minimum: it goes now; 2.0.0 waits for the upgrade to 1.5.0
    assert result == GateRecheck(delivered=1, held_by_other_gate=1)
    assert set(await gates.targets(step)) == {lapsed.organization.id}
    assert await gates.targets(release) == {}
    escalations = {
        (escalation.type, escalation.release_id): escalation
        for escalation in await gates.escalations(lapsed)
    }
    handed_over = escalations[(EscalationType.LICENSE_EXPIRED, release.id)]
    assert handed_over.resolved_at is not None
    assert handed_over.resolution is not None
    assert "release 2.0.0 is still withheld (MIN_VERSION_BLOCKED raised)" in handed_over.resolution
    version_escalation = escalations[(EscalationType.MIN_VERSION_BLOCKED, release.id)]
    assert version_escalation.resolved_at is None
    assert "below the required minimum 1.5.0" in version_escalation.reason

    await gates.report_deployed(lapsed, step)
    assert await gates.recheck() == GateRecheck(delivered=1)

    assert set(await gates.targets(release)) == {lapsed.organization.id}
    assert all(escalation.resolved_at for escalation in await gates.escalations(lapsed))


async def test_running_the_recheck_again_changes_nothing(gates: Gates, task_recorder: Any) -> None:
    lapsed = await gates.lapsed("lapsed")
    release = await gates.publish("2.1.0")
    await gates.renew_license(lapsed)
    assert await gates.recheck() == GateRecheck(delivered=1)
    [target] = (await gates.targets(release)).values()
    task_recorder.sent.clear()

    assert await gates.recheck() == GateRecheck()

    assert list((await gates.targets(release)).values()) == [target]
    assert task_recorder.names() == []


async def test_two_rechecks_at_once_create_one_target_per_organization(gates: Gates) -> None:
    renewed = [await gates.lapsed(f"lapsed-{index}") for index in range(20)]
    release = await gates.publish("2.1.0")
    for customer in renewed:
        await gates.renew_license(customer)

    async with session_scope(gates.runtime.session_factory) as session:
        first = await recheck_gates(session, clock=gates.clock, send_task=gates.runtime.send_task)
        # a second run while the first has not committed yet
        second = await gates.recheck()

    assert first == GateRecheck(delivered=20)
    assert second == GateRecheck()
    assert await gates.recheck() == GateRecheck()
    targets = await gates.targets(release)
    assert set(targets) == {customer.organization.id for customer in renewed}
    for customer in renewed:
        [escalation] = await gates.escalations(customer)
        assert escalation.resolved_at is not None


async def test_a_target_created_meanwhile_is_kept_and_not_doubled(gates: Gates) -> None:
    lapsed = await gates.lapsed("lapsed")
    release = await gates.publish("2.1.0")
    await gates.renew_license(lapsed)
    async with gates.sessions() as session:
        existing = DeploymentTarget(
            release_id=release.id,
            organization_id=lapsed.organization.id,
            webhook_id=f"msg_{uuid.uuid4().hex}",
            next_attempt_at=gates.clock.now(),
            created_at=gates.clock.now(),
            updated_at=gates.clock.now(),
        )
        session.add(existing)
        await session.commit()

    assert await gates.recheck() == GateRecheck(delivered=1)

    [target] = (await gates.targets(release)).values()
    assert target.webhook_id == existing.webhook_id


async def test_a_recheck_works_through_many_escalations_in_batches(gates: Gates) -> None:
    renewed = [await gates.lapsed(f"renewed-{index}") for index in range(7)]
    lapsed = [await gates.lapsed(f"lapsed-{index}") for index in range(5)]
    release = await gates.publish("2.1.0")
    for customer in renewed:
        await gates.renew_license(customer)

    async with session_scope(gates.runtime.session_factory) as session:
        result = await recheck_gates(
            session, clock=gates.clock, send_task=gates.runtime.send_task, batch_size=3
        )

    assert result == GateRecheck(delivered=7, still_held=5)
    assert set(await gates.targets(release)) == {customer.organization.id for customer in renewed}
    for customer in lapsed:
        [escalation] = await gates.escalations(customer)
        assert escalation.resolved_at is None


async def test_a_deprecated_release_is_not_delivered(gates: Gates, task_recorder: Any) -> None:
    lapsed = await gates.lapsed("lapsed")
    release = await gates.publish("2.1.0")
    response = await gates.client.post(
        "/api/internal/releases/2.1.0/deprecate", headers=gates.ci_headers
    )
    assert response.status_code == 200, response.text
    await gates.renew_license(lapsed)
    task_recorder.sent.clear()

    assert await gates.recheck() == GateRecheck()

    assert await gates.targets(release) == {}
    assert task_recorder.names() == []
    [escalation] = await gates.escalations(lapsed)
    assert escalation.resolved_at is None


async def test_a_deleted_organization_is_not_delivered(gates: Gates) -> None:
    lapsed = await gates.lapsed("lapsed")
    release = await gates.publish("2.1.0")
    await gates.renew_license(lapsed)
    response = await gates.client.delete(
        "/api/operator/organizations/lapsed", headers=gates.operator_headers
    )
    assert response.status_code == 204, response.text

    assert await gates.recheck() == GateRecheck()

    assert await gates.targets(release) == {}


async def test_beat_runs_the_recheck_task_every_minute(
    gates: Gates, gcc_settings: Settings, task_thread: ThreadPoolExecutor
) -> None:
    schedule = celery_app.conf.beat_schedule["releases.recheck_gates"]
    assert schedule["task"] == "releases.recheck_gates"
    assert schedule["schedule"] == gcc_settings.health_interval_seconds == 60.0
    lapsed = await gates.lapsed("lapsed", current_version="2.1.0")
    await gates.publish("2.1.0")
    await gates.renew_license(lapsed)
    task = celery_app.tasks["releases.recheck_gates"]

    result = await asyncio.get_running_loop().run_in_executor(
        task_thread, lambda: task.apply().get()
    )

    assert result == {"delivered": 0, "notNeeded": 1, "heldByOtherGate": 0, "stillHeld": 0}
    [escalation] = await gates.escalations(lapsed)
    assert escalation.resolved_at is not None
