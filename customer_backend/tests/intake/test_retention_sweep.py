"""Spec 8.3, error 3.4: a cleanup that fails is logged and retried by beat's hourly sweep."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from contracts import ArtifactType
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.artifacts.service import artifact_key, record_artifact
from customer_backend.intake import cleanup
from customer_backend.runtime import Runtime, open_runtime
from customer_backend.settings import Settings
from servicekit.db import SessionFactory, session_scope
from testsupport.gcc_fixtures import TaskRecorder
from timekeeping import ManualClock
from wrktalk_testing.s3 import MotoS3Server

VERSIONS = [f"2.{minor}.0" for minor in range(10, 22)]  # twelve, two more than are kept


@pytest.fixture
async def runtime_on_stoppable_bucket(
    backend_settings: Settings,
    s3_stoppable_server: MotoS3Server,
    gcc_clock: ManualClock,
    backend_sessions: SessionFactory,
    tmp_path: Path,
) -> AsyncIterator[Runtime]:
    """A worker's runtime whose way to the bucket the test can cut; the bucket emptied."""
    settings = backend_settings.model_copy(
        update={
            "bucket_endpoint": s3_stoppable_server.endpoint_url,
            "bucket_max_attempts": 1,
            "staging_directory": str(tmp_path / "staging"),
        }
    )
    async with open_runtime(settings, clock=gcc_clock, send_task=TaskRecorder()) as runtime:
        for info in await runtime.object_store.list():
            await runtime.object_store.delete(info.key)
        yield runtime


async def _store_versions(runtime: Runtime, clock: ManualClock) -> None:
    for version in VERSIONS:
        content = f"chart {version}".encode()

        async def chunks(data: bytes = content) -> AsyncIterator[bytes]:
            yield data

        key = artifact_key(ArtifactType.HELM, version)
        info = await runtime.object_store.put_stream(key, chunks())
        async with session_scope(runtime.session_factory) as session:
            await record_artifact(
                session, clock=clock, version=version, artifact_type=ArtifactType.HELM, info=info
            )
        clock.advance(timedelta(minutes=1))


async def _removed_versions(sessions: SessionFactory) -> list[str]:
    async with sessions() as session:
        rows = await session.exec(
            select(LocalArtifact.version).where(col(LocalArtifact.removed_at).is_not(None))
        )
        return sorted(rows.all())


async def test_a_failed_cleanup_changes_nothing_and_the_next_sweep_applies_retention(
    runtime_on_stoppable_bucket: Runtime,
    s3_stoppable_server: MotoS3Server,
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> None:
    runtime = runtime_on_stoppable_bucket
    await _store_versions(runtime, gcc_clock)
    s3_stoppable_server.stop()

    failed = await cleanup.sweep_retention(runtime)

    assert failed == {"helm": None, "compose": None, "staging": 0}
    assert await _removed_versions(backend_sessions) == []

    s3_stoppable_server.start()
    swept = await cleanup.sweep_retention(runtime)

    assert swept == {"helm": 2, "compose": 0, "staging": 0}
    assert await _removed_versions(backend_sessions) == ["2.10.0", "2.11.0"]
    kept = [info.key for info in await runtime.object_store.list("artifacts/helm/")]
    assert kept == sorted(artifact_key(ArtifactType.HELM, version) for version in VERSIONS[2:])
