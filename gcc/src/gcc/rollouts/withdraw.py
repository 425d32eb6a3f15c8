"""Withdrawing a release: an operator takes a bad release back.

The release is deprecated (the updates poll stops offering it) and marked withdrawn. The
organizations not yet notified never hear of it: their targets are cancelled. Those already
notified are sent a signed ``release.withdrawn`` webhook through the delivery pump (and their
updates poll carries it until they acknowledge it): their customer backend marks the release
withdrawn, cancels a pending schedule of it and refuses to schedule it again. An organization
that deployed it keeps running it; the message names the newest published version older than
it (``rollbackVersion``) to roll back to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    AuditAction,
    InvalidVersionError,
    OperatorReleaseSummary,
    ReleaseStatus,
    RolloutState,
    Version,
)
from gcc.audit import service as audit_service
from gcc.audit.service import Actor
from gcc.releases import service as release_service
from gcc.releases import views as release_views
from gcc.releases.service import DISPATCH_TASK
from gcc.rollouts import repository
from servicekit.db import after_commit
from servicekit.errors import Conflict
from timekeeping import Clock

log = structlog.get_logger(__name__)


def rollback_version(version: str, published: Sequence[str]) -> str | None:
    """The newest of ``published`` older than ``version``; None when there is none."""
    withdrawn = Version.parse(version)
    older = []
    for text in published:
        try:
            parsed = Version.parse(text)
        except InvalidVersionError:
            continue
        if parsed < withdrawn:
            older.append(parsed)
    return str(max(older)) if older else None


async def withdraw_release(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Actor,
    version_text: str,
    reason: str | None,
    send_task: Callable[..., Any],
) -> OperatorReleaseSummary:
    """Withdraw a published (or deprecated) release; 409 for a draft or a withdrawn one."""
    release = await release_service.get_release(session, version_text=version_text, for_update=True)
    if release.status == ReleaseStatus.DRAFT or release.withdrawn_at is not None:
        state = "withdrawn" if release.withdrawn_at is not None else "a draft"
        raise Conflict(
            f"Release {release.version} is {state}; it cannot be withdrawn.", field="version"
        )
    now = clock.now()
    release.rollback_version = rollback_version(
        release.version, await repository.published_versions(session)
    )
    release.status = ReleaseStatus.DEPRECATED
    release.deprecated_at = release.deprecated_at or now
    release.withdrawn_at = now
    release.withdraw_reason = reason
    release.updated_at = now
    session.add(release)
    rollout = await repository.get_rollout(session, release.id)
    if rollout is not None:
        rollout.state = str(RolloutState.WITHDRAWN)
        rollout.updated_at = now
        session.add(rollout)
    await session.flush()
    notified, cancelled = await repository.withdraw_targets(session, release_id=release.id, now=now)
    if notified:
        after_commit(session, lambda: send_task(DISPATCH_TASK))
    await audit_service.record(
        session,
        clock=clock,
        actor=actor,
        action=AuditAction.ROLLOUT_WITHDRAW,
        release_version=release.version,
        details={"notified": notified, "cancelled": cancelled, "reason": reason},
    )
    log.warning(
        "release.withdraw.completed",
        version=release.version,
        notified=notified,
        cancelled=cancelled,
        rollback_version=release.rollback_version,
    )
    return release_views.summary_view(release)
