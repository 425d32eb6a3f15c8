"""Tasks in the real customer backend, stored as its scheduler stores them.

Files go into the backend's bucket (moto S3 over HTTP); the task row's payload is the contract's
``DeployPayload`` / ``RollbackPayload`` dumped to JSON without the download URLs, which the
backend presigns when the agent claims the task.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import select

from contracts import ArtifactType, DeploymentType, ReleaseManifest
from customer_backend.agent_tasks.models import AgentTask, TaskLogLine
from objectstore import ObjectStore
from servicekit.db import SessionFactory
from signing import SigningKey, sign_manifest
from testsupport.gcc_fixtures import CLOCK_START
from testsupport.manifest_keys import TEST_SIGNING_KEY
from timekeeping import ManualClock


@dataclass(frozen=True)
class StoredFile:
    """An object in the backend's bucket, as a task refers to it."""

    key: str
    sha256: str
    size: int

    def ref(self) -> dict[str, Any]:
        """The stored ``FileRef`` (no download URL)."""
        return {"bucketPath": self.key, "sha256": self.sha256, "sizeBytes": self.size}


MANIFEST_ISSUED_AT = CLOCK_START - timedelta(days=1)
MANIFEST_EXPIRES_AT = CLOCK_START + timedelta(days=30)


def signed_manifest(
    version: str,
    chart: StoredFile,
    *,
    artifact_type: ArtifactType,
    image_tags: dict[str, str],
    key: SigningKey = TEST_SIGNING_KEY,
    **fields: Any,
) -> dict[str, Any]:
    """The manifest GCC would sign for a release of that one artifact, signed with ``key``
    (the test key the agents trust), valid around the tests' clock; ``fields`` on top."""
    deployment_types = (
        [DeploymentType.DOCKER]
        if artifact_type is ArtifactType.COMPOSE
        else [DeploymentType.GITOPS, DeploymentType.KUBERNETES]
    )
    values: dict[str, Any] = {
        "release_id": uuid.uuid5(uuid.NAMESPACE_URL, f"release/{version}"),
        "version": version,
        "deployment_types": deployment_types,
        "artifacts": [
            {
                "type": artifact_type,
                "object_name": f"charts/{artifact_type}/wrktalk-{version}.tgz",
                "sha256": chart.sha256,
                "size_bytes": chart.size,
            }
        ],
        "image_tags": image_tags,
        "is_forced": False,
        "issued_at": MANIFEST_ISSUED_AT,
        "expires_at": MANIFEST_EXPIRES_AT,
        "key_id": key.key_id,
        **fields,
    }
    manifest = ReleaseManifest.model_validate(values)
    return sign_manifest(manifest, key).model_dump(mode="json")


def bundle(
    version: str,
    chart: StoredFile,
    *,
    artifact_type: ArtifactType,
    image_tags: dict[str, str],
    values: StoredFile | None = None,
    env: StoredFile | None = None,
    manifest: dict[str, Any] | None = None,
    signed: bool = True,
) -> dict[str, Any]:
    """A stored ``ReleaseBundle`` with its signed manifest (``manifest``, or one signed with
    the test key; none with ``signed=False``)."""
    if manifest is None and signed:
        manifest = signed_manifest(
            version, chart, artifact_type=artifact_type, image_tags=image_tags
        )
    return {
        "version": version,
        "chart": {**chart.ref(), "type": str(artifact_type), "version": version},
        "imageTags": image_tags,
        "values": values.ref() if values else None,
        "env": env.ref() if env else None,
        "manifest": manifest,
    }


class BackendTasks:
    """Puts files and tasks into the backend under test and reads back what became of them."""

    def __init__(self, *, store: ObjectStore, sessions: SessionFactory, clock: ManualClock):
        self.store = store
        self.sessions = sessions
        self.clock = clock

    async def put(self, key: str, data: bytes) -> StoredFile:
        """Store ``data`` at ``key``."""

        async def chunks() -> AsyncIterator[bytes]:
            yield data

        await self.store.put_stream(key, chunks())
        return StoredFile(key, hashlib.sha256(data).hexdigest(), len(data))

    async def add_task(self, task_type: str, payload: dict[str, Any]) -> uuid.UUID:
        """A pending task, due now by the backend's clock."""
        now = self.clock.now()
        task = AgentTask(
            type=task_type,
            status="pending",
            payload=payload,
            execute_after=now,
            created_by="tests@acme.example",
            created_at=now,
            updated_at=now,
        )
        async with self.sessions() as session:
            session.add(task)
            await session.commit()
            return task.id

    async def task(self, task_id: uuid.UUID) -> AgentTask:
        """The task row as it is now."""
        async with self.sessions() as session:
            result = await session.exec(select(AgentTask).where(AgentTask.id == task_id))
            return result.one()

    async def log_lines(self, task_id: uuid.UUID) -> list[TaskLogLine]:
        """The task's log lines in the order the agent sent them."""
        async with self.sessions() as session:
            result = await session.exec(
                select(TaskLogLine).where(TaskLogLine.task_id == task_id).order_by(TaskLogLine.id)  # type: ignore[arg-type]
            )
            return list(result.all())
