"""Rows and bucket objects for the agent API tests.

Deployments and tasks are inserted directly, shaped as the intake and the scheduler store them:
the task payload is the contract's ``DeployPayload`` / ``RollbackPayload`` without download URLs.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlmodel import select

from contracts import AgentTaskStatus, ArtifactType, LocalDeploymentStatus
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.config.models import EssentialConfigVersion
from customer_backend.deployments.models import ScheduledDeployment
from customer_backend.runtime import build_store
from customer_backend.settings import Settings
from objectstore import ObjectStore
from servicekit.db import SessionFactory
from timekeeping import ManualClock

IMAGE_TAGS = {
    "backend": "sha-b",
    "media": "sha-m",
    "controlTower": "sha-c",
    "agent": "sha-a",
}


@dataclass
class StoredFile:
    """An object put into the backend bucket."""

    key: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def ref(self) -> dict[str, Any]:
        """The stored ``FileRef`` (no download URL)."""
        return {"bucketPath": self.key, "sha256": self.sha256, "sizeBytes": len(self.data)}


@dataclass
class Release:
    """A received release: its deployment row, artifact row and bucket object."""

    deployment: ScheduledDeployment
    artifact: LocalArtifact
    chart: StoredFile

    @property
    def version(self) -> str:
        return self.deployment.version

    def bundle(self, config: StoredFile) -> dict[str, Any]:
        """The stored ``ReleaseBundle`` of this version (Helm)."""
        return {
            "version": self.version,
            "chart": {**self.chart.ref(), "type": "helm", "version": self.version},
            "imageTags": IMAGE_TAGS,
            "values": config.ref(),
            "env": None,
        }


ReleaseFactory = Callable[..., Awaitable[Release]]
TaskFactory = Callable[..., Awaitable[AgentTask]]


@pytest.fixture
async def backend_store(backend_settings: Settings) -> AsyncIterator[ObjectStore]:
    """The backend's bucket, opened."""
    async with build_store(backend_settings) as store:
        yield store


@pytest.fixture
def put_file(backend_store: ObjectStore) -> Callable[[str, bytes], Awaitable[StoredFile]]:
    """Put bytes into the backend bucket."""

    async def put(key: str, data: bytes) -> StoredFile:
        async def chunks() -> AsyncIterator[bytes]:
            yield data

        await backend_store.put_stream(key, chunks())
        return StoredFile(key, data)

    return put


@pytest.fixture
async def values_file(
    put_file: Callable[[str, bytes], Awaitable[StoredFile]],
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
) -> StoredFile:
    """Essential configuration revision 1 (values.yaml), stored and recorded."""
    stored = await put_file("config/values.r1.yaml", b"replicaCount: 2\n")
    async with backend_sessions() as session:
        session.add(
            EssentialConfigVersion(
                revision=1,
                kind="values",
                bucket_key=stored.key,
                sha256=stored.sha256,
                created_by="ops@acme.example",
                created_at=gcc_clock.now(),
                is_current=True,
            )
        )
        await session.commit()
    return stored


@pytest.fixture
def release_factory(
    backend_sessions: SessionFactory,
    gcc_clock: ManualClock,
    put_file: Callable[[str, bytes], Awaitable[StoredFile]],
) -> ReleaseFactory:
    """Insert a received, downloaded release with its chart in the bucket."""

    async def create(
        version: str = "2.3.0",
        *,
        status: str = LocalDeploymentStatus.SCHEDULED,
        is_current: bool = False,
        is_previous: bool = False,
    ) -> Release:
        now = gcc_clock.now()
        chart = await put_file(f"artifacts/helm/wrktalk-{version}.tgz", f"chart {version}".encode())
        deployment = ScheduledDeployment(
            gcc_release_id=uuid.uuid4(),
            release_name=f"v{version}",
            version=version,
            release_data={},
            artifact_type=ArtifactType.HELM,
            expected_sha256=chart.sha256,
            received_at=now,
            chart_bucket_path=chart.key,
            chart_downloaded=True,
            status=status,
            created_at=now,
            updated_at=now,
        )
        artifact = LocalArtifact(
            version=version,
            type=ArtifactType.HELM,
            bucket_key=chart.key,
            sha256=chart.sha256,
            size_bytes=len(chart.data),
            is_current=is_current,
            is_previous=is_previous,
            created_at=now,
        )
        async with backend_sessions() as session:
            session.add(deployment)
            session.add(artifact)
            await session.commit()
        return Release(deployment, artifact, chart)

    return create


@pytest.fixture
def task_factory(
    backend_sessions: SessionFactory, gcc_clock: ManualClock, values_file: StoredFile
) -> TaskFactory:
    """Insert an agent task: a deploy of ``release`` (with ``previous``), or a rollback."""

    async def create(
        release: Release | None = None,
        *,
        previous: Release | None = None,
        execute_after: datetime | None = None,
        status: str = AgentTaskStatus.PENDING,
        task_type: str = "deploy",
        payload: dict[str, Any] | None = None,
        created_at: datetime | None = None,
        link_deployment: bool = True,
    ) -> AgentTask:
        now = gcc_clock.now()
        if payload is None:
            assert release is not None
            payload = {
                **release.bundle(values_file),
                "newNonEssentialEnvs": [{"key": "NEW_FEATURE", "value": "false"}],
                "previous": previous.bundle(values_file) if previous else None,
            }
        task = AgentTask(
            type=task_type,
            status=status,
            deployment_id=release.deployment.id if release and link_deployment else None,
            payload=payload,
            execute_after=execute_after or now,
            created_at=created_at or now,
            updated_at=now,
        )
        async with backend_sessions() as session:
            session.add(task)
            await session.commit()
        return task

    return create


Fetch = Callable[..., Awaitable[Any]]


@pytest.fixture
def fetch(backend_sessions: SessionFactory) -> Fetch:
    """A fresh copy of a row by primary key (``fetch(InstallationState, 1)``)."""

    async def get(model: type[Any], row_id: Any) -> Any:
        async with backend_sessions() as session:
            return await session.get(model, row_id)

    return get


@pytest.fixture
def fetch_all(backend_sessions: SessionFactory) -> Fetch:
    """Every row of a table, in the given order (``fetch_all(Notification)``)."""

    async def get(model: type[Any], *order_by: Any) -> list[Any]:
        async with backend_sessions() as session:
            result = await session.exec(select(model).order_by(*order_by))
            return list(result.all())

    return get
