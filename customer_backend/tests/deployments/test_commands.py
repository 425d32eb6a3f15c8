"""`customer-backend releases`, `deployments …` and `task …` against the backend's database,
bucket and broker, checked against the served Control Tower API."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

from contracts import AgentTaskStatus
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.cli import app
from customer_backend.deployments.models import ScheduledDeployment
from servicekit.db import SessionFactory
from servicekit.output import LINE_WIDTH

pytestmark = pytest.mark.usefixtures("backend_command_environment")

RELEASES = "/api/admin/deployment/releases"


async def run(*arguments: str) -> Result:
    """Invoke ``customer-backend`` in a thread: it runs its own event loop, as from a terminal."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(arguments))


def in_an_hour() -> str:
    """A schedule time ahead of the system clock the commands read."""
    return (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="seconds")


async def finish(
    client: httpx.AsyncClient, agent_headers: dict[str, str], task_id: uuid.UUID
) -> None:
    """Report the task's success as the agent does."""
    answer = await client.post(
        f"/internal/agent/tasks/{task_id}/status",
        headers=agent_headers,
        json={"status": "completed", "result": {"status": "success", "helmRevision": 4}},
    )
    assert answer.status_code == 200, answer.text


async def test_releases_lists_pending_ones_in_100_columns_and_json_is_the_apis_answer(
    backend_client: httpx.AsyncClient, admin_factory: Any, release_factory: Any
) -> None:
    admin = await admin_factory()
    ready = await release_factory("2.3.0", is_forced=True)
    waiting = await release_factory("2.4.0", downloaded=False)

    table = await run("releases")
    as_json = await run("releases", "--json")
    api = await backend_client.get(RELEASES, headers=admin.headers)

    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0] == "pending: 2"
    rows = {line.split()[0]: line.split() for line in lines[2:4]}
    assert rows[str(ready.id)][1:4] == ["2.3.0", "pending", "yes"]
    assert rows[str(waiting.id)][1:4] == ["2.4.0", "pending", "no"]
    assert "forced, by" in table.output
    assert lines[-1] == "scheduled or running: none"
    assert all(len(line) <= LINE_WIDTH for line in lines)
    assert json.loads(as_json.output) == api.json()


