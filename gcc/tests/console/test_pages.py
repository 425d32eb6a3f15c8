"""Each console page and action over HTTP: the same rules as the API, who did it recorded,
viewers refused, forged forms refused."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlmodel import select

from contracts import EscalationType, OperatorRole
from gcc.audit.models import AuditEntry
from gcc.escalations.models import Escalation
from gcc.escalations.service import raise_escalation
from gcc.organizations.models import Organization
from servicekit.db import SessionFactory, session_scope
from timekeeping import ManualClock

ConsoleClientMaker = Callable[..., Awaitable[httpx.AsyncClient]]


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


async def escalate(
    sessions: SessionFactory, clock: ManualClock, organization: Organization
) -> None:
    async with session_scope(sessions) as session:
        await raise_escalation(
            session,
            clock=clock,
            escalation_type=EscalationType.CLIENT_OFFLINE,
            organization_id=organization.id,
            reason="Not seen for 25 hours.",
        )


async def audit_entries(sessions: SessionFactory, action: str) -> list[AuditEntry]:
    async with sessions() as session:
        found = await session.exec(select(AuditEntry).where(AuditEntry.action == action))
        return list(found.all())


async def test_every_page_renders_for_a_signed_in_operator(
    console_client: ConsoleClientMaker,
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    created = await organization_factory("acme")
    await escalate(gcc_sessions, gcc_clock, created.organization)
    client = await console_client()

    for path in [
        "/console",
        "/console/organizations/acme",
        "/console/releases",
        "/console/escalations",
        "/console/audit",
        "/console/artifacts",
    ]:
        page = await client.get(path)
        assert page.status_code == 200, f"{path}: {page.text[:2000]}"
        assert "Alice Ops" in page.text
        assert "Traceback" not in page.text


async def test_resolving_records_the_reason_and_the_operator(
    console_client: ConsoleClientMaker,
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    created = await organization_factory("acme")
    await escalate(gcc_sessions, gcc_clock, created.organization)
    client = await console_client()
    page = await client.get("/console/escalations")
    escalation_id = re.search(r"/console/escalations/([0-9a-f-]{36})/resolve", page.text)
    assert escalation_id

    answer = await client.post(
        f"/console/escalations/{escalation_id.group(1)}/resolve",
        data={"reason": "Customer restarted the backend", "csrf_token": csrf_of(page)},
    )
    audit = await client.get("/console/audit", params={"actor": "alice@vendor.example"})

    assert answer.status_code == 303
    assert "Resolved" in (await client.get(answer.headers["location"])).text
    [entry] = await audit_entries(gcc_sessions, "escalation.resolve")
    assert (entry.actor, entry.actor_kind) == ("alice@vendor.example", "operator")
    assert entry.details == {"type": "CLIENT_OFFLINE", "reason": "Customer restarted the backend"}
    assert "Customer restarted the backend" in audit.text


async def test_rotating_shows_the_new_secret_once_and_states_the_grace(
    console_client: ConsoleClientMaker, organization_factory: Any, gcc_sessions: SessionFactory
) -> None:
    created = await organization_factory("acme")
    client = await console_client()
    page = await client.get("/console/organizations/acme")

    rotated = await client.post(
        "/console/organizations/acme/rotate-secret", data={"csrf_token": csrf_of(page)}
    )
    again = await client.get("/console/organizations/acme")

    async with gcc_sessions() as session:
        stored = (await session.exec(select(Organization))).one()
    assert rotated.status_code == 200
    assert stored.webhook_secret != created.webhook_secret
    assert stored.webhook_secret in rotated.text
    assert "1 d 0 h" in rotated.text  # the grace period, GCC_SECRET_ROTATION_GRACE
    assert stored.webhook_secret not in again.text
    [entry] = await audit_entries(gcc_sessions, "organization.rotateSecret")
    assert entry.actor == "alice@vendor.example"


async def test_license_change_is_saved_and_a_bad_day_is_a_sentence(
    console_client: ConsoleClientMaker, organization_factory: Any, gcc_sessions: SessionFactory
) -> None:
    await organization_factory("acme")
    client = await console_client()
    token = csrf_of(await client.get("/console/organizations/acme"))

    saved = await client.post(
        "/console/organizations/acme/license",
        data={"expires_on": "2027-12-31", "csrf_token": token},
    )
    refused = await client.post(
        "/console/organizations/acme/license",
        data={"expires_on": "next year", "csrf_token": token},
    )

    assert saved.status_code == 303
    async with gcc_sessions() as session:
        stored = (await session.exec(select(Organization))).one()
    assert stored.license_expires_at == datetime(2027, 12, 31, tzinfo=UTC)
    assert refused.status_code == 422
    assert "such as 2027-12-31" in refused.text
    [entry] = await audit_entries(gcc_sessions, "organization.license")
    assert entry.details is not None
    assert entry.details["to"].startswith("2027-12-31")


async def test_a_viewer_sees_no_action_and_a_forged_action_changes_nothing(
    console_client: ConsoleClientMaker,
    organization_factory: Any,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    created = await organization_factory("acme")
    await escalate(gcc_sessions, gcc_clock, created.organization)
    viewer = await console_client("vera@vendor.example", name="Vera", role=OperatorRole.VIEWER)
    page = await viewer.get("/console/escalations")
    organization_page = await viewer.get("/console/organizations/acme")
    async with gcc_sessions() as session:
        escalation = (await session.exec(select(Escalation))).one()

    forged = await viewer.post(
        f"/console/escalations/{escalation.id}/resolve",
        data={"reason": "viewer tried", "csrf_token": csrf_of(page)},
    )

    assert "Resolve</button>" not in page.text
    assert "rotate-secret" not in organization_page.text
    assert forged.status_code == 403
    assert "Viewers cannot change anything" in forged.text
    async with gcc_sessions() as session:
        assert (await session.exec(select(Escalation))).one().resolved_at is None
    assert await audit_entries(gcc_sessions, "escalation.resolve") == []


async def test_a_form_without_this_sessions_token_changes_nothing(
    console_client: ConsoleClientMaker, organization_factory: Any, gcc_sessions: SessionFactory
) -> None:
    created = await organization_factory("acme")
    alice = await console_client()
    mallory = await console_client("mallory@vendor.example", name="Mallory")
    other_token = csrf_of(await mallory.get("/console/organizations/acme"))

    without = await alice.post("/console/organizations/acme/rotate-secret")
    with_another = await alice.post(
        "/console/organizations/acme/rotate-secret", data={"csrf_token": other_token}
    )

    assert without.status_code == 403
    assert with_another.status_code == 403
    async with gcc_sessions() as session:
        stored = (await session.exec(select(Organization))).one()
    assert stored.webhook_secret == created.webhook_secret
    assert await audit_entries(gcc_sessions, "organization.rotateSecret") == []


async def test_an_idle_session_ends(
    console_client: ConsoleClientMaker, gcc_clock: ManualClock
) -> None:
    client = await console_client()
    gcc_clock.advance(timedelta(hours=8, minutes=1))

    page = await client.get("/console/audit")

    assert page.status_code == 303
    assert page.headers["location"].startswith("/console/sign-in")
