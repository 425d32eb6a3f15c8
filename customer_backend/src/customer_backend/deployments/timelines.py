"""What happens with time: task timeouts, missed schedules, forced-update deadlines, agent outages.

``run_timelines`` runs each minute from beat. Every step reads time from the injected clock and
is safe to run twice or concurrently: rows are locked with ``SKIP LOCKED`` and re-checked, and
every email is queued with a dedupe key, so each message goes exactly once across restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import DeploymentStatus, DeploymentStatusReport, LocalDeploymentStatus
from customer_backend.agent_tasks import queue as agent_queue
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.deployments import outcomes, repository
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.deployments.service import deployment_context
from customer_backend.installation import service as installation
from customer_backend.notifications.events import EmailEventName
from customer_backend.notifications.service import existing_dedupe_keys, notify_admins
from customer_backend.reporting.service import enqueue_report
from customer_backend.settings import Settings
from servicekit.db import SessionFactory, session_scope
from timekeeping import Clock

log = structlog.get_logger(__name__)

TASK_TIMEOUT_MESSAGE = "Task timeout - no heartbeat received"

FIRST_REMINDER_BEFORE_DEADLINE = timedelta(hours=12)
"""Forced update: the first reminder, 12 hours after receipt."""
SECOND_REMINDER_BEFORE_DEADLINE = timedelta(hours=4)
"""Forced update: the urgent reminder, 20 hours after receipt."""

NOT_UNDER_WAY_STATUSES = frozenset(
    {
        LocalDeploymentStatus.PENDING,
        LocalDeploymentStatus.DOWNLOAD_FAILED,
        LocalDeploymentStatus.MISSED_SCHEDULE,
        LocalDeploymentStatus.FAILED,
        LocalDeploymentStatus.ROLLED_BACK,
        LocalDeploymentStatus.CANCELLED,
    }
)
"""A forced release in one of these is neither scheduled, running nor deployed: reminders go,
and at the deadline it becomes ``deadlineExceeded``."""


@dataclass
class TimelineOutcome:
    """How many things each step changed in one run."""

    timed_out_tasks: int = 0
    missed_schedules: int = 0
    forced_messages: int = 0
    agent_offline_alerts: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts by step name."""
        return {
            "timedOutTasks": self.timed_out_tasks,
            "missedSchedules": self.missed_schedules,
            "forcedMessages": self.forced_messages,
            "agentOfflineAlerts": self.agent_offline_alerts,
        }


async def run_timelines(
    *, session_factory: SessionFactory, clock: Clock, settings: Settings
) -> TimelineOutcome:
    """Run every timeline step, each in its own transaction; a failing step does not stop the
    others (it is logged and retried next minute)."""
    outcome = TimelineOutcome()
    steps = (
        ("timed_out_tasks", time_out_stalled_tasks),
        ("missed_schedules", expire_missed_schedules),
        ("forced_messages", advance_forced_updates),
        ("agent_offline_alerts", alert_offline_agent),
    )
    for name, step in steps:
        try:
            async with session_scope(session_factory) as session:
                setattr(outcome, name, await step(session, clock=clock, settings=settings))
        except Exception:
            log.exception("deployment.timeline.failed", step=name)
    if any(outcome.as_dict().values()):
        log.info("deployment.timeline.completed", **outcome.as_dict())
    return outcome


