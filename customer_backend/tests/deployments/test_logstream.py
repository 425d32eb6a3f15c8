"""Live deployment logs as Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from customer_backend.agent_tasks.models import AgentTask
from servicekit.db import SessionFactory


async def events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Parse an SSE body into events (``id``, ``event``, ``data``), skipping comments."""
    event: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if line == "":
            if event:
                yield event
            event = {}
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(": ")
            event[name] = json.loads(value) if name == "data" else value


async def finish(sessions: SessionFactory, task_id: uuid.UUID, status: str) -> None:
    async with sessions() as session:
        await session.exec(  # type: ignore[call-overload]
            update(AgentTask).where(AgentTask.id == task_id).values(status=status)
        )
        await session.commit()


def stream_url(target: uuid.UUID) -> str:
    return f"/api/admin/deployment/{target}/logs/stream"


async def test_stream_sends_existing_lines_then_new_ones_and_ends_with_the_task(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    task_factory: Any,
    add_log_lines: Any,
    backend_sessions: SessionFactory,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0", status="inProgress")
    task = await task_factory(deployment_id=release.id, status="inProgress")
    first_ids = await add_log_lines(task.id, "helm upgrade started", "pulling images")

    async def read_all() -> list[dict[str, Any]]:
        received: list[dict[str, Any]] = []
        async with backend_client.stream(
            "GET", stream_url(release.id), headers=admin.headers
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            async for event in events(response):
                received.append(event)
                if len(received) == 2:
                    await add_log_lines(task.id, "release upgraded", stream="stderr")
                    await finish(backend_sessions, task.id, "completed")
        return received

    received = await asyncio.wait_for(read_all(), timeout=20)

    lines = [event for event in received if event.get("event") != "end"]
    assert [event["data"]["line"] for event in lines] == [
        "helm upgrade started",
        "pulling images",
        "release upgraded",
    ]
    assert [int(event["id"]) for event in lines[:2]] == first_ids
    assert lines[2]["data"]["stream"] == "stderr"
    assert lines[0]["data"]["taskId"] == str(task.id)
    assert received[-1]["event"] == "end"
    assert received[-1]["data"]["taskStatus"] == "completed"
    assert received[-1]["data"]["deploymentStatus"] == "inProgress"


async def test_stream_resumes_after_last_event_id(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    task_factory: Any,
    add_log_lines: Any,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0", status="failed")
    task = await task_factory(deployment_id=release.id, status="failed")
    ids = await add_log_lines(task.id, "one", "two", "three")

    async def read_all() -> list[dict[str, Any]]:
        headers = {**admin.headers, "Last-Event-ID": str(ids[0])}
        async with backend_client.stream("GET", stream_url(release.id), headers=headers) as r:
            return [event async for event in events(r)]

    received = await asyncio.wait_for(read_all(), timeout=20)

    assert [event.get("data", {}).get("line") for event in received[:-1]] == ["two", "three"]
    assert received[-1]["event"] == "end"
    assert received[-1]["data"]["taskStatus"] == "failed"


async def test_stream_of_a_rollback_task_follows_the_task_id(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    task_factory: Any,
    add_log_lines: Any,
) -> None:
    admin = await admin_factory()
    task = await task_factory(type="rollback", status="completed", payload={"targetRevision": 2})
    await add_log_lines(task.id, "helm rollback wrktalk 2")

    async def read_all() -> list[dict[str, Any]]:
        async with backend_client.stream("GET", stream_url(task.id), headers=admin.headers) as r:
            return [event async for event in events(r)]

    received = await asyncio.wait_for(read_all(), timeout=20)

    assert received[0]["data"]["line"] == "helm rollback wrktalk 2"
    assert received[-1] == {
        "event": "end",
        "data": {"taskId": str(task.id), "taskStatus": "completed", "deploymentStatus": None},
    }


async def test_stream_of_a_deployment_without_tasks_ends_at_once(
    backend_client: httpx.AsyncClient, admin_factory: Any, release_factory: Any
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0")

    async def read_all() -> list[dict[str, Any]]:
        async with backend_client.stream("GET", stream_url(release.id), headers=admin.headers) as r:
            return [event async for event in events(r)]

    received = await asyncio.wait_for(read_all(), timeout=20)

    assert [event["event"] for event in received] == ["end"]


async def test_stream_of_an_unknown_deployment_is_404(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    response = await backend_client.get(stream_url(uuid.uuid4()), headers=admin.headers)

    assert response.status_code == 404


@pytest.mark.parametrize("last_event_id", ["abc", str(2**31), "9" * 5000])
async def test_stream_with_a_malformed_last_event_id_is_422(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    last_event_id: str,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0")

    response = await backend_client.get(
        stream_url(release.id), headers={**admin.headers, "Last-Event-ID": last_event_id}
    )

    assert response.status_code == 422
    assert response.json()["field"] == "Last-Event-ID"


async def test_stream_without_an_admin_token_is_401(
    backend_client: httpx.AsyncClient, release_factory: Any
) -> None:
    release = await release_factory("2.3.0")

    response = await backend_client.get(stream_url(release.id))

    assert response.status_code == 401
