"""Celery tasks of webhook delivery.

Both are acknowledged as they start, like every task (servicekit's worker configuration),
and idempotent: a repeated ``deliver_batch`` skips what is already acknowledged, failed or
rescheduled, and a worker killed mid-batch leaves leases that run out, after which
``dispatch_due`` hands the remaining targets out again.
"""

from __future__ import annotations

from gcc.delivery import service
from gcc.worker import celery_app, run_task


@celery_app.task(name="delivery.dispatch_due")  # type: ignore[untyped-decorator]
def dispatch_due() -> int:
    """Lease the due webhook deliveries and enqueue one batch task per batch (beat, publish)."""
    return run_task(service.run_dispatch)


@celery_app.task(name="delivery.deliver_batch")  # type: ignore[untyped-decorator]
def deliver_batch(target_ids: list[str]) -> dict[str, int]:
    """Send the webhooks of one batch of leased deployment targets."""
    report = run_task(lambda runtime: service.deliver_batch(runtime, target_ids))
    return {
        "acknowledged": report.acknowledged,
        "retrying": report.retrying,
        "failed": report.failed,
        "rejected": report.rejected,
        "skipped": report.skipped,
    }