async def time_out_stalled_tasks(session: AsyncSession, *, clock: Clock, settings: Settings) -> int:
    """Have the agent task queue fail in-progress tasks without pick-up or heartbeat for
    ``task_timeout_minutes`` (30 by default, spec 8.5); fail their deployments, record and
    report each, and tell the admins."""
    now = clock.now()
    timed_out = await agent_queue.time_out_stalled_tasks(
        session,
        now=now,
        idle_since=now - timedelta(minutes=settings.task_timeout_minutes),
        reason=TASK_TIMEOUT_MESSAGE,
    )
    for item in timed_out:
        task = item.task
        deployment = await _fail_deployment_of(session, task, now=now)
        await outcomes.record_task_timeout(
            session,
            clock=clock,
            settings=settings,
            task=task,
            deployment=deployment,
            message=TASK_TIMEOUT_MESSAGE,
        )
        await notify_admins(
            session,
            clock=clock,
            event=EmailEventName.TASK_TIMEOUT,
            dedupe_key=f"task_timeout:{task.id}",
            context={
                **(deployment_context(deployment) if deployment else {}),
                "taskId": str(task.id),
                "taskType": task.type,
                "version": outcomes.task_version(task, deployment),
                "lastActivityAt": item.last_activity_at.isoformat(),
                "errorMessage": TASK_TIMEOUT_MESSAGE,
            },
        )
        log.warning("deployment.task.timed_out", task_id=str(task.id), type=task.type)
    await session.flush()
    return len(timed_out)


async def _fail_deployment_of(
    session: AsyncSession, task: AgentTask, *, now: datetime
) -> ScheduledDeployment | None:
    """The timed-out task's deployment, failed when it was still scheduled or running."""
    if task.deployment_id is None:
        return None
    deployment = await repository.get_deployment(session, task.deployment_id, for_update=True)
    if deployment is not None and deployment.status in repository.ACTIVE_DEPLOYMENT_STATUSES:
        deployment.status = LocalDeploymentStatus.FAILED
        deployment.error_message = TASK_TIMEOUT_MESSAGE
        deployment.completed_at = now
        deployment.updated_at = now
        session.add(deployment)
    return deployment


async def expire_missed_schedules(
    session: AsyncSession, *, clock: Clock, settings: Settings
) -> int:
    """Cancel tasks not picked up within the grace window; their deployments need a new time.

    The agent's claim only takes a task up to ``executeAfter`` + grace, so a cancelled task can
    never run late.
    """
    now = clock.now()
    grace = timedelta(minutes=settings.schedule_grace_minutes)
    tasks = await agent_queue.cancel_overdue_tasks(
        session,
        now=now,
        due_before=now - grace,
        reason=f"Not picked up within {settings.schedule_grace_minutes} minutes of its "
        "scheduled time",
    )
    for task in tasks:
        deployment = (
            await repository.get_deployment(session, task.deployment_id, for_update=True)
            if task.deployment_id
            else None
        )
        if deployment is not None and deployment.status == LocalDeploymentStatus.SCHEDULED:
            deployment.status = LocalDeploymentStatus.MISSED_SCHEDULE
            deployment.updated_at = now
            session.add(deployment)
            await notify_admins(
                session,
                clock=clock,
                event=EmailEventName.MISSED_SCHEDULE,
                dedupe_key=f"missed_schedule:{task.id}",
                context={
                    **deployment_context(deployment),
                    "taskId": str(task.id),
                    "scheduledFor": task.execute_after.isoformat(),
                    "graceMinutes": settings.schedule_grace_minutes,
                },
            )
        elif deployment is None:
            await notify_admins(
                session,
                clock=clock,
                event=EmailEventName.ROLLBACK_MISSED,
                dedupe_key=f"rollback_missed:{task.id}",
                context={
                    "taskId": str(task.id),
                    "requestedAt": task.execute_after.isoformat(),
                    "targetRevision": task.payload.get("targetRevision"),
                    "targetVersion": task.payload.get("targetVersion"),
                    "graceMinutes": settings.schedule_grace_minutes,
                },
            )
        log.warning("deployment.schedule.missed", task_id=str(task.id), type=task.type)
    await session.flush()
    return len(tasks)


