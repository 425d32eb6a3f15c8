"""Retention of the bucket's artifacts: after each download, and on beat's schedule.

Spec 8.3, error 3.4: a cleanup that fails (the bucket refusing a listing or a delete) never
fails the download that asked for it; it is logged, and ``intake.apply_retention`` applies
retention again every hour, so the bucket comes back to N versions per type once it works.
The same hourly sweep empties the staging directory of files no deployment waits for.
"""

from __future__ import annotations

from collections.abc import Set
from datetime import timedelta
from pathlib import Path

import structlog

from contracts import ArtifactType
from customer_backend import metrics
from customer_backend.artifacts import staging
from customer_backend.deployments import retention
from customer_backend.intake import repository
from customer_backend.runtime import Runtime
from servicekit.db import session_scope

log = structlog.get_logger(__name__)


async def apply_retention(
    runtime: Runtime, artifact_type: ArtifactType, *, protect: Set[str] = frozenset()
) -> list[str] | None:
    """Keep N artifacts of a type (sparing ``protect``); the keys removed, or None when the
    cleanup failed (logged; the next sweep tries again)."""
    try:
        async with session_scope(runtime.session_factory) as session:
            removed = await retention.apply_retention(
                session,
                clock=runtime.clock,
                object_store=runtime.object_store,
                artifact_type=artifact_type,
                keep=runtime.settings.artifact_retention,
                protect=protect,
            )
            await repository.forget_removed_artifacts(
                session, keys=removed, now=runtime.clock.now()
            )
    except Exception as error:  # cleanup must never fail what asked for it
        metrics.RETENTION_FAILURES.labels(str(artifact_type)).inc()
        log.warning(
            "artifacts.retention.failed", artifact_type=str(artifact_type), error=str(error)
        )
        return None
    return removed


async def sweep_retention(runtime: Runtime) -> dict[str, int | None]:
    """Apply retention to every artifact type and prune the staging directory; per type, how
    many were removed (None: failed), and under ``staging`` how many staged files went."""
    outcome: dict[str, int | None] = {}
    for artifact_type in ArtifactType:
        removed = await apply_retention(runtime, artifact_type)
        outcome[str(artifact_type)] = None if removed is None else len(removed)
    outcome["staging"] = await prune_staging(runtime)
    return outcome


async def prune_staging(runtime: Runtime) -> int:
    """Remove the staged files no deployment waits for, and partial downloads older than a
    retry interval; how many went."""
    async with session_scope(runtime.session_factory) as session:
        awaited = await repository.awaited_sha256s(session)
    interval = timedelta(seconds=runtime.settings.download_retry_interval_seconds)
    try:
        removed = await staging.prune_staging(
            Path(runtime.settings.staging_directory),
            keep_sha256s=awaited,
            partial_before=runtime.clock.now() - interval,
        )
    except OSError as error:  # a staging directory it cannot read: the next sweep tries again
        log.warning("artifacts.staging.prune_failed", error=str(error))
        return 0
    if removed:
        log.info("artifacts.staging.pruned", files=removed)
    return len(removed)
