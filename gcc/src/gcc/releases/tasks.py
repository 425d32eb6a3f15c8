"""Celery tasks of the releases domain."""

from __future__ import annotations

from gcc.releases.gate_recheck import GateRecheck, recheck_gates
from gcc.runtime import Runtime
from gcc.worker import celery_app, run_task
from servicekit.db import session_scope


async def _recheck_gates(runtime: Runtime) -> GateRecheck:
    async with session_scope(runtime.session_factory) as session:
        return await recheck_gates(session, clock=runtime.clock, send_task=runtime.send_task)


@celery_app.task(name="releases.recheck_gates")  # type: ignore[untyped-decorator]
def recheck_gates_task() -> dict[str, int]:
    """Deliver the releases a license or version gate held back once the gate clears (beat)."""
    result = run_task(_recheck_gates)
    return {
        "delivered": result.delivered,
        "notNeeded": result.not_needed,
        "heldByOtherGate": result.held_by_other_gate,
        "stillHeld": result.still_held,
    }
