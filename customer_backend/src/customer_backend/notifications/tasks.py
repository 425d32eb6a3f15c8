"""Celery tasks of the notifications domain."""

from __future__ import annotations

from customer_backend.notifications.sending import send_due_notifications
from customer_backend.notifications.service import SEND_PENDING_TASK
from customer_backend.runtime import Runtime
from customer_backend.worker import celery_app, run_task


async def _send_pending(runtime: Runtime) -> int:
    outcomes = await send_due_notifications(
        runtime.session_factory, clock=runtime.clock, settings=runtime.settings
    )
    return sum(1 for outcome in outcomes if outcome.is_sent)


@celery_app.task(name=SEND_PENDING_TASK)  # type: ignore[untyped-decorator]
def send_pending() -> int:
    """Email the admins every due notification (beat every 15 s, and after one is queued)."""
    return run_task(_send_pending)
