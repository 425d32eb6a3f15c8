"""A rollout's whole life over the served GCC, the clock moved by the test: waves, gates,
halts, the operator's actions."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from sqlmodel import select

from contracts import EscalationType, RolloutPlan
from gcc.audit.models import AuditEntry
from gcc.escalations.models import Escalation
from gcc.escalations.service import notify_new_escalations
from gcc.notifications.email import SmtpMailer
from gcc.releases.models import DeploymentTarget, Release
from gcc.releases.waves import assign_waves
from servicekit.db import SessionFactory, session_scope
from wrktalk_testing.smtp import SmtpSink

from .conftest import FleetMaker

HOUR = timedelta(hours=1)


async def halt_escalations(sessions: SessionFactory) -> list[Escalation]:
    async with sessions() as session:
        rows = await session.exec(
            select(Escalation).where(Escalation.type == str(EscalationType.ROLLOUT_HALTED))
        )
        return list(rows.all())


async def test_only_the_first_wave_is_notified_at_publish(make_fleet: FleetMaker) -> None:
    fleet = await make_fleet(canary=["c1"], early=["e1"], general=["g1", "g2"])
    release = await fleet.draft()

    response = await fleet.publish()

    assert response.status_code == 200, response.text
    assert response.json()["targets"] == 4
    assert await fleet.notified() == ["c1"]
    async with fleet.sessions() as session:
        targets = (
            await session.exec(
                select(DeploymentTarget).where(DeploymentTarget.release_id == release.id)
            )
        ).all()
    assert sorted(target.wave for target in targets) == [0, 1, 2, 2]
    assert [target.next_attempt_at is None for target in targets].count(True) == 3
    state = await fleet.rollout()
    assert state["state"] == "running"
    assert state["currentWave"] == 0
    assert [wave["counts"]["targets"] for wave in state["waves"]] == [1, 1, 2]


async def test_reading_a_rollout_does_not_wait_for_the_lock_beat_holds(
    make_fleet: FleetMaker,
) -> None:
    fleet = await make_fleet(canary=["c1"], early=["e1"])
    await fleet.draft()
    assert (await fleet.publish()).status_code == 200

    async with fleet.sessions() as holder:
        # what beat's evaluation (or an operator's action) holds while it decides
        await holder.exec(select(Release).where(Release.version == "2.3.0").with_for_update())
        state = await asyncio.wait_for(fleet.rollout(), timeout=10)

    assert state["state"] == "running"


async def test_without_a_plan_every_target_is_notified_at_once(make_fleet: FleetMaker) -> None:
    fleet = await make_fleet(canary=["c1"], general=["g1"])
    await fleet.draft()

    response = await fleet.publish(plan=None)
    rollout = await fleet.client.get(
        "/api/operator/releases/2.3.0/rollout", headers=fleet.operator_headers
    )

    assert response.status_code == 200, response.text
    assert await fleet.notified() == ["c1", "g1"]
    assert rollout.status_code == 404
    assert rollout.json()["field"] == "version"


async def test_a_wave_advances_after_its_bake_time_and_the_rollout_completes(
    make_fleet: FleetMaker,
) -> None:
    fleet = await make_fleet(canary=["c1"], early=["e1"], general=["g1"])
    release = await fleet.draft()
    await fleet.publish()
    await fleet.report("c1", release, "success")

    early = await fleet.evaluate()
    fleet.clock.advance(HOUR)
    opened = await fleet.evaluate()
    await fleet.report("e1", release, "success")
    fleet.clock.advance(HOUR)
    await fleet.evaluate()
    names = await fleet.notified()
    fleet.clock.advance(HOUR)
    done = await fleet.evaluate()

    assert early.advanced == 0
    assert opened.advanced == 1
    assert names == ["c1", "e1", "g1"]
    assert done.completed == 1
    assert (await fleet.rollout())["state"] == "completed"
    assert fleet.dispatched == ["delivery.dispatch_due", "delivery.dispatch_due"]


async def test_a_canary_failure_halts_once_and_resume_notifies_the_next_wave(
    make_fleet: FleetMaker,
) -> None:
    fleet = await make_fleet(canary=["c1", "c2"], early=["e1"], general=["g1"])
    release = await fleet.draft()
    await fleet.publish()
    await fleet.report("c1", release, "failed")

    first = await fleet.evaluate()
    fleet.clock.advance(2 * HOUR)
    second = await fleet.evaluate()
    state = await fleet.rollout()
    raised = await halt_escalations(fleet.sessions)
    notified_while_halted = await fleet.notified()
    resumed = await fleet.act("resume", reason="the failure is the customer's disk")

    assert first.halted == 1
    assert second.evaluated == 0
    assert state["state"] == "halted"
    assert state["halts"][0]["gate"] == "failure"
    assert "1 of 1 finished deployments failed" in state["halts"][0]["reason"]
    assert state["waves"][0]["counts"]["pending"] + state["waves"][0]["counts"]["unknown"] == 1
    assert len(raised) == 1
    assert raised[0].details is not None
    assert raised[0].details["failed"] == 1
    assert raised[0].details["failureThreshold"] == 0.0
    assert notified_while_halted == ["c1", "c2"]
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["state"] == "running"
    assert resumed.json()["currentWave"] == 1
    assert resumed.json()["halts"][0]["resumedAt"] is not None
    assert await fleet.notified() == ["c1", "c2", "e1"]
    assert len(await halt_escalations(fleet.sessions)) == 1
    async with fleet.sessions() as session:
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "rollout.resume"))
        ).all()
    assert len(audit) == 1


async def test_pending_and_offline_organizations_never_count_as_failed(
    make_fleet: FleetMaker,
) -> None:
    fleet = await make_fleet(canary=["c1", "c2", "c3"], general=["g1"])
    release = await fleet.draft()
    await fleet.heartbeat("c1")
    await fleet.heartbeat("c2")
    await fleet.publish()
    await fleet.report("c1", release, "success")

    result = await fleet.evaluate()
    counts = (await fleet.rollout())["waves"][0]["counts"]

    assert result.halted == 0
    assert counts == {
        "targets": 3,
        "pending": 1,
        "unknown": 1,
        "inProgress": 0,
        "deployed": 1,
        "failed": 0,
        "regressed": 0,
    }


async def test_a_health_regression_after_deploy_halts_the_rollout(make_fleet: FleetMaker) -> None:
    fleet = await make_fleet(canary=["c1", "c2"], early=["e1"])
    release = await fleet.draft()
    for name in ("c1", "c2"):
        await fleet.heartbeat(name)
    await fleet.classify()
    await fleet.publish()
    await fleet.report("c1", release, "success")
    await fleet.report("c2", release, "success")
    fleet.clock.advance(timedelta(minutes=20))
    await fleet.heartbeat("c2")
    await fleet.classify()  # c1 silent for 20 minutes: degraded

    result = await fleet.evaluate()
    state = await fleet.rollout()

    assert result.halted == 1
    assert state["halts"][0]["gate"] == "health"
    assert state["waves"][0]["counts"]["regressed"] == 1
    assert state["waves"][0]["gates"]["healthRate"] == 0.5
    assert await fleet.notified() == ["c1", "c2"]
    assert len(await halt_escalations(fleet.sessions)) == 1


async def test_an_organization_offline_before_it_deployed_does_not_count(
    make_fleet: FleetMaker,
) -> None:
    fleet = await make_fleet(canary=["c1", "c2"], early=["e1"])
    release = await fleet.draft()
    await fleet.heartbeat("c1")
    await fleet.heartbeat("c2")
    fleet.clock.advance(2 * HOUR)
    await fleet.heartbeat("c2")
    await fleet.classify()  # c1 offline before the release
    await fleet.publish()
    await fleet.report("c1", release, "success")
    await fleet.report("c2", release, "success")
    fleet.clock.advance(timedelta(minutes=5))
    await fleet.heartbeat("c2")
    await fleet.classify()

    result = await fleet.evaluate()
    state = await fleet.rollout()

    assert result.halted == 0
    assert state["state"] == "running"
    assert state["waves"][0]["counts"]["regressed"] == 0
    assert state["waves"][0]["gates"]["healthRate"] == 0.0


async def test_pause_stops_advancing_and_advance_opens_the_next_wave_by_hand(
    make_fleet: FleetMaker,
) -> None:
    fleet = await make_fleet(canary=["c1"], early=["e1"], general=["g1"])
    await fleet.draft()
    await fleet.publish()

    paused = await fleet.act("pause")
    paused_again = await fleet.act("pause")
    fleet.clock.advance(2 * HOUR)
    await fleet.evaluate()
    still = await fleet.notified()
    advanced = await fleet.act("advance")
    last = await fleet.act("advance")
    beyond = await fleet.act("advance")
    unknown = await fleet.act("advance", version="9.9.9")

    assert paused.status_code == 200
    assert paused.json()["state"] == "paused"
    assert paused_again.status_code == 409
    assert still == ["c1"]
    assert advanced.status_code == 200
    assert advanced.json()["state"] == "running"
    assert advanced.json()["currentWave"] == 1
    assert last.status_code == 200
    assert beyond.status_code == 409
    assert unknown.status_code == 404
    assert await fleet.notified() == ["c1", "e1", "g1"]


async def test_a_plan_naming_an_unknown_ring_or_a_shrinking_share_is_refused(
    make_fleet: FleetMaker,
) -> None:
    fleet = await make_fleet(general=["g1"])
    await fleet.draft()

    unknown = await fleet.publish(plan={"waves": [{"rings": ["beta"]}, {"percent": 100}]})
    shrinking = await fleet.publish(plan={"waves": [{"percent": 50}, {"percent": 20}]})

    assert unknown.status_code == 422
    assert unknown.json()["field"] == "rollout.waves.0.rings"
    assert shrinking.status_code == 422
    assert shrinking.json()["field"].startswith("rollout")
    assert await fleet.notified() == []


def test_the_wave_of_each_organization_is_the_same_on_every_run() -> None:
    plan = RolloutPlan.model_validate(
        {"waves": [{"rings": ["canary"]}, {"percent": 25}, {"percent": 100}]}
    )
    release_id = uuid.uuid4()
    organizations = [uuid.uuid4() for _ in range(4000)]
    rings = dict.fromkeys(organizations, "general")
    rings[organizations[0]] = "canary"

    first = assign_waves(plan, release_id=release_id, organization_ids=organizations, rings=rings)
    again = assign_waves(
        plan, release_id=release_id, organization_ids=organizations[::-1], rings=rings
    )
    other_release = assign_waves(
        plan, release_id=uuid.uuid4(), organization_ids=organizations, rings=rings
    )

    assert first == again[::-1]
    assert first[0] == 0
    assert 850 < first.count(1) < 1150  # a quarter of the general ring
    assert first.count(1) + first.count(2) == 3999
    assert first != other_release


async def test_an_organization_whose_gate_clears_joins_its_own_wave(
    make_fleet: FleetMaker, organization_factory: Any
) -> None:
    from gcc.releases.gate_recheck import recheck_gates

    fleet = await make_fleet(canary=["c1"], general=["g1"])
    expired = fleet.clock.now() - timedelta(days=1)
    for name, ring in (("late-canary", "canary"), ("late-general", "general")):
        fleet.organizations[name] = await organization_factory(
            name, ring=ring, license_expires_at=expired
        )
    await fleet.draft()
    await fleet.publish(plan={"waves": [{"rings": ["canary"]}, {"percent": 100}]})
    async with fleet.sessions() as session:
        for name in ("late-canary", "late-general"):
            organization = fleet.organizations[name].organization
            stored = await session.get(type(organization), organization.id)
            assert stored is not None
            stored.license_expires_at = fleet.clock.now() + timedelta(days=365)
            session.add(stored)
        await session.commit()

    async with session_scope(fleet.sessions) as session:
        result = await recheck_gates(session, clock=fleet.clock, send_task=fleet.dispatched.append)

    assert result.delivered == 2
    assert await fleet.notified() == ["c1", "late-canary"]
    fleet.clock.advance(HOUR)
    await fleet.evaluate()
    assert await fleet.notified() == ["c1", "g1", "late-canary", "late-general"]


async def test_a_halt_is_emailed_to_the_operators_with_its_numbers(
    make_fleet: FleetMaker, smtp_sink: SmtpSink
) -> None:
    fleet = await make_fleet(canary=["c1"], early=["e1"])
    release = await fleet.draft()
    await fleet.publish()
    await fleet.report("c1", release, "rolledBack")
    await fleet.evaluate()

    async with session_scope(fleet.sessions) as session:
        result = await notify_new_escalations(
            session,
            clock=fleet.clock,
            settings=fleet.settings,
            mailer=SmtpMailer(fleet.settings, timeout=5),
        )

    assert result.sent == 1
    halt = next(m for m in smtp_sink.messages if "Phased rollout halted" in m.subject)
    assert set(fleet.settings.admin_emails) <= set(halt.recipients)
    assert "1 of 1 finished deployments failed or rolled back" in halt.text
    assert "gcc release resume" in halt.text
