"""Celery tasks of the reporting domain: the outbox to GCC and the heartbeat."""

from __future__ import annotations

from customer_backend.reporting import service
from customer_backend.worker import celery_app, run_task


@celery_app.task(name="reporting.flush_outbox")  # type: ignore[untyped-decorator]
def flush_outbox() -> dict[str, int]:
    """Send due reports to GCC in order (beat every 15 s, and after each new report)."""
    outcome = run_task(lambda runtime: service.flush_outbox(runtime=runtime))
    return {
        "sent": outcome.sent,
        "refused": outcome.refused,
        "failed": outcome.failed,
        "held": outcome.held,
    }


@celery_app.task(name="reporting.send_heartbeat")  # type: ignore[untyped-decorator]
def send_heartbeat() -> bool:
    """Send GCC the heartbeat (beat, WRKTALK_GCC_POLL_INTERVAL); True when GCC accepted it."""
    return run_task(lambda runtime: service.send_heartbeat(runtime=runtime)) is not None
