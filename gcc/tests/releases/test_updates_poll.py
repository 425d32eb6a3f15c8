"""`GET /api/v1/organizations/{name}/updates`: what an organization's poll picks up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from contracts import ReleasePublishedWebhook, UpdatesPollResponse
from gcc.releases.models import DeploymentTarget
from servicekit.db import SessionFactory
from timekeeping import ManualClock

ReleaseMaker = Callable[..., Awaitable[httpx.Response]]
ReadyRelease = Callable[..., Awaitable[None]]
OrganizationFactory = Callable[..., Awaitable[Any]]


async def poll(client: httpx.AsyncClient, customer: Any) -> UpdatesPollResponse:
    response = await client.get(
        f"/api/v1/organizations/{customer.organization.name}/updates", headers=customer.headers
    )
    assert response.status_code == 200, response.text
    return UpdatesPollResponse.model_validate_json(response.content)


async def set_target(sessions: SessionFactory, **values: Any) -> None:
    async with sessions() as session:
        await session.exec(update(DeploymentTarget).values(**values))  # type: ignore[call-overload]
        await session.commit()


async def test_poll_returns_the_webhook_body_of_an_unacknowledged_release(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    upload_artifact: Callable[..., Awaitable[httpx.Response]],
    organization_factory: OrganizationFactory,
    gcc_client: httpx.AsyncClient,
) -> None:
    customer = await organization_factory()
    await ready_release("2.3.0", compose=True, isForced=True, minCurrentVersion="2.0.0")
    published = (await publish("2.3.0")).json()

    updates = await poll(gcc_client, customer)

    [body] = updates.releases
    assert isinstance(body, ReleasePublishedWebhook)
    assert str(body.release.id) == published["id"]
    assert str(body.release.version) == "2.3.0"
    assert body.release.image_tags["controlTower"] == "sha-ghi789"
    assert [env.key for env in body.release.new_non_essential_envs] == ["NEW_FEATURE"]
    assert body.ruleset.is_forced is True
    assert str(body.ruleset.min_current_version) == "2.0.0"
    operator_view = await gcc_client.get(
        "/api/operator/releases/2.3.0",
        headers={"Authorization": "Bearer operator-token-for-tests"},
    )
    digests = {a["type"]: a["sha256"] for a in operator_view.json()["artifacts"]}
    assert body.release.chart_sha256 == digests["helm"]
    assert body.release.compose_sha256 == digests["compose"]


async def test_poll_lists_releases_oldest_first(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_client: httpx.AsyncClient,
    gcc_clock: ManualClock,
) -> None:
    customer = await organization_factory()
    await ready_release("2.4.0")
    await ready_release("2.3.0")
    await publish("2.3.0")
    gcc_clock.advance(timedelta(hours=1))
    await publish("2.4.0")

    updates = await poll(gcc_client, customer)

    assert [str(body.release.version) for body in updates.releases] == ["2.3.0", "2.4.0"]


async def test_poll_leaves_out_acknowledged_releases(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_client: httpx.AsyncClient,
    gcc_sessions: SessionFactory,
) -> None:
    customer = await organization_factory()
    await ready_release("2.3.0")
    await publish("2.3.0")
    await set_target(gcc_sessions, webhook_acked=True, status="notified")

    assert (await poll(gcc_client, customer)).releases == []


async def test_poll_keeps_releases_whose_webhook_failed(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_client: httpx.AsyncClient,
    gcc_sessions: SessionFactory,
) -> None:
    customer = await organization_factory()
    await ready_release("2.3.0")
    await publish("2.3.0")
    await set_target(gcc_sessions, webhook_failed=True, status="webhookFailed")

    assert len((await poll(gcc_client, customer)).releases) == 1


async def test_poll_leaves_out_releases_the_organization_reported_a_status_for(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_client: httpx.AsyncClient,
    gcc_sessions: SessionFactory,
) -> None:
    customer = await organization_factory()
    await ready_release("2.3.0")
    await publish("2.3.0")
    await set_target(gcc_sessions, status="scheduled")

    assert (await poll(gcc_client, customer)).releases == []


async def test_poll_leaves_out_deprecated_releases(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_client: httpx.AsyncClient,
    ci_headers: dict[str, str],
) -> None:
    customer = await organization_factory()
    await ready_release("2.3.0")
    await publish("2.3.0")
    await gcc_client.post("/api/internal/releases/2.3.0/deprecate", headers=ci_headers)

    assert (await poll(gcc_client, customer)).releases == []


async def test_poll_leaves_out_releases_not_targeted_at_the_organization(
    ready_release: ReadyRelease,
    publish: ReleaseMaker,
    organization_factory: OrganizationFactory,
    gcc_client: httpx.AsyncClient,
    gcc_clock: ManualClock,
) -> None:
    await organization_factory("pilot")
    other = await organization_factory("other")
    expired = await organization_factory(
        "expired", license_expires_at=gcc_clock.now() - timedelta(days=1)
    )
    await ready_release("2.3.0", targets=["pilot", "expired"])
    await ready_release("2.4.0")
    await publish("2.3.0")

    assert (await poll(gcc_client, other)).releases == []
    assert (await poll(gcc_client, expired)).releases == []


async def test_poll_of_another_organization_is_403(
    organization_factory: OrganizationFactory, gcc_client: httpx.AsyncClient
) -> None:
    mine = await organization_factory("mine")
    await organization_factory("theirs")

    response = await gcc_client.get("/api/v1/organizations/theirs/updates", headers=mine.headers)

    assert response.status_code == 403
    assert response.json()["field"] == "name"


async def test_poll_without_a_key_is_401(gcc_client: httpx.AsyncClient) -> None:
    response = await gcc_client.get("/api/v1/organizations/mine/updates")

    assert response.status_code == 401
