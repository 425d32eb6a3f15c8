"""Heartbeats move ``wrktalk_gcc_heartbeats_received_total`` by what GCC accepted, and the
organizations they come from are counted by health state."""

from __future__ import annotations

from typing import Any

import httpx

from testsupport.metrics import scrape

HEARTBEATS = "wrktalk_gcc_heartbeats_received_total"


def heartbeat(status: str = "healthy") -> dict[str, Any]:
    return {"version": "2.3.0", "status": status, "timestamp": "2026-06-01T12:00:00Z"}


async def test_accepted_heartbeats_are_counted_and_refused_ones_are_not(
    gcc_client: httpx.AsyncClient, organization_factory: Any
) -> None:
    first = await organization_factory("counted-1")
    second = await organization_factory("counted-2")
    before = await scrape(gcc_client)
    assert before.value("wrktalk_gcc_organizations", health="unknown") == 2

    for customer, times in ((first, 2), (second, 1)):
        name = customer.organization.name
        for _ in range(times):
            answer = await gcc_client.post(
                f"/api/v1/organizations/{name}/heartbeat",
                json=heartbeat(),
                headers=customer.headers,
            )
            assert answer.status_code == 200, answer.text
    refused = await gcc_client.post(
        "/api/v1/organizations/counted-1/heartbeat",
        json=heartbeat(),
        headers={"Authorization": "Bearer wrong"},
    )
    assert refused.status_code == 401
    invalid = await gcc_client.post(
        "/api/v1/organizations/counted-1/heartbeat",
        json=heartbeat(status="exploded"),
        headers=first.headers,
    )
    assert invalid.status_code == 422

    after = await scrape(gcc_client)
    assert after.moved(before, HEARTBEATS) == 3
    assert after.value("wrktalk_gcc_organizations", health="online") == 2
    assert after.value("wrktalk_gcc_organizations", health="unknown") == 0
