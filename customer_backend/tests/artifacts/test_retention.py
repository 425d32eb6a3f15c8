"""Artifacts in the customer bucket: the layout, keep 10 per type, current and previous flags."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from contracts import AgentTaskStatus, AgentTaskType, ArtifactType, DeploymentType
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.artifacts.service import (
    ArtifactFetchError,
    artifact_key,
    record_artifact,
    set_current_artifact,
)
from customer_backend.artifacts.staging import download_to_staging
from customer_backend.config.models import EssentialConfigVersion
from customer_backend.config.service import config_kind, essential_config_key
from customer_backend.deployments.bundles import release_bundle
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.deployments.retention import apply_retention
from customer_backend.installation.models import InstallationState
from customer_backend.runtime import build_store, gcc_client
from customer_backend.settings import Settings
from objectstore import ObjectStore
from servicekit.db import SessionFactory, session_scope
from timekeeping import ManualClock


@pytest.fixture
async def store(backend_settings: Settings) -> AsyncIterator[ObjectStore]:
    """The backend's bucket, emptied."""
    async with build_store(backend_settings) as opened:
        for info in await opened.list():
            await opened.delete(info.key)
        yield opened


async def _put_artifacts(
    store: ObjectStore,
    sessions: SessionFactory,
    clock: ManualClock,
    versions: list[str],
    artifact_type: ArtifactType = ArtifactType.HELM,
) -> None:
    """Store and record one artifact per version, oldest first."""
    for version in versions:
        content = f"chart {version}".encode()

        async def chunks(data: bytes = content) -> AsyncIterator[bytes]:
            yield data

        info = await store.put_stream(artifact_key(artifact_type, version), chunks())
        async with session_scope(sessions) as session:
            await record_artifact(
                session, clock=clock, version=version, artifact_type=artifact_type, info=info
            )
        clock.advance(timedelta(minutes=1))


def _deployment(version: str, status: str, clock: ManualClock) -> ScheduledDeployment:
    now = clock.now()
    return ScheduledDeployment(
        gcc_release_id=uuid.uuid4(),
        release_name=f"v{version}",
        version=version,
        release_data={},
        artifact_type="helm",
        expected_sha256="0" * 64,
        received_at=now,
        status=status,
        chart_bucket_path=artifact_key(ArtifactType.HELM, version),
        chart_downloaded=True,
        created_at=now,
        updated_at=now,
    )


async def _rollback_task(
    sessions: SessionFactory,
    clock: ManualClock,
    *,
    version: str,
    deployment_type: DeploymentType,
    status: str,
) -> AgentTask:
    """A rollback to ``version`` as the rollback endpoint queues it: the payload names the
    version's artifact and the essential configuration revision it ran with."""
    now = clock.now()
    async with session_scope(sessions) as session:
        artifact = (
            await session.exec(
                select(LocalArtifact).where(
                    LocalArtifact.version == version,
                    LocalArtifact.type == str(deployment_type.artifact_type),
                )
            )
        ).one()
        kind = config_kind(deployment_type)
        config = EssentialConfigVersion(
            revision=1,
            kind=kind,
            bucket_key=essential_config_key(kind, 1),
            sha256="0" * 64,
            created_by="ops@acme.example",
            created_at=now,
            is_current=True,
        )
        task = AgentTask(
            type=AgentTaskType.ROLLBACK,
            status=status,
            payload={
                "targetRevision": None,
                "targetVersion": version,
                "release": release_bundle(
                    artifact=artifact,
                    image_tags={},
                    config=config,
                    deployment_type=deployment_type,
                ),
            },
            execute_after=now,
            created_by="ops@acme.example",
            created_at=now,
            updated_at=now,
        )
        session.add(config)
        session.add(task)
    return task


