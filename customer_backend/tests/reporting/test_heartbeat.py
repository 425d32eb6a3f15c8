"""The heartbeat reaches GCC with the version, the backend's health and the agent's last poll."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import httpx
from sqlmodel import select

from customer_backend.installation.models import InstallationState
from customer_backend.intake.polling import poll_gcc
from customer_backend.reporting.service import heartbeat_status, send_heartbeat
from customer_backend.runtime import Runtime
from customer_backend.settings import Settings as BackendSettings
from gcc.health.service import classify_health
from gcc.organizations.models import Organization
from gcc.settings import Settings
from servicekit.db import SessionFactory, session_scope
from testsupport.backend_fixtures import BACKEND_ORGANIZATION
from timekeeping import ManualClock


async def _gcc_organization(gcc_sessions: SessionFactory) -> Organization:
    async with gcc_sessions() as session:
        result = await session.exec(
            select(Organization).where(Organization.name == BACKEND_ORGANIZATION)
        )
        return result.one()


async def _set_state(sessions: SessionFactory, **values: object) -> None:
    async with sessions() as session:
        session.add(InstallationState(id=1, **values))
        await session.commit()


async def test_heartbeat_reaches_gcc_with_version_and_agent_poll(
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    agent_poll = gcc_clock.now() - timedelta(minutes=1)
    await _set_state(backend_sessions, current_version="2.2.0", last_agent_poll_at=agent_poll)

    heartbeat = await send_heartbeat(runtime=backend_runtime)

    assert heartbeat is not None
    organization = await _gcc_organization(gcc_sessions)
    assert organization.last_heartbeat_at == gcc_clock.now()
    assert organization.current_version == "2.2.0"
    assert organization.reported_status == "healthy"
    assert organization.agent_last_poll_at == agent_poll
    async with backend_sessions() as session:
        state = await session.get(InstallationState, 1)
    assert state is not None
    assert state.last_heartbeat_at == gcc_clock.now()


async def test_heartbeat_is_degraded_once_the_agent_is_silent_for_10_minutes(
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    await _set_state(
        backend_sessions,
        current_version="2.2.0",
        last_agent_poll_at=gcc_clock.now() - timedelta(minutes=10, seconds=1),
    )

    await send_heartbeat(runtime=backend_runtime)

    assert (await _gcc_organization(gcc_sessions)).reported_status == "degraded"


def test_heartbeat_status_is_healthy_up_to_10_minutes_after_the_last_poll(
    gcc_clock: ManualClock,
) -> None:
    now = gcc_clock.now()
    assert heartbeat_status(agent_last_poll=now - timedelta(minutes=10), now=now) == "healthy"
    assert heartbeat_status(agent_last_poll=None, now=now) == "degraded"


async def test_heartbeat_before_any_deployment_keeps_gccs_version(
    backend_runtime: Runtime, backend_sessions: SessionFactory, gcc_sessions: SessionFactory
) -> None:
    heartbeat = await send_heartbeat(runtime=backend_runtime)

    assert heartbeat is not None
    assert heartbeat.version is None
    organization = await _gcc_organization(gcc_sessions)
    assert organization.current_version == "2.0.0"
    assert organization.reported_status == "degraded"
    assert organization.agent_last_poll_at is None


async def test_heartbeat_gcc_does_not_receive_is_not_recorded(
    backend_runtime: Runtime,
    backend_sessions: SessionFactory,
    unreachable_gcc: httpx.AsyncClient,
) -> None:
    backend_runtime.gcc = unreachable_gcc

    assert await send_heartbeat(runtime=backend_runtime) is None
    async with backend_sessions() as session:
        assert await session.get(InstallationState, 1) is None


async def test_with_heartbeats_switched_off_gcc_hears_none_and_shows_the_customer_unknown(
    backend_runtime: Runtime,
    gcc_sessions: SessionFactory,
    gcc_clock: ManualClock,
    gcc_settings: Settings,
) -> None:
    quiet = dataclasses.replace(
        backend_runtime,
        settings=backend_runtime.settings.model_copy(update={"heartbeat_enabled": False}),
    )
    before = await _gcc_organization(gcc_sessions)

    heartbeat = await send_heartbeat(runtime=quiet)
    polled = await poll_gcc(runtime=quiet)
    gcc_clock.advance(timedelta(hours=30))
    async with session_scope(gcc_sessions) as session:
        classification = await classify_health(session, clock=gcc_clock, settings=gcc_settings)

    assert heartbeat is None
    assert polled is not None
    organization = await _gcc_organization(gcc_sessions)
    assert organization.last_heartbeat_at == before.last_heartbeat_at
    assert (organization.heartbeat_enabled, organization.health_status) == (False, "unknown")
    assert classification.client_offline_raised == 0

    # switched on again: the next poll says so and the next heartbeat counts at once
    await poll_gcc(runtime=backend_runtime)
    assert await send_heartbeat(runtime=backend_runtime) is not None
    organization = await _gcc_organization(gcc_sessions)
    assert (organization.heartbeat_enabled, organization.health_status) == (True, "online")


def test_heartbeats_are_on_by_default() -> None:
    assert BackendSettings.model_fields["heartbeat_enabled"].default is True
