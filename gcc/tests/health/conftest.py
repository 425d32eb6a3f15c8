"""Releases and deployment targets built directly in the database for health tests."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest

from gcc.releases.models import DeploymentTarget, Release
from servicekit.db import SessionFactory
from timekeeping import ManualClock

ReleaseFactory = Callable[..., Awaitable[Release]]
TargetFactory = Callable[..., Awaitable[DeploymentTarget]]


@pytest.fixture
def release_factory(gcc_sessions: SessionFactory, gcc_clock: ManualClock) -> ReleaseFactory:
    """Insert a published release (forced or not)."""

    async def create(
        version: str = "2.3.0",
        *,
        is_forced: bool = False,
        status: str = "published",
        published_at: datetime | None = None,
    ) -> Release:
        now = gcc_clock.now()
        release = Release(
            version=version,
            status=status,
            image_tags={"backend": "b1", "media": "m1", "controlTower": "c1", "agent": "a1"},
            is_forced=is_forced,
            new_non_essential_envs=[],
            created_by="ci",
            created_at=now,
            updated_at=now,
            published_at=published_at or (now if status == "published" else None),
        )
        async with gcc_sessions() as session:
            session.add(release)
            await session.commit()
        return release

    return create


@pytest.fixture
def target_factory(gcc_sessions: SessionFactory, gcc_clock: ManualClock) -> TargetFactory:
    """Insert the deployment target of a release at an organization."""

    async def create(
        release: Release, organization_id: uuid.UUID, *, status: str = "notified", **fields: Any
    ) -> DeploymentTarget:
        now = gcc_clock.now()
        target = DeploymentTarget(
            release_id=release.id,
            organization_id=organization_id,
            webhook_id=f"msg_{uuid.uuid4().hex}",
            webhook_sent=True,
            webhook_acked=True,
            status=status,
            created_at=now,
            updated_at=now,
            **fields,
        )
        async with gcc_sessions() as session:
            session.add(target)
            await session.commit()
        return target

    return create
