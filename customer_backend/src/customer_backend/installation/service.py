"""What an installation is: the version it runs, and when its agent and GCC were last in touch.

Every other domain reads and records these facts through this module; the agent's poll is
recorded inside the agent tasks domain's claim statement.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import AgentStatusView, InvalidVersionError, Version, parse_version
from customer_backend.installation import repository
from customer_backend.installation.models import InstallationState
from timekeeping import Clock

AGENT_OFFLINE_AFTER = timedelta(minutes=10)
"""The agent counts as offline once it has not polled for this long."""


async def installation_state(session: AsyncSession) -> InstallationState | None:
    """The installation's state row, or None before anything was recorded."""
    return await repository.get_state(session)


async def current_version(session: AsyncSession) -> str | None:
    """The version the installation runs, as recorded when a deployment or rollback succeeded."""
    return await repository.current_version(session)


async def running_version(session: AsyncSession) -> Version | None:
    """The version the installation runs, parsed for reports to GCC; None when unknown."""
    return version_or_none(await repository.current_version(session))


def version_or_none(text: str | None) -> Version | None:
    """``text`` as a version, or None when it is empty or not a version."""
    if not text:
        return None
    try:
        return parse_version(text)
    except InvalidVersionError:
        return None


async def record_current_version(session: AsyncSession, *, version: str, now: datetime) -> None:
    """``version`` runs now."""
    await repository.upsert_state(session, now=now, current_version=version)


async def record_gcc_poll(session: AsyncSession, *, now: datetime) -> None:
    """GCC's updates endpoint answered a poll at ``now``."""
    await repository.upsert_state(session, now=now, last_gcc_poll_at=now)


async def record_heartbeat(session: AsyncSession, *, now: datetime) -> None:
    """GCC accepted this installation's heartbeat at ``now``."""
    await repository.upsert_state(session, now=now, last_heartbeat_at=now)


def is_agent_offline(*, last_poll_at: datetime | None, now: datetime) -> bool:
    """Whether the agent has been silent for :data:`AGENT_OFFLINE_AFTER` (or never polled)."""
    return last_poll_at is None or now - last_poll_at > AGENT_OFFLINE_AFTER


async def agent_status(session: AsyncSession, *, clock: Clock) -> AgentStatusView:
    """Online when the agent polled within the last 10 minutes."""
    state = await repository.get_state(session)
    last_poll = state.last_agent_poll_at if state is not None else None
    is_online = last_poll is not None and clock.now() - last_poll < AGENT_OFFLINE_AFTER
    return AgentStatusView(is_online=is_online, last_poll_at=last_poll)


async def claim_agent_offline_alert(session: AsyncSession, *, now: datetime) -> datetime | None:
    """Mark the agent's current outage alerted; its last poll, or None when there is nothing
    to alert (the agent polls, or this outage was alerted already)."""
    return await repository.claim_agent_offline_alert(
        session, now=now, offline_before=now - AGENT_OFFLINE_AFTER
    )