async def test_schedule_then_cancel_as_the_api_does_recording_who(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    backend_sessions: SessionFactory,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0")
    other = await release_factory("2.4.0")
    when = in_an_hour()

    scheduled = await run(
        "deployments", "schedule", str(release.id), "--at", when, "--by", "ops@acme.example"
    )
    second = await run("deployments", "schedule", str(other.id), "--at", when)
    listing = (await backend_client.get(RELEASES, headers=admin.headers)).json()
    cancelled = await run("deployments", "cancel", str(release.id))

    assert scheduled.exit_code == 0, scheduled.output
    task_id = scheduled.output.split("agent task ")[1].strip()
    [entry] = listing["scheduled"]
    assert (entry["id"], entry["scheduledBy"], entry["taskId"]) == (
        str(release.id),
        "ops@acme.example",
        task_id,
    )
    assert second.exit_code == 1
    assert second.stderr.strip() == ("error: Deployment already in progress: v2.3.0 is scheduled.")
    assert cancelled.exit_code == 0, cancelled.output
    assert cancelled.output.strip() == f"cancelled v2.3.0 ({release.id})"
    async with backend_sessions() as session:
        deployment = await session.get(ScheduledDeployment, release.id)
        task = await session.get(AgentTask, uuid.UUID(task_id))
    assert deployment is not None
    assert deployment.status == "cancelled"
    assert task is not None
    assert task.status == AgentTaskStatus.CANCELLED


async def test_schedule_without_by_records_the_command_lines_user(
    release_factory: Any, backend_sessions: SessionFactory
) -> None:
    release = await release_factory("2.3.0")

    result = await run("deployments", "schedule", str(release.id), "--at", in_an_hour())

    assert result.exit_code == 0, result.output
    async with backend_sessions() as session:
        deployment = await session.get(ScheduledDeployment, release.id)
    assert deployment is not None
    assert deployment.scheduled_by is not None
    assert deployment.scheduled_by.endswith("(command line)")


@pytest.mark.parametrize(
    ("at", "exit_code", "message"),
    [
        ("2020-01-01T00:00:00Z", 1, "error (scheduledFor): scheduledFor 2020-01-01T00:00:00"),
        ("tomorrow", 2, "error (scheduledFor):"),
        ("2030-01-01T00:00:00", 2, "error (scheduledFor):"),
    ],
)
async def test_schedule_refuses_a_bad_time_in_one_line(
    release_factory: Any, at: str, exit_code: int, message: str
) -> None:
    release = await release_factory("2.3.0")

    result = await run("deployments", "schedule", str(release.id), "--at", at)

    assert result.exit_code == exit_code, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith(message), line


async def test_a_finished_deployment_lists_shows_and_prints_its_logs(
    backend_client: httpx.AsyncClient,
    agent_headers: dict[str, str],
    release_factory: Any,
    task_factory: Any,
    add_log_lines: Any,
) -> None:
    release = await release_factory("2.3.0", status="inProgress")
    task = await task_factory(deployment_id=release.id, status="inProgress", attempts=1)
    await add_log_lines(task.id, "helm upgrade started", "helm upgrade done")
    await finish(backend_client, agent_headers, task.id)

    listed = await run("deployments", "list")
    shown = await run("deployments", "show", str(release.id))
    logs = await run("deployments", "logs", str(release.id))
    json_logs = await run("deployments", "logs", str(release.id), "--json", "--after-id", "0")

    assert listed.exit_code == 0, listed.output
    [header, row, footer] = listed.output.splitlines()
    assert header.split()[:2] == ["DEPLOYMENT", "ID"]
    assert row.split()[:4] == [str(release.id), "2.3.0", "deploy", "success"]
    assert footer == "deployments 1-1 of 1"
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("v2.3.0 (2.3.0): success")
    assert "helm revision: 4" in shown.output
    assert str(task.id) in shown.output
    assert [line.split(" ", 2)[2].strip() for line in logs.output.splitlines()] == [
        "helm upgrade started",
        "helm upgrade done",
    ]
    assert [json.loads(line)["line"] for line in json_logs.output.splitlines()] == [
        "helm upgrade started",
        "helm upgrade done",
    ]


async def test_logs_follow_prints_new_lines_until_the_task_ends(
    backend_client: httpx.AsyncClient,
    agent_headers: dict[str, str],
    release_factory: Any,
    task_factory: Any,
    add_log_lines: Any,
) -> None:
    release = await release_factory("2.3.0", status="inProgress")
    task = await task_factory(deployment_id=release.id, status="inProgress", attempts=1)
    await add_log_lines(task.id, "first")

    following = asyncio.ensure_future(
        run("deployments", "logs", str(release.id), "--follow", "--poll-seconds", "0.05")
    )
    await asyncio.sleep(0.3)
    assert not following.done()
    await add_log_lines(task.id, "second")
    await finish(backend_client, agent_headers, task.id)
    result = await asyncio.wait_for(following, timeout=30)

    assert result.exit_code == 0, result.output
    assert [line.split()[-1] for line in result.output.splitlines()] == ["first", "second"]


async def test_task_show_and_cancel(
    release_factory: Any, task_factory: Any, backend_sessions: SessionFactory
) -> None:
    rollback_task = await task_factory(type="rollback", payload={"targetRevision": 3})

    shown = await run("task", "show", str(rollback_task.id))
    as_json = await run("task", "show", str(rollback_task.id), "--json")
    cancelled = await run("task", "cancel", str(rollback_task.id), "--by", "ops@acme.example")
    again = await run("task", "cancel", str(rollback_task.id))

    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith(f"rollback task {rollback_task.id}: pending")
    assert json.loads(as_json.output)["task"]["id"] == str(rollback_task.id)
    assert cancelled.output.strip() == f"cancelled rollback task {rollback_task.id}"
    assert again.exit_code == 1
    assert again.stderr.strip() == (
        f"error (taskId): Only a pending task can be cancelled; task {rollback_task.id} is "
        "cancelled."
    )


async def test_rollback_to_a_helm_revision_queues_the_task(
    backend_sessions: SessionFactory,
) -> None:
    result = await run("deployments", "rollback", "--revision", "5", "--json")

    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["rollbackInitiated"] is True
    async with backend_sessions() as session:
        task = await session.get(AgentTask, uuid.UUID(answer["taskId"]))
    assert task is not None
    assert (task.type, task.payload["targetRevision"]) == ("rollback", 5)
    assert task.created_by is not None
    assert task.created_by.endswith("(command line)")


@pytest.mark.parametrize(
    ("arguments", "exit_code", "message"),
    [
        (
            ("deployments", "show", "00000000-0000-0000-0000-000000000000"),
            1,
            "error (deploymentId): There is no deployment or rollback",
        ),
        (
            ("deployments", "logs", "00000000-0000-0000-0000-000000000000"),
            1,
            "error (deploymentId): There is no deployment or task",
        ),
        (
            ("task", "show", "00000000-0000-0000-0000-000000000000"),
            1,
            "error (taskId): There is no task",
        ),
        (
            ("deployments", "rollback", "--revision", "2", "--version", "2.2.0"),
            2,
            "error: Value error, give at most one of targetRevision and targetVersion",
        ),
    ],
)
async def test_refusals_are_one_line_with_the_field(
    backend_sessions: SessionFactory, arguments: tuple[str, ...], exit_code: int, message: str
) -> None:
    result = await run(*arguments)

    assert result.exit_code == exit_code, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith(message), line
