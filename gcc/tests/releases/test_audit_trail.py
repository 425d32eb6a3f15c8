"""Publishing and deprecating are recorded in the audit trail with who did it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx

from timekeeping import ManualClock

ReleaseMaker = Callable[..., Awaitable[httpx.Response]]


async def test_publish_and_deprecate_name_the_token_that_made_them(
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    ci_headers: dict[str, str],
    organization_factory: Any,
    ready_release: Callable[..., Awaitable[None]],
    publish: ReleaseMaker,
    gcc_clock: ManualClock,
) -> None:
    await organization_factory("customer-x")
    await ready_release("2.3.0")
    published = await publish("2.3.0", headers=ci_headers)
    gcc_clock.advance(timedelta(seconds=1))  # entries sort by time, newest first
    deprecated = await gcc_client.post(
        "/api/internal/releases/2.3.0/deprecate", headers=operator_headers
    )

    trail = await gcc_client.get(
        "/api/operator/audit", params={"release": "2.3.0"}, headers=operator_headers
    )

    assert published.status_code == 200, published.text
    assert deprecated.status_code == 200, deprecated.text
    entries = trail.json()["entries"]
    assert [(entry["action"], entry["actor"], entry["actorKind"]) for entry in entries] == [
        ("release.deprecate", "operator token", "token"),
        ("release.publish", "ci token", "token"),
    ]
    assert entries[1]["details"]["targets"] == 1


async def test_a_refused_publish_records_nothing(
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    create_release: ReleaseMaker,
    publish: ReleaseMaker,
) -> None:
    await create_release("2.4.0")  # no Helm chart uploaded: publishing is refused

    refused = await publish("2.4.0", headers=operator_headers)
    trail = await gcc_client.get("/api/operator/audit", headers=operator_headers)

    assert refused.status_code == 422
    assert trail.json()["entries"] == []