def test_bucket_keys_follow_the_customer_bucket_layout() -> None:
    assert artifact_key(ArtifactType.HELM, "2.3.0") == "artifacts/helm/wrktalk-2.3.0.tgz"
    assert (
        artifact_key(ArtifactType.COMPOSE, "2.3.0")
        == "artifacts/compose/wrktalk-2.3.0-compose.tar.gz"
    )


async def test_retention_keeps_the_ten_newest_of_a_type(
    store: ObjectStore, backend_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    # Two-digit minors sort the same by key and by version, whatever S3's timestamps say.
    versions = [f"2.{minor}.0" for minor in range(10, 22)]
    await _put_artifacts(store, backend_sessions, gcc_clock, versions)
    await _put_artifacts(store, backend_sessions, gcc_clock, ["2.10.0"], ArtifactType.COMPOSE)

    async with session_scope(backend_sessions) as session:
        removed = await apply_retention(
            session,
            clock=gcc_clock,
            object_store=store,
            artifact_type=ArtifactType.HELM,
            keep=10,
        )

    assert removed == [artifact_key(ArtifactType.HELM, v) for v in ("2.10.0", "2.11.0")]
    kept = [info.key for info in await store.list("artifacts/helm/")]
    assert kept == sorted(artifact_key(ArtifactType.HELM, v) for v in versions[2:])
    assert [info.key for info in await store.list("artifacts/compose/")] == [
        artifact_key(ArtifactType.COMPOSE, "2.10.0")
    ]
    async with backend_sessions() as session:
        marked = (
            await session.exec(
                select(LocalArtifact.version).where(col(LocalArtifact.removed_at).is_not(None))
            )
        ).all()
    assert sorted(marked) == ["2.10.0", "2.11.0"]


async def test_retention_never_removes_current_previous_or_active_deployments(
    store: ObjectStore, backend_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    versions = [f"2.{minor}.0" for minor in range(10, 26)]  # 16: six beyond the ten kept
    await _put_artifacts(store, backend_sessions, gcc_clock, versions)
    async with session_scope(backend_sessions) as session:
        await set_current_artifact(session, artifact_type=ArtifactType.HELM, version="2.10.0")
        await set_current_artifact(session, artifact_type=ArtifactType.HELM, version="2.11.0")
        session.add(_deployment("2.12.0", "scheduled", gcc_clock))
        session.add(_deployment("2.13.0", "inProgress", gcc_clock))
        session.add(_deployment("2.14.0", "missedSchedule", gcc_clock))
        session.add(_deployment("2.15.0", "pending", gcc_clock))

    async with session_scope(backend_sessions) as session:
        removed = await apply_retention(
            session,
            clock=gcc_clock,
            object_store=store,
            artifact_type=ArtifactType.HELM,
            keep=10,
        )

    assert removed == [artifact_key(ArtifactType.HELM, "2.15.0")]
    remaining = {info.key for info in await store.list("artifacts/helm/")}
    for version in ("2.10.0", "2.11.0", "2.12.0", "2.13.0", "2.14.0"):
        assert artifact_key(ArtifactType.HELM, version) in remaining
    assert len(remaining) == 15


async def test_retention_spares_the_version_the_installation_runs(
    store: ObjectStore, backend_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    versions = [f"2.{minor}.0" for minor in range(10, 22)]
    await _put_artifacts(store, backend_sessions, gcc_clock, versions)
    async with session_scope(backend_sessions) as session:
        session.add(InstallationState(id=1, current_version="2.10.0"))

    async with session_scope(backend_sessions) as session:
        removed = await apply_retention(
            session, clock=gcc_clock, object_store=store, artifact_type=ArtifactType.HELM, keep=10
        )

    assert removed == [artifact_key(ArtifactType.HELM, "2.11.0")]


async def test_a_new_current_version_makes_the_old_one_previous(
    store: ObjectStore, backend_sessions: SessionFactory, gcc_clock: ManualClock
) -> None:
    await _put_artifacts(store, backend_sessions, gcc_clock, ["2.1.0", "2.2.0", "2.3.0"])

    async with session_scope(backend_sessions) as session:
        assert (
            await set_current_artifact(session, artifact_type=ArtifactType.HELM, version="2.1.0")
            is None
        )
        await set_current_artifact(session, artifact_type=ArtifactType.HELM, version="2.2.0")
        previous = await set_current_artifact(
            session, artifact_type=ArtifactType.HELM, version="2.3.0"
        )

    assert previous == "2.2.0"
    async with backend_sessions() as session:
        flags = {
            artifact.version: (artifact.is_current, artifact.is_previous)
            for artifact in (await session.exec(select(LocalArtifact))).all()
        }
    assert flags == {"2.1.0": (False, False), "2.2.0": (False, True), "2.3.0": (True, False)}


async def test_fetching_a_version_gcc_does_not_have_stages_nothing(
    store: ObjectStore,
    backend_settings: Settings,
    backend_client: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    async with gcc_client(backend_settings) as gcc:
        with pytest.raises(ArtifactFetchError, match="GCC answered 404"):
            await download_to_staging(
                gcc=gcc,
                staging=tmp_path,
                version="9.9.9",
                artifact_type=ArtifactType.HELM,
                expected_sha256=hashlib.sha256(b"x").hexdigest(),
            )
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []
    assert await store.list() == []


@pytest.mark.parametrize(
    "deployment_type", [DeploymentType.KUBERNETES, DeploymentType.DOCKER], ids=str
)
@pytest.mark.parametrize("status", [AgentTaskStatus.PENDING, AgentTaskStatus.IN_PROGRESS], ids=str)
async def test_retention_keeps_the_artifact_a_rollback_has_yet_to_deploy(
    store: ObjectStore,
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
    deployment_type: DeploymentType,
    status: AgentTaskStatus,
) -> None:
    artifact_type = deployment_type.artifact_type
    await _put_artifacts(store, backend_sessions, gcc_clock, ["2.10.0"], artifact_type)
    await _rollback_task(
        backend_sessions,
        gcc_clock,
        version="2.10.0",
        deployment_type=deployment_type,
        status=status,
    )
    # Eleven newer releases arrive before the agent has run the rollback.
    newer = [f"2.{minor}.0" for minor in range(11, 22)]
    await _put_artifacts(store, backend_sessions, gcc_clock, newer, artifact_type)

    async with session_scope(backend_sessions) as session:
        removed = await apply_retention(
            session, clock=gcc_clock, object_store=store, artifact_type=artifact_type, keep=10
        )

    assert removed == [artifact_key(artifact_type, "2.11.0")]
    remaining = {info.key for info in await store.list(f"artifacts/{artifact_type}/")}
    assert artifact_key(artifact_type, "2.10.0") in remaining
    async with backend_sessions() as session:
        target = (
            await session.exec(select(LocalArtifact).where(LocalArtifact.version == "2.10.0"))
        ).one()
    assert target.removed_at is None


@pytest.mark.parametrize(
    "status",
    [AgentTaskStatus.COMPLETED, AgentTaskStatus.FAILED, AgentTaskStatus.CANCELLED],
    ids=str,
)
async def test_a_finished_rollback_no_longer_keeps_its_artifact(
    store: ObjectStore, backend_sessions: SessionFactory, gcc_clock: ManualClock, status: str
) -> None:
    await _put_artifacts(store, backend_sessions, gcc_clock, ["2.10.0"])
    await _rollback_task(
        backend_sessions,
        gcc_clock,
        version="2.10.0",
        deployment_type=DeploymentType.KUBERNETES,
        status=status,
    )
    await _put_artifacts(store, backend_sessions, gcc_clock, [f"2.{m}.0" for m in range(11, 21)])

    async with session_scope(backend_sessions) as session:
        removed = await apply_retention(
            session, clock=gcc_clock, object_store=store, artifact_type=ArtifactType.HELM, keep=10
        )

    assert removed == [artifact_key(ArtifactType.HELM, "2.10.0")]
