"""Celery tasks of the releases domain."""

from __future__ import annotations

from gcc.artifacts.retention import remove_orphans
from gcc.releases import service as release_service
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


async def _remove_orphan_artifacts(runtime: Runtime) -> list[str]:
    async with session_scope(runtime.session_factory) as session:
        return await remove_orphans(
            session,
            clock=runtime.clock,
            object_store=runtime.object_store,
            older_than=runtime.settings.orphan_artifact_age,
            release_status=release_service.release_status,
        )


@celery_app.task(name="releases.remove_orphan_artifacts")  # type: ignore[untyped-decorator]
def remove_orphan_artifacts_task() -> list[str]:
    """Delete the artifacts uploaded more than GCC_ORPHAN_ARTIFACT_AGE ago that no release
    references (beat, hourly); the ``version/type`` of each one removed. The releases domain
    runs it because it alone knows which versions have a release."""
    return list(run_task(_remove_orphan_artifacts))
