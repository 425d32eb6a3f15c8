"""Withdrawing a release: the organizations already notified receive a signed
`release.withdrawn` webhook from the pump; those whose wave never opened hear nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from contracts import ReleasePublishedWebhook, ReleaseWithdrawnWebhook
from gcc.audit.service import Actor
from gcc.releases.models import DeploymentTarget
from gcc.rollouts.withdraw import withdraw_release
from gcc.runtime import Runtime
from servicekit.db import SessionFactory, session_scope
from signing import verify
from testsupport.gcc_fixtures import OrganizationFactory
from timekeeping import ManualClock

from .test_service import Delivery


@pytest.fixture
def withdrawal(
    runtime: Runtime,
    receiver: Any,
    organization_factory: OrganizationFactory,
    published_release: Any,
    read_targets: Any,
) -> Delivery:
    """Delivery to customers on the test's receiver, by a runtime like a worker's."""
    return Delivery(runtime, receiver, organization_factory, published_release, read_targets)


async def test_the_notified_receive_a_signed_withdrawal_and_the_waiting_are_cancelled(
    withdrawal: Delivery, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    delivery = withdrawal
    older = await delivery.publish([], version="2.0.0")
    notified = await delivery.customers("notified", 2)
    waiting = await delivery.customer("waiting")
    release = await delivery.publish([*notified, waiting])
    async with gcc_sessions() as session:
        await session.exec(
            update(DeploymentTarget)  # type: ignore[call-overload]
            .where(DeploymentTarget.organization_id == waiting.organization.id)
            .values(next_attempt_at=None, wave_notified_at=None, wave=1)
        )
        await session.commit()
    await delivery.deliver()
    gcc_clock.advance(timedelta(minutes=5))

    async with session_scope(gcc_sessions) as session:
        summary = await withdraw_release(
            session,
            clock=gcc_clock,
            actor=Actor.command_line(),
            version_text="2.1.0",
            reason="charts fail on upgrade",
            send_task=lambda name: None,
        )
    reports = await delivery.deliver()

    assert summary.status == "deprecated"
    assert sum(report.acknowledged for report in reports) == 2
    for created in notified:
        first, second = delivery.receiver.received_by(created.organization.name)
        assert ReleasePublishedWebhook.model_validate_json(first.body).release.id == release.id
        verify(created.webhook_secret, second.headers, second.body, now=gcc_clock.now())
        withdrawn = ReleaseWithdrawnWebhook.model_validate_json(second.body)
        assert withdrawn.release_id == release.id
        assert str(withdrawn.rollback_version) == str(older.version)
        assert withdrawn.reason == "charts fail on upgrade"
        assert first.webhook_id != second.webhook_id
    assert delivery.receiver.received_by("waiting") == []
    targets = {target.organization_id: target for target in await delivery.read_targets(release.id)}
    assert targets[waiting.organization.id].status == "cancelled"
    assert all(targets[created.organization.id].webhook_acked for created in notified)
