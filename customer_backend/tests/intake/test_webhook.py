"""The signed webhook: verified, licensed, recorded once, answered fast."""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func
from sqlmodel import select

from customer_backend.app import create_app
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.intake.models import ReceivedWebhook
from customer_backend.notifications.models import Notification
from customer_backend.settings import Settings
from servicekit.db import SessionFactory
from signing import build_headers, generate_secret
from testsupport.backend_fixtures import BACKEND_WEBHOOK_SECRET
from testsupport.gcc_fixtures import TaskRecorder
from testsupport.manifest_keys import resigned
from timekeeping import ManualClock
from wrktalk_testing.servers import ServedApp

Publisher = Callable[..., Awaitable[Any]]
WebhookSender = Callable[..., Awaitable[httpx.Response]]


async def _count(sessions: SessionFactory, model: Any) -> int:
    async with sessions() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def _deployments(sessions: SessionFactory) -> list[ScheduledDeployment]:
    async with sessions() as session:
        return list((await session.exec(select(ScheduledDeployment))).all())


async def test_published_release_becomes_a_pending_deployment_with_its_download_queued(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_sessions: SessionFactory,
    backend_task_recorder: TaskRecorder,
    gcc_clock: ManualClock,
) -> None:
    release = await publish_release("2.3.0")

    response = await send_webhook(release.body)

    assert response.status_code == 200, response.text
    assert response.json() == {"received": True}
    [deployment] = await _deployments(backend_sessions)
    assert deployment.gcc_release_id == release.release_id
    assert deployment.status == "pending"
    assert deployment.version == "2.3.0"
    assert deployment.release_name == "v2.3.0"
    assert deployment.release_data == release.document
    assert deployment.artifact_type == "helm"
    assert deployment.expected_sha256 == release.sha256
    assert deployment.is_forced is False
    assert deployment.force_deadline is None
    assert deployment.received_at == gcc_clock.now()
    assert deployment.next_download_at == gcc_clock.now()
    assert deployment.chart_downloaded is False
    assert backend_task_recorder.sent == [("intake.download_release", (str(deployment.id),), {})]
    # The admins hear of it once it is downloaded and can be scheduled.
    assert await _count(backend_sessions, Notification) == 0


