"""Admin email: recorded with the change that causes it, sent later by the worker.

Recording in the same transaction means an email is never sent for a change that rolled back,
and never lost when the mail server is down; the unique ``dedupe_key`` makes each message go
exactly once, across retries and restarts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from customer_backend.notifications.events import check_event_context, normalize_context
from customer_backend.notifications.models import Notification
from servicekit.db import after_commit
from timekeeping import Clock

SEND_PENDING_TASK = "notifications.send_pending"


async def notify_admins(
    session: AsyncSession,
    *,
    clock: Clock,
    event: str,
    dedupe_key: str,
    context: dict[str, Any],
    send_task: Callable[..., Any] | None = None,
    addressed_to: list[str] | None = None,
) -> bool:
    """Queue the ``event`` email (a template name) for every active admin; True when new.

    With ``addressed_to``, only those addresses receive it (when they are active admins at
    sending time), as a sign-in link goes to the one admin who asked.

    ``context`` is what the templates render: it must carry the keys ``notifications.events``
    requires for ``event`` (``ValueError`` otherwise, and for an unknown event); keys are
    stored snake_case, and datetimes, UUIDs and versions as JSON strings. With ``send_task``,
    the worker is asked to send the email as soon as the session commits, instead of at the
    next beat (15 s).
    """
    context = normalize_context(context)
    check_event_context(event, context)
    context = to_jsonable_python(context, fallback=str)
    now = clock.now()
    statement = (
        insert(Notification)
        .values(
            id=uuid.uuid4(),
            event=event,
            dedupe_key=dedupe_key,
            context=context,
            addressed_to=addressed_to,
            created_at=now,
            next_attempt_at=now,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(col(Notification.id))
    )
    result = await session.exec(statement)
    is_new = result.first() is not None
    if is_new and send_task is not None:
        # Nudge the worker; best effort, since beat sends every due email within 15 s. An
        # unreachable broker is logged by the after-commit step, never an error for the caller.
        after_commit(session, lambda: send_task(SEND_PENDING_TASK))
    return is_new


async def existing_dedupe_keys(session: AsyncSession, keys: Collection[str]) -> set[str]:
    """Which of ``keys`` already have a notification (queued or sent)."""
    if not keys:
        return set()
    result = await session.exec(
        select(Notification.dedupe_key).where(col(Notification.dedupe_key).in_(list(keys)))
    )
    return set(result.all())


async def notifications_by_keys(session: AsyncSession, keys: Collection[str]) -> list[Notification]:
    """The notifications with these dedupe keys, oldest first."""
    if not keys:
        return []
    result = await session.exec(
        select(Notification)
        .where(col(Notification.dedupe_key).in_(list(keys)))
        .order_by(col(Notification.created_at))
    )
    return list(result.all())


async def recent_notifications(
    session: AsyncSession, *, limit: int, offset: int = 0
) -> tuple[list[Notification], int]:
    """A page of every email queued, newest first, and how many there are in all."""
    total = await session.exec(select(func.count()).select_from(Notification))
    result = await session.exec(
        select(Notification)
        .order_by(col(Notification.created_at).desc(), col(Notification.id))
        .offset(offset)
        .limit(limit)
    )
    return list(result.all()), int(total.one())
