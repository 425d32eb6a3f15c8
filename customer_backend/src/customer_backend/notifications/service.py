"""Admin email: recorded with the change that causes it, sent later by the worker.

Recording in the same transaction means an email is never sent for a change that rolled back,
and never lost when the mail server is down; the unique ``dedupe_key`` makes each message go
exactly once, across retries and restarts.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from customer_backend.notifications.models import Notification
from timekeeping import Clock


async def notify_admins(
    session: AsyncSession,
    *,
    clock: Clock,
    event: str,
    dedupe_key: str,
    context: dict[str, Any],
) -> bool:
    """Queue the ``event`` email (a template name) for every active admin; True when new.

    ``context`` must be JSON-serialisable; it is what the template renders.
    """
    now = clock.now()
    statement = (
        insert(Notification)
        .values(
            id=uuid.uuid4(),
            event=event,
            dedupe_key=dedupe_key,
            context=context,
            created_at=now,
            next_attempt_at=now,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(col(Notification.id))
    )
    result = await session.exec(statement)
    return result.first() is not None
