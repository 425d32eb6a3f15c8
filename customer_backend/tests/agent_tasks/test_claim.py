"""GET /internal/agent/tasks: the atomic claim, the time window, download URLs, poll tracking."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import httpx

from contracts import AgentPollResponse, DeployTask
from customer_backend.agent_tasks import repository
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.installation.models import InstallationState
from customer_backend.notifications.models import Notification
from servicekit.db import SessionFactory
from timekeeping import ManualClock

POLL = "/internal/agent/tasks"


async def poll(client: httpx.AsyncClient, headers: dict[str, str]) -> AgentPollResponse:
    response = await client.get(POLL, headers=headers)
    assert response.status_code == 200, response.text
    return AgentPollResponse.model_validate_json(response.content)


async def test_poll_without_a_task_answers_task_null(backend_client, agent_headers):
    response = await backend_client.get(POLL, headers=agent_headers)

    assert response.status_code == 200
    assert response.json() == {"task": None}


async def test_claimed_task_has_presigned_urls_that_download_the_stored_bytes(
    backend_client, agent_headers, release_factory, task_factory, values_file
):
    previous = await release_factory("2.2.0", is_current=True)
    release = await release_factory("2.3.0")
    task = await task_factory(release, previous=previous)

    answer = await poll(backend_client, agent_headers)

    assert isinstance(answer.task, DeployTask)
    assert answer.task.id == task.id
    assert answer.task.deployment_id == release.deployment.id
    payload = answer.task.payload
    assert str(payload.version) == "2.3.0"
    assert payload.previous is not None
    assert payload.previous.values is not None
    expected = [
        (payload.chart, release.chart.data),
        (payload.values, values_file.data),
        (payload.previous.chart, previous.chart.data),
        (payload.previous.values, values_file.data),
    ]
    async with httpx.AsyncClient() as downloader:
        for ref, data in expected:
            assert ref is not None
            response = await downloader.get(ref.download_url)
            assert response.status_code == 200
            assert response.content == data
            assert hashlib.sha256(response.content).hexdigest() == ref.sha256
    assert [env.key for env in payload.new_non_essential_envs] == ["NEW_FEATURE"]


async def test_claim_marks_task_and_deployment_in_progress_and_counts_the_attempt(
    backend_client, agent_headers, release_factory, task_factory, fetch, gcc_clock
):
    release = await release_factory()
    task = await task_factory(release)

    await poll(backend_client, agent_headers)

    claimed = await fetch(AgentTask, task.id)
    assert claimed.status == "inProgress"
    assert claimed.picked_up_at == gcc_clock.now()
    assert claimed.attempts == 1
    deployment = await fetch(ScheduledDeployment, release.deployment.id)
    assert deployment.status == "inProgress"
    assert deployment.started_at == gcc_clock.now()


async def test_the_claim_commits_by_itself_without_a_transaction_around_it(
    backend_engine, release_factory, task_factory, fetch, gcc_clock
):
    # One statement and no BEGIN or COMMIT: a poll is one round trip to the database.
    task = await task_factory(await release_factory())

    async with backend_engine.connect() as connection:
        claimed = await repository.claim_next_task(
            connection, now=gcc_clock.now(), grace=timedelta(minutes=30)
        )
        raw = await connection.get_raw_connection()
        assert raw.driver_connection is not None
        assert not raw.driver_connection.is_in_transaction()

    assert claimed is not None
    assert claimed.id == task.id
    assert claimed.payload["version"] == task.payload["version"]
    assert (await fetch(AgentTask, task.id)).status == "inProgress"


async def test_claimed_task_is_not_handed_out_again(
    backend_client, agent_headers, release_factory, task_factory
):
    await task_factory(await release_factory())

    first = await poll(backend_client, agent_headers)
    second = await poll(backend_client, agent_headers)

    assert first.task is not None
    assert second.task is None


async def test_task_is_not_handed_out_before_execute_after(
    backend_client, agent_headers, release_factory, task_factory, gcc_clock
):
    task = await task_factory(
        await release_factory(), execute_after=gcc_clock.now() + timedelta(minutes=5)
    )

    early = await poll(backend_client, agent_headers)
    gcc_clock.advance(timedelta(minutes=5))
    on_time = await poll(backend_client, agent_headers)

    assert early.task is None
    assert on_time.task is not None
    assert on_time.task.id == task.id


async def test_task_is_handed_out_until_the_end_of_the_grace_window(
    backend_client, agent_headers, release_factory, task_factory, gcc_clock, backend_settings
):
    task = await task_factory(await release_factory())
    gcc_clock.advance(timedelta(minutes=backend_settings.schedule_grace_minutes))

    answer = await poll(backend_client, agent_headers)

    assert answer.task is not None
    assert answer.task.id == task.id


async def test_task_is_never_handed_out_after_the_grace_window(
    backend_client, agent_headers, release_factory, task_factory, gcc_clock, backend_settings, fetch
):
    task = await task_factory(await release_factory())
    gcc_clock.advance(timedelta(minutes=backend_settings.schedule_grace_minutes, seconds=1))

    answer = await poll(backend_client, agent_headers)

    assert answer.task is None
    assert (await fetch(AgentTask, task.id)).status == "pending"


async def test_oldest_due_task_is_claimed_first(
    backend_client, agent_headers, release_factory, task_factory, gcc_clock
):
    now = gcc_clock.now()
    later = await task_factory(await release_factory("2.4.0"), execute_after=now)
    older = await task_factory(
        await release_factory("2.3.0"), execute_after=now - timedelta(minutes=1)
    )

    first = await poll(backend_client, agent_headers)
    second = await poll(backend_client, agent_headers)

    assert first.task is not None
    assert first.task.id == older.id
    assert second.task is not None
    assert second.task.id == later.id


async def test_twenty_concurrent_polls_hand_one_task_to_exactly_one_poller(
    backend_client, agent_headers, release_factory, task_factory, fetch
):
    task = await task_factory(await release_factory())

    answers = await asyncio.gather(*(poll(backend_client, agent_headers) for _ in range(20)))

    claimed = [answer.task for answer in answers if answer.task is not None]
    assert len(claimed) == 1
    assert claimed[0].id == task.id
    assert (await fetch(AgentTask, task.id)).attempts == 1


async def test_every_poll_records_the_agent_and_clears_the_offline_alert(
    backend_client, agent_headers, backend_sessions: SessionFactory, gcc_clock: ManualClock, fetch
):
    await poll(backend_client, agent_headers)
    first = await fetch(InstallationState, 1)
    assert first.last_agent_poll_at == gcc_clock.now()

    async with backend_sessions() as session:
        state = await session.get(InstallationState, 1)
        assert state is not None
        state.agent_offline_alerted_at = gcc_clock.now()
        session.add(state)
        await session.commit()
    gcc_clock.advance(timedelta(minutes=12))
    await poll(backend_client, agent_headers)

    state = await fetch(InstallationState, 1)
    assert state.last_agent_poll_at == gcc_clock.now()
    assert state.agent_offline_alerted_at is None


async def test_claiming_a_deployment_queues_the_started_email_once(
    backend_client, agent_headers, release_factory, task_factory, fetch_all
):
    task = await task_factory(await release_factory())

    await poll(backend_client, agent_headers)
    await poll(backend_client, agent_headers)

    notifications = await fetch_all(Notification)
    assert [(n.event, n.dedupe_key) for n in notifications] == [
        ("deployment_started", f"deployment_started:{task.id}")
    ]
    assert notifications[0].context["version"] == "2.3.0"


async def test_task_whose_payload_is_unusable_fails_instead_of_blocking_the_queue(
    backend_client, agent_headers, release_factory, task_factory, fetch, fetch_all
):
    release = await release_factory()
    broken = await task_factory(release, payload={"version": "2.3.0", "chart": {"nope": 1}})

    answer = await poll(backend_client, agent_headers)

    assert answer.task is None
    failed = await fetch(AgentTask, broken.id)
    assert failed.status == "failed"
    assert "could not hand out this task" in failed.error_message
    assert (await fetch(ScheduledDeployment, release.deployment.id)).status == "failed"
    assert "deployment_failed" in [n.event for n in await fetch_all(Notification)]
