"""Celery tasks of the intake domain: download releases, retry failed downloads, poll GCC."""

from __future__ import annotations

import uuid

from customer_backend.intake import cleanup, download, polling
from customer_backend.worker import celery_app, run_task


@celery_app.task(name="intake.download_release")  # type: ignore[untyped-decorator]
def download_release(deployment_id: str) -> str:
    """Fetch a deployment's artifact from GCC into the bucket, verified (one round of tries)."""
    outcome = run_task(
        lambda runtime: download.download_release(
            runtime=runtime, deployment_id=uuid.UUID(deployment_id)
        )
    )
    return str(outcome)


@celery_app.task(name="intake.retry_downloads")  # type: ignore[untyped-decorator]
def retry_downloads() -> int:
    """Send the download again for deployments whose retry time has come (beat, each minute)."""
    return len(run_task(lambda runtime: download.retry_downloads(runtime=runtime)))


@celery_app.task(name="intake.apply_retention")  # type: ignore[untyped-decorator]
def apply_retention() -> dict[str, int | None]:
    """Keep N artifacts per type in the bucket, retrying a cleanup that failed (beat, hourly)."""
    return run_task(lambda runtime: cleanup.sweep_retention(runtime))


@celery_app.task(name="intake.poll_gcc")  # type: ignore[untyped-decorator]
def poll_gcc() -> dict[str, int] | None:
    """Take up the releases GCC's updates endpoint offers (beat, WRKTALK_GCC_POLL_INTERVAL)."""
    outcome = run_task(lambda runtime: polling.poll_gcc(runtime=runtime))
    if outcome is None:
        return None
    return {"offered": outcome.offered, "recorded": outcome.recorded, "invalid": outcome.invalid}
