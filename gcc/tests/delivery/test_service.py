"""Dispatching and delivering webhooks, against real customer endpoints on loopback."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from contracts import EscalationType, ReleasePublishedWebhook, ReleaseStatus
from gcc.delivery import claims, service
from gcc.delivery.outcomes import DeliveryReport
from gcc.delivery.pump import deliver_due
from gcc.escalations.models import Escalation
from gcc.organizations.models import Organization
from gcc.releases.models import DeploymentTarget, Release
from gcc.runtime import Runtime
from gcc.settings import Settings
from servicekit.db import SessionFactory, session_scope
from signing import WebhookVerificationError, generate_secret, verify
from testsupport.gcc_fixtures import CreatedOrganization, OrganizationFactory
from timekeeping import ManualClock

RETRY_DELAY = timedelta(seconds=60)


async def organization_row(sessions: SessionFactory, organization_id: uuid.UUID) -> Organization:
    async with sessions() as session:
        organization = await session.get(Organization, organization_id)
        assert organization is not None
        return organization


@dataclass
class Delivery:
    """Customers on the receiver, releases published to them, and the worker's delivery."""

    runtime: Runtime
    receiver: Any
    organization_factory: OrganizationFactory
    published_release: Any
    read_targets: Any

    def configure(self, **settings: Any) -> None:
        """Deliver with these settings changed (the rest as the session's)."""
        self.runtime.settings = self.runtime.settings.model_copy(update=settings)

    async def customer(
        self, name: str, *script: str, then: str = "ok", **organization_fields: Any
    ) -> CreatedOrganization:
        """An organization whose endpoint on the receiver answers as ``script`` says.

        The endpoint trusts the organization's current secret.
        """
        endpoint = self.receiver.endpoint(name, *script, then=then)
        created = await self.organization_factory(
            name, webhook_endpoint=endpoint, **organization_fields
        )
        self.receiver.trust(name, created.webhook_secret)
        return created

    async def customers(self, prefix: str, count: int) -> list[CreatedOrganization]:
        """``count`` customers that acknowledge, named ``prefix-0`` onwards."""
        return [await self.customer(f"{prefix}-{index}") for index in range(count)]

    async def publish(
        self, organizations: Sequence[CreatedOrganization], **release_fields: Any
    ) -> Release:
        """A published release with a due target at each of ``organizations``."""
        return await self.published_release(
            [created.organization.id for created in organizations], **release_fields
        )

    async def publish_to(
        self, name: str, *script: str, then: str = "ok", **release_fields: Any
    ) -> tuple[CreatedOrganization, Release]:
        """One customer answering as ``script`` says, and a release published to it alone."""
        created = await self.customer(name, *script, then=then)
        return created, await self.publish([created], **release_fields)

    async def claim(
        self, *, retries: bool = False, limit: int = 100, held: Sequence[uuid.UUID] = ()
    ) -> list[uuid.UUID]:
        """What a pump's lane claims: due targets nobody holds, leased to the claimer."""
        now = self.runtime.clock.now()
        lease = timedelta(seconds=self.runtime.settings.delivery_lease_seconds)
        async with session_scope(self.runtime.session_factory) as session:
            taken = await claims.claim_targets(
                session, retries=retries, limit=limit, held=held, now=now, lease_until=now + lease
            )
        return [target.target_id for target in taken]

    async def deliver(self) -> list[DeliveryReport]:
        """What a worker's pump does: deliver what is due (nothing: no report)."""
        report = await deliver_due(self.runtime)
        return [report] if report.total else []

    async def only_target(self, release: Release) -> DeploymentTarget:
        """The release's one target, as stored now."""
        (target,) = await self.read_targets(release.id)
        return target


@pytest.fixture
def delivery(
    runtime: Runtime,
    receiver: Any,
    organization_factory: OrganizationFactory,
    published_release: Any,
    read_targets: Any,
) -> Delivery:
    """Delivery to customers on the test's receiver, by a runtime like a worker's."""
    return Delivery(runtime, receiver, organization_factory, published_release, read_targets)


async def rotated_customer(
    delivery: Delivery, name: str, previous_secret_expires_at: datetime
) -> tuple[str, CreatedOrganization]:
    """A customer whose secret was rotated: its previous secret, valid until the given time."""
    old_secret = generate_secret()
    created = await delivery.customer(
        name,
        previous_webhook_secret=old_secret,
        previous_secret_expires_at=previous_secret_expires_at,
    )
    return old_secret, created


