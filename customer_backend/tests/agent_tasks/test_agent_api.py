"""Heartbeats, log batches, config inserts, license status and the agent secret."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import col

from contracts import MAX_LOG_BATCH_LINES
from customer_backend.agent_tasks.endpoints import MAX_LOG_BATCH_BYTES
from customer_backend.agent_tasks.models import AgentTask, TaskLogLine
from customer_backend.agent_tasks.service import license_status
from customer_backend.app import create_app
from customer_backend.config.models import NonEssentialEnv
from customer_backend.installation.models import InstallationState

UNKNOWN_TASK = "6f1c3f5e-0000-4000-8000-000000000000"


async def claimed_task_id(client, headers) -> str:
    response = await client.get("/internal/agent/tasks", headers=headers)
    return str(response.json()["task"]["id"])


def log_lines(count: int, start: int = 0, stream: str = "stdout") -> list[dict[str, str]]:
    return [
        {"timestamp": "2026-06-01T12:00:00Z", "stream": stream, "line": f"line {n}"}
        for n in range(start, start + count)
    ]


async def test_heartbeat_extends_the_task_and_reports_it_running(
    backend_client, agent_headers, release_factory, task_factory, fetch, gcc_clock
):
    await task_factory(await release_factory())
    task_id = await claimed_task_id(backend_client, agent_headers)
    gcc_clock.advance(timedelta(minutes=25))

    response = await backend_client.post(
        f"/internal/agent/tasks/{task_id}/heartbeat", headers=agent_headers
    )

    assert response.status_code == 200
    assert response.json() == {"received": True, "taskStatus": "inProgress"}
    assert (await fetch(AgentTask, task_id)).last_heartbeat_at == gcc_clock.now()


async def test_heartbeat_of_a_finished_task_tells_the_agent_and_changes_nothing(
    backend_client, agent_headers, release_factory, task_factory, fetch
):
    task = await task_factory(await release_factory(), status="failed")

    response = await backend_client.post(
        f"/internal/agent/tasks/{task.id}/heartbeat", headers=agent_headers
    )

    assert response.status_code == 200
    assert response.json()["taskStatus"] == "failed"
    assert (await fetch(AgentTask, task.id)).last_heartbeat_at is None


async def test_heartbeat_of_an_unknown_task_is_404(backend_client, agent_headers):
    response = await backend_client.post(
        f"/internal/agent/tasks/{UNKNOWN_TASK}/heartbeat", headers=agent_headers
    )

    assert response.status_code == 404


async def test_log_batches_are_stored_in_the_order_sent(
    backend_client, agent_headers, release_factory, task_factory, fetch_all
):
    await task_factory(await release_factory())
    task_id = await claimed_task_id(backend_client, agent_headers)
    url = f"/internal/agent/tasks/{task_id}/logs"

    first = await backend_client.post(url, headers=agent_headers, json={"lines": log_lines(500)})
    second = await backend_client.post(
        url, headers=agent_headers, json={"lines": log_lines(3, start=500, stream="stderr")}
    )

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == {"received": True}
    stored = await fetch_all(TaskLogLine, col(TaskLogLine.id))
    assert [line.line for line in stored] == [f"line {n}" for n in range(503)]
    assert {line.stream for line in stored[500:]} == {"stderr"}
    assert {str(line.task_id) for line in stored} == {task_id}


async def test_log_batch_over_the_line_limit_is_422(
    backend_client, agent_headers, release_factory, task_factory, fetch_all
):
    task = await task_factory(await release_factory())

    response = await backend_client.post(
        f"/internal/agent/tasks/{task.id}/logs",
        headers=agent_headers,
        json={"lines": log_lines(MAX_LOG_BATCH_LINES + 1)},
    )

    assert response.status_code == 422
    assert response.json()["field"] == "lines"
    assert await fetch_all(TaskLogLine) == []


async def test_log_batch_over_the_size_limit_is_413(
    backend_client, agent_headers, release_factory, task_factory
):
    task = await task_factory(await release_factory())
    line = "x" * 16_000
    lines = [{"timestamp": "2026-06-01T12:00:00Z", "stream": "stdout", "line": line}] * 600
    body = json.dumps({"lines": lines}).encode()
    assert len(body) > MAX_LOG_BATCH_BYTES

    response = await backend_client.post(
        f"/internal/agent/tasks/{task.id}/logs",
        headers={**agent_headers, "Content-Type": "application/json"},
        content=body,
    )

    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),
        (b'{"lines": []}', 422, "lines"),
        (
            b'{"lines": [{"timestamp": "yesterday", "stream": "stdout", "line": "x"}]}',
            422,
            "lines.0.timestamp",
        ),
        (
            b'{"lines": [{"timestamp": "2026-06-01T12:00:00Z", "stream": "tv", "line": "x"}]}',
            422,
            "lines.0.stream",
        ),
    ],
)
async def test_bad_log_batch_is_refused_naming_the_field(
    body, status, field, backend_client, agent_headers, release_factory, task_factory
):
    task = await task_factory(await release_factory())

    response = await backend_client.post(
        f"/internal/agent/tasks/{task.id}/logs",
        headers={**agent_headers, "Content-Type": "application/json"},
        content=body,
    )

    assert response.status_code == status
    assert response.json()["field"] == field


async def test_logs_of_an_unknown_task_are_404(backend_client, agent_headers):
    response = await backend_client.post(
        f"/internal/agent/tasks/{UNKNOWN_TASK}/logs",
        headers=agent_headers,
        json={"lines": log_lines(1)},
    )

    assert response.status_code == 404


async def test_config_insert_adds_an_absent_key(backend_client, agent_headers, fetch_all):
    response = await backend_client.post(
        "/internal/config", headers=agent_headers, json={"key": "NEW_FEATURE", "value": "false"}
    )

    assert response.status_code == 200
    assert response.json() == {"created": True}
    [env] = await fetch_all(NonEssentialEnv)
    assert (env.key, env.value, env.updated_by) == ("NEW_FEATURE", "false", None)


async def test_config_insert_never_overwrites_an_existing_value(
    backend_client, agent_headers, backend_sessions, gcc_clock, fetch_all
):
    async with backend_sessions() as session:
        now = gcc_clock.now()
        session.add(
            NonEssentialEnv(
                key="NEW_FEATURE",
                value="true",
                created_at=now,
                updated_at=now,
                updated_by="ada@acme.example",
            )
        )
        await session.commit()

    response = await backend_client.post(
        "/internal/config", headers=agent_headers, json={"key": "NEW_FEATURE", "value": "false"}
    )

    assert response.status_code == 200
    assert response.json() == {"created": False}
    [env] = await fetch_all(NonEssentialEnv)
    assert (env.value, env.updated_by) == ("true", "ada@acme.example")


async def test_config_insert_with_a_bad_key_is_422(backend_client, agent_headers):
    response = await backend_client.post(
        "/internal/config", headers=agent_headers, json={"key": "not a key", "value": "1"}
    )

    assert response.status_code == 422
    assert response.json()["field"] == "key"


async def test_license_without_an_expiry_is_valid(backend_client, agent_headers):
    response = await backend_client.get("/internal/license/status", headers=agent_headers)

    assert response.status_code == 200
    assert response.json() == {"valid": True, "expiresAt": None}


def test_license_is_valid_until_it_expires(backend_settings, clock):
    expires_at = clock.now() + timedelta(days=1)
    settings = backend_settings.model_copy(update={"license_expires_at": expires_at})

    before = license_status(clock=clock, settings=settings)
    clock.advance(timedelta(days=1))
    after = license_status(clock=clock, settings=settings)

    assert (before.valid, before.expires_at) == (True, expires_at)
    assert (after.valid, after.expires_at) == (False, expires_at)


def _internal_routes() -> list[tuple[str, str]]:
    """Every /internal operation of the app's OpenAPI document."""
    paths = create_app().openapi()["paths"]
    return [
        (method.upper(), path.replace("{taskId}", UNKNOWN_TASK))
        for path, operations in sorted(paths.items())
        if path.startswith("/internal")
        for method in sorted(operations)
    ]


INTERNAL_ROUTES = _internal_routes()


def test_every_agent_route_is_covered():
    assert {path.split(UNKNOWN_TASK)[-1] or path for _, path in INTERNAL_ROUTES} >= {
        "/internal/agent/tasks",
        "/status",
        "/heartbeat",
        "/logs",
        "/internal/config",
        "/internal/license/status",
    }


@pytest.mark.parametrize(("method", "path"), INTERNAL_ROUTES)
@pytest.mark.parametrize(
    "secret", [None, "", "wrong-secret", "agent-secret-for-test", "AGENT-SECRET-FOR-TESTS"]
)
async def test_agent_routes_refuse_a_missing_or_wrong_secret(
    method, path, secret, backend_client, fetch
):
    headers = {} if secret is None else {"X-Agent-Secret": secret}

    response = await backend_client.request(method, path, headers=headers, json={})

    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    # A refused poll is not recorded as the agent's.
    assert await fetch(InstallationState, 1) is None
