"""The signed release manifest at intake: releases GCC signed with a trusted key, within their
validity and saying what the webhook says, are accepted; every other one is refused with a
422, a log line and an admin email, and nothing of it is stored."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func
from sqlmodel import select

from customer_backend.app import create_app
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.intake.models import ReceivedWebhook
from customer_backend.intake.polling import poll_gcc
from customer_backend.notifications.models import Notification
from customer_backend.runtime import Runtime
from customer_backend.settings import Settings
from gcc.releases.manifests import ManifestSigner, current_manifest
from gcc.releases.models import Release
from gcc.settings import Settings as GccSettings
from servicekit.db import SessionFactory
from signing import build_headers
from testsupport.backend_fixtures import BACKEND_WEBHOOK_SECRET
from testsupport.gcc_fixtures import TaskRecorder
from testsupport.manifest_keys import (
    OTHER_PUBLIC_KEY,
    OTHER_SIGNING_KEY,
    TEST_PUBLIC_KEY,
    resigned,
)
from timekeeping import ManualClock
from wrktalk_testing.servers import ServedApp

Publisher = Callable[..., Awaitable[Any]]
WebhookSender = Callable[..., Awaitable[httpx.Response]]


async def _count(sessions: SessionFactory, model: Any) -> int:
    async with sessions() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def _refusal_emails(sessions: SessionFactory) -> list[Notification]:
    async with sessions() as session:
        result = await session.exec(
            select(Notification).where(Notification.event == "manifest_refused")
        )
        return list(result.all())


async def _assert_refused(
    response: httpx.Response, sessions: SessionFactory, reason: str
) -> Notification:
    assert response.status_code == 422, response.text
    error = response.json()
    assert (error["error"], error["field"]) == ("invalid_input", "manifest")
    assert f"({reason})" in error["detail"]
    assert await _count(sessions, ScheduledDeployment) == 0
    assert await _count(sessions, ReceivedWebhook) == 0
    [email] = await _refusal_emails(sessions)
    assert email.context["reason"] == reason
    return email


async def _send_to(settings: Settings, clock: ManualClock, body: bytes) -> httpx.Response:
    """POST ``body`` to a backend served with ``settings`` (signed webhook headers)."""
    served = ServedApp(create_app(settings, clock=clock, send_task=TaskRecorder()))
    served.start()
    try:
        async with httpx.AsyncClient(base_url=served.base_url) as client:
            return await client.post(
                "/api/deployment/webhook",
                content=body,
                headers={
                    "content-type": "application/json",
                    **build_headers(BACKEND_WEBHOOK_SECRET, "msg_served", clock.now(), body),
                },
            )
    finally:
        served.stop()


async def test_a_release_signed_by_gcc_is_accepted_and_its_manifest_stored(
    publish_release: Publisher, send_webhook: WebhookSender, backend_sessions: SessionFactory
) -> None:
    release = await publish_release("2.3.0")

    response = await send_webhook(release.body)

    assert response.status_code == 200, response.text
    async with backend_sessions() as session:
        deployment = (await session.exec(select(ScheduledDeployment))).one()
    manifest = deployment.release_data["manifest"]["manifest"]
    assert manifest["releaseId"] == str(release.release_id)
    assert manifest["artifacts"] == [
        {
            "type": "helm",
            "objectName": "charts/helm/wrktalk-2.3.0.tgz",
            "sha256": release.sha256,
            "sizeBytes": len(release.chart),
        }
    ]


async def test_a_release_without_a_manifest_is_refused(
    publish_release: Publisher, send_webhook: WebhookSender, backend_sessions: SessionFactory
) -> None:
    release = await publish_release("2.3.0")
    document = release.document
    del document["manifest"]

    response = await send_webhook(json.dumps(document).encode())

    email = await _assert_refused(response, backend_sessions, "unsigned")
    assert email.context["source"] == "webhook"


async def test_a_release_without_a_manifest_is_accepted_while_unsigned_ones_are_allowed(
    publish_release: Publisher,
    backend_client: httpx.AsyncClient,
    backend_settings: Settings,
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    release = await publish_release("2.3.0")
    document = release.document
    del document["manifest"]
    allowing = backend_settings.model_copy(update={"allow_unsigned_releases": True})

    response = await _send_to(allowing, gcc_clock, json.dumps(document).encode())

    assert response.status_code == 200, response.text
    assert await _count(backend_sessions, ScheduledDeployment) == 1


async def test_a_manifest_field_changed_after_signing_is_refused(
    publish_release: Publisher, send_webhook: WebhookSender, backend_sessions: SessionFactory
) -> None:
    release = await publish_release("2.3.0")
    document = release.document
    document["manifest"]["manifest"]["imageTags"]["backend"] = "sha-evil"
    document["release"]["imageTags"]["backend"] = "sha-evil"

    response = await send_webhook(json.dumps(document).encode())

    await _assert_refused(response, backend_sessions, "badSignature")


async def test_a_manifest_signed_by_an_untrusted_key_is_refused(
    publish_release: Publisher, send_webhook: WebhookSender, backend_sessions: SessionFactory
) -> None:
    release = await publish_release("2.3.0")

    body = json.dumps(resigned(release.document, key=OTHER_SIGNING_KEY)).encode()
    response = await send_webhook(body)

    await _assert_refused(response, backend_sessions, "unknownKey")


async def test_an_expired_manifest_is_refused(
    publish_release: Publisher,
    send_webhook: WebhookSender,
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: GccSettings,
) -> None:
    release = await publish_release("2.3.0")
    gcc_clock.advance(gcc_settings.manifest_validity + timedelta(seconds=1))

    response = await send_webhook(release.body)  # replayed: a frozen view of the releases

    await _assert_refused(response, backend_sessions, "expired")


async def test_a_webhook_pairing_a_manifest_with_other_digests_is_refused(
    publish_release: Publisher, send_webhook: WebhookSender, backend_sessions: SessionFactory
) -> None:
    old = await publish_release("2.2.0")
    new = await publish_release("2.3.0")
    document = new.document
    document["release"]["chartSha256"] = old.sha256  # mix and match: new release, old chart

    response = await send_webhook(json.dumps(document).encode())

    email = await _assert_refused(response, backend_sessions, "mismatch")
    assert "release.chartSha256" in email.context["error"]


async def test_a_manifest_for_another_organization_is_refused(
    publish_release: Publisher, send_webhook: WebhookSender, backend_sessions: SessionFactory
) -> None:
    release = await publish_release("2.3.0")

    body = json.dumps(resigned(release.document, organization="globex")).encode()
    response = await send_webhook(body)

    email = await _assert_refused(response, backend_sessions, "mismatch")
    assert "globex" in email.context["error"]


async def test_a_refused_release_is_emailed_once_however_often_it_comes(
    publish_release: Publisher, send_webhook: WebhookSender, backend_sessions: SessionFactory
) -> None:
    release = await publish_release("2.3.0")
    body = json.dumps(resigned(release.document, key=OTHER_SIGNING_KEY)).encode()

    for _ in range(3):
        assert (await send_webhook(body)).status_code == 422

    assert len(await _refusal_emails(backend_sessions)) == 1


async def test_the_updates_poll_refuses_what_does_not_verify_and_records_the_rest(
    publish_release: Publisher,
    backend_client: httpx.AsyncClient,
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
) -> None:
    await publish_release("2.3.0")
    only_other = backend_runtime.settings.model_copy(
        update={"manifest_trusted_keys": [OTHER_PUBLIC_KEY]}
    )
    backend_runtime.settings = only_other

    outcome = await poll_gcc(runtime=backend_runtime)

    assert outcome is not None
    assert (outcome.offered, outcome.recorded, outcome.refused) == (1, 0, 1)
    assert await _count(backend_sessions, ScheduledDeployment) == 0
    [email] = await _refusal_emails(backend_sessions)
    assert (email.context["reason"], email.context["source"]) == ("unknownKey", "updates poll")


async def test_key_rotation_publish_with_the_new_key_while_both_are_trusted_then_drop_the_old(
    publish_release: Publisher,
    backend_client: httpx.AsyncClient,
    backend_settings: Settings,
    backend_sessions: SessionFactory,
    gcc_sessions: SessionFactory,
    gcc_settings: GccSettings,
    gcc_clock: ManualClock,
) -> None:
    # Step 1: the backend trusts the old (test) key and the new one.
    both = backend_settings.model_copy(
        update={"manifest_trusted_keys": [TEST_PUBLIC_KEY, OTHER_PUBLIC_KEY]}
    )
    old_release = await publish_release("2.2.0")  # signed with the old key
    assert (await _send_to(both, gcc_clock, old_release.body)).status_code == 200

    # Step 2: GCC signs with the new key; what it sends now verifies with either list.
    new_signer = ManifestSigner(key=OTHER_SIGNING_KEY, validity=gcc_settings.manifest_validity)
    new_release = await publish_release("2.3.0")
    async with gcc_sessions() as session:
        stored = await session.get(Release, new_release.release_id)
        assert stored is not None
        sent = current_manifest(stored, signer=new_signer, now=gcc_clock.now())
    assert sent is not None
    assert sent.manifest.key_id == OTHER_SIGNING_KEY.key_id
    document = {**new_release.document, "manifest": sent.model_dump(mode="json")}
    assert (await _send_to(both, gcc_clock, json.dumps(document).encode())).status_code == 200

    # Step 3: the old key is dropped; the new key's manifests still verify, the old ones not.
    only_new = backend_settings.model_copy(update={"manifest_trusted_keys": [OTHER_PUBLIC_KEY]})
    replayed = {**document, "release": {**document["release"]}}
    assert (await _send_to(only_new, gcc_clock, json.dumps(replayed).encode())).status_code == 200
    third = await publish_release("2.4.0")  # still signed with the old key by the fixture GCC
    refused = await _send_to(only_new, gcc_clock, third.body)
    assert refused.status_code == 422
    assert "(unknownKey)" in refused.json()["detail"]
    assert await _count(backend_sessions, ScheduledDeployment) == 2