async def test_the_pump_sends_each_target_its_signed_webhook_and_records_the_ack(
    delivery: Delivery, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    customers = await delivery.customers("acme", 3)
    release = await delivery.publish(customers)

    reports = await delivery.deliver()

    assert sum(report.acknowledged for report in reports) == 3
    for created in customers:
        (received,) = delivery.receiver.received_by(created.organization.name)
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
    targets = await delivery.read_targets(release.id)
    assert {target.webhook_id for target in targets} == set(delivery.receiver.acknowledged_ids())
    for target in targets:
        assert target.webhook_acked
        assert target.webhook_sent
        assert not target.webhook_failed
        assert target.status == "notified"
        assert target.acked_at == gcc_clock.now()
        assert target.webhook_attempts == 1
        assert target.lease_expires_at is None


async def test_every_target_of_a_release_receives_the_same_body_bytes(delivery: Delivery) -> None:
    await delivery.publish(await delivery.customers("same", 4))

    await delivery.deliver()

    assert len({hook.body for hook in delivery.receiver.received}) == 1
    assert len(delivery.receiver.received) == 4


async def test_a_claim_leases_at_most_its_limit_of_due_targets(
    delivery: Delivery, gcc_settings: Settings, gcc_clock: ManualClock
) -> None:
    organizations = [await delivery.organization_factory() for _ in range(7)]
    release = await delivery.publish(organizations)

    claims = [await delivery.claim(limit=3) for _ in range(4)]

    assert [len(claim) for claim in claims] == [3, 3, 1, 0]
    targets = await delivery.read_targets(release.id)
    assert {target.id for target in targets} == {target for claim in claims for target in claim}
    lease = gcc_clock.now() + timedelta(seconds=gcc_settings.delivery_lease_seconds)
    assert all(target.lease_expires_at == lease for target in targets)


async def test_leased_targets_are_claimed_again_only_after_the_lease_runs_out(
    delivery: Delivery, gcc_settings: Settings, gcc_clock: ManualClock
) -> None:
    await delivery.publish([await delivery.organization_factory()])
    first = await delivery.claim()

    assert await delivery.claim() == []
    gcc_clock.advance(timedelta(seconds=gcc_settings.delivery_lease_seconds))
    assert await delivery.claim() == []
    gcc_clock.advance(timedelta(seconds=1))
    assert await delivery.claim() == first


async def test_a_pump_never_claims_again_what_it_holds(
    delivery: Delivery, gcc_settings: Settings, gcc_clock: ManualClock
) -> None:
    await delivery.publish([await delivery.organization_factory()])
    held = await delivery.claim()
    gcc_clock.advance(timedelta(seconds=gcc_settings.delivery_lease_seconds + 1))

    assert await delivery.claim(held=held) == []
    assert await delivery.claim() == held


async def test_claims_ignore_acknowledged_failed_and_future_targets(
    delivery: Delivery, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    organizations = [await delivery.organization_factory() for _ in range(4)]
    release = await delivery.publish(organizations)
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

    assert await delivery.claim() == [due]


async def test_first_deliveries_and_retries_are_claimed_in_separate_lanes(
    delivery: Delivery, gcc_sessions: SessionFactory
) -> None:
    release = await delivery.publish([await delivery.organization_factory() for _ in range(3)])
    async with gcc_sessions() as session:
        targets = (
            await session.exec(
                select(DeploymentTarget).where(DeploymentTarget.release_id == release.id)
            )
        ).all()
        targets[0].webhook_attempts = 1
        retry = targets[0].id
        await session.commit()

    assert await delivery.claim(retries=True) == [retry]
    assert len(await delivery.claim(retries=False)) == 2


async def test_run_dispatch_sends_the_pump_task_while_a_delivery_is_due_and_unheld(
    delivery: Delivery, task_recorder: Any
) -> None:
    assert await service.run_dispatch(delivery.runtime) is False
    await delivery.publish([await delivery.organization_factory() for _ in range(5)])

    assert await service.run_dispatch(delivery.runtime) is True
    assert task_recorder.names() == ["delivery.pump"]

    await delivery.claim()  # a pump holds them all
    assert await service.run_dispatch(delivery.runtime) is False
    assert task_recorder.names() == ["delivery.pump"]


async def test_server_error_is_retried_after_the_retry_delay_and_not_before(
    delivery: Delivery, gcc_clock: ManualClock
) -> None:
    _, release = await delivery.publish_to("flaky", "fail")

    (report,) = await delivery.deliver()

    assert report.retrying == 1
    target = await delivery.only_target(release)
    assert not target.webhook_acked
    assert not target.webhook_failed
    assert target.webhook_attempts == 1
    assert target.webhook_error == "HTTP 500: backend exploded: database unavailable"
    assert target.next_attempt_at == gcc_clock.now() + RETRY_DELAY
    assert target.lease_expires_at is None
    assert target.status == "pending"

    gcc_clock.advance(RETRY_DELAY - timedelta(seconds=1))
    assert await delivery.deliver() == []
    assert len(delivery.receiver.received_by("flaky")) == 1

    gcc_clock.advance(timedelta(seconds=1))
    (report,) = await delivery.deliver()

    assert report.acknowledged == 1
    target = await delivery.only_target(release)
    assert target.webhook_acked
    assert target.status == "notified"
    assert target.webhook_attempts == 2
    assert target.webhook_error is None


async def test_retries_carry_the_same_webhook_id_with_a_fresh_timestamp(
    delivery: Delivery, gcc_clock: ManualClock
) -> None:
    _, release = await delivery.publish_to("retried", "fail", "fail")

    for _ in range(3):
        await delivery.deliver()
        gcc_clock.advance(RETRY_DELAY)

    first, second, third = delivery.receiver.received_by("retried")
    target = await delivery.only_target(release)
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
    delivery: Delivery, gcc_clock: ManualClock
) -> None:
    _, release = await delivery.publish_to("down", then="fail")

    reports = []
    for _ in range(4):
        reports += await delivery.deliver()
        gcc_clock.advance(RETRY_DELAY)

    assert [(report.retrying, report.failed) for report in reports] == [(1, 0), (1, 0), (0, 1)]
    assert len(delivery.receiver.received_by("down")) == 3
    target = await delivery.only_target(release)
    assert target.webhook_failed
    assert not target.webhook_acked
    assert target.status == "webhookFailed"
    assert target.webhook_attempts == 3
    assert target.next_attempt_at is None
    assert target.webhook_error.startswith("HTTP 500")


async def test_unauthorized_is_not_retried_and_raises_an_escalation(
    delivery: Delivery, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    created, release = await delivery.publish_to("wrong-secret", then="reject")

    (report,) = await delivery.deliver()
    gcc_clock.advance(RETRY_DELAY * 5)
    assert await delivery.deliver() == []

    assert report.rejected == 1
    assert len(delivery.receiver.received_by("wrong-secret")) == 1
    target = await delivery.only_target(release)
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
    delivery: Delivery, gcc_clock: ManualClock
) -> None:
    delivery.configure(webhook_timeout_seconds=0.3)
    delivery.receiver.slow_seconds = 1.0
    _, release = await delivery.publish_to("sluggish", "slow")

    (report,) = await delivery.deliver()

    assert report.retrying == 1
    target = await delivery.only_target(release)
    assert target.webhook_error == "no answer within 0.3 s"
    assert target.next_attempt_at == gcc_clock.now() + RETRY_DELAY

    gcc_clock.advance(RETRY_DELAY)
    (report,) = await delivery.deliver()
    assert report.acknowledged == 1


async def test_a_closed_connection_is_retried(delivery: Delivery, gcc_clock: ManualClock) -> None:
    _, release = await delivery.publish_to("hangs-up", "close")

    (report,) = await delivery.deliver()

    assert report.retrying == 1
    target = await delivery.only_target(release)
    assert target.webhook_error.startswith("connection error: ServerDisconnectedError")
    gcc_clock.advance(RETRY_DELAY)
    (report,) = await delivery.deliver()
    assert report.acknowledged == 1
    assert [hook.answer for hook in delivery.receiver.received_by("hangs-up")] == ["close", "ok"]


async def test_an_unreachable_endpoint_is_retried(delivery: Delivery) -> None:
    created = await delivery.organization_factory(
        webhook_endpoint="http://127.0.0.1:9/hooks/nobody"
    )
    release = await delivery.publish([created])

    (report,) = await delivery.deliver()

    assert report.retrying == 1
    target = await delivery.only_target(release)
    assert target.webhook_error.startswith("connection error: ClientConnectorError")


async def test_during_secret_rotation_both_the_old_and_the_new_secret_verify(
    delivery: Delivery, gcc_clock: ManualClock
) -> None:
    old_secret, created = await rotated_customer(
        delivery, "rotating", gcc_clock.now() + timedelta(hours=24)
    )
    new_secret = created.webhook_secret
    delivery.receiver.trust("rotating", old_secret)  # a backend that still has the old one only
    await delivery.publish([created])

    await delivery.deliver()

    (received,) = delivery.receiver.received_by("rotating")
    assert received.answer == "ok"
    assert len(received.signature.split(" ")) == 2
    now = gcc_clock.now()
    verify(old_secret, received.headers, received.body, now=now)
    verify(new_secret, received.headers, received.body, now=now)


async def test_after_the_rotation_grace_only_the_new_secret_signs(
    delivery: Delivery, gcc_clock: ManualClock
) -> None:
    old_secret, created = await rotated_customer(
        delivery, "rotated", gcc_clock.now() - timedelta(seconds=1)
    )
    new_secret = created.webhook_secret
    delivery.receiver.trust("rotated", new_secret)
    await delivery.publish([created])

    await delivery.deliver()

    (received,) = delivery.receiver.received_by("rotated")
    now = gcc_clock.now()
    verify(new_secret, received.headers, received.body, now=now)
    with pytest.raises(WebhookVerificationError, match="no webhook signature matches"):
        verify(old_secret, received.headers, received.body, now=now)


async def test_a_plain_http_endpoint_is_refused_unless_http_is_allowed(
    delivery: Delivery,
) -> None:
    delivery.configure(allow_http_webhooks=False)
    _, release = await delivery.publish_to("plain-http")

    (report,) = await delivery.deliver()

    assert report.failed == 1
    assert delivery.receiver.received == []
    target = await delivery.only_target(release)
    assert target.webhook_failed
    assert not target.webhook_sent
    assert target.status == "webhookFailed"
    assert "https" in target.webhook_error


async def test_two_pumps_at_once_send_each_webhook_once(delivery: Delivery) -> None:
    delivery.configure(delivery_concurrency=2)
    await delivery.publish(await delivery.customers("twice", 9))

    first, second = await asyncio.gather(
        deliver_due(delivery.runtime), deliver_due(delivery.runtime)
    )

    assert first.acknowledged + second.acknowledged == 9
    assert len(delivery.receiver.received) == 9
    assert len(set(delivery.receiver.acknowledged_ids())) == 9


async def test_a_rescheduled_target_is_not_sent_before_its_retry_is_due(
    delivery: Delivery,
) -> None:
    await delivery.publish_to("rescheduled", "fail")
    await delivery.deliver()

    assert await delivery.deliver() == []
    assert len(delivery.receiver.received_by("rescheduled")) == 1


async def test_a_deprecated_release_is_not_sent(delivery: Delivery) -> None:
    _, release = await delivery.publish_to("late", status=ReleaseStatus.DEPRECATED)

    (report,) = await delivery.deliver()

    assert report.failed == 1
    assert delivery.receiver.received == []
    target = await delivery.only_target(release)
    assert target.webhook_failed
    assert "deprecated" in target.webhook_error


async def test_an_ack_keeps_the_newer_heartbeat_as_last_seen(
    delivery: Delivery, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    heartbeat = gcc_clock.now() + timedelta(minutes=5)
    created = await delivery.customer(
        "beating", last_heartbeat_at=heartbeat, last_seen_at=heartbeat
    )
    await delivery.publish([created])

    await delivery.deliver()

    organization = await organization_row(gcc_sessions, created.organization.id)
    assert organization.last_webhook_ack_at == gcc_clock.now()
    assert organization.last_seen_at == heartbeat


async def test_a_broken_organization_fails_alone_and_the_others_go_out(
    delivery: Delivery, gcc_sessions: SessionFactory
) -> None:
    healthy = await delivery.customer("healthy")
    unusable_secret = await delivery.customer("unusable-secret")
    bad_host = await delivery.organization_factory(webhook_endpoint="http://exa mple.test/hook")
    async with gcc_sessions() as session:
        row = await session.get(Organization, unusable_secret.organization.id)
        assert row is not None
        row.webhook_secret = "whsec_not*base64"
        await session.commit()
    release = await delivery.publish([healthy, unusable_secret, bad_host])

    (report,) = await delivery.deliver()

    assert (report.acknowledged, report.failed, report.retrying) == (1, 1, 1)
    by_organization = {
        target.organization_id: target for target in await delivery.read_targets(release.id)
    }
    assert by_organization[healthy.organization.id].webhook_acked
    refused = by_organization[unusable_secret.organization.id]
    assert refused.webhook_failed
    assert not refused.webhook_sent
    assert "secret is unusable" in refused.webhook_error
    assert delivery.receiver.received_by("unusable-secret") == []
    assert by_organization[bad_host.organization.id].webhook_attempts == 1


async def test_a_pump_keeps_the_connection_to_a_customer_from_one_webhook_to_the_next(
    delivery: Delivery,
) -> None:
    delivery.configure(delivery_concurrency=1)
    await delivery.publish(await delivery.customers("pooled", 4))

    (report,) = await delivery.deliver()

    assert report.acknowledged == 4
    assert delivery.receiver.connections == 1


async def test_gone_is_not_retried_and_raises_a_webhook_gone_escalation(
    delivery: Delivery, gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    created, release = await delivery.publish_to("moved-away", then="gone")

    (report,) = await delivery.deliver()
    gcc_clock.advance(RETRY_DELAY * 5)
    assert await delivery.deliver() == []

    assert report.gone == 1
    assert len(delivery.receiver.received_by("moved-away")) == 1
    target = await delivery.only_target(release)
    assert target.webhook_failed
    assert target.status == "webhookFailed"
    assert target.webhook_error.startswith("HTTP 410: ")
    async with gcc_sessions() as session:
        (escalation,) = (await session.exec(select(Escalation))).all()
    assert escalation.type == EscalationType.WEBHOOK_GONE
    assert escalation.organization_id == created.organization.id
    assert "410" in escalation.reason


async def test_too_many_requests_is_retried_after_its_retry_after_seconds(
    delivery: Delivery, gcc_clock: ManualClock
) -> None:
    _, release = await delivery.publish_to("throttled", "busy")

    (report,) = await delivery.deliver()

    assert report.retrying == 1
    target = await delivery.only_target(release)
    assert target.next_attempt_at == gcc_clock.now() + timedelta(seconds=120)
    gcc_clock.advance(RETRY_DELAY)
    assert await delivery.deliver() == []
    gcc_clock.advance(timedelta(seconds=60))
    (report,) = await delivery.deliver()
    assert report.acknowledged == 1


async def test_a_retry_after_date_beyond_an_hour_is_capped_at_an_hour(
    delivery: Delivery, gcc_clock: ManualClock
) -> None:
    _, release = await delivery.publish_to("maintenance", "unavailable-until")

    (report,) = await delivery.deliver()

    assert report.retrying == 1
    target = await delivery.only_target(release)
    assert target.next_attempt_at == gcc_clock.now() + timedelta(hours=1)
    assert target.webhook_error.startswith("HTTP 503: ")


async def test_no_more_requests_than_the_per_host_limit_go_to_one_receiver_at_once(
    delivery: Delivery,
) -> None:
    # every customer of the test receiver shares its host and port
    delivery.configure(delivery_concurrency=10, delivery_per_host_limit=3)
    delivery.receiver.latency_seconds = 0.2
    await delivery.publish(await delivery.customers("shared", 12))

    (report,) = await delivery.deliver()

    assert report.acknowledged == 12
    assert delivery.receiver.most_in_flight == 3


@pytest.mark.parametrize(
    ("slow_limit", "most_in_flight"),
    [
        pytest.param(1000, 2, id="the slow one gives its slot back: one fast one goes beside it"),
        pytest.param(0, 1, id="beyond the slow limit the slow one keeps its slot"),
    ],
)
async def test_a_slow_receiver_gives_its_slot_back_while_the_slow_limit_allows(
    delivery: Delivery, gcc_clock: ManualClock, slow_limit: int, most_in_flight: int
) -> None:
    delivery.configure(
        delivery_concurrency=1,
        delivery_slow_after_seconds=0.3,
        delivery_slow_limit=slow_limit,
        webhook_timeout_seconds=3.0,
    )
    delivery.receiver.slow_seconds = 1.2
    slow = await delivery.customer("slow-one", "slow")
    await delivery.publish([slow], published_at=gcc_clock.now() - timedelta(seconds=1))
    await delivery.publish(await delivery.customers("fast", 4), version="2.1.1")

    (report,) = await delivery.deliver()

    assert report.acknowledged == 5
    assert delivery.receiver.received[0].organization == "slow-one"
    assert delivery.receiver.most_in_flight == most_in_flight


async def test_a_slow_receiver_holds_one_slot_and_the_others_are_answered_meanwhile(
    delivery: Delivery, gcc_clock: ManualClock
) -> None:
    delivery.configure(delivery_concurrency=2, webhook_timeout_seconds=2.0)
    delivery.receiver.slow_seconds = 1.5
    slow = await delivery.customer("slow-one", "slow")
    fast = await delivery.customers("fast", 10)
    # the slow one is due first, so it is among the first two requests sent
    await delivery.publish([slow], published_at=gcc_clock.now() - timedelta(seconds=1))
    await delivery.publish(fast, version="2.1.1")

    (report,) = await delivery.deliver()

    assert report.acknowledged == 11
    answers = [hook.organization for hook in delivery.receiver.received]
    # the fast ones went through the other slot while the slow one was reading
    assert set(answers[-10:]) <= {f"fast-{index}" for index in range(10)} | {"slow-one"}
    assert answers.index("slow-one") < 2
