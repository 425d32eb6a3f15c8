"""The installation's state: the version it runs, and when the agent and GCC were in touch."""

from __future__ import annotations

from datetime import timedelta

from contracts import Version
from customer_backend.installation import service as installation
from servicekit.db import SessionFactory, session_scope
from timekeeping import ManualClock


async def test_nothing_recorded_yet_means_no_version_and_an_offline_agent(
    backend_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    async with session_scope(backend_sessions) as session:
        assert await installation.installation_state(session) is None
        assert await installation.current_version(session) is None
        assert await installation.running_version(session) is None
        status = await installation.agent_status(session, clock=gcc_clock)

    assert not status.is_online
    assert status.last_poll_at is None


async def test_recording_a_version_creates_the_row_and_keeps_the_other_facts(
    backend_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    async with session_scope(backend_sessions) as session:
        await installation.record_heartbeat(session, now=gcc_clock.now())
    gcc_clock.advance(timedelta(minutes=1))

    async with session_scope(backend_sessions) as session:
        await installation.record_current_version(session, version="2.3.0", now=gcc_clock.now())

    async with session_scope(backend_sessions) as session:
        state = await installation.installation_state(session)
        assert await installation.running_version(session) == Version.parse("2.3.0")
    assert state is not None
    assert state.current_version == "2.3.0"
    assert state.last_heartbeat_at == gcc_clock.now() - timedelta(minutes=1)
    assert state.updated_at == gcc_clock.now()


async def test_a_version_that_does_not_parse_is_reported_as_unknown(
    backend_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    async with session_scope(backend_sessions) as session:
        await installation.record_current_version(
            session, version="not-a-version", now=gcc_clock.now()
        )

    async with session_scope(backend_sessions) as session:
        assert await installation.current_version(session) == "not-a-version"
        assert await installation.running_version(session) is None


def test_the_agent_is_offline_after_ten_silent_minutes(gcc_clock: ManualClock) -> None:
    now = gcc_clock.now()

    assert not installation.is_agent_offline(last_poll_at=now - timedelta(minutes=10), now=now)
    assert installation.is_agent_offline(
        last_poll_at=now - timedelta(minutes=10, seconds=1), now=now
    )
    assert installation.is_agent_offline(last_poll_at=None, now=now)
