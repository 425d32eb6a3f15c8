"""A delivery's outcome line joins the release's trace and names the release and the
organization, so GCC's log and each customer's log meet on the trace id and the ids."""

from __future__ import annotations

import io
import json
from typing import Any

from sqlmodel import select

from gcc.delivery.pump import deliver_due
from gcc.releases.models import Release
from gcc.runtime import Runtime
from logconfig import configure_logging, logging_restored
from servicekit.db import SessionFactory
from telemetry import configure_tracing
from testsupport.gcc_fixtures import OrganizationFactory

PUBLISH_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PUBLISH_SPAN = "00f067aa0ba902b7"


async def test_a_failed_delivery_line_carries_the_release_trace_and_its_ids(
    runtime: Runtime,
    receiver: Any,
    organization_factory: OrganizationFactory,
    published_release: Any,
    gcc_sessions: SessionFactory,
) -> None:
    # as every process does at start: ids for every span, nothing recorded without an endpoint
    configure_tracing(service="tests", endpoint=None)
    endpoint = receiver.endpoint("down", then="fail")
    down = await organization_factory("down", webhook_endpoint=endpoint)
    receiver.trust("down", down.webhook_secret)
    release = await published_release([down.organization.id])
    async with gcc_sessions() as session:
        stored = (await session.exec(select(Release).where(Release.id == release.id))).one()
        stored.trace_parent = f"00-{PUBLISH_TRACE}-{PUBLISH_SPAN}-01"
        await session.commit()
    output = io.StringIO()

    with logging_restored():
        configure_logging(stream=output)
        report = await deliver_due(runtime)

    assert report.retrying == 1
    [line] = [
        event
        for event in map(json.loads, output.getvalue().splitlines())
        if event["event"] == "webhook.delivery.failed"
    ]
    assert line["trace_id"] == PUBLISH_TRACE
    assert line["span_id"] != PUBLISH_SPAN, "the delivery's own span, under the publication"
    assert line["release_id"] == str(release.id)
    assert line["release"] == release.version
    assert line["organization_id"] == str(down.organization.id)
    assert line["organization"] == "down"
