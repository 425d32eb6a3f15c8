"""The delivery metrics on GCC's ``/metrics`` move by what a fan-out really did."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from gcc.delivery.pump import deliver_due
from gcc.runtime import Runtime
from testsupport.gcc_fixtures import OrganizationFactory
from testsupport.metrics import scrape
from timekeeping import ManualClock

DELIVERIES = "wrktalk_gcc_webhook_deliveries_total"


async def customers(
    receiver: Any, organization_factory: OrganizationFactory, prefix: str, count: int, **answer: Any
) -> list[Any]:
    created = []
    for index in range(count):
        name = f"{prefix}-{index}"
        endpoint = receiver.endpoint(name, then=answer.get("then", "ok"))
        organization = await organization_factory(name, webhook_endpoint=endpoint)
        receiver.trust(name, organization.webhook_secret)
        created.append(organization)
    return created


async def test_a_release_to_twenty_organizations_counts_twenty_acknowledged_deliveries(
    gcc_client: httpx.AsyncClient,
    runtime: Runtime,
    receiver: Any,
    organization_factory: OrganizationFactory,
    published_release: Any,
    gcc_clock: ManualClock,
) -> None:
    organizations = await customers(receiver, organization_factory, "metered", 20)
    await published_release([created.organization.id for created in organizations])
    before = await scrape(gcc_client)
    assert before.value("wrktalk_gcc_webhook_deliveries_due") == 20
    gcc_clock.advance(timedelta(seconds=42))

    await deliver_due(runtime)

    after = await scrape(gcc_client)
    assert after.moved(before, DELIVERIES, outcome="acknowledged") == 20
    assert after.moved(before, DELIVERIES, outcome="failed") == 0
    latency = "wrktalk_gcc_webhook_delivery_duration_seconds_count"
    assert after.moved(before, latency) == 20
    assert after.moved(before, "wrktalk_gcc_fanout_duration_seconds_count") == 1
    assert after.moved(before, "wrktalk_gcc_fanout_duration_seconds_sum") == 42
    assert after.value("wrktalk_gcc_webhook_deliveries_due") == 0
    assert after.value("wrktalk_gcc_deployment_targets", status="notified") == 20
    assert after.value("wrktalk_gcc_releases", status="published") == 1
    health = ("online", "degraded", "offline", "critical", "unknown")
    assert sum(after.value("wrktalk_gcc_organizations", health=state) for state in health) == 20


async def test_a_failing_receiver_counts_retries_then_one_failure(
    gcc_client: httpx.AsyncClient,
    runtime: Runtime,
    receiver: Any,
    organization_factory: OrganizationFactory,
    published_release: Any,
    gcc_clock: ManualClock,
) -> None:
    (down,) = await customers(receiver, organization_factory, "down", 1, then="fail")
    await published_release([down.organization.id])
    before = await scrape(gcc_client)

    await deliver_due(runtime)
    retrying = await scrape(gcc_client)
    assert retrying.moved(before, DELIVERIES, outcome="retrying") == 1
    assert retrying.value("wrktalk_gcc_webhook_deliveries_waiting_retry") == 1
    assert retrying.value("wrktalk_gcc_webhook_deliveries_due") == 0
    for _ in range(3):
        gcc_clock.advance(timedelta(seconds=runtime.settings.webhook_retry_delay_seconds))
        await deliver_due(runtime)

    after = await scrape(gcc_client)
    assert after.moved(before, DELIVERIES, outcome="retrying") == 2
    assert after.moved(before, DELIVERIES, outcome="failed") == 1
    assert after.moved(before, DELIVERIES, outcome="acknowledged") == 0
    assert after.value("wrktalk_gcc_webhook_deliveries_waiting_retry") == 0
    assert after.value("wrktalk_gcc_deployment_targets", status="webhookFailed") == 1


async def test_a_receiver_refusing_the_signature_opens_an_escalation_that_ages(
    gcc_client: httpx.AsyncClient,
    runtime: Runtime,
    receiver: Any,
    organization_factory: OrganizationFactory,
    published_release: Any,
    gcc_clock: ManualClock,
) -> None:
    # not trusted: the receiver answers 401 to GCC's signature
    refusing = await organization_factory(
        "refusing", webhook_endpoint=receiver.endpoint("refusing")
    )
    await published_release([refusing.organization.id])
    gcc_clock.advance(timedelta(seconds=90))
    before = await scrape(gcc_client)
    assert before.value("wrktalk_gcc_webhook_oldest_pending_age_seconds") == 90
    rejected = {"type": "WEBHOOK_REJECTED"}
    assert before.value("wrktalk_gcc_escalations_open", **rejected) == 0

    await deliver_due(runtime)
    gcc_clock.advance(timedelta(hours=2))

    after = await scrape(gcc_client)
    assert after.moved(before, DELIVERIES, outcome="rejected") == 1
    assert after.value("wrktalk_gcc_webhook_oldest_pending_age_seconds") == 0
    assert after.value("wrktalk_gcc_escalations_open", **rejected) == 1
    assert after.value("wrktalk_gcc_escalation_oldest_open_age_seconds", **rejected) == 7200
    assert after.value("wrktalk_gcc_escalations_open", type="LICENSE_EXPIRED") == 0
