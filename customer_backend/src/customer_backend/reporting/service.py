"""Reports to GCC go through an outbox: written with the change, sent until GCC accepts."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import DeploymentScheduledReport, DeploymentStatusReport
from customer_backend.reporting.models import GccOutboxMessage
from timekeeping import Clock

SCHEDULED_PATH = "/api/v1/deployments/scheduled"
STATUS_PATH = "/api/v1/deployments/status"


async def enqueue_report(
    session: AsyncSession,
    *,
    clock: Clock,
    report: DeploymentScheduledReport | DeploymentStatusReport,
) -> GccOutboxMessage:
    """Add a scheduled or status report to the outbox (sent by ``reporting.flush_outbox``)."""
    is_status = isinstance(report, DeploymentStatusReport)
    message = GccOutboxMessage(
        kind="status" if is_status else "scheduled",
        path=STATUS_PATH if is_status else SCHEDULED_PATH,
        payload=report.model_dump(mode="json"),
        created_at=clock.now(),
        next_attempt_at=clock.now(),
    )
    session.add(message)
    await session.flush()
    return message
