"""The revision history of the non-essential variables, and the difference between revisions.

Every change the service makes (an admin's or a release's) is recorded here in the same
transaction, whichever adapter asked for it: the JSON API, the console or a release.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from customer_backend.config.models import NonEssentialEnvChange


class EnvChangeAction(StrEnum):
    """What a revision did to its variable."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


async def record_change(
    session: AsyncSession,
    *,
    key: str,
    action: EnvChangeAction,
    old_value: str | None,
    new_value: str | None,
    changed_by: str | None,
    now: datetime,
) -> None:
    """Add a revision."""
    session.add(
        NonEssentialEnvChange(
            key=key,
            action=str(action),
            old_value=old_value,
            new_value=new_value,
            changed_by=changed_by,
            changed_at=now,
        )
    )
    await session.flush()


async def changes(
    session: AsyncSession, *, limit: int, offset: int = 0
) -> tuple[list[NonEssentialEnvChange], int]:
    """A page of revisions, newest first, and how many there are."""
    total = await session.exec(select(func.count()).select_from(NonEssentialEnvChange))
    result = await session.exec(
        select(NonEssentialEnvChange)
        .order_by(col(NonEssentialEnvChange.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list(result.all()), int(total.one())


async def latest_revision(session: AsyncSession) -> int:
    """The newest revision number, 0 before any change."""
    result = await session.exec(select(func.max(NonEssentialEnvChange.id)))
    return int(result.one() or 0)


async def values_at(session: AsyncSession, revision: int) -> dict[str, str]:
    """The variables as they were once ``revision`` was made."""
    result = await session.exec(
        select(NonEssentialEnvChange)
        .where(col(NonEssentialEnvChange.id) <= revision)
        .order_by(col(NonEssentialEnvChange.id))
    )
    values: dict[str, str] = {}
    for change in result.all():
        if change.action == EnvChangeAction.DELETED or change.new_value is None:
            values.pop(change.key, None)
        else:
            values[change.key] = change.new_value
    return values


@dataclass(frozen=True)
class EnvDifference:
    """One variable that differs between two revisions (None: absent at that revision)."""

    key: str
    before: str | None
    after: str | None


async def difference(session: AsyncSession, *, before: int, after: int) -> list[EnvDifference]:
    """The variables that differ between revisions ``before`` and ``after``, by key."""
    old, new = await values_at(session, before), await values_at(session, after)
    return [
        EnvDifference(key, old.get(key), new.get(key))
        for key in sorted(old.keys() | new.keys())
        if old.get(key) != new.get(key)
    ]
