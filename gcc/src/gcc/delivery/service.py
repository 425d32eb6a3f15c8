"""Webhook fan-out: beat finds due deliveries, each worker process's pump delivers them.

The due time of every delivery lives in PostgreSQL (``next_attempt_at``), never in a Celery
countdown. ``delivery.dispatch_due`` (run by beat every few seconds on its own queue, and
right after a release is published or its failed webhooks requeued) looks for a due target
that no pump holds and, when there is one, sends ``delivery.pump``: the worker process that
takes it makes sure its pump runs (:mod:`gcc.delivery.pump_thread`). The pump claims, sends
and records the deliveries (:mod:`gcc.delivery.pump`). A worker killed mid fan-out loses
nothing: its pump's short leases run out and another pump claims the targets again, with the
same ``webhook-id``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import AuditAction, RedeliveryResponse, ReleaseStatus, Version
from gcc.audit import service as audit_service
from gcc.audit.service import Actor
from gcc.delivery import claims, repository
from gcc.organizations import service as organization_service
from gcc.releases import service as release_service
from gcc.runtime import Runtime
from servicekit.db import after_commit, session_scope
from servicekit.errors import Conflict, NotFound
from servicekit.tasks import TaskNotQueued
from timekeeping import Clock

log = structlog.get_logger(__name__)

DISPATCH_DUE_TASK = "delivery.dispatch_due"
"""The Celery task that looks for due deliveries and starts a pump (beat runs it)."""
PUMP_TASK = "delivery.pump"
"""The Celery task that makes sure the delivery pump of the worker process taking it runs."""


async def has_due_deliveries(session: AsyncSession, *, clock: Clock) -> bool:
    """Whether a target is due and held by no pump (a running pump holds what it claimed)."""
    return await claims.has_due_targets(session, now=clock.now())


async def run_dispatch(runtime: Runtime) -> bool:
    """Send ``delivery.pump`` when a delivery is due and no pump holds it; returns whether
    it was sent. A broker that does not take it is logged: beat looks again shortly."""
    async with session_scope(runtime.session_factory) as session:
        due = await has_due_deliveries(session, clock=runtime.clock)
    if not due:
        return False
    try:
        runtime.send_task(PUMP_TASK)
    except TaskNotQueued:
        return False
    return True


async def redeliver_failed(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Actor,
    version_text: str,
    organization_name: str | None,
    send_task: Callable[..., Any],
) -> RedeliveryResponse:
    """Queue a published release's failed webhooks again (all, or one organization's).

    Each keeps its ``webhook-id`` and gets the full number of attempts again; the dispatch
    task is enqueued once the transaction commits. 404 for an unknown release or
    organization, 409 for a release that is not published.
    """
    release = await release_service.get_release(session, version_text=version_text)
    version = release.version
    if release.status != ReleaseStatus.PUBLISHED:
        raise Conflict(
            f"Release {version} is {release.status}; only a published release's webhooks "
            "are sent again.",
            field="version",
        )
    if organization_name is not None and not await organization_service.active_organization_names(
        session, [organization_name]
    ):
        raise NotFound(f"There is no organization named {organization_name}.", field="organization")
    names = await repository.requeue_failed(
        session, release_id=release.id, organization_name=organization_name, now=clock.now()
    )
    if names:
        after_commit(session, lambda: send_task(DISPATCH_DUE_TASK))
    await audit_service.record(
        session,
        clock=clock,
        actor=actor,
        action=AuditAction.RELEASE_REDELIVER,
        organization_name=organization_name,
        release_version=version,
        details={"organizations": len(names)},
    )
    log.info("webhook.redelivery.queued", release=version, organizations=len(names))
    return RedeliveryResponse(version=Version.parse(version), organizations=names)
