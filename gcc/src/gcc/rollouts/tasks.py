"""Celery tasks of phased rollouts."""

from __future__ import annotations

from gcc.rollouts.service import Evaluation, run_evaluation
from gcc.runtime import Runtime
from gcc.worker import celery_app, run_task


async def _evaluate(runtime: Runtime) -> Evaluation:
    return await run_evaluation(
        runtime.session_factory, clock=runtime.clock, send_task=runtime.send_task
    )


@celery_app.task(name="rollouts.evaluate")  # type: ignore[untyped-decorator]
def evaluate() -> dict[str, int]:
    """Evaluate the gates of every running rollout and open the waves that may go (beat)."""
    result = run_task(_evaluate)
    return {
        "evaluated": result.evaluated,
        "advanced": result.advanced,
        "halted": result.halted,
        "completed": result.completed,
        "opened": result.opened,
    }
