"""Every deployment and rollback in the history opens with its deploymentId, logs included."""

from __future__ import annotations

from typing import Any

import httpx

from timekeeping import ManualClock

RELEASES = "/api/admin/deployment/releases"


async def finish(
    client: httpx.AsyncClient, agent_headers: dict[str, str], task: Any, status: dict[str, Any]
) -> str:
    """Report the running ``task``'s end as the agent does."""
    task_id = str(task.id)
    answer = await client.post(
        f"/internal/agent/tasks/{task_id}/status", headers=agent_headers, json=status
    )
    assert answer.status_code == 200, answer.text
    return task_id


async def history_entry(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    listing = await client.get(RELEASES, headers=headers)
    assert listing.status_code == 200, listing.text
    entry: dict[str, Any] = listing.json()["history"][0]
    return entry


async def test_a_finished_deployment_opens_from_the_history_with_its_logs(
    backend_client: httpx.AsyncClient,
    agent_headers: dict[str, str],
    admin_factory: Any,
    release_factory: Any,
    task_factory: Any,
    add_log_lines: Any,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0", status="inProgress")
    task = await task_factory(deployment_id=release.id, status="inProgress", attempts=1)
    task_id = await finish(
        backend_client,
        agent_headers,
        task,
        {"status": "completed", "result": {"status": "success", "helmRevision": 4}},
    )
    await add_log_lines(task.id, "helm upgrade done")

    entry = await history_entry(backend_client, admin.headers)
    detail = await backend_client.get(
        f"/api/admin/deployment/{entry['deploymentId']}", headers=admin.headers
    )
    logs = await backend_client.get(
        f"/api/admin/deployment/{entry['deploymentId']}/logs", headers=admin.headers
    )

    assert entry["deploymentId"] == str(release.id)
    assert entry["taskId"] == task_id
    assert detail.status_code == 200, detail.text
    assert detail.json()["deployment"]["status"] == "success"
    assert [item["id"] for item in detail.json()["tasks"]] == [task_id]
    assert logs.status_code == 200, logs.text
    assert [line["line"] for line in logs.json()["lines"]] == ["helm upgrade done"]
    assert logs.json()["isFinished"] is True


async def test_a_finished_rollback_opens_from_the_history_with_its_task_and_logs(
    backend_client: httpx.AsyncClient,
    agent_headers: dict[str, str],
    admin_factory: Any,
    release_factory: Any,
    task_factory: Any,
    add_log_lines: Any,
) -> None:
    admin = await admin_factory()
    await release_factory("2.2.0", status="success")
    task = await task_factory(
        type="rollback", payload={"targetVersion": "2.2.0"}, status="inProgress", attempts=1
    )
    await add_log_lines(task.id, "rolling back", "done")
    task_id = await finish(
        backend_client,
        agent_headers,
        task,
        {"status": "completed", "result": {"status": "success", "releaseVersion": "2.2.0"}},
    )

    entry = await history_entry(backend_client, admin.headers)
    detail = await backend_client.get(
        f"/api/admin/deployment/{entry['deploymentId']}", headers=admin.headers
    )
    first = await backend_client.get(
        f"/api/admin/deployment/{entry['deploymentId']}/logs",
        params={"limit": 1},
        headers=admin.headers,
    )
    rest = await backend_client.get(
        f"/api/admin/deployment/{entry['deploymentId']}/logs",
        params={"afterId": first.json()["nextAfterId"]},
        headers=admin.headers,
    )

    assert (entry["isRollback"], entry["deploymentId"], entry["id"]) == (True, task_id, task_id)
    assert detail.status_code == 200, detail.text
    assert detail.json()["deployment"] is None
    assert [(t["id"], t["type"]) for t in detail.json()["tasks"]] == [(task_id, "rollback")]
    assert [line["line"] for line in first.json()["lines"]] == ["rolling back"]
    assert first.json()["isFinished"] is False
    assert [line["line"] for line in rest.json()["lines"]] == ["done"]
    assert rest.json()["isFinished"] is True


async def test_an_older_history_entry_opens_the_latest_deployment_of_its_version(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    record_history: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.1.0", status="success")
    await record_history(release, deployment_id=None, gcc_release_id=None, is_rollback=True)

    entry = await history_entry(backend_client, admin.headers)
    detail = await backend_client.get(
        f"/api/admin/deployment/{entry['deploymentId']}", headers=admin.headers
    )

    assert entry["deploymentId"] == str(release.id)
    assert detail.status_code == 200


async def test_an_unknown_id_is_404_naming_the_field(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()
    unknown = "00000000-0000-4000-8000-000000000000"

    detail = await backend_client.get(f"/api/admin/deployment/{unknown}", headers=admin.headers)
    logs = await backend_client.get(f"/api/admin/deployment/{unknown}/logs", headers=admin.headers)
    bad_after = await backend_client.get(
        f"/api/admin/deployment/{unknown}/logs", params={"afterId": -1}, headers=admin.headers
    )

    assert (detail.status_code, detail.json()["field"]) == (404, "deploymentId")
    assert (logs.status_code, logs.json()["field"]) == (404, "deploymentId")
    assert (bad_after.status_code, bad_after.json()["field"]) == (422, "afterId")
