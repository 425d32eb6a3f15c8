"""Maintenance mode the admins switch outside a deployment (seed 001).

An admin's switch is recorded as a change (who, when, why) and becomes a ``maintenance`` task
for the agent, which applies it on its next poll with the hook it uses around a deployment and
reports it applied; a newer switch cancels a pending older one. The admins are emailed about
every change and about a switch the agent could not apply. The newest change is the state the
admins asked for: it lives in PostgreSQL, so it survives restarts of the backend, and the agent
keeps no state of its own: the flag file it writes stays, and every deploy or rollback task it
claims says whether an admin holds maintenance mode on (``maintenanceHeld``), so the deployment
leaves it on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    AgentTaskType,
    LocalDeploymentStatus,
    MaintenanceChangeView,
    MaintenanceModeUpdate,
    MaintenanceModeView,
)
from customer_backend.agent_tasks import queue as agent_queue
from customer_backend.agent_tasks.completion import TaskEnd
from customer_backend.maintenance import repository
from customer_backend.maintenance.models import MaintenanceChange
from customer_backend.notifications.events import EmailEventName
from customer_backend.notifications.service import notify_admins
from customer_backend.settings import Settings
from servicekit.runtime import SendTask
from timekeeping import Clock

log = structlog.get_logger(__name__)

LISTED_CHANGES = 20
"""How many of the latest changes the API lists."""


async def maintenance_mode(session: AsyncSession) -> MaintenanceModeView:
    """The state the admins asked for last, whether the agent applied it, the latest changes."""
    changes = await repository.latest_changes(session, limit=LISTED_CHANGES)
    views = [change_view(change) for change in changes]
    current = views[0] if views else None
    return MaintenanceModeView(
        enabled=current.enabled if current else False,
        is_applied=current is None or current.applied_at is not None,
        current=current,
        changes=views,
    )


def _after(last: datetime | None, now: datetime) -> datetime:
    """Changes are listed by their time: one made in the same instant still comes after."""
    if last is not None and last >= now:
        return last + timedelta(microseconds=1)
    return now


async def switch_maintenance_mode(
    session: AsyncSession,
    *,
    clock: Clock,
    request: MaintenanceModeUpdate,
    admin_email: str,
    send_task: SendTask | None = None,
) -> MaintenanceModeView:
    """Record the admin's switch and queue it for the agent; switching to the state already
    asked for changes nothing (and is not recorded again)."""
    latest = await repository.latest_changes(session, limit=1)
    if latest and latest[0].enabled == request.enabled:
        return await maintenance_mode(session)
    now = clock.now()
    state = "on" if request.enabled else "off"
    await agent_queue.cancel_pending_tasks_of_type(
        session,
        AgentTaskType.MAINTENANCE,
        now=now,
        reason=f"Superseded: {admin_email} switched maintenance mode {state}",
    )
    task = await agent_queue.queue_task(
        session,
        task_type=AgentTaskType.MAINTENANCE,
        payload={"enabled": request.enabled},
        execute_after=now,
        created_by=admin_email,
        now=now,
    )
    change = MaintenanceChange(
        enabled=request.enabled,
        reason=request.reason,
        changed_by=admin_email,
        changed_at=_after(latest[0].changed_at if latest else None, now),
        task_id=task.id,
    )
    session.add(change)
    await session.flush()
    await notify_admins(
        session,
        clock=clock,
        event=EmailEventName.MAINTENANCE_CHANGED,
        dedupe_key=f"maintenance_changed:{change.id}",
        context={
            "enabled": request.enabled,
            "changedBy": admin_email,
            "changedAt": now,
            "reason": request.reason,
            "taskId": task.id,
        },
        send_task=send_task,
    )
    log.info(
        "maintenance.switch.accepted",
        enabled=request.enabled,
        admin=admin_email,
        task_id=str(task.id),
        change_id=str(change.id),
    )
    return await maintenance_mode(session)


async def record_task_end(
    session: AsyncSession,
    *,
    end: TaskEnd,
    clock: Clock,
    settings: Settings,
    send_task: SendTask | None,
) -> None:
    """The agent finished a maintenance task: the change is applied, or the admins learn why
    it was not."""
    del settings  # the same signature as every task end handler
    change = await repository.change_of_task(session, end.task.id)
    if change is None:
        log.warning("maintenance.task.unknown_change", task_id=str(end.task.id))
        return
    state = "on" if change.enabled else "off"
    if end.outcome is LocalDeploymentStatus.SUCCESS:
        change.applied_at = end.completed_at
        session.add(change)
        log.info("maintenance.switch.applied", enabled=change.enabled, task_id=str(end.task.id))
        return
    log.warning("maintenance.switch.failed", enabled=change.enabled, error=end.error)
    await notify_admins(
        session,
        clock=clock,
        event=EmailEventName.MAINTENANCE_FAILED,
        dedupe_key=f"maintenance_failed:{end.task.id}",
        context={
            "enabled": change.enabled,
            "state": state,
            "changedBy": change.changed_by,
            "error": end.error or "the agent gave no reason",
            "taskId": end.task.id,
        },
        send_task=send_task,
    )


def change_view(change: MaintenanceChange) -> MaintenanceChangeView:
    """A change as admins see it."""
    return MaintenanceChangeView(
        id=change.id,
        enabled=change.enabled,
        reason=change.reason,
        changed_by=change.changed_by,
        changed_at=change.changed_at,
        task_id=change.task_id,
        applied_at=change.applied_at,
    )
