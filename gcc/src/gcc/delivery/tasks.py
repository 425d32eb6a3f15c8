"""Celery tasks of webhook delivery.

Both are acknowledged as they start, like every task (servicekit's worker configuration), and
neither holds its worker process: ``dispatch_due`` is one short query, ``pump`` starts or
nudges the process's delivery pump, which runs on a thread of its own. Nothing is lost with a
message: the due deliveries are in PostgreSQL, and beat sends ``dispatch_due`` every few
seconds.
"""

from __future__ import annotations

from typing import Any

from celery import signals

from gcc.delivery import service
from gcc.delivery.pump_thread import PumpThread
from gcc.worker import celery_app, close_task_runtime, run_task

pump_thread = PumpThread(run_task, close_task_runtime)
"""This process's delivery pump."""

SHUTDOWN_GRACE_SECONDS = 10.0
"""How long a worker stopping gracefully waits for its pump to give its targets back."""


@celery_app.task(name="delivery.dispatch_due")  # type: ignore[untyped-decorator]
def dispatch_due() -> bool:
    """Send ``delivery.pump`` when a delivery is due and no pump holds it (beat, publish)."""
    return bool(run_task(service.run_dispatch))


@celery_app.task(name="delivery.pump")  # type: ignore[untyped-decorator]
def pump() -> bool:
    """Make sure this worker process's delivery pump runs; returns at once."""
    return pump_thread.ensure_running()


def _stop_pump(**_: Any) -> None:
    pump_thread.stop(SHUTDOWN_GRACE_SECONDS)


# A worker stopping gracefully (its pool processes, or the process itself with the solo pool)
# stops its pump, which gives back what it holds; a killed one leaves leases that run out.
signals.worker_process_shutdown.connect(_stop_pump, weak=False)
signals.worker_shutdown.connect(_stop_pump, weak=False)
