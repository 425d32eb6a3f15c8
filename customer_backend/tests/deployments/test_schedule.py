"""Scheduling and cancelling from the Control Tower: one active deployment at a time."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts import (
    AgentTaskStatus,
    DeployPayload,
    LocalDeploymentStatus,
)
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.config.models import EssentialConfigVersion
from customer_backend.deployments.models import ScheduledDeployment
from objectstore import ObjectStore
from testsupport.backend_fixtures import AdminFactory, CreatedAdmin
from timekeeping import ManualClock
from wrktalk_testing.servers import ServedApp

SCHEDULE = "/api/admin/deployment/schedule"
ADMIN_EMAIL = "ops@acme.example"


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


@dataclass
class ControlTower:
    """One admin's scheduling and cancelling calls, timed by the test's clock."""

    client: httpx.AsyncClient
    admin: CreatedAdmin
    clock: ManualClock

    @property
    def headers(self) -> dict[str, str]:
        return self.admin.headers

    def in_an_hour(self) -> datetime:
        return self.clock.now() + timedelta(hours=1)

    async def schedule(
        self, deployment_id: uuid.UUID | str, when: datetime | None = None
    ) -> httpx.Response:
        """Schedule a deployment, by default an hour from now."""
        return await schedule(self.client, self.headers, deployment_id, when or self.in_an_hour())

    async def cancel(self, deployment_id: uuid.UUID | str) -> httpx.Response:
        return await self.client.post(
            f"/api/admin/deployment/{deployment_id}/cancel", headers=self.headers
        )


@pytest.fixture
async def tower(
    backend_client: httpx.AsyncClient, admin_factory: AdminFactory, gcc_clock: ManualClock
) -> ControlTower:
    """The Control Tower as the admin ``ADMIN_EMAIL``."""
    return ControlTower(backend_client, await admin_factory(ADMIN_EMAIL), gcc_clock)


async def test_schedule_creates_a_pending_deploy_task_for_the_agent(
    tower: ControlTower, release_factory: Any, rows: Any, claimable: Any
) -> None:
    release = await release_factory("2.3.0", new_envs=[{"key": "NEW_FLAG", "value": "false"}])
    when = tower.clock.now() + timedelta(hours=2)

    response = await tower.schedule(release.id, when)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scheduled"] is True
    task = await rows.get(AgentTask, uuid.UUID(body["taskId"]))
    assert (task.type, task.status, task.deployment_id) == ("deploy", "pending", release.id)
    assert task.execute_after == when
    assert task.created_by == ADMIN_EMAIL
    deployment = await rows.get(ScheduledDeployment, release.id)
    assert deployment.status == LocalDeploymentStatus.SCHEDULED
    assert deployment.scheduled_for == when
    assert deployment.scheduled_by == ADMIN_EMAIL
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
    tower: ControlTower,
    release_factory: Any,
    rows: Any,
    backend_store: ObjectStore,
    backend_sessions: Any,
) -> None:
    release = await release_factory("2.3.0")

    response = await tower.schedule(release.id, tower.clock.now() + timedelta(minutes=5))

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
    tower: ControlTower,
    admin_factory: Any,
    release_factory: Any,
    record_history: Any,
    rows: Any,
    claimable: Any,
) -> None:
    support = await admin_factory("vendor@wrktalk.example", role="support")
    running = await release_factory("2.2.0", status="success", is_current=True)
    first = await tower.client.put(
        "/api/admin/config/essential",
        json={"content": "domain: a.example\n"},
        headers=support.headers,
    )
    assert first.status_code == 200, first.text
    await record_history(running, config_revision=1, is_current=True, helm_revision=4)
    second = await tower.client.put(
        "/api/admin/config/essential",
        json={"content": "domain: b.example\n"},
        headers=support.headers,
    )
    assert second.json()["revision"] == 2
    release = await release_factory("2.3.0")

    response = await tower.schedule(release.id, tower.clock.now() + timedelta(minutes=5))

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
    tower: ControlTower, release_factory: Any, rows: Any
) -> None:
    release = await release_factory("2.3.0")
    when = tower.in_an_hour()

    response = await tower.schedule(release.id, when)

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
    assert email.context["scheduled_by"] == tower.admin.admin.email


async def test_schedule_of_an_unknown_deployment_is_404(tower: ControlTower) -> None:
    response = await tower.schedule(uuid.uuid4())

    assert response.status_code == 404
    assert response.json()["field"] == "deploymentId"


async def test_schedule_for_a_time_in_the_past_is_422(
    tower: ControlTower, release_factory: Any, rows: Any
) -> None:
    release = await release_factory("2.3.0")

    response = await tower.schedule(release.id, tower.clock.now() - timedelta(seconds=1))

    assert response.status_code == 422
    assert response.json()["field"] == "scheduledFor"
    assert "past" in response.json()["detail"]
    assert await rows.tasks() == []


@pytest.mark.parametrize(
    ("release_fields", "artifact_deleted", "detail"),
    [
        pytest.param(
            {"downloaded": False, "status": "downloadFailed"},
            False,
            "not downloaded",
            id="download-failed",
        ),
        pytest.param({}, True, "no longer in the bucket", id="artifact-left-the-bucket"),
        pytest.param(
            {"downloaded": False}, False, "not downloaded", id="pending-chart-not-downloaded"
        ),
        pytest.param({"status": "success"}, False, "success", id="deployment-succeeded"),
    ],
)
async def test_schedule_of_a_release_that_cannot_be_deployed_is_422(
    tower: ControlTower,
    release_factory: Any,
    backend_store: ObjectStore,
    release_fields: dict[str, Any],
    artifact_deleted: bool,
    detail: str,
) -> None:
    release = await release_factory("2.3.0", **release_fields)
    if artifact_deleted:
        await backend_store.delete(release.artifact.bucket_key)

    response = await tower.schedule(release.id)

    assert response.status_code == 422
    assert response.json()["field"] == "deploymentId"
    assert detail in response.json()["detail"]


@pytest.mark.parametrize("status", ["missedSchedule", "failed", "rolledBack", "deadlineExceeded"])
async def test_schedule_of_a_missed_or_failed_deployment_is_accepted(
    tower: ControlTower, release_factory: Any, status: str
) -> None:
    earlier = await release_factory("2.3.0", status=status)

    response = await tower.schedule(earlier.id)

    assert response.status_code == 200, response.text


async def test_schedule_while_another_is_scheduled_is_409(
    tower: ControlTower, release_factory: Any
) -> None:
    first = await release_factory("2.3.0")
    second = await release_factory("2.4.0")
    when = tower.in_an_hour()
    assert (await tower.schedule(first.id, when)).status_code == 200

    response = await tower.schedule(second.id, when)

    assert response.status_code == 409
    assert "v2.3.0" in response.json()["detail"]


async def test_schedule_while_a_rollback_task_is_in_progress_is_409(
    tower: ControlTower, release_factory: Any, task_factory: Any
) -> None:
    release = await release_factory("2.3.0")
    await task_factory(type="rollback", status="inProgress", payload={"targetRevision": 3})

    response = await tower.schedule(release.id)

    assert response.status_code == 409
    assert "rollback" in response.json()["detail"]


async def test_fifty_concurrent_schedule_requests_have_exactly_one_winner(
    backend_server: ServedApp, tower: ControlTower, release_factory: Any, rows: Any
) -> None:
    releases = [await release_factory(f"2.{minor}.0") for minor in range(3, 8)]
    when = tower.in_an_hour()
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    async with httpx.AsyncClient(
        base_url=backend_server.base_url, timeout=60, limits=limits
    ) as client:
        responses = await asyncio.gather(
            *(
                schedule(client, tower.headers, releases[index % len(releases)].id, when)
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
    tower: ControlTower, release_factory: Any, rows: Any
) -> None:
    release = await release_factory("2.3.0")
    scheduled = await tower.schedule(release.id)
    task_id = uuid.UUID(scheduled.json()["taskId"])

    response = await tower.cancel(release.id)

    assert response.status_code == 200, response.text
    assert response.json() == {"cancelled": True, "deploymentId": str(release.id)}
    assert (await rows.get(AgentTask, task_id)).status == AgentTaskStatus.CANCELLED
    assert (await rows.get(ScheduledDeployment, release.id)).status == "cancelled"
    assert [m.payload["status"] for m in await rows.outbox() if m.kind == "status"] == ["cancelled"]
    assert len(await rows.notifications("deployment_cancelled")) == 1


async def test_cancelled_deployment_can_be_scheduled_again(
    tower: ControlTower, release_factory: Any
) -> None:
    release = await release_factory("2.3.0")
    when = tower.in_an_hour()
    await tower.schedule(release.id, when)
    await tower.cancel(release.id)

    response = await tower.schedule(release.id, when)

    assert response.status_code == 200, response.text


async def test_cancel_of_a_deployment_that_is_not_scheduled_is_409(
    tower: ControlTower, release_factory: Any
) -> None:
    release = await release_factory("2.3.0")

    response = await tower.cancel(release.id)

    assert response.status_code == 409
    assert "pending" in response.json()["detail"]


async def test_cancel_after_the_agent_picked_the_task_up_is_409(
    tower: ControlTower, release_factory: Any, task_factory: Any, rows: Any
) -> None:
    release = await release_factory("2.3.0", status="scheduled")
    task = await task_factory(deployment_id=release.id, status="inProgress")

    response = await tower.cancel(release.id)

    assert response.status_code == 409
    assert (await rows.get(AgentTask, task.id)).status == AgentTaskStatus.IN_PROGRESS


async def test_cancel_of_an_unknown_deployment_is_404(tower: ControlTower) -> None:
    response = await tower.cancel(uuid.uuid4())

    assert response.status_code == 404


async def test_schedule_without_an_admin_token_is_401(
    backend_client: httpx.AsyncClient, release_factory: Any, gcc_clock: ManualClock
) -> None:
    release = await release_factory("2.3.0")

    response = await schedule(backend_client, {}, release.id, gcc_clock.now() + timedelta(hours=1))

    assert response.status_code == 401
