"""Dispatching and delivering webhooks, against real customer endpoints on loopback."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from contracts import EscalationType, ReleasePublishedWebhook, ReleaseStatus
from gcc.db import SessionFactory, session_scope
from gcc.delivery import service
from gcc.delivery.models import DeploymentTarget
from gcc.delivery.outcomes import BatchReport
from gcc.delivery.sender import open_client
from gcc.escalations.models import Escalation
from gcc.organizations.models import Organization
from gcc.runtime import Runtime
from gcc.settings import Settings
from signing import WebhookVerificationError, generate_secret, verify
from timekeeping import ManualClock

RETRY_DELAY = timedelta(seconds=60)


async def dispatch(runtime: Runtime) -> list[list[uuid.UUID]]:
    async with session_scope(runtime.session_factory) as session:
        return await service.dispatch_due(session, clock=runtime.clock, settings=runtime.settings)


async def dispatch_and_deliver(runtime: Runtime) -> list[BatchReport]:
    """What beat and the worker do together: lease the due targets, deliver every batch."""
    return [await service.deliver_batch(runtime, batch) for batch in await dispatch(runtime)]


async def customer(
    organization_factory: Any, receiver: Any, name: str, *script: str, then: str = "ok"
) -> Any:
    """An organization whose endpoint on the receiver answers as ``script`` says."""
    endpoint = receiver.endpoint(name, *script, then=then)
    created = await organization_factory(name, webhook_endpoint=endpoint)
    receiver.trust(name, created.webhook_secret)
    return created


async def organization_row(sessions: SessionFactory, organization_id: uuid.UUID) -> Organization:
    async with sessions() as session:
        organization = await session.get(Organization, organization_id)
        assert organization is not None
        return organization


async def test_batch_sends_each_target_its_signed_webhook_and_records_the_ack(
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    read_targets: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    customers = [
        await customer(organization_factory, receiver, f"acme-{index}") for index in range(3)
    ]
    release = await published_release([c.organization.id for c in customers])

    reports = await dispatch_and_deliver(runtime)

    assert sum(report.acknowledged for report in reports) == 3
    for created in customers:
        (received,) = receiver.received_by(created.organization.name)
        assert received.verified
        verify(created.webhook_secret, received.headers, received.body, now=gcc_clock.now())
        body = ReleasePublishedWebhook.model_validate_json(received.body)
        assert str(body.release.version) == "2.1.0"
        assert body.release.id == release.id
        assert body.ruleset.is_forced is True
        assert received.timestamp == str(int(gcc_clock.now().timestamp()))
        organization = await organization_row(gcc_sessions, created.organization.id)
        assert organization.last_webhook_ack_at == gcc_clock.now()
        assert organization.last_seen_at == gcc_clock.now()
    targets = await read_targets(release.id)
    assert {target.webhook_id for target in targets} == set(receiver.acknowledged_ids())
    for target in targets:
        assert target.webhook_acked
        assert target.webhook_sent
        assert not target.webhook_failed
        assert target.status == "notified"
        assert target.acked_at == gcc_clock.now()
        assert target.webhook_attempts == 1
        assert target.lease_expires_at is None


async def test_every_target_of_a_release_receives_the_same_body_bytes(
    runtime: Runtime, receiver: Any, organization_factory: Any, published_release: Any
) -> None:
    customers = [await customer(organization_factory, receiver, f"same-{i}") for i in range(4)]
    await published_release([c.organization.id for c in customers])

    await dispatch_and_deliver(runtime)

    assert len({hook.body for hook in receiver.received}) == 1
    assert len(receiver.received) == 4


async def test_dispatch_leases_due_targets_in_batches_of_the_configured_size(
    runtime: Runtime,
    organization_factory: Any,
    published_release: Any,
    read_targets: Any,
    gcc_settings: Settings,
    gcc_clock: ManualClock,
) -> None:
    runtime.settings = gcc_settings.model_copy(update={"delivery_batch_size": 3})
    organizations = [await organization_factory() for _ in range(7)]
    release = await published_release([created.organization.id for created in organizations])

    batches = await dispatch(runtime)

    assert sorted(len(batch) for batch in batches) == [1, 3, 3]
    targets = await read_targets(release.id)
    assert {target.id for target in targets} == {target for batch in batches for target in batch}
    lease = gcc_clock.now() + timedelta(seconds=gcc_settings.delivery_lease_seconds)
    assert all(target.lease_expires_at == lease for target in targets)


async def test_leased_targets_are_handed_out_again_only_after_the_lease_runs_out(
    runtime: Runtime,
    organization_factory: Any,
    published_release: Any,
    gcc_settings: Settings,
    gcc_clock: ManualClock,
) -> None:
    created = await organization_factory()
    await published_release([created.organization.id])
    (first,) = await dispatch(runtime)

    assert await dispatch(runtime) == []
    gcc_clock.advance(timedelta(seconds=gcc_settings.delivery_lease_seconds))
    assert await dispatch(runtime) == []
    gcc_clock.advance(timedelta(seconds=1))
    assert await dispatch(runtime) == [first]


async def test_dispatch_ignores_acknowledged_failed_and_future_targets(
    runtime: Runtime,
    organization_factory: Any,
    published_release: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    organizations = [await organization_factory() for _ in range(4)]
    release = await published_release([created.organization.id for created in organizations])
    async with gcc_sessions() as session:
        targets = (
            await session.exec(
                select(DeploymentTarget).where(DeploymentTarget.release_id == release.id)
            )
        ).all()
        targets[0].webhook_acked = True
        targets[1].webhook_failed = True
        targets[2].next_attempt_at = gcc_clock.now() + timedelta(seconds=1)
        due = targets[3].id
        await session.commit()

    assert await dispatch(runtime) == [[due]]


async def test_run_dispatch_enqueues_one_deliver_batch_task_per_batch(
    runtime: Runtime,
    organization_factory: Any,
    published_release: Any,
    task_recorder: Any,
    gcc_settings: Settings,
) -> None:
    runtime.settings = gcc_settings.model_copy(update={"delivery_batch_size": 2})
    organizations = [await organization_factory() for _ in range(5)]
    await published_release([created.organization.id for created in organizations])

    assert await service.run_dispatch(runtime) == 3

    assert task_recorder.names() == ["delivery.deliver_batch"] * 3
    sent_ids = [target for _, (batch,), _ in task_recorder.sent for target in batch]
    assert len(set(sent_ids)) == 5
    assert all(isinstance(target, str) for target in sent_ids)


async def test_server_error_is_retried_after_the_retry_delay_and_not_before(
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    read_targets: Any,
    gcc_clock: ManualClock,
) -> None:
    created = await customer(organization_factory, receiver, "flaky", "fail")
    release = await published_release([created.organization.id])

    (report,) = await dispatch_and_deliver(runtime)

    assert report.retrying == 1
    (target,) = await read_targets(release.id)
    assert not target.webhook_acked
    assert not target.webhook_failed
    assert target.webhook_attempts == 1
    assert target.webhook_error == "HTTP 500: backend exploded: database unavailable"
    assert target.next_attempt_at == gcc_clock.now() + RETRY_DELAY
    assert target.lease_expires_at is None
    assert target.status == "pending"

    gcc_clock.advance(RETRY_DELAY - timedelta(seconds=1))
    assert await dispatch_and_deliver(runtime) == []
    assert len(receiver.received_by("flaky")) == 1

    gcc_clock.advance(timedelta(seconds=1))
    (report,) = await dispatch_and_deliver(runtime)

    assert report.acknowledged == 1
    (target,) = await read_targets(release.id)
    assert target.webhook_acked
    assert target.status == "notified"
    assert target.webhook_attempts == 2
    assert target.webhook_error is None


async def test_retries_carry_the_same_webhook_id_with_a_fresh_timestamp(
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    read_targets: Any,
    gcc_clock: ManualClock,
) -> None:
    created = await customer(organization_factory, receiver, "retried", "fail", "fail")
    release = await published_release([created.organization.id])

    for _ in range(3):
        await dispatch_and_deliver(runtime)
        gcc_clock.advance(RETRY_DELAY)

    first, second, third = receiver.received_by("retried")
    (target,) = await read_targets(release.id)
    assert first.webhook_id == second.webhook_id == third.webhook_id == target.webhook_id
    assert [int(hook.timestamp) - int(first.timestamp) for hook in (first, second, third)] == [
        0,
        60,
        120,
    ]
    assert first.body == second.body == third.body
    assert all(hook.verified for hook in (first, second, third))
    assert third.answer == "ok"
    assert target.webhook_acked


async def test_three_failed_attempts_mark_the_target_webhook_failed(
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    read_targets: Any,
    gcc_clock: ManualClock,
) -> None:
    created = await customer(organization_factory, receiver, "down", then="fail")
    release = await published_release([created.organization.id])

    reports = []
    for _ in range(4):
        reports += await dispatch_and_deliver(runtime)
        gcc_clock.advance(RETRY_DELAY)

    assert [(report.retrying, report.failed) for report in reports] == [(1, 0), (1, 0), (0, 1)]
    assert len(receiver.received_by("down")) == 3
    (target,) = await read_targets(release.id)
    assert target.webhook_failed
    assert not target.webhook_acked
    assert target.status == "webhookFailed"
    assert target.webhook_attempts == 3
    assert target.next_attempt_at is None
    assert target.webhook_error.startswith("HTTP 500")


async def test_unauthorized_is_not_retried_and_raises_an_escalation(
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    read_targets: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    created = await customer(organization_factory, receiver, "wrong-secret", then="reject")
    release = await published_release([created.organization.id])

    (report,) = await dispatch_and_deliver(runtime)
    gcc_clock.advance(RETRY_DELAY * 5)
    assert await dispatch_and_deliver(runtime) == []

    assert report.rejected == 1
    assert len(receiver.received_by("wrong-secret")) == 1
    (target,) = await read_targets(release.id)
    assert target.webhook_failed
    assert target.status == "webhookFailed"
    assert target.webhook_attempts == 1
    assert target.webhook_error.startswith("HTTP 401: ")
    async with gcc_sessions() as session:
        (escalation,) = (await session.exec(select(Escalation))).all()
    assert escalation.type == EscalationType.WEBHOOK_REJECTED
    assert escalation.organization_id == created.organization.id
    assert escalation.release_id == release.id
    assert "401" in escalation.reason
    assert "wrong-secret" in escalation.reason
    assert escalation.details is not None
    assert escalation.details["webhookId"] == target.webhook_id
    assert created.webhook_secret not in str(escalation.details)


async def test_an_answer_slower_than_the_timeout_is_retried(
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    read_targets: Any,
    gcc_settings: Settings,
    gcc_clock: ManualClock,
) -> None:
    runtime.settings = gcc_settings.model_copy(update={"webhook_timeout_seconds": 0.3})
    receiver.slow_seconds = 1.0
    created = await customer(organization_factory, receiver, "sluggish", "slow")
    release = await published_release([created.organization.id])

    (report,) = await dispatch_and_deliver(runtime)

    assert report.retrying == 1
    (target,) = await read_targets(release.id)
    assert target.webhook_error == "no answer within 0.3 s"
    assert target.next_attempt_at == gcc_clock.now() + RETRY_DELAY

    gcc_clock.advance(RETRY_DELAY)
    (report,) = await dispatch_and_deliver(runtime)
    assert report.acknowledged == 1


async def test_a_closed_connection_is_retried(
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    read_targets: Any,
    gcc_clock: ManualClock,
) -> None:
    created = await customer(organization_factory, receiver, "hangs-up", "close")
    release = await published_release([created.organization.id])

    (report,) = await dispatch_and_deliver(runtime)

    assert report.retrying == 1
    (target,) = await read_targets(release.id)
    assert target.webhook_error.startswith("connection error: ServerDisconnectedError")
    gcc_clock.advance(RETRY_DELAY)
    (report,) = await dispatch_and_deliver(runtime)
    assert report.acknowledged == 1
    assert [hook.answer for hook in receiver.received_by("hangs-up")] == ["close", "ok"]


async def test_an_unreachable_endpoint_is_retried(
    runtime: Runtime,
    organization_factory: Any,
    published_release: Any,
    read_targets: Any,
) -> None:
    created = await organization_factory(webhook_endpoint="http://127.0.0.1:9/hooks/nobody")
    release = await published_release([created.organization.id])

    (report,) = await dispatch_and_deliver(runtime)

    assert report.retrying == 1
    (target,) = await read_targets(release.id)
    assert target.webhook_error.startswith("connection error: ClientConnectorError")


async def test_during_secret_rotation_both_the_old_and_the_new_secret_verify(
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    gcc_clock: ManualClock,
) -> None:
    old_secret = generate_secret()
    created = await organization_factory(
        "rotating",
        webhook_endpoint=receiver.endpoint("rotating"),
        previous_webhook_secret=old_secret,
        previous_secret_expires_at=gcc_clock.now() + timedelta(hours=24),
    )
    new_secret = created.webhook_secret
    receiver.trust("rotating", old_secret)
    await published_release([created.organization.id])

    await dispatch_and_deliver(runtime)

    (received,) = receiver.received_by("rotating")
    assert received.answer == "ok"
    assert len(received.signature.split(" ")) == 2
    now = gcc_clock.now()
    verify(old_secret, received.headers, received.body, now=now)
    verify(new_secret, received.headers, received.body, now=now)


async def test_after_the_rotation_grace_only_the_new_secret_signs(
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    gcc_clock: ManualClock,
) -> None:
    old_secret = generate_secret()
    created = await organization_factory(
        "rotated",
        webhook_endpoint=receiver.endpoint("rotated"),
        previous_webhook_secret=old_secret,
        previous_secret_expires_at=gcc_clock.now() - timedelta(seconds=1),
    )
    new_secret = created.webhook_secret
    receiver.trust("rotated", new_secret)
    await published_release([created.organization.id])

    await dispatch_and_deliver(runtime)

    (received,) = receiver.received_by("rotated")
    now = gcc_clock.now()
    verify(new_secret, received.headers, received.body, now=now)
    with pytest.raises(WebhookVerificationError, match="no webhook signature matches"):
        verify(old_secret, received.headers, received.body, now=now)


async def test_a_plain_http_endpoint_is_refused_unless_http_is_allowed(
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    read_targets: Any,
    gcc_settings: Settings,
) -> None:
    runtime.settings = gcc_settings.model_copy(update={"allow_http_webhooks": False})
    created = await customer(organization_factory, receiver, "plain-http")
    release = await published_release([created.organization.id])

    (report,) = await dispatch_and_deliver(runtime)

    assert report.failed == 1
    assert receiver.received == []
    (target,) = await read_targets(release.id)
    assert target.webhook_failed
    assert not target.webhook_sent
    assert target.status == "webhookFailed"
    assert "https" in target.webhook_error


async def test_delivering_a_batch_twice_sends_each_webhook_once(
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
) -> None:
    customers = [await customer(organization_factory, receiver, f"twice-{i}") for i in range(3)]
    await published_release([c.organization.id for c in customers])
    (batch,) = await dispatch(runtime)

    first = await service.deliver_batch(runtime, batch)
    again = await service.deliver_batch(runtime, [str(target) for target in batch])

    assert first.acknowledged == 3
    assert again == BatchReport(skipped=3)
    assert len(receiver.received) == 3


async def test_a_stale_batch_does_not_send_a_target_before_its_retry_is_due(
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
) -> None:
    created = await customer(organization_factory, receiver, "rescheduled", "fail")
    await published_release([created.organization.id])
    (batch,) = await dispatch(runtime)
    await service.deliver_batch(runtime, batch)

    report = await service.deliver_batch(runtime, batch)

    assert report == BatchReport(skipped=1)
    assert len(receiver.received_by("rescheduled")) == 1


async def test_a_deprecated_release_is_not_sent(
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    read_targets: Any,
) -> None:
    created = await customer(organization_factory, receiver, "late")
    release = await published_release([created.organization.id], status=ReleaseStatus.DEPRECATED)

    (report,) = await dispatch_and_deliver(runtime)

    assert report.failed == 1
    assert receiver.received == []
    (target,) = await read_targets(release.id)
    assert target.webhook_failed
    assert "deprecated" in target.webhook_error


async def test_an_ack_keeps_the_newer_heartbeat_as_last_seen(
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    heartbeat = gcc_clock.now() + timedelta(minutes=5)
    created = await organization_factory(
        "beating",
        webhook_endpoint=receiver.endpoint("beating"),
        last_heartbeat_at=heartbeat,
        last_seen_at=heartbeat,
    )
    receiver.trust("beating", created.webhook_secret)
    await published_release([created.organization.id])

    await dispatch_and_deliver(runtime)

    organization = await organization_row(gcc_sessions, created.organization.id)
    assert organization.last_webhook_ack_at == gcc_clock.now()
    assert organization.last_seen_at == heartbeat


async def test_a_broken_organization_fails_alone_and_its_batch_goes_out(
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    read_targets: Any,
    gcc_sessions: SessionFactory,
) -> None:
    healthy = await customer(organization_factory, receiver, "healthy")
    unusable_secret = await customer(organization_factory, receiver, "unusable-secret")
    bad_host = await organization_factory(webhook_endpoint="http://exa mple.test/hook")
    async with gcc_sessions() as session:
        row = await session.get(Organization, unusable_secret.organization.id)
        assert row is not None
        row.webhook_secret = "whsec_not*base64"
        await session.commit()
    release = await published_release(
        [created.organization.id for created in (healthy, unusable_secret, bad_host)]
    )

    (report,) = await dispatch_and_deliver(runtime)

    assert (report.acknowledged, report.failed, report.retrying) == (1, 1, 1)
    by_organization = {target.organization_id: target for target in await read_targets(release.id)}
    assert by_organization[healthy.organization.id].webhook_acked
    refused = by_organization[unusable_secret.organization.id]
    assert refused.webhook_failed
    assert not refused.webhook_sent
    assert "secret is unusable" in refused.webhook_error
    assert receiver.received_by("unusable-secret") == []
    assert by_organization[bad_host.organization.id].webhook_attempts == 1


async def test_a_shared_session_keeps_the_connection_to_a_customer_between_batches(
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    gcc_settings: Settings,
) -> None:
    runtime.settings = gcc_settings.model_copy(
        update={"delivery_batch_size": 2, "delivery_concurrency": 1}
    )
    customers = [await customer(organization_factory, receiver, f"pooled-{i}") for i in range(4)]
    await published_release([c.organization.id for c in customers])
    batches = await dispatch(runtime)

    async with open_client(concurrency=1, timeout_seconds=2) as client:
        reports = [await service.deliver_batch(runtime, batch, client=client) for batch in batches]

    assert [report.acknowledged for report in reports] == [2, 2]
    assert receiver.connections == 1
