"""Queries of the installation's single state row.

The row is created by whichever write comes first, so every write is an upsert. The agent's
poll also records itself in that row, inside the claim statement of the agent tasks domain
(one round trip per poll).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from customer_backend.installation.models import InstallationState

INSTALLATION_STATE_ID = 1


async def get_state(session: AsyncSession) -> InstallationState | None:
    """The installation's single state row, if it exists yet."""
    return await session.get(InstallationState, INSTALLATION_STATE_ID)


async def current_version(session: AsyncSession) -> str | None:
    """The version the installation runs, as last recorded."""
    result = await session.exec(
        select(InstallationState.current_version).where(
            InstallationState.id == INSTALLATION_STATE_ID
        )
    )
    return result.first()


async def upsert_state(session: AsyncSession, *, now: datetime, **values: Any) -> None:
    """Set ``values`` on the state row (creating it when missing) and stamp ``updated_at``."""
    values["updated_at"] = now
    await session.exec(
        insert(InstallationState)
        .values(id=INSTALLATION_STATE_ID, **values)
        .on_conflict_do_update(index_elements=["id"], set_=values)
    )


async def claim_agent_offline_alert(
    session: AsyncSession, *, now: datetime, offline_before: datetime
) -> datetime | None:
    """Mark the current agent outage alerted; its last poll time, or None if nothing to alert.

    An outage is alerted once: when the agent has not polled since ``offline_before`` and no
    alert was raised since its last poll.
    """
    result = await session.exec(
        update(InstallationState)
        .where(
            col(InstallationState.id) == INSTALLATION_STATE_ID,
            col(InstallationState.last_agent_poll_at) <= offline_before,
            or_(
                col(InstallationState.agent_offline_alerted_at).is_(None),
                col(InstallationState.agent_offline_alerted_at)
                < col(InstallationState.last_agent_poll_at),
            ),
        )
        .values(agent_offline_alerted_at=now)
        .returning(col(InstallationState.last_agent_poll_at))
    )
    row = result.first()
    return row[0] if row is not None else None