async def test_forced_release_must_be_deployed_within_24_hours_of_receipt(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    release = await publish_release("2.4.0", is_forced=True)

    response = await send_webhook(release.body)

    assert response.status_code == 200, response.text
    [deployment] = await _deployments(backend_sessions)
    assert deployment.is_forced is True
    assert deployment.force_deadline == gcc_clock.now() + timedelta(hours=24)


async def test_forged_signature_is_401_and_stores_nothing(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_sessions: SessionFactory,
    backend_task_recorder: TaskRecorder,
) -> None:
    release = await publish_release()

    response = await send_webhook(release.body, secret=generate_secret())

    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert "no_matching_signature" in response.json()["detail"]
    assert response.json()["field"] == "webhook-signature"
    assert await _count(backend_sessions, ScheduledDeployment) == 0
    assert await _count(backend_sessions, ReceivedWebhook) == 0
    assert await _count(backend_sessions, Notification) == 0
    assert backend_task_recorder.sent == []


async def test_body_changed_after_signing_is_401(
    publish_release: Publisher,
    backend_client: httpx.AsyncClient,
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    release = await publish_release()
    headers = build_headers(BACKEND_WEBHOOK_SECRET, "msg_1", gcc_clock.now(), release.body)
    tampered = release.body.replace(b'"isForced": false', b'"isForced": true')
    assert tampered != release.body

    response = await backend_client.post(
        "/api/deployment/webhook", content=tampered, headers=headers
    )

    assert response.status_code == 401
    assert await _count(backend_sessions, ScheduledDeployment) == 0


async def test_webhook_without_signature_headers_is_401_naming_the_header(
    backend_client: httpx.AsyncClient, backend_sessions: SessionFactory
) -> None:
    response = await backend_client.post("/api/deployment/webhook", content=b"{}")

    assert response.status_code == 401
    assert response.json()["field"] == "webhook-id"
    assert "missing_header" in response.json()["detail"]


async def test_replay_with_a_timestamp_older_than_five_minutes_is_401(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    release = await publish_release()
    sent_at = gcc_clock.now()
    first = await send_webhook(release.body, webhook_id="msg_replayed", timestamp=sent_at)
    assert first.status_code == 200
    gcc_clock.advance(timedelta(minutes=6))

    replay = await send_webhook(release.body, webhook_id="msg_replayed", timestamp=sent_at)

    assert replay.status_code == 401
    assert "timestamp_too_old" in replay.json()["detail"]
    assert replay.json()["field"] == "webhook-timestamp"
    assert await _count(backend_sessions, ScheduledDeployment) == 1


async def test_replay_within_tolerance_is_200_and_changes_nothing(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_sessions: SessionFactory,
    backend_task_recorder: TaskRecorder,
    gcc_clock: ManualClock,
) -> None:
    release = await publish_release()
    sent_at = gcc_clock.now()
    first = await send_webhook(release.body, webhook_id="msg_twice", timestamp=sent_at)
    [before] = await _deployments(backend_sessions)
    gcc_clock.advance(timedelta(minutes=2))

    replay = await send_webhook(release.body, webhook_id="msg_twice", timestamp=sent_at)

    assert (first.status_code, replay.status_code) == (200, 200)
    assert replay.json() == {"received": True}
    [after] = await _deployments(backend_sessions)
    assert after.model_dump() == before.model_dump()
    assert await _count(backend_sessions, ReceivedWebhook) == 1
    assert backend_task_recorder.names() == ["intake.download_release"]


async def test_same_release_under_a_new_webhook_id_is_200_and_changes_nothing(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_sessions: SessionFactory,
    backend_task_recorder: TaskRecorder,
    gcc_clock: ManualClock,
) -> None:
    release = await publish_release()
    first = await send_webhook(release.body, webhook_id="msg_first")
    [before] = await _deployments(backend_sessions)
    gcc_clock.advance(timedelta(minutes=1))

    again = await send_webhook(release.body, webhook_id="msg_second")

    assert (first.status_code, again.status_code) == (200, 200)
    [after] = await _deployments(backend_sessions)
    assert after.model_dump() == before.model_dump()
    assert await _count(backend_sessions, ReceivedWebhook) == 2
    assert backend_task_recorder.names() == ["intake.download_release"]


async def test_signed_body_that_is_not_a_release_is_422_naming_the_field(
    publish_release: Publisher, send_webhook: WebhookSender, backend_sessions: SessionFactory
) -> None:
    release = await publish_release()
    document = release.document
    del document["release"]["chartSha256"]

    response = await send_webhook(json.dumps(document).encode())

    assert response.status_code == 422
    assert response.json()["field"] == "release.chartSha256"
    assert await _count(backend_sessions, ScheduledDeployment) == 0
    assert await _count(backend_sessions, ReceivedWebhook) == 0


async def test_signed_body_that_is_not_json_is_422(
    send_webhook: WebhookSender, backend_sessions: SessionFactory
) -> None:
    response = await send_webhook(b"not json at all")

    assert response.status_code == 422
    assert response.json()["field"] == "body"
    assert await _count(backend_sessions, ReceivedWebhook) == 0


async def test_signed_body_nested_100_000_levels_deep_is_422(
    send_webhook: WebhookSender, backend_sessions: SessionFactory
) -> None:
    response = await send_webhook(b'{"a":' * 100_000 + b"1" + b"}" * 100_000)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "body"
    assert await _count(backend_sessions, ReceivedWebhook) == 0


async def test_signed_release_with_a_106_character_version_is_422_naming_it(
    publish_release: Publisher, send_webhook: WebhookSender, backend_sessions: SessionFactory
) -> None:
    release = await publish_release()
    document = release.document
    document["release"]["version"] = "1.0.0-" + "a" * 100
    assert len(document["release"]["version"]) == 106

    response = await send_webhook(json.dumps(document).encode())

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "release.version"
    assert await _count(backend_sessions, ScheduledDeployment) == 0


async def test_signed_webhook_with_an_id_too_long_to_record_is_422_naming_it(
    publish_release: Publisher, send_webhook: WebhookSender, backend_sessions: SessionFactory
) -> None:
    release = await publish_release()

    response = await send_webhook(release.body, webhook_id="msg_" + "x" * 300)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "webhook-id"
    assert await _count(backend_sessions, ReceivedWebhook) == 0


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
async def test_a_webhook_header_sent_twice_is_401_and_stores_nothing(
    publish_release: Publisher,
    backend_client: httpx.AsyncClient,
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
    name: str,
) -> None:
    release = await publish_release()
    signed = build_headers(BACKEND_WEBHOOK_SECRET, "msg_signed", gcc_clock.now(), release.body)
    # A second copy of a header, the webhook id a replay would like recorded for instance.
    second = {"webhook-id": "msg_chosen", "webhook-timestamp": "1", "webhook-signature": "v1,x"}

    response = await backend_client.post(
        "/api/deployment/webhook",
        content=release.body,
        headers=[
            ("Content-Type", "application/json"),
            *signed.items(),
            (name, second[name]),
        ],
    )

    assert response.status_code == 401, response.text
    assert "duplicate_header" in response.json()["detail"]
    assert response.json()["field"] == name
    assert await _count(backend_sessions, ReceivedWebhook) == 0
    assert await _count(backend_sessions, ScheduledDeployment) == 0


async def test_oversized_body_is_413(send_webhook: WebhookSender) -> None:
    response = await send_webhook(b" " * (1024 * 1024 + 1))

    assert response.status_code == 413
    assert response.json()["field"] == "body"


async def test_webhook_after_the_license_expired_is_403_and_stores_nothing(
    publish_release: Publisher,
    backend_settings: Settings,
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    release = await publish_release()
    expired = backend_settings.model_copy(
        update={"license_expires_at": gcc_clock.now() - timedelta(seconds=1)}
    )
    served = ServedApp(create_app(expired, clock=gcc_clock, send_task=TaskRecorder()))
    served.start()
    try:
        async with httpx.AsyncClient(base_url=served.base_url) as client:
            response = await client.post(
                "/api/deployment/webhook",
                content=release.body,
                headers=build_headers(
                    BACKEND_WEBHOOK_SECRET, "msg_license", gcc_clock.now(), release.body
                ),
            )
    finally:
        served.stop()

    assert response.status_code == 403
    assert response.json()["detail"] == "License expired"
    assert await _count(backend_sessions, ScheduledDeployment) == 0


async def test_either_secret_verifies_during_a_rotation(
    publish_release: Publisher,
    backend_settings: Settings,
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    new_secret = generate_secret()
    rotating = backend_settings.model_copy(
        update={"webhook_secret": [SecretStr(BACKEND_WEBHOOK_SECRET), SecretStr(new_secret)]}
    )
    release = await publish_release()
    served = ServedApp(create_app(rotating, clock=gcc_clock, send_task=TaskRecorder()))
    served.start()
    try:
        async with httpx.AsyncClient(base_url=served.base_url) as client:
            response = await client.post(
                "/api/deployment/webhook",
                content=release.body,
                headers=build_headers(new_secret, "msg_rotated", gcc_clock.now(), release.body),
            )
    finally:
        served.stop()

    assert response.status_code == 200, response.text
    assert await _count(backend_sessions, ScheduledDeployment) == 1


async def test_webhook_is_answered_within_100_ms(
    publish_release: Publisher, send_webhook: WebhookSender
) -> None:
    release = await publish_release()
    await send_webhook(release.body)  # warm the connection pools
    timings = []
    for _ in range(5):
        document = release.document
        document["release"]["id"] = str(uuid.uuid4())  # a new release each time
        body = json.dumps(resigned(document)).encode()
        started = time.perf_counter()
        response = await send_webhook(body)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200

    assert statistics.median(timings) < 0.1, timings
