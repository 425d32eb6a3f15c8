"""Celery tasks of the escalations domain."""

from __future__ import annotations

from gcc.escalations.service import NotifyResult, notify_new_escalations
from gcc.notifications.email import SmtpMailer
from gcc.runtime import Runtime
from gcc.worker import celery_app, run_task
from servicekit.db import session_scope


async def _notify_new(runtime: Runtime) -> NotifyResult:
    async with session_scope(runtime.session_factory) as session:
        return await notify_new_escalations(
            session,
            clock=runtime.clock,
            settings=runtime.settings,
            mailer=SmtpMailer(runtime.settings),
        )


@celery_app.task(name="escalations.notify_new")  # type: ignore[untyped-decorator]
def notify_new() -> dict[str, int]:
    """Email every escalation not emailed yet to its account manager and the GCC admins."""
    result = run_task(_notify_new)
    return {"sent": result.sent, "pending": result.pending}
