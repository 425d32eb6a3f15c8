"""The operator's redelivery route, over HTTP against the served app."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlmodel import select

from contracts import DeploymentStatus, ReleaseStatus
from gcc.delivery.pump import deliver_due
from gcc.releases.models import DeploymentTarget
from gcc.runtime import Runtime
from servicekit.db import SessionFactory
from timekeeping import ManualClock


async def fail_deliveries(sessions: SessionFactory, target_ids: list[uuid.UUID]) -> None:
    async with sessions() as session:
        for target_id in target_ids:
            target = await session.get(DeploymentTarget, target_id)
            assert target is not None
            target.webhook_failed = True
            target.webhook_attempts = 3
            target.webhook_error = "HTTP 500: down"
            target.next_attempt_at = None
            target.status = DeploymentStatus.WEBHOOK_FAILED
        await session.commit()


async def release_targets(
    sessions: SessionFactory, release_id: uuid.UUID
) -> dict[uuid.UUID, DeploymentTarget]:
    async with sessions() as session:
        rows = await session.exec(
            select(DeploymentTarget).where(DeploymentTarget.release_id == release_id)
        )
        return {row.organization_id: row for row in rows}


async def test_redeliver_queues_every_failed_delivery_of_the_release_again(
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    task_recorder: Any,
    organization_factory: Any,
    published_release: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    failed_a = await organization_factory("failed-a")
    failed_b = await organization_factory("failed-b")
    fine = await organization_factory("fine")
    release = await published_release(
        [created.organization.id for created in (failed_a, failed_b, fine)]
    )
    targets = await release_targets(gcc_sessions, release.id)
    await fail_deliveries(
        gcc_sessions,
        [targets[failed_a.organization.id].id, targets[failed_b.organization.id].id],
    )

    response = await gcc_client.post(
        f"/api/operator/releases/{release.version}/redeliver", headers=operator_headers
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"version": "2.1.0", "organizations": ["failed-a", "failed-b"]}
    assert task_recorder.names() == ["delivery.dispatch_due"]
    after = await release_targets(gcc_sessions, release.id)
    for organization in (failed_a, failed_b):
        target = after[organization.organization.id]
        assert not target.webhook_failed
        assert target.webhook_attempts == 0
        assert target.webhook_error is None
        assert target.status == "pending"
        assert target.next_attempt_at == gcc_clock.now()
        assert target.webhook_id == targets[organization.organization.id].webhook_id
    assert after[fine.organization.id].next_attempt_at == gcc_clock.now()
    assert not after[fine.organization.id].webhook_failed


async def test_redeliver_for_one_organization_leaves_the_others_failed(
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    organization_factory: Any,
    published_release: Any,
    gcc_sessions: SessionFactory,
) -> None:
    first = await organization_factory("first")
    second = await organization_factory("second")
    release = await published_release([first.organization.id, second.organization.id])
    targets = await release_targets(gcc_sessions, release.id)
    await fail_deliveries(gcc_sessions, [target.id for target in targets.values()])

    response = await gcc_client.post(
        f"/api/operator/releases/{release.version}/redeliver",
        params={"organization": "second"},
        headers=operator_headers,
    )

    assert response.json()["organizations"] == ["second"]
    after = await release_targets(gcc_sessions, release.id)
    assert after[first.organization.id].webhook_failed
    assert not after[second.organization.id].webhook_failed


async def test_a_rejected_webhook_is_delivered_after_the_operator_redelivers_it(
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    runtime: Runtime,
    receiver: Any,
    organization_factory: Any,
    published_release: Any,
    gcc_sessions: SessionFactory,
) -> None:
    created = await organization_factory(
        "fixed-later", webhook_endpoint=receiver.endpoint("fixed-later", "reject")
    )
    receiver.trust("fixed-later", created.webhook_secret)
    release = await published_release([created.organization.id])
    await deliver_due(runtime)

    response = await gcc_client.post(
        f"/api/operator/releases/{release.version}/redeliver", headers=operator_headers
    )
    await deliver_due(runtime)

    assert response.status_code == 200
    (target,) = (await release_targets(gcc_sessions, release.id)).values()
    assert target.webhook_acked
    assert target.status == "notified"
    first, second = receiver.received_by("fixed-later")
    assert (first.answer, second.answer) == ("reject", "ok")
    assert first.webhook_id == second.webhook_id == target.webhook_id


async def test_redeliver_of_an_unknown_release_is_404(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    response = await gcc_client.post(
        "/api/operator/releases/9.9.9/redeliver", headers=operator_headers
    )

    assert response.status_code == 404
    assert response.json()["field"] == "version"


async def test_redeliver_for_an_unknown_organization_is_404(
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    published_release: Any,
) -> None:
    release = await published_release([])

    response = await gcc_client.post(
        f"/api/operator/releases/{release.version}/redeliver",
        params={"organization": "nobody"},
        headers=operator_headers,
    )

    assert response.status_code == 404
    assert response.json()["field"] == "organization"


async def test_redeliver_of_a_draft_is_409(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str], published_release: Any
) -> None:
    release = await published_release([], status=ReleaseStatus.DRAFT)

    response = await gcc_client.post(
        f"/api/operator/releases/{release.version}/redeliver", headers=operator_headers
    )

    assert response.status_code == 409
    assert response.json()["field"] == "version"


async def test_redeliver_with_a_malformed_version_is_422(
    gcc_client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    response = await gcc_client.post(
        "/api/operator/releases/not-a-version/redeliver", headers=operator_headers
    )

    assert response.status_code == 422
    assert response.json()["field"] == "version"


async def test_redeliver_refuses_callers_without_the_operator_token(
    gcc_client: httpx.AsyncClient, ci_headers: dict[str, str], published_release: Any
) -> None:
    release = await published_release([])
    path = f"/api/operator/releases/{release.version}/redeliver"

    anonymous = await gcc_client.post(path)
    as_ci = await gcc_client.post(path, headers=ci_headers)

    assert anonymous.status_code == 401
    assert as_ci.status_code == 401
    assert anonymous.json()["error"] == as_ci.json()["error"]
