"""Listing releases, one deployment's detail, and the agent's status."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx

from timekeeping import ManualClock


async def test_releases_are_listed_as_pending_scheduled_and_history(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    record_history: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    deployed = await release_factory("2.1.0", status="success")
    await record_history(deployed, deployed_at=gcc_clock.now() - timedelta(days=2), helm_revision=3)
    rolled = await release_factory("2.2.0", status="failed")
    await record_history(rolled, status="failed", deployed_at=gcc_clock.now() - timedelta(days=1))
    pending = await release_factory("2.3.0", is_forced=True)
    failed_download = await release_factory("2.3.1", downloaded=False, status="downloadFailed")
    running = await release_factory("2.4.0", status="inProgress")

    response = await backend_client.get("/api/admin/deployment/releases", headers=admin.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert {item["id"] for item in body["pending"]} == {
        str(pending.id),
        str(failed_download.id),
        str(rolled.id),
    }
    assert [item["id"] for item in body["scheduled"]] == [str(running.id)]
    assert [(item["version"], item["status"]) for item in body["history"]] == [
        ("2.2.0", "failed"),
        ("2.1.0", "success"),
    ]
    assert body["history"][1]["helmRevision"] == 3
    forced = next(item for item in body["pending"] if item["id"] == str(pending.id))
    assert forced["isForced"] is True
    assert forced["forceDeadline"] is not None
    assert forced["isChartDownloaded"] is True
    assert forced["imageTags"]["backend"] == "sha-abc123-2.3.0"
    assert forced["releaseNotes"] == "Notes of 2.3.0"
    assert forced["isMigrationRequired"] is True


async def test_releases_can_be_filtered_by_status(
    backend_client: httpx.AsyncClient, admin_factory: Any, release_factory: Any
) -> None:
    admin = await admin_factory()
    pending = await release_factory("2.3.0")
    await release_factory("2.4.0", downloaded=False, status="downloadFailed")

    response = await backend_client.get(
        "/api/admin/deployment/releases", params={"status": "pending"}, headers=admin.headers
    )

    assert [item["id"] for item in response.json()["pending"]] == [str(pending.id)]


async def test_releases_with_an_unknown_status_filter_is_422(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    response = await backend_client.get(
        "/api/admin/deployment/releases", params={"status": "nope"}, headers=admin.headers
    )

    assert response.status_code == 422
    assert response.json()["field"] == "status"


async def test_releases_without_an_admin_token_is_401(backend_client: httpx.AsyncClient) -> None:
    response = await backend_client.get(
        "/api/admin/deployment/releases", headers={"Authorization": "Bearer ct_wrong"}
    )

    assert response.status_code == 401


async def test_deployment_detail_shows_its_tasks_results_and_timings(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    task_factory: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    now = gcc_clock.now()
    release = await release_factory(
        "2.3.0", status="success", started_at=now, completed_at=now + timedelta(minutes=4)
    )
    missed = await task_factory(
        deployment_id=release.id, status="cancelled", execute_after=now - timedelta(days=1)
    )
    gcc_clock.advance(1)
    done = await task_factory(
        deployment_id=release.id,
        status="completed",
        picked_up_at=now,
        completed_at=now + timedelta(minutes=4),
        attempts=1,
        result={"status": "success", "helmRevision": 7, "releaseVersion": "2.3.0"},
    )

    response = await backend_client.get(
        f"/api/admin/deployment/{release.id}", headers=admin.headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["deployment"]["status"] == "success"
    assert body["deployment"]["taskId"] == str(done.id)
    assert body["deployment"]["completedAt"] is not None
    assert [task["id"] for task in body["tasks"]] == [str(missed.id), str(done.id)]
    assert body["tasks"][1]["result"]["helmRevision"] == 7
    assert body["tasks"][1]["attempts"] == 1


async def test_deployment_detail_shows_whether_a_failed_task_is_retryable(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    release_factory: Any,
    task_factory: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    release = await release_factory("2.3.0", status="failed")
    first = await task_factory(
        deployment_id=release.id,
        status="failed",
        error_message="pulling registry.example/wrktalk:2.3.0: connection reset",
        retryable=True,
    )
    gcc_clock.advance(1)
    second = await task_factory(
        deployment_id=release.id,
        status="failed",
        error_message="Error: chart requires kubeVersion >=1.29",
        retryable=False,
    )
    gcc_clock.advance(1)
    pending = await task_factory(deployment_id=release.id)

    response = await backend_client.get(
        f"/api/admin/deployment/{release.id}", headers=admin.headers
    )

    assert response.status_code == 200, response.text
    assert [(task["id"], task["retryable"]) for task in response.json()["tasks"]] == [
        (str(first.id), True),
        (str(second.id), False),
        (str(pending.id), None),
    ]


async def test_deployment_detail_of_an_unknown_id_is_404(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    response = await backend_client.get(
        f"/api/admin/deployment/{uuid.uuid4()}", headers=admin.headers
    )

    assert response.status_code == 404


async def test_deployment_detail_of_a_malformed_id_is_422(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    response = await backend_client.get("/api/admin/deployment/not-a-uuid", headers=admin.headers)

    assert response.status_code == 422
    assert response.json()["field"] == "deployment_id"


async def test_agent_is_online_when_it_polled_in_the_last_ten_minutes(
    backend_client: httpx.AsyncClient,
    admin_factory: Any,
    set_agent_poll: Any,
    gcc_clock: ManualClock,
) -> None:
    admin = await admin_factory()
    polled = gcc_clock.now()
    await set_agent_poll(polled)
    gcc_clock.advance(timedelta(minutes=9))

    online = await backend_client.get("/api/admin/agent/status", headers=admin.headers)
    gcc_clock.advance(timedelta(minutes=2))
    offline = await backend_client.get("/api/admin/agent/status", headers=admin.headers)

    assert online.json()["isOnline"] is True
    assert online.json()["lastPollAt"].startswith("2026-06-01T12:00:00")
    assert offline.json()["isOnline"] is False


async def test_agent_that_never_polled_is_offline(
    backend_client: httpx.AsyncClient, admin_factory: Any
) -> None:
    admin = await admin_factory()

    response = await backend_client.get("/api/admin/agent/status", headers=admin.headers)

    assert response.json() == {"isOnline": False, "lastPollAt": None}
