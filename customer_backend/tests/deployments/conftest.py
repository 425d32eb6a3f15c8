"""Rows and bucket objects for the deployment tests: received releases, their artifacts, tasks.

The intake is not what these tests are about, so releases are inserted directly, shaped as the
intake stores them (``release_data`` is the webhook body).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from contracts import (
    AgentTaskStatus,
    AgentTaskType,
    ArtifactType,
    LocalDeploymentStatus,
    PublishedRelease,
    ReleasePublishedWebhook,
    ReleaseRuleset,
)
from customer_backend.agent_tasks.models import AgentTask, TaskLogLine
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.artifacts.service import artifact_key
from customer_backend.deployments.models import DeploymentHistory, ScheduledDeployment
from customer_backend.installation.models import InstallationState
from customer_backend.notifications.models import Notification
from customer_backend.reporting.models import GccOutboxMessage
from customer_backend.runtime import build_store
from customer_backend.settings import Settings
from objectstore import ObjectStore
from servicekit.db import SessionFactory
from timekeeping import ManualClock

IMAGE_TAGS = {
    "backend": "sha-abc123",
    "media": "sha-def456",
    "controlTower": "sha-ghi789",
    "agent": "sha-jkl012",
}


def build_chart(version: str) -> bytes:
    """A packaged Helm chart ``wrktalk/`` of ``version``, the same bytes every time."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w") as archive,
    ):
        for name, text in {
            "wrktalk/Chart.yaml": f"apiVersion: v2\nname: wrktalk\nversion: {version}\n",
            "wrktalk/values.yaml": "replicaCount: 1\n",
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def with_download_urls(value: Any) -> Any:
    """A stored payload as the claim hands it out: a URL added to every file reference."""
    if isinstance(value, dict):
        copy = {key: with_download_urls(item) for key, item in value.items()}
        if "bucketPath" in copy:
            copy["downloadUrl"] = f"https://bucket.example/{copy['bucketPath']}"
        return copy
    if isinstance(value, list):
        return [with_download_urls(item) for item in value]
    return value


@pytest.fixture
def chart() -> Callable[[str], bytes]:
    """Build a packaged Helm chart of a version."""
    return build_chart


@pytest.fixture
def claimable() -> Callable[[Any], Any]:
    """Add download URLs to a stored payload, so the contract models can validate it."""
    return with_download_urls


@dataclass
class Release:
    """A received release: its deployment row and (when downloaded) its stored artifact."""

    deployment: ScheduledDeployment
    artifact: LocalArtifact | None

    @property
    def id(self) -> uuid.UUID:
        return self.deployment.id


ReleaseFactory = Callable[..., Awaitable[Release]]
TaskFactory = Callable[..., Awaitable[AgentTask]]


@pytest.fixture
async def backend_store(backend_settings: Settings) -> AsyncIterator[ObjectStore]:
    """The backend's bucket, opened."""
    async with build_store(backend_settings) as store:
        yield store


@pytest.fixture
def release_factory(
    backend_sessions: SessionFactory, gcc_clock: ManualClock, backend_store: ObjectStore
) -> ReleaseFactory:
    """Insert a received release (and store its chart unless ``downloaded=False``)."""

    async def create(
        version: str = "2.3.0",
        *,
        status: str = LocalDeploymentStatus.PENDING,
        downloaded: bool = True,
        is_forced: bool = False,
        received_at: datetime | None = None,
        new_envs: list[dict[str, str]] | None = None,
        is_current: bool = False,
        artifact_type: ArtifactType = ArtifactType.HELM,
        **fields: Any,
    ) -> Release:
        received = received_at or gcc_clock.now()
        chart = build_chart(version)
        sha256 = hashlib.sha256(chart).hexdigest()
        webhook = ReleasePublishedWebhook(
            release=PublishedRelease(
                id=uuid.uuid4(),
                version=version,  # type: ignore[arg-type]
                chart_version=version,  # type: ignore[arg-type]
                chart_sha256=sha256,
                image_tags={service: f"{tag}-{version}" for service, tag in IMAGE_TAGS.items()},
                new_non_essential_envs=new_envs or [],  # type: ignore[arg-type]
            ),
            ruleset=ReleaseRuleset(
                is_forced=is_forced, release_notes=f"Notes of {version}", is_migration_required=True
            ),
        )
        key = artifact_key(artifact_type, version)
        deployment = ScheduledDeployment(
            gcc_release_id=webhook.release.id,
            release_name=f"v{version}",
            version=version,
            release_data=webhook.model_dump(mode="json"),
            artifact_type=artifact_type,
            expected_sha256=sha256,
            is_forced=is_forced,
            force_deadline=received + timedelta(hours=24) if is_forced else None,
            received_at=received,
            chart_bucket_path=key if downloaded else None,
            chart_downloaded=downloaded,
            status=status,
            created_at=received,
            updated_at=received,
            **fields,
        )
        artifact = None
        if downloaded:
            await _put_bytes(backend_store, key, chart)
            artifact = LocalArtifact(
                version=version,
                type=artifact_type,
                bucket_key=key,
                sha256=sha256,
                size_bytes=len(chart),
                is_current=is_current,
                created_at=received,
            )
        async with backend_sessions() as session:
            session.add(deployment)
            if artifact is not None:
                session.add(artifact)
            await session.commit()
        return Release(deployment, artifact)

    return create


async def _put_bytes(store: ObjectStore, key: str, data: bytes) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield data

    await store.put_stream(key, chunks())


@pytest.fixture
def task_factory(backend_sessions: SessionFactory, gcc_clock: ManualClock) -> TaskFactory:
    """Insert an agent task directly."""

    async def create(
        *,
        deployment_id: uuid.UUID | None = None,
        type: str = AgentTaskType.DEPLOY,
        status: str = AgentTaskStatus.PENDING,
        execute_after: datetime | None = None,
        payload: dict[str, Any] | None = None,
        **fields: Any,
    ) -> AgentTask:
        now = gcc_clock.now()
        task = AgentTask(
            type=type,
            status=status,
            deployment_id=deployment_id,
            payload=payload or {"version": "2.3.0"},
            execute_after=execute_after or now,
            created_at=now,
            updated_at=now,
            **fields,
        )
        async with backend_sessions() as session:
            session.add(task)
            await session.commit()
        return task

    return create


@pytest.fixture
def add_log_lines(
    backend_sessions: SessionFactory, gcc_clock: ManualClock
) -> Callable[..., Awaitable[list[int]]]:
    """Insert log lines of a task, as the agent's log endpoint would; their ids."""

    async def add(task_id: uuid.UUID, *texts: str, stream: str = "stdout") -> list[int]:
        lines = [
            TaskLogLine(task_id=task_id, logged_at=gcc_clock.now(), stream=stream, line=text)
            for text in texts
        ]
        async with backend_sessions() as session:
            session.add_all(lines)
            await session.commit()
            return [line.id for line in lines if line.id is not None]

    return add


@pytest.fixture
def set_agent_poll(backend_sessions: SessionFactory) -> Callable[[datetime], Awaitable[None]]:
    """Record an agent poll at a time, as the agent's poll endpoint would."""

    async def record(moment: datetime) -> None:
        async with backend_sessions() as session:
            state = await session.get(InstallationState, 1)
            if state is None:
                state = InstallationState(id=1)
            state.last_agent_poll_at = moment
            session.add(state)
            await session.commit()

    return record


@pytest.fixture
def record_history(
    backend_sessions: SessionFactory, gcc_clock: ManualClock
) -> Callable[..., Awaitable[DeploymentHistory]]:
    """Insert a deployment history row."""

    async def record(release: Release, **fields: Any) -> DeploymentHistory:
        deployment = release.deployment
        row = DeploymentHistory(
            deployment_id=fields.pop("deployment_id", deployment.id),
            gcc_release_id=fields.pop("gcc_release_id", deployment.gcc_release_id),
            release_name=deployment.release_name,
            version=deployment.version,
            deployed_at=fields.pop("deployed_at", gcc_clock.now()),
            status=fields.pop("status", LocalDeploymentStatus.SUCCESS),
            **fields,
        )
        async with backend_sessions() as session:
            session.add(row)
            await session.commit()
        return row

    return record


@dataclass
class Rows:
    """Reads of the backend's tables for assertions."""

    sessions: SessionFactory

    async def notifications(self, event: str | None = None) -> list[Notification]:
        """Queued emails, oldest first, optionally of one event."""
        async with self.sessions() as session:
            statement = select(Notification).order_by(col(Notification.created_at))
            if event is not None:
                statement = statement.where(Notification.event == event)
            return list((await session.exec(statement)).all())

    async def outbox(self) -> list[GccOutboxMessage]:
        """Reports waiting for GCC, oldest first."""
        async with self.sessions() as session:
            result = await session.exec(
                select(GccOutboxMessage).order_by(col(GccOutboxMessage.created_at))
            )
            return list(result.all())

    async def get(self, model: Any, key: Any) -> Any:
        """A fresh copy of a row."""
        async with self.sessions() as session:
            return await session.get(model, key)

    async def tasks(self) -> list[AgentTask]:
        """Every agent task, oldest first."""
        async with self.sessions() as session:
            result = await session.exec(select(AgentTask).order_by(col(AgentTask.created_at)))
            return list(result.all())

    async def history(self) -> list[DeploymentHistory]:
        """Every history row, oldest first."""
        async with self.sessions() as session:
            result = await session.exec(
                select(DeploymentHistory).order_by(col(DeploymentHistory.deployed_at))
            )
            return list(result.all())


@pytest.fixture
def rows(backend_sessions: SessionFactory) -> Rows:
    """Reads of the backend's tables (emptied for this test)."""
    return Rows(backend_sessions)
