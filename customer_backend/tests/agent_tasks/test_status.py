"""POST /internal/agent/tasks/{id}/status: forward-only transitions and what completion does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col

from contracts import DeploymentStatusReport
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.deployments.models import DeploymentHistory, ScheduledDeployment
from customer_backend.installation.models import InstallationState
from customer_backend.notifications.models import Notification
from customer_backend.notifications.rendering import render
from customer_backend.reporting.models import GccOutboxMessage


def status_url(task_id: Any) -> str:
    return f"/internal/agent/tasks/{task_id}/status"


async def claim(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.get("/internal/agent/tasks", headers=headers)
    assert response.status_code == 200
    task = response.json()["task"]
    assert task is not None
    return str(task["id"])


async def report(
    client: httpx.AsyncClient, headers: dict[str, str], task_id: Any, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(status_url(task_id), headers=headers, json=body)


SUCCESS = {"status": "completed", "result": {"status": "success", "helmRevision": 7}}
FAILURE = {"status": "failed", "errorMessage": "Error: UPGRADE FAILED: timed out"}


async def test_repeating_in_progress_after_the_claim_changes_nothing(
    backend_client, agent_headers, release_factory, task_factory, fetch
):
    await task_factory(await release_factory())
    task_id = await claim(backend_client, agent_headers)

    response = await report(backend_client, agent_headers, task_id, {"status": "inProgress"})

    assert response.status_code == 200
    assert response.json() == {"received": True, "taskStatus": "inProgress"}
    assert (await fetch(AgentTask, task_id)).attempts == 1


async def test_successful_deployment_updates_deployment_history_flags_report_and_email(
    backend_client,
    agent_headers,
    release_factory,
    task_factory,
    fetch,
    fetch_all,
    gcc_clock,
    backend_sessions,
    backend_settings,
    values_file,
):
    old_previous = await release_factory("2.1.0", status="success", is_previous=True)
    running = await release_factory("2.2.0", status="success", is_current=True)
    async with backend_sessions() as session:
        session.add(InstallationState(id=1, current_version="2.2.0"))
        session.add(
            DeploymentHistory(
                deployment_id=running.deployment.id,
                gcc_release_id=running.deployment.gcc_release_id,
                release_name="v2.2.0",
                version="2.2.0",
                deployed_at=gcc_clock.now() - timedelta(days=3),
                status="success",
                helm_revision=6,
                config_revision=1,
                is_current=True,
            )
        )
        await session.commit()
    release = await release_factory("2.3.0")
    await task_factory(release, previous=running)
    task_id = await claim(backend_client, agent_headers)
    gcc_clock.advance(timedelta(minutes=4))

    response = await report(backend_client, agent_headers, task_id, SUCCESS)

    assert response.status_code == 200
    assert response.json()["taskStatus"] == "completed"
    now = gcc_clock.now()
    task = await fetch(AgentTask, task_id)
    assert task.status == "completed"
    assert task.completed_at == now
    assert task.result == {
        "status": "success",
        "releaseVersion": None,
        "helmRevision": 7,
        "commitId": None,
        "rolledBackTo": None,
        "appVersion": None,
        "message": None,
    }
    deployment = await fetch(ScheduledDeployment, release.deployment.id)
    assert (deployment.status, deployment.helm_revision, deployment.completed_at) == (
        "success",
        7,
        now,
    )
    assert deployment.error_message is None
    history = await fetch_all(DeploymentHistory, col(DeploymentHistory.deployed_at))
    assert [(h.version, h.status, h.is_current, h.is_rollback) for h in history] == [
        ("2.2.0", "success", False, False),
        ("2.3.0", "success", True, False),
    ]
    assert history[1].helm_revision == 7
    assert history[1].config_revision == 1
    assert history[1].gcc_release_id == release.deployment.gcc_release_id
    artifacts = await fetch_all(LocalArtifact, col(LocalArtifact.version))
    assert [(a.version, a.is_current, a.is_previous) for a in artifacts] == [
        (old_previous.version, False, False),
        ("2.2.0", False, True),
        ("2.3.0", True, False),
    ]
    assert (await fetch(InstallationState, 1)).current_version == "2.3.0"
    [outbox] = await fetch_all(GccOutboxMessage)
    assert outbox.path == "/api/v1/deployments/status"
    assert outbox.payload == DeploymentStatusReport(
        organization_name=backend_settings.organization_name,
        release_id=release.deployment.gcc_release_id,
        status="success",  # type: ignore[arg-type]
        deployed_at=now,
        helm_revision=7,
        current_version="2.3.0",  # type: ignore[arg-type]
        is_rollback=False,
    ).model_dump(mode="json")
    emails = [(n.event, n.context.get("previous_version")) for n in await fetch_all(Notification)]
    assert ("deployment_succeeded", "2.2.0") in emails


async def test_the_app_version_the_agent_reports_is_passed_on_to_gcc(
    backend_client, agent_headers, release_factory, task_factory, fetch_all
):
    release = await release_factory("2.3.0")
    await task_factory(release)
    task_id = await claim(backend_client, agent_headers)
    update = {"status": "completed", "result": {"status": "success", "appVersion": "2.3.0-b17"}}

    response = await report(backend_client, agent_headers, task_id, update)

    assert response.status_code == 200, response.text
    [outbox] = await fetch_all(GccOutboxMessage)
    assert (outbox.payload["status"], outbox.payload["appVersion"]) == ("success", "2.3.0-b17")


async def test_failed_deployment_records_the_error_and_reports_failure(
    backend_client, agent_headers, release_factory, task_factory, fetch, fetch_all, backend_sessions
):
    running = await release_factory("2.2.0", status="success", is_current=True)
    async with backend_sessions() as session:
        session.add(InstallationState(id=1, current_version="2.2.0"))
        await session.commit()
    release = await release_factory("2.3.0")
    await task_factory(release, previous=running)
    task_id = await claim(backend_client, agent_headers)

    response = await report(backend_client, agent_headers, task_id, FAILURE)

    assert response.status_code == 200
    task = await fetch(AgentTask, task_id)
    assert (task.status, task.error_message) == ("failed", FAILURE["errorMessage"])
    deployment = await fetch(ScheduledDeployment, release.deployment.id)
    assert (deployment.status, deployment.error_message) == ("failed", FAILURE["errorMessage"])
    [history] = await fetch_all(DeploymentHistory)
    assert (history.version, history.status, history.is_current) == ("2.3.0", "failed", False)
    artifacts = {a.version: (a.is_current, a.is_previous) for a in await fetch_all(LocalArtifact)}
    assert artifacts == {"2.2.0": (True, False), "2.3.0": (False, False)}
    assert (await fetch(InstallationState, 1)).current_version == "2.2.0"
    [outbox] = await fetch_all(GccOutboxMessage)
    assert outbox.payload["status"] == "failed"
    assert outbox.payload["errorMessage"] == FAILURE["errorMessage"]
    assert outbox.payload["currentVersion"] == "2.2.0"
    failed = [n for n in await fetch_all(Notification) if n.event == "deployment_failed"]
    assert [n.context["error"] for n in failed] == [FAILURE["errorMessage"]]


@pytest.mark.parametrize("retryable", [True, False])
async def test_failed_status_stores_whether_the_task_is_retryable_and_the_email_says_so(
    backend_client, agent_headers, release_factory, task_factory, fetch, fetch_all, retryable
):
    await task_factory(await release_factory("2.3.0"))
    task_id = await claim(backend_client, agent_headers)

    response = await report(
        backend_client, agent_headers, task_id, {**FAILURE, "retryable": retryable}
    )

    assert response.status_code == 200
    assert (await fetch(AgentTask, task_id)).retryable is retryable
    [failed] = [n for n in await fetch_all(Notification) if n.event == "deployment_failed"]
    assert failed.context["retryable"] is retryable
    _, text, html = render(failed.event, failed.context)
    for body in (text, html):
        assert ("running the deployment again could succeed" in body) is retryable
        assert ("fix the cause first" in body) is not retryable


async def test_failed_status_without_retryable_is_stored_as_not_retryable(
    backend_client, agent_headers, release_factory, task_factory, fetch
):
    await task_factory(await release_factory())
    task_id = await claim(backend_client, agent_headers)

    response = await report(backend_client, agent_headers, task_id, FAILURE)

    assert response.status_code == 200
    assert (await fetch(AgentTask, task_id)).retryable is False


async def test_retryable_is_not_stored_for_a_task_that_succeeded(
    backend_client, agent_headers, release_factory, task_factory, fetch
):
    await task_factory(await release_factory())
    task_id = await claim(backend_client, agent_headers)
    assert (await fetch(AgentTask, task_id)).retryable is None

    response = await report(backend_client, agent_headers, task_id, {**SUCCESS, "retryable": True})

    assert response.status_code == 200
    assert (await fetch(AgentTask, task_id)).retryable is None


async def test_deployment_rolled_back_by_helm_is_rolled_back_and_keeps_the_running_version(
    backend_client, agent_headers, release_factory, task_factory, fetch, fetch_all
):
    running = await release_factory("2.2.0", status="success", is_current=True)
    release = await release_factory("2.3.0")
    await task_factory(release, previous=running)
    task_id = await claim(backend_client, agent_headers)
    body = {
        "status": "failed",
        "errorMessage": "pods not ready",
        "result": {"status": "rolledBack", "rolledBackTo": "2.2.0", "helmRevision": 8},
    }

    response = await report(backend_client, agent_headers, task_id, body)

    assert response.status_code == 200
    deployment = await fetch(ScheduledDeployment, release.deployment.id)
    assert (deployment.status, deployment.helm_revision) == ("rolledBack", 8)
    [outbox] = await fetch_all(GccOutboxMessage)
    assert (outbox.payload["status"], outbox.payload["currentVersion"]) == ("rolledBack", "2.2.0")
    artifacts = {a.version: a.is_current for a in await fetch_all(LocalArtifact)}
    assert artifacts == {"2.2.0": True, "2.3.0": False}
    failed = [n for n in await fetch_all(Notification) if n.event == "deployment_failed"]
    assert failed[0].context["rolled_back_to"] == "2.2.0"


async def test_rollback_by_version_makes_that_version_current_and_reports_a_rollback(
    backend_client, agent_headers, release_factory, task_factory, fetch, fetch_all, values_file
):
    target = await release_factory("2.2.0", status="success", is_previous=True)
    await release_factory("2.3.0", status="success", is_current=True)
    await task_factory(
        task_type="rollback",
        payload={
            "targetRevision": None,
            "targetVersion": "2.2.0",
            "release": target.bundle(values_file),
        },
    )
    task_id = await claim(backend_client, agent_headers)

    response = await report(
        backend_client,
        agent_headers,
        task_id,
        {"status": "completed", "result": {"status": "success", "releaseVersion": "2.2.0"}},
    )

    assert response.status_code == 200
    artifacts = {a.version: (a.is_current, a.is_previous) for a in await fetch_all(LocalArtifact)}
    assert artifacts == {"2.2.0": (True, False), "2.3.0": (False, True)}
    assert (await fetch(InstallationState, 1)).current_version == "2.2.0"
    [history] = await fetch_all(DeploymentHistory)
    assert (history.version, history.is_rollback, history.is_current) == ("2.2.0", True, True)
    assert history.deployment_id == target.deployment.id
    [outbox] = await fetch_all(GccOutboxMessage)
    assert outbox.payload["releaseId"] == str(target.deployment.gcc_release_id)
    assert (outbox.payload["status"], outbox.payload["isRollback"]) == ("success", True)
    # The rolled-back-to deployment keeps its own outcome.
    assert (await fetch(ScheduledDeployment, target.deployment.id)).status == "success"
    assert "rollback_completed" in [n.event for n in await fetch_all(Notification)]


async def test_failed_rollback_by_revision_is_recorded_and_emailed(
    backend_client, agent_headers, task_factory, fetch_all, fetch
):
    task = await task_factory(
        task_type="rollback",
        payload={"targetRevision": 5, "targetVersion": None, "release": None},
    )
    await claim(backend_client, agent_headers)

    response = await report(
        backend_client,
        agent_headers,
        task.id,
        {"status": "failed", "errorMessage": "Error: release: not found"},
    )

    assert response.status_code == 200
    assert (await fetch(AgentTask, task.id)).status == "failed"
    emails = [(n.event, n.context.get("target_revision")) for n in await fetch_all(Notification)]
    assert emails == [("rollback_failed", 5)]
    assert await fetch_all(GccOutboxMessage) == []


async def test_repeating_the_final_status_changes_nothing(
    backend_client, agent_headers, release_factory, task_factory, fetch_all
):
    await task_factory(await release_factory())
    task_id = await claim(backend_client, agent_headers)

    first = await report(backend_client, agent_headers, task_id, SUCCESS)
    again = await report(backend_client, agent_headers, task_id, SUCCESS)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {"received": True, "taskStatus": "completed"}
    assert len(await fetch_all(DeploymentHistory)) == 1
    assert len(await fetch_all(GccOutboxMessage)) == 1


async def test_completed_task_cannot_go_back_to_in_progress(
    backend_client, agent_headers, release_factory, task_factory, fetch
):
    await task_factory(await release_factory())
    task_id = await claim(backend_client, agent_headers)
    await report(backend_client, agent_headers, task_id, SUCCESS)

    response = await report(backend_client, agent_headers, task_id, {"status": "inProgress"})

    assert response.status_code == 409
    assert response.json()["field"] == "status"
    assert "already completed" in response.json()["detail"]
    assert (await fetch(AgentTask, task_id)).status == "completed"


async def test_completed_task_cannot_become_failed(
    backend_client, agent_headers, release_factory, task_factory
):
    await task_factory(await release_factory())
    task_id = await claim(backend_client, agent_headers)
    await report(backend_client, agent_headers, task_id, SUCCESS)

    response = await report(backend_client, agent_headers, task_id, FAILURE)

    assert response.status_code == 409


async def test_failed_task_cannot_become_completed(
    backend_client, agent_headers, release_factory, task_factory
):
    await task_factory(await release_factory())
    task_id = await claim(backend_client, agent_headers)
    await report(backend_client, agent_headers, task_id, FAILURE)

    response = await report(backend_client, agent_headers, task_id, SUCCESS)

    assert response.status_code == 409


async def test_task_that_was_never_claimed_cannot_be_reported(
    backend_client, agent_headers, release_factory, task_factory, fetch
):
    task = await task_factory(await release_factory())

    for body in ({"status": "inProgress"}, SUCCESS):
        response = await report(backend_client, agent_headers, task.id, body)
        assert response.status_code == 409
        assert "has not been claimed" in response.json()["detail"]
    assert (await fetch(AgentTask, task.id)).status == "pending"


async def test_cancelled_task_cannot_be_completed(
    backend_client, agent_headers, release_factory, task_factory
):
    task = await task_factory(await release_factory(), status="cancelled")

    response = await report(backend_client, agent_headers, task.id, SUCCESS)

    assert response.status_code == 409
    assert "already cancelled" in response.json()["detail"]


async def test_status_of_an_unknown_task_is_404(backend_client, agent_headers):
    response = await report(
        backend_client, agent_headers, "6f1c3f5e-0000-4000-8000-000000000000", SUCCESS
    )

    assert response.status_code == 404
    assert response.json()["field"] == "taskId"


async def test_failed_status_without_an_error_message_is_422(
    backend_client, agent_headers, release_factory, task_factory
):
    await task_factory(await release_factory())
    task_id = await claim(backend_client, agent_headers)

    response = await report(backend_client, agent_headers, task_id, {"status": "failed"})

    assert response.status_code == 422
    assert "errorMessage is required" in response.json()["detail"]


async def test_agent_may_not_report_a_backend_status(
    backend_client, agent_headers, release_factory, task_factory
):
    await task_factory(await release_factory())
    task_id = await claim(backend_client, agent_headers)

    for status in ("pending", "cancelled", "done"):
        response = await report(backend_client, agent_headers, task_id, {"status": status})
        assert response.status_code == 422
        assert response.json()["field"] == "status"


async def test_malformed_task_id_is_422_naming_the_field(backend_client, agent_headers):
    response = await report(backend_client, agent_headers, "not-a-uuid", SUCCESS)

    assert response.status_code == 422
    assert response.json()["field"] == "taskId"
