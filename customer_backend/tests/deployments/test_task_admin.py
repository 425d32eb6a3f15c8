"""One agent task by id (status, timeline, logs), and cancelling it while it is pending."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx

from contracts import AgentTaskStatus, LocalDeploymentStatus
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.deployments.models import ScheduledDeployment
from timekeeping import ManualClock

ROLLBACK = "/api/admin/deployment/rollback"


def task_path(task_id: object) -> str:
    return f"/api/admin/deployment/tasks/{task_id}"


async def test_a_rollback_task_is_read_by_id_with_its_timeline_and_logs(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    task_factory: Any,
    add_log_lines: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    requested = await backend_client.post(
        ROLLBACK, json={"targetRevision": 4}, headers=admin.headers
    )
    task_id = requested.json()["taskId"]
    await add_log_lines(uuid.UUID(task_id), "$ helm rollback wrktalk 4", "Rollback was a success!")

    response = await backend_client.get(task_path(task_id), headers=admin.headers)

    assert response.status_code == 200, response.text
    detail = response.json()
    assert detail["task"]["id"] == task_id
    assert detail["task"]["type"] == "rollback"
    assert detail["task"]["status"] == "pending"
    assert detail["task"]["createdBy"] == admin.admin.email
    assert [entry["event"] for entry in detail["timeline"]] == ["queued"]
    assert detail["timeline"][0]["detail"] == admin.admin.email
    assert [line["line"] for line in detail["logs"]] == [
        "$ helm rollback wrktalk 4",
        "Rollback was a success!",
    ]
    assert detail["logLimit"] == 500


async def test_a_finished_task_shows_when_it_was_picked_up_and_why_it_failed(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    task_factory: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    now = gcc_clock.now()
    task = await task_factory(
        type="rollback",
        status=AgentTaskStatus.FAILED,
        payload={"targetRevision": 3},
        picked_up_at=now + timedelta(seconds=5),
        last_heartbeat_at=now + timedelta(seconds=35),
        completed_at=now + timedelta(seconds=50),
        error_message="Error: release: not found",
        retryable=False,
    )

    detail = (await backend_client.get(task_path(task.id), headers=admin.headers)).json()

    assert [entry["event"] for entry in detail["timeline"]] == [
        "queued",
        "pickedUp",
        "lastHeartbeat",
        "failed",
    ]
    assert detail["timeline"][-1]["detail"] == "Error: release: not found"
    assert detail["task"]["retryable"] is False


async def test_an_unknown_task_is_404_and_a_malformed_id_is_422(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    unknown = await backend_client.get(task_path(uuid.uuid4()), headers=admin.headers)
    malformed = await backend_client.get(task_path("not-a-uuid"), headers=admin.headers)
    cancel_unknown = await backend_client.post(
        f"{task_path(uuid.uuid4())}/cancel", headers=admin.headers
    )

    assert unknown.status_code == 404
    assert unknown.json()["field"] == "taskId"
    assert malformed.status_code == 422
    assert malformed.json()["field"] == "task_id"
    assert cancel_unknown.status_code == 404


async def test_a_pending_rollback_is_cancelled_and_no_longer_blocks_another(
    backend_client: httpx.AsyncClient, admin_factory: Any, rows: Any
) -> None:
    admin = await admin_factory()
    first = await backend_client.post(ROLLBACK, json={"targetRevision": 4}, headers=admin.headers)
    task_id = first.json()["taskId"]

    response = await backend_client.post(f"{task_path(task_id)}/cancel", headers=admin.headers)

    assert response.status_code == 200, response.text
    assert response.json() == {"cancelled": True, "taskId": task_id}
    task = await rows.get(AgentTask, uuid.UUID(task_id))
    assert task.status == AgentTaskStatus.CANCELLED
    assert task.error_message == f"Cancelled by {admin.admin.email}"
    detail = (await backend_client.get(task_path(task_id), headers=admin.headers)).json()
    assert detail["timeline"][-1]["event"] == "cancelled"
    again = await backend_client.post(ROLLBACK, json={"targetRevision": 3}, headers=admin.headers)
    assert again.status_code == 200, again.text


async def test_a_task_the_agent_took_cannot_be_cancelled(
    backend_client: httpx.AsyncClient, admin_factory: Any, task_factory: Any
) -> None:
    admin = await admin_factory()
    task = await task_factory(
        type="rollback", status=AgentTaskStatus.IN_PROGRESS, payload={"targetRevision": 3}
    )

    response = await backend_client.post(f"{task_path(task.id)}/cancel", headers=admin.headers)

    assert response.status_code == 409
    assert response.json()["field"] == "taskId"
    assert "inProgress" in response.json()["detail"]


async def test_cancelling_a_deploy_task_cancels_its_scheduled_deployment(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    rows: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0")
    scheduled = await backend_client.post(
        "/api/admin/deployment/schedule",
        json={
            "deploymentId": str(release.id),
            "scheduledFor": (gcc_clock.now() + timedelta(hours=1)).isoformat(),
        },
        headers=admin.headers,
    )
    task_id = scheduled.json()["taskId"]

    response = await backend_client.post(f"{task_path(task_id)}/cancel", headers=admin.headers)

    assert response.status_code == 200, response.text
    deployment = await rows.get(ScheduledDeployment, release.id)
    assert deployment.status == LocalDeploymentStatus.CANCELLED
    assert (await rows.get(AgentTask, uuid.UUID(task_id))).status == AgentTaskStatus.CANCELLED
    assert len(await rows.notifications("deployment_cancelled")) == 1


async def test_a_maintenance_task_is_switched_not_cancelled(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()
    switched = await backend_client.put(
        "/api/admin/maintenance", json={"enabled": True}, headers=admin.headers
    )
    task_id = switched.json()["current"]["taskId"]

    response = await backend_client.post(f"{task_path(task_id)}/cancel", headers=admin.headers)

    assert response.status_code == 409
    assert "PUT /api/admin/maintenance" in response.json()["detail"]
