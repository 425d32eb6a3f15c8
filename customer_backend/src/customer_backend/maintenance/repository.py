"""Queries of the maintenance changes."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from customer_backend.maintenance.models import MaintenanceChange


async def latest_changes(session: AsyncSession, *, limit: int) -> list[MaintenanceChange]:
    """The newest changes first."""
    result = await session.exec(
        select(MaintenanceChange)
        .order_by(col(MaintenanceChange.changed_at).desc(), col(MaintenanceChange.id).desc())
        .limit(limit)
    )
    return list(result.all())


async def change_of_task(session: AsyncSession, task_id: uuid.UUID) -> MaintenanceChange | None:
    """The change a maintenance task applies, locked."""
    result = await session.exec(
        select(MaintenanceChange).where(MaintenanceChange.task_id == task_id).with_for_update()
    )
    return result.first()