async def advance_forced_updates(session: AsyncSession, *, clock: Clock, settings: Settings) -> int:
    """Forced releases: reminders at 12 h and 20 h while not scheduled, and at 24 h, unless
    deployed, ``deadlineExceeded`` reported to GCC. Never deploys anything itself."""
    now = clock.now()
    deployments = await repository.forced_deployments_due(
        session, deadline_before=now + FIRST_REMINDER_BEFORE_DEADLINE
    )
    keys = {
        key
        for deployment in deployments
        for key in (
            _key(EmailEventName.DEADLINE_EXCEEDED, deployment),
            _key(EmailEventName.FORCED_REMINDER_20H, deployment),
            _key(EmailEventName.FORCED_REMINDER_12H, deployment),
        )
    }
    done = await existing_dedupe_keys(session, keys)
    sent = 0
    for deployment in deployments:
        assert deployment.force_deadline is not None
        deadline = deployment.force_deadline
        if now >= deadline:
            if _key(EmailEventName.DEADLINE_EXCEEDED, deployment) not in done:
                sent += await _exceed_deadline(
                    session, clock=clock, settings=settings, deployment=deployment
                )
            continue
        if deployment.status not in NOT_UNDER_WAY_STATUSES:
            continue
        if now >= deadline - SECOND_REMINDER_BEFORE_DEADLINE:
            event = EmailEventName.FORCED_REMINDER_20H
        else:
            event = EmailEventName.FORCED_REMINDER_12H
        if _key(event, deployment) in done:
            continue
        sent += await notify_admins(
            session,
            clock=clock,
            event=event,
            dedupe_key=_key(event, deployment),
            context={
                **deployment_context(deployment),
                "hoursRemaining": _hours_until(deadline - now),
                "status": deployment.status,
            },
        )
    await session.flush()
    return sent


async def _exceed_deadline(
    session: AsyncSession, *, clock: Clock, settings: Settings, deployment: ScheduledDeployment
) -> int:
    """Mark a forced release past its deadline, exactly once (the notification's dedupe key is
    the guard): status ``deadlineExceeded`` unless it is scheduled or running, GCC told."""
    previous_status = deployment.status
    is_new = await notify_admins(
        session,
        clock=clock,
        event=EmailEventName.DEADLINE_EXCEEDED,
        dedupe_key=_key(EmailEventName.DEADLINE_EXCEEDED, deployment),
        context={**deployment_context(deployment), "status": previous_status},
    )
    if not is_new:
        return 0
    if previous_status in NOT_UNDER_WAY_STATUSES:
        deployment.status = LocalDeploymentStatus.DEADLINE_EXCEEDED
        deployment.updated_at = clock.now()
        session.add(deployment)
    await enqueue_report(
        session,
        clock=clock,
        report=DeploymentStatusReport(
            organization_name=settings.organization_name,
            release_id=deployment.gcc_release_id,
            status=DeploymentStatus.DEADLINE_EXCEEDED,
            current_version=await installation.running_version(session),
        ),
        trace_parent=deployment.trace_parent,
    )
    log.warning(
        "deployment.forced.deadline_exceeded",
        deployment_id=str(deployment.id),
        version=deployment.version,
        status=previous_status,
    )
    return 1


async def alert_offline_agent(session: AsyncSession, *, clock: Clock, settings: Settings) -> int:
    """Alert once per outage when the agent has not polled for 10 minutes."""
    now = clock.now()
    last_poll = await installation.claim_agent_offline_alert(session, now=now)
    if last_poll is None:
        return 0
    await notify_admins(
        session,
        clock=clock,
        event=EmailEventName.AGENT_OFFLINE,
        dedupe_key=f"agent_offline:{last_poll.isoformat()}",
        context={
            "lastPollAt": last_poll.isoformat(),
            "minutesSinceLastPoll": int((now - last_poll).total_seconds() // 60),
            "deploymentType": str(settings.deployment_type),
        },
    )
    log.warning("deployment.agent.offline", last_poll_at=last_poll.isoformat())
    return 1


def _key(event: EmailEventName, deployment: ScheduledDeployment) -> str:
    return f"{event}:{deployment.id}"


def _hours_until(remaining: timedelta) -> int:
    return max(0, round(remaining.total_seconds() / 3600))
