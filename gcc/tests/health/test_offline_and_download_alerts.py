"""Spec errors 2.1 and 3.2, `appVer` and `heartbeatEnabled`: what GCC raises, resolves and shows
when a customer goes silent, cannot download a release, reports its application version or
sends no heartbeats. The clock is moved, never slept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import col, select

from contracts import EscalationType
from gcc.escalations.models import Escalation
from gcc.escalations.service import notify_new_escalations
from gcc.health.service import Classification, classify_health
from gcc.notifications.email import SmtpMailer
from gcc.organizations.models import Organization
from gcc.settings import Settings
from servicekit.db import SessionFactory, session_scope
from timekeeping import ManualClock
from wrktalk_testing.smtp import SmtpSink

HEARTBEAT = {"version": "2.3.0", "status": "healthy", "timestamp": "2026-06-01T12:00:00Z"}


async def classify(
    sessions: SessionFactory, clock: ManualClock, settings: Settings
) -> Classification:
    async with session_scope(sessions) as session:
        return await classify_health(session, clock=clock, settings=settings)


async def client_offline(sessions: SessionFactory) -> list[Escalation]:
    async with sessions() as session:
        rows = await session.exec(
            select(Escalation)
            .where(Escalation.type == str(EscalationType.CLIENT_OFFLINE))
            .order_by(col(Escalation.escalated_at))
        )
        return list(rows.all())


async def organization(sessions: SessionFactory, name: str) -> Organization:
    async with sessions() as session:
        row = (await session.exec(select(Organization).where(Organization.name == name))).one()
    return row


async def test_a_critical_organization_raises_client_offline_once_per_offline_period(
    organization_factory: Any,
    gcc_client: httpx.AsyncClient,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
) -> None:
    customer = await organization_factory("silent", last_heartbeat_at=gcc_clock.now())
    gcc_clock.advance(timedelta(hours=23, minutes=59))
    before = await classify(gcc_sessions, gcc_clock, gcc_settings)
    gcc_clock.advance(timedelta(minutes=2))
    first = await classify(gcc_sessions, gcc_clock, gcc_settings)
    gcc_clock.advance(timedelta(hours=3))
    again = await classify(gcc_sessions, gcc_clock, gcc_settings)

    assert (before.client_offline_raised, first.client_offline_raised) == (0, 1)
    assert again.client_offline_raised == 0
    [escalation] = await client_offline(gcc_sessions)
    assert escalation.organization_id == customer.organization.id
    assert escalation.release_id is None
    assert escalation.resolved_at is None
    assert escalation.reason == "Organization silent has not been seen for more than 24 hours."
    assert escalation.details is not None
    assert escalation.details["pendingForcedVersions"] == []

    response = await gcc_client.post(
        "/api/v1/organizations/silent/heartbeat", json=HEARTBEAT, headers=customer.headers
    )
    assert response.status_code == 200, response.text
    gcc_clock.advance(timedelta(minutes=1))
    back = await classify(gcc_sessions, gcc_clock, gcc_settings)

    assert back.client_offline_resolved == 1
    [resolved] = await client_offline(gcc_sessions)
    assert resolved.resolved_at == gcc_clock.now()
    assert resolved.resolution is not None
    assert resolved.resolution.startswith("Seen again at ")

    gcc_clock.advance(timedelta(hours=25))
    second_period = await classify(gcc_sessions, gcc_clock, gcc_settings)

    assert second_period.client_offline_raised == 1
    assert [row.resolved_at is None for row in await client_offline(gcc_sessions)] == [
        False,
        True,
    ]


async def test_client_offline_resolved_by_an_operator_is_not_raised_again_while_silent(
    organization_factory: Any,
    gcc_client: httpx.AsyncClient,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
    operator_headers: dict[str, str],
) -> None:
    await organization_factory("silent", last_heartbeat_at=gcc_clock.now() - timedelta(hours=30))
    await classify(gcc_sessions, gcc_clock, gcc_settings)
    [escalation] = await client_offline(gcc_sessions)

    response = await gcc_client.post(
        f"/api/operator/escalations/{escalation.id}/resolve",
        json={"resolution": "customer on holiday"},
        headers=operator_headers,
    )
    assert response.status_code == 200, response.text
    gcc_clock.advance(timedelta(hours=2))
    later = await classify(gcc_sessions, gcc_clock, gcc_settings)

    assert later.client_offline_raised == 0
    assert len(await client_offline(gcc_sessions)) == 1


async def test_client_offline_names_the_forced_releases_pending(
    organization_factory: Any,
    release_factory: Any,
    target_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
) -> None:
    silent = await organization_factory(
        "silent", last_heartbeat_at=gcc_clock.now() - timedelta(hours=25)
    )
    forced = await release_factory("2.3.0", is_forced=True)
    await target_factory(forced, silent.organization.id, status="webhookFailed")

    await classify(gcc_sessions, gcc_clock, gcc_settings)

    [escalation] = await client_offline(gcc_sessions)
    assert "while the forced release 2.3.0 is pending" in escalation.reason
    assert escalation.details is not None
    assert escalation.details["pendingForcedVersions"] == ["2.3.0"]


async def test_a_backend_without_heartbeats_is_unknown_not_offline(
    organization_factory: Any,
    gcc_client: httpx.AsyncClient,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
    operator_headers: dict[str, str],
) -> None:
    customer = await organization_factory("quiet", last_heartbeat_at=gcc_clock.now())

    response = await gcc_client.get(
        "/api/v1/organizations/quiet/updates",
        params={"heartbeatEnabled": "false"},
        headers=customer.headers,
    )
    assert response.status_code == 200, response.text
    gcc_clock.advance(timedelta(hours=30))
    result = await classify(gcc_sessions, gcc_clock, gcc_settings)

    stored = await organization(gcc_sessions, "quiet")
    assert (stored.heartbeat_enabled, stored.health_status, stored.is_online) == (
        False,
        "unknown",
        False,
    )
    assert result.client_offline_raised == 0
    view = await gcc_client.get("/api/operator/organizations/quiet", headers=operator_headers)
    assert view.json()["heartbeatEnabled"] is False
    assert view.json()["healthStatus"] == "unknown"

    # a heartbeat (the setting switched back on) counts again at once
    response = await gcc_client.post(
        "/api/v1/organizations/quiet/heartbeat", json=HEARTBEAT, headers=customer.headers
    )
    assert response.status_code == 200, response.text
    stored = await organization(gcc_sessions, "quiet")
    assert (stored.heartbeat_enabled, stored.health_status) == (True, "online")


async def test_a_poll_without_the_heartbeat_flag_changes_nothing_and_a_bad_flag_is_422(
    organization_factory: Any, gcc_client: httpx.AsyncClient, gcc_sessions: SessionFactory
) -> None:
    customer = await organization_factory("customer-x")

    plain = await gcc_client.get(
        "/api/v1/organizations/customer-x/updates", headers=customer.headers
    )
    bad = await gcc_client.get(
        "/api/v1/organizations/customer-x/updates",
        params={"heartbeatEnabled": "sometimes"},
        headers=customer.headers,
    )

    assert plain.status_code == 200
    assert (await organization(gcc_sessions, "customer-x")).heartbeat_enabled is True
    assert bad.status_code == 422
    assert bad.json()["field"] == "heartbeatEnabled"


async def test_download_failed_report_raises_an_escalation_that_is_emailed(
    organization_factory: Any,
    release_factory: Any,
    target_factory: Any,
    gcc_client: httpx.AsyncClient,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
    smtp_sink: SmtpSink,
) -> None:
    customer = await organization_factory(
        "customer-x", account_manager_email="am@wrktalk.example.com"
    )
    release = await release_factory("2.3.0")
    target = await target_factory(release, customer.organization.id, status="notified")
    body = {
        "organizationName": "customer-x",
        "releaseId": str(release.id),
        "status": "downloadFailed",
        "errorMessage": "SHA256 mismatch after 3 tries",
    }

    for _ in range(2):
        response = await gcc_client.post(
            "/api/v1/deployments/status", json=body, headers=customer.headers
        )
        assert response.status_code == 200, response.text
    async with session_scope(gcc_sessions) as session:
        notified = await notify_new_escalations(
            session,
            clock=gcc_clock,
            settings=gcc_settings,
            mailer=SmtpMailer(gcc_settings, timeout=5),
        )

    async with gcc_sessions() as session:
        [escalation] = (await session.exec(select(Escalation))).all()
    assert escalation.type == "DOWNLOAD_FAILED"
    assert escalation.release_id == release.id
    assert escalation.release_version == "2.3.0"
    assert "SHA256 mismatch" in escalation.reason
    assert escalation.notified_at == gcc_clock.now()
    assert notified.sent == 1
    [message] = smtp_sink.messages
    assert sorted(message.recipients) == ["am@wrktalk.example.com", "gcc-ops@example.com"]
    assert message.subject == ("[GCC] Customer could not download the release: customer-x (2.3.0)")
    assert "SHA256 mismatch" in message.text
    async with gcc_sessions() as session:
        stored_target = await session.get(type(target), target.id)
    assert stored_target is not None
    assert stored_target.status == "downloadFailed"


async def test_app_version_reported_with_a_deployment_is_shown_beside_the_release_version(
    organization_factory: Any,
    release_factory: Any,
    target_factory: Any,
    gcc_client: httpx.AsyncClient,
    operator_headers: dict[str, str],
) -> None:
    customer = await organization_factory("customer-x", current_version="2.2.0")
    release = await release_factory("2.3.0")
    await target_factory(release, customer.organization.id, status="inProgress")

    response = await gcc_client.post(
        "/api/v1/deployments/status",
        json={
            "organizationName": "customer-x",
            "releaseId": str(release.id),
            "status": "success",
            "appVersion": "2.3.0-build.17",
        },
        headers=customer.headers,
    )
    assert response.status_code == 200, response.text

    view = await gcc_client.get("/api/operator/organizations/customer-x", headers=operator_headers)
    assert (view.json()["currentVersion"], view.json()["appVersion"]) == (
        "2.3.0",
        "2.3.0-build.17",
    )
    listed = await gcc_client.get("/api/operator/organizations", headers=operator_headers)
    [entry] = listed.json()["organizations"]
    assert entry["appVersion"] == "2.3.0-build.17"
    history = await gcc_client.get(
        "/api/operator/organizations/customer-x/versions", headers=operator_headers
    )
    [version] = history.json()["versions"]
    assert (version["releaseVersion"], version["appVersion"]) == ("2.3.0", "2.3.0-build.17")


async def test_an_app_version_longer_than_stored_is_422_naming_the_field(
    organization_factory: Any, release_factory: Any, gcc_client: httpx.AsyncClient
) -> None:
    customer = await organization_factory("customer-x")
    release = await release_factory("2.3.0")

    response = await gcc_client.post(
        "/api/v1/deployments/status",
        json={
            "organizationName": "customer-x",
            "releaseId": str(release.id),
            "status": "success",
            "appVersion": "x" * 101,
        },
        headers=customer.headers,
    )

    assert response.status_code == 422
    assert response.json()["field"] == "appVersion"
