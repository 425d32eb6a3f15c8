"""Scheduling and cancelling from the Control Tower: one active deployment at a time."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx

from contracts import (
    AgentTaskStatus,
    DeployPayload,
    LocalDeploymentStatus,
)
from customer_backend.config.models import EssentialConfigVersion
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.tasks.models import AgentTask
from objectstore import ObjectStore
from timekeeping import ManualClock
from wrktalk_testing.servers import ServedApp

SCHEDULE = "/api/admin/deployment/schedule"


async def schedule(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    deployment_id: uuid.UUID | str,
    when: Any,
) -> httpx.Response:
    return await client.post(
        SCHEDULE,
        json={"deploymentId": str(deployment_id), "scheduledFor": when.isoformat()},
        headers=headers,
    )


async def test_schedule_creates_a_pending_deploy_task_for_the_agent(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    gcc_clock: ManualClock,
    rows: Any,
    backend_store: ObjectStore,
    claimable: Any,
) -> None:
    admin = await admin_factory("ops@acme.example")
    release = await release_factory("2.3.0", new_envs=[{"key": "NEW_FLAG", "value": "false"}])
    when = gcc_clock.now() + timedelta(hours=2)

    response = await schedule(backend_client, admin.headers, release.id, when)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scheduled"] is True
    task = await rows.get(AgentTask, uuid.UUID(body["taskId"]))
    assert (task.type, task.status, task.deployment_id) == ("deploy", "pending", release.id)
    assert task.execute_after == when
    assert task.created_by == "ops@acme.example"
    deployment = await rows.get(ScheduledDeployment, release.id)
    assert deployment.status == LocalDeploymentStatus.SCHEDULED
    assert deployment.scheduled_for == when
    assert deployment.scheduled_by == "ops@acme.example"
    payload = task.payload
    assert payload["version"] == "2.3.0"
    assert payload["chart"] == {
        "bucketPath": "artifacts/helm/wrktalk-2.3.0.tgz",
        "sha256": release.artifact.sha256,
        "sizeBytes": release.artifact.size_bytes,
        "type": "helm",
        "version": "2.3.0",
    }
    assert payload["imageTags"]["backend"] == "sha-abc123-2.3.0"
    assert payload["newNonEssentialEnvs"] == [{"key": "NEW_FLAG", "value": "false"}]
    assert payload["env"] is None
    assert payload["previous"] is None
    assert "downloadUrl" not in str(payload)
    DeployPayload.model_validate(claimable(payload))


async def test_first_schedule_creates_an_empty_essential_configuration_revision(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    gcc_clock: ManualClock,
    rows: Any,
    backend_store: ObjectStore,
    backend_sessions: Any,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0")

    response = await schedule(
        backend_client, admin.headers, release.id, gcc_clock.now() + timedelta(minutes=5)
    )

    assert response.status_code == 200, response.text
    task = await rows.get(AgentTask, uuid.UUID(response.json()["taskId"]))
    values = task.payload["values"]
    assert values["bucketPath"] == "config/values.r1.yaml"
    async with backend_sessions() as session:
        from sqlmodel import select

        versions = (await session.exec(select(EssentialConfigVersion))).all()
    assert [(v.revision, v.is_current, v.created_by) for v in versions] == [(1, True, "system")]
    assert values["sha256"] == versions[0].sha256
    assert await backend_store.head("config/values.r1.yaml") is not None


async def test_schedule_carries_the_running_version_as_previous_with_its_configuration(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    record_history: Any,
    gcc_clock: ManualClock,
    rows: Any,
    claimable: Any,
) -> None:
    admin = await admin_factory()
    running = await release_factory("2.2.0", status="success", is_current=True)
    first = await backend_client.put(
        "/api/admin/config/essential",
        json={"content": "domain: a.example\n"},
        headers=admin.headers,
    )
    assert first.status_code == 200, first.text
    await record_history(running, config_revision=1, is_current=True, helm_revision=4)
    second = await backend_client.put(
        "/api/admin/config/essential",
        json={"content": "domain: b.example\n"},
        headers=admin.headers,
    )
    assert second.json()["revision"] == 2
    release = await release_factory("2.3.0")

    response = await schedule(
        backend_client, admin.headers, release.id, gcc_clock.now() + timedelta(minutes=5)
    )

    assert response.status_code == 200, response.text
    task = await rows.get(AgentTask, uuid.UUID(response.json()["taskId"]))
    assert task.payload["values"]["bucketPath"] == "config/values.r2.yaml"
    previous = task.payload["previous"]
    assert previous["version"] == "2.2.0"
    assert previous["chart"]["bucketPath"] == "artifacts/helm/wrktalk-2.2.0.tgz"
    assert previous["values"]["bucketPath"] == "config/values.r1.yaml"
    assert previous["imageTags"]["media"] == "sha-def456-2.2.0"
    DeployPayload.model_validate(claimable(task.payload))


async def test_schedule_reports_to_gcc_and_emails_admins(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    gcc_clock: ManualClock,
    rows: Any,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0")
    when = gcc_clock.now() + timedelta(hours=1)

    response = await schedule(backend_client, admin.headers, release.id, when)

    assert response.status_code == 200, response.text
    [report] = await rows.outbox()
    assert report.path == "/api/v1/deployments/scheduled"
    assert report.payload == {
        "organizationName": "acme",
        "releaseId": str(release.deployment.gcc_release_id),
        "scheduledFor": when.isoformat().replace("+00:00", "Z"),
    }
    [email] = await rows.notifications("deployment_scheduled")
    assert email.context["version"] == "2.3.0"
    assert email.context["scheduled_by"] == admin.admin.email


async def test_schedule_of_an_unknown_deployment_is_404(
    backend_client: httpx.AsyncClient, admin_factory: Any, gcc_clock: ManualClock
) -> None:
    admin = await admin_factory()

    response = await schedule(
        backend_client, admin.headers, uuid.uuid4(), gcc_clock.now() + timedelta(hours=1)
    )

    assert response.status_code == 404
    assert response.json()["field"] == "deploymentId"


async def test_schedule_for_a_time_in_the_past_is_422(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    gcc_clock: ManualClock,
    rows: Any,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0")

    response = await schedule(
        backend_client, admin.headers, release.id, gcc_clock.now() - timedelta(seconds=1)
    )

    assert response.status_code == 422
    assert response.json()["field"] == "scheduledFor"
    assert "past" in response.json()["detail"]
    assert await rows.tasks() == []


async def test_schedule_of_a_release_whose_download_failed_is_422(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0", downloaded=False, status="downloadFailed")

    response = await schedule(
        backend_client, admin.headers, release.id, gcc_clock.now() + timedelta(hours=1)
    )

    assert response.status_code == 422
    assert response.json()["field"] == "deploymentId"
    assert "not downloaded" in response.json()["detail"]


async def test_schedule_of_a_release_whose_artifact_left_the_bucket_is_422(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    backend_store: ObjectStore,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0")
    await backend_store.delete(release.artifact.bucket_key)

    response = await schedule(
        backend_client, admin.headers, release.id, gcc_clock.now() + timedelta(hours=1)
    )

    assert response.status_code == 422
    assert "no longer in the bucket" in response.json()["detail"]


async def test_schedule_of_a_pending_release_whose_chart_is_not_downloaded_is_422(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0", downloaded=False)

    response = await schedule(
        backend_client, admin.headers, release.id, gcc_clock.now() + timedelta(hours=1)
    )

    assert response.status_code == 422
    assert "not downloaded" in response.json()["detail"]


async def test_schedule_of_a_deployment_that_succeeded_is_422(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0", status="success")

    response = await schedule(
        backend_client, admin.headers, release.id, gcc_clock.now() + timedelta(hours=1)
    )

    assert response.status_code == 422
    assert "success" in response.json()["detail"]


async def test_schedule_of_a_missed_or_failed_deployment_is_accepted(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    missed = await release_factory("2.3.0", status="missedSchedule")

    response = await schedule(
        backend_client, admin.headers, missed.id, gcc_clock.now() + timedelta(hours=1)
    )

    assert response.status_code == 200, response.text


async def test_schedule_while_another_is_scheduled_is_409(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    first = await release_factory("2.3.0")
    second = await release_factory("2.4.0")
    when = gcc_clock.now() + timedelta(hours=1)
    assert (await schedule(backend_client, admin.headers, first.id, when)).status_code == 200

    response = await schedule(backend_client, admin.headers, second.id, when)

    assert response.status_code == 409
    assert "v2.3.0" in response.json()["detail"]


async def test_schedule_while_a_rollback_task_is_in_progress_is_409(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    task_factory: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0")
    await task_factory(type="rollback", status="inProgress", payload={"targetRevision": 3})

    response = await schedule(
        backend_client, admin.headers, release.id, gcc_clock.now() + timedelta(hours=1)
    )

    assert response.status_code == 409
    assert "rollback" in response.json()["detail"]


async def test_fifty_concurrent_schedule_requests_have_exactly_one_winner(
    backend_server: ServedApp,
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    gcc_clock: ManualClock,
    rows: Any,
) -> None:
    admin = await admin_factory()
    releases = [await release_factory(f"2.{minor}.0") for minor in range(3, 8)]
    when = gcc_clock.now() + timedelta(hours=1)
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    async with httpx.AsyncClient(
        base_url=backend_server.base_url, timeout=60, limits=limits
    ) as client:
        responses = await asyncio.gather(
            *(
                schedule(client, admin.headers, releases[index % len(releases)].id, when)
                for index in range(50)
            )
        )

    codes = sorted(response.status_code for response in responses)
    assert codes == [200] + [409] * 49
    tasks = await rows.tasks()
    assert len(tasks) == 1
    assert tasks[0].status == AgentTaskStatus.PENDING
    scheduled = [
        r for r in releases if (await rows.get(ScheduledDeployment, r.id)).status == "scheduled"
    ]
    assert [r.id for r in scheduled] == [tasks[0].deployment_id]
    assert len(await rows.outbox()) == 1


async def test_cancel_of_a_scheduled_deployment_cancels_its_task(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    gcc_clock: ManualClock,
    rows: Any,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0")
    scheduled = await schedule(
        backend_client, admin.headers, release.id, gcc_clock.now() + timedelta(hours=1)
    )
    task_id = uuid.UUID(scheduled.json()["taskId"])

    response = await backend_client.post(
        f"/api/admin/deployment/{release.id}/cancel", headers=admin.headers
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"cancelled": True, "deploymentId": str(release.id)}
    assert (await rows.get(AgentTask, task_id)).status == AgentTaskStatus.CANCELLED
    assert (await rows.get(ScheduledDeployment, release.id)).status == "cancelled"
    assert [m.payload["status"] for m in await rows.outbox() if m.kind == "status"] == ["cancelled"]
    assert len(await rows.notifications("deployment_cancelled")) == 1


async def test_cancelled_deployment_can_be_scheduled_again(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0")
    when = gcc_clock.now() + timedelta(hours=1)
    await schedule(backend_client, admin.headers, release.id, when)
    await backend_client.post(f"/api/admin/deployment/{release.id}/cancel", headers=admin.headers)

    response = await schedule(backend_client, admin.headers, release.id, when)

    assert response.status_code == 200, response.text


async def test_cancel_of_a_deployment_that_is_not_scheduled_is_409(
    backend_client: httpx.AsyncClient, admin_factory: Any, release_factory: Any
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0")

    response = await backend_client.post(
        f"/api/admin/deployment/{release.id}/cancel", headers=admin.headers
    )

    assert response.status_code == 409
    assert "pending" in response.json()["detail"]


async def test_cancel_after_the_agent_picked_the_task_up_is_409(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    task_factory: Any,
    rows: Any,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0", status="scheduled")
    task = await task_factory(deployment_id=release.id, status="inProgress")

    response = await backend_client.post(
        f"/api/admin/deployment/{release.id}/cancel", headers=admin.headers
    )

    assert response.status_code == 409
    assert (await rows.get(AgentTask, task.id)).status == AgentTaskStatus.IN_PROGRESS


async def test_cancel_of_an_unknown_deployment_is_404(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    response = await backend_client.post(
        f"/api/admin/deployment/{uuid.uuid4()}/cancel", headers=admin.headers
    )

    assert response.status_code == 404


async def test_schedule_without_an_admin_token_is_401(
    backend_client: httpx.AsyncClient, release_factory: Any, gcc_clock: ManualClock
) -> None:
    release = await release_factory("2.3.0")

    response = await schedule(backend_client, {}, release.id, gcc_clock.now() + timedelta(hours=1))

    assert response.status_code == 401
