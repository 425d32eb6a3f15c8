"""Withdrawing a rolled-out release over the operator API, and forced deadlines per wave."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from contracts import EscalationType
from gcc.audit.models import AuditEntry
from gcc.escalations.models import Escalation
from gcc.organizations.models import Organization

from .conftest import Fleet, FleetMaker

HOUR = timedelta(hours=1)


async def test_withdraw_reaches_the_notified_through_the_poll_and_spares_the_rest(
    make_fleet: FleetMaker,
) -> None:
    fleet = await make_fleet(canary=["c1"], early=["e1"])
    await fleet.draft("2.2.0")
    await fleet.publish("2.2.0", plan=None)
    await fleet.draft()
    await fleet.publish()

    withdrawn = await fleet.client.post(
        "/api/operator/releases/2.3.0/withdraw",
        json={"reason": "the chart fails on upgrade"},
        headers=fleet.operator_headers,
    )
    again = await fleet.client.post(
        "/api/operator/releases/2.3.0/withdraw", headers=fleet.operator_headers
    )
    canary_poll = await fleet.client.get(
        "/api/v1/organizations/c1/updates", headers=fleet.organizations["c1"].headers
    )
    early_poll = await fleet.client.get(
        "/api/v1/organizations/e1/updates", headers=fleet.organizations["e1"].headers
    )
    state = await fleet.rollout()

    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "deprecated"
    assert again.status_code == 409
    assert again.json()["field"] == "version"
    assert [body["version"] for body in canary_poll.json()["withdrawn"]] == ["2.3.0"]
    assert canary_poll.json()["withdrawn"][0]["rollbackVersion"] == "2.2.0"
    assert canary_poll.json()["withdrawn"][0]["reason"] == "the chart fails on upgrade"
    assert [body["release"]["version"] for body in canary_poll.json()["releases"]] == ["2.2.0"]
    assert early_poll.json()["withdrawn"] == []
    assert [body["release"]["version"] for body in early_poll.json()["releases"]] == ["2.2.0"]
    assert state["state"] == "withdrawn"
    async with fleet.sessions() as session:
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "rollout.withdraw"))
        ).one()
    assert audit.details == {"notified": 1, "cancelled": 1, "reason": "the chart fails on upgrade"}


async def test_a_draft_cannot_be_withdrawn(make_fleet: FleetMaker) -> None:
    fleet = await make_fleet(general=["g1"])
    await fleet.draft()

    response = await fleet.client.post(
        "/api/operator/releases/2.3.0/withdraw", headers=fleet.operator_headers
    )

    assert response.status_code == 409
    assert "draft" in response.json()["detail"]


async def test_a_forced_deadline_counts_from_each_organizations_own_wave(
    make_fleet: FleetMaker,
) -> None:
    fleet = await make_fleet(canary=["c1"], early=["e1"])
    await fleet.draft(is_forced=True)
    await fleet.publish()
    fleet.clock.advance(HOUR)
    await fleet.evaluate()  # the early wave is notified an hour after the canary

    fleet.clock.advance(23 * HOUR + timedelta(minutes=1))
    await fleet.classify()
    first = await overdue(fleet)
    fleet.clock.advance(HOUR)
    await fleet.classify()
    second = await overdue(fleet)

    assert first == ["c1"]
    assert second == ["c1", "e1"]


async def overdue(fleet: Fleet) -> list[str]:
    async with fleet.sessions() as session:
        rows = await session.exec(
            select(Organization.name)
            .join(Escalation, Escalation.organization_id == Organization.id)  # type: ignore[arg-type]
            .where(Escalation.type == str(EscalationType.FORCED_24H_EXCEEDED))
            .order_by(Organization.name)
        )
        return list(rows.all())
