"""Publishing at fleet scale, through the service against PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert
from sqlmodel import select

from contracts import ReleaseStatus
from gcc.artifacts.models import Artifact
from gcc.audit.service import Actor
from gcc.escalations.models import Escalation
from gcc.organizations.models import Organization
from gcc.releases.models import DeploymentTarget, Release
from gcc.releases.service import publish_release
from servicekit.db import SessionFactory, session_scope
from servicekit.errors import Conflict
from timekeeping import ManualClock

FLEET = 10_000


def organization_row(index: int, now: Any, **overrides: Any) -> dict[str, Any]:
    row = {
        "id": uuid.uuid4(),
        "name": f"org-{index:05d}",
        "deployment_type": ("kubernetes", "docker", "gitops")[index % 3],
        "webhook_endpoint": "http://127.0.0.1:9/api/deployment/webhook",
        "webhook_secret": "whsec_test",
        "api_key_hash": uuid.uuid4().hex + uuid.uuid4().hex,
        "license_expires_at": now + timedelta(days=365),
        "current_version": "2.2.0",
        "health_status": "unknown",
        "is_online": False,
        "created_at": now,
        "updated_at": now,
    }
    row.update(overrides)
    return row


async def arrange_fleet(sessions: SessionFactory, clock: ManualClock) -> None:
    now = clock.now()
    rows = []
    for index in range(FLEET):
        overrides: dict[str, Any] = {}
        if index % 100 == 1:
            overrides["license_expires_at"] = now - timedelta(days=1)
        elif index % 100 == 2:
            overrides["current_version"] = "1.9.0"
        rows.append(organization_row(index, now, **overrides))
    async with sessions() as session:
        await session.exec(insert(Organization), params=rows)  # type: ignore[call-overload]
        for artifact_type in ("helm", "compose"):
            session.add(
                Artifact(
                    version="2.3.0",
                    type=artifact_type,
                    bucket_path=f"charts/{artifact_type}/x",
                    sha256="0" * 64,
                    size_bytes=1,
                    created_at=now,
                )
            )
        session.add(
            Release(
                version="2.3.0",
                status=ReleaseStatus.DRAFT,
                image_tags={"backend": "b", "media": "m", "controlTower": "c", "agent": "a"},
                new_non_essential_envs=[],
                min_current_version="2.0.0",
                created_by="ci",
                created_at=now,
                updated_at=now,
            )
        )
        await session.commit()


async def test_publish_to_ten_thousand_organizations_targets_each_and_gates_the_rest(
    gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    """Correctness at fleet scale; how long it takes is bench/gcc_fanout.py's figure (the
    publish time it prints), not a timed test on a shared machine."""
    await arrange_fleet(gcc_sessions, gcc_clock)
    sent: list[str] = []

    async with session_scope(gcc_sessions) as session:
        outcome = await publish_release(
            session,
            clock=gcc_clock,
            actor=Actor.ci_token(),
            version_text="2.3.0",
            send_task=sent.append,
        )

    assert sent == ["delivery.dispatch_due"]
    assert outcome.license_expired == FLEET // 100
    assert outcome.below_min_version == FLEET // 100
    expected_targets = FLEET - 2 * (FLEET // 100)
    async with gcc_sessions() as session:
        targets = (await session.exec(select(func.count()).select_from(DeploymentTarget))).one()
        raised = (await session.exec(select(func.count()).select_from(Escalation))).one()
    assert targets == expected_targets
    assert raised == 2 * (FLEET // 100)


async def test_publish_outside_a_committed_transaction_enqueues_nothing(
    gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    now = gcc_clock.now()
    async with gcc_sessions() as session:
        await session.exec(insert(Organization), params=[organization_row(0, now)])  # type: ignore[call-overload]
        session.add(
            Artifact(
                version="2.3.0",
                type="helm",
                bucket_path="charts/helm/x",
                sha256="0" * 64,
                size_bytes=1,
                created_at=now,
            )
        )
        session.add(
            Release(
                version="2.3.0",
                image_tags={"backend": "b", "media": "m", "controlTower": "c", "agent": "a"},
                new_non_essential_envs=[],
                created_by="ci",
                created_at=now,
                updated_at=now,
            )
        )
        await session.commit()
    sent: list[str] = []

    class Abort(Exception):
        pass

    try:
        async with session_scope(gcc_sessions) as session:
            await publish_release(
                session,
                clock=gcc_clock,
                actor=Actor.ci_token(),
                version_text="2.3.0",
                send_task=sent.append,
            )
            raise Abort
    except Abort:
        pass

    assert sent == []
    async with gcc_sessions() as session:
        release = (await session.exec(select(Release))).one()
    assert release.status == "draft"


async def test_a_publication_of_the_same_precedence_waits_for_another_and_is_then_refused(
    gcc_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    now = gcc_clock.now()
    async with gcc_sessions() as session:
        for version in ("2.3.0+a", "2.3.0+b"):
            session.add(
                Artifact(
                    version=version,
                    type="helm",
                    bucket_path=f"charts/helm/{version}",
                    sha256="0" * 64,
                    size_bytes=1,
                    created_at=now,
                )
            )
            session.add(
                Release(
                    version=version,
                    image_tags={"backend": "b", "media": "m", "controlTower": "c", "agent": "a"},
                    new_non_essential_envs=[],
                    created_by="ci",
                    created_at=now,
                    updated_at=now,
                )
            )
        await session.commit()

    async def publish(session: Any, version: str) -> Any:
        return await publish_release(
            session,
            clock=gcc_clock,
            actor=Actor.ci_token(),
            version_text=version,
            send_task=lambda *_: None,
        )

    async def publish_second() -> Any:
        async with gcc_sessions() as session:
            return await publish(session, "2.3.0+b")

    async with gcc_sessions() as first:
        await publish(first, "2.3.0+a")
        second = asyncio.create_task(publish_second())
        await asyncio.sleep(0.5)
        assert not second.done(), "the second publication did not wait for the first"
        await first.commit()

    with pytest.raises(Conflict):
        await second
