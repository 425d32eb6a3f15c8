"""A real Prometheus scrapes the served GCC and backend while a release fans out, and PromQL
over what it scraped counts what happened."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from gcc.delivery.pump import deliver_due
from gcc.runtime import Runtime
from testsupport.gcc_fixtures import OrganizationFactory
from testsupport.prometheus import require_prometheus, running_prometheus
from wrktalk_testing.servers import ServedApp


async def test_prometheus_counts_a_fan_out_to_twenty_organizations(
    gcc_server: ServedApp,
    backend_server: ServedApp,
    runtime: Runtime,
    receiver: Any,
    organization_factory: OrganizationFactory,
    published_release: Any,
    tmp_path: Path,
) -> None:
    require_prometheus()
    organizations = []
    for index in range(20):
        name = f"scraped-{index}"
        created = await organization_factory(name, webhook_endpoint=receiver.endpoint(name))
        receiver.trust(name, created.webhook_secret)
        organizations.append(created.organization.id)
    jobs = {
        "gcc-api": [gcc_server.base_url.removeprefix("http://")],
        "customer-backend-api": [backend_server.base_url.removeprefix("http://")],
    }
    with running_prometheus(tmp_path, jobs) as prometheus:
        # Both apps are served from this process and so share one registry: count GCC's job only.
        acknowledged = (
            'sum(wrktalk_gcc_webhook_deliveries_total{job="gcc-api",outcome="acknowledged"})'
        )
        before = await asyncio.to_thread(prometheus.wait_for, "sum(up)", 2)
        assert before == 2, "both services are scraped"
        start = await asyncio.to_thread(prometheus.scalar, acknowledged) or 0.0
        await published_release(organizations)
        await deliver_due(runtime)

        scraped = await asyncio.to_thread(prometheus.wait_for, acknowledged, start + 20)
        assert scraped == start + 20
        due = await asyncio.to_thread(
            prometheus.wait_for, "max(wrktalk_gcc_webhook_deliveries_due)", 0
        )
        assert due == 0
        outbox = await asyncio.to_thread(
            prometheus.scalar, 'max(wrktalk_backend_outbox_depth{job="customer-backend-api"})'
        )
        assert outbox is not None
