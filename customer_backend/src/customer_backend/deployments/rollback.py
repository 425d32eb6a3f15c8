"""Admin rollbacks: to a Helm revision, by re-deploying an earlier version, or one step back.

A rollback by version uses that version's artifact and the essential configuration revision it
ran with. When retention removed the artifact from the customer bucket, it is fetched again
from GCC (which keeps more versions) and verified before it is stored. A rollback naming
neither goes back one step, as the v4.2 agent did: Helm to its previous revision
(``helm rollback RELEASE``, Helm knows which), Compose and GitOps to the version whose artifact
is flagged previous.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    SHA256_PATTERN,
    AgentTaskType,
    ArtifactType,
    DeploymentType,
    RollbackRequest,
)
from customer_backend.agent_tasks import queue as agent_queue
from customer_backend.agent_tasks.models import AgentTask
from customer_backend.artifacts import service as artifact_service
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.artifacts.service import ChecksumMismatch
from customer_backend.config import service as config_service
from customer_backend.deployments import bundles, repository
from customer_backend.deployments.service import ensure_nothing_active
from customer_backend.notifications.events import EmailEventName
from customer_backend.notifications.service import notify_admins
from customer_backend.settings import Settings
from objectstore import ObjectStore
from servicekit.errors import InvalidInput, NotFound, ServiceError
from timekeeping import Clock

log = structlog.get_logger(__name__)

SHA256 = re.compile(SHA256_PATTERN)


class GccUnavailable(ServiceError):
    """GCC could not supply an artifact it should have (down, or bytes that do not verify)."""

    status_code = 502
    code = "gcc_unavailable"


async def request_rollback(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    object_store: ObjectStore,
    gcc: httpx.AsyncClient,
    request: RollbackRequest,
    admin_email: str,
) -> AgentTask:
    """Queue a rollback task for the agent.

    409 while a deployment is active; 422 for a revision on Compose or GitOps; 404 when the
    version's artifact is neither in the bucket nor at GCC, or when nothing ran before.
    """
    payload = await _rollback_payload(
        session,
        clock=clock,
        settings=settings,
        object_store=object_store,
        gcc=gcc,
        request=request,
    )
    now = clock.now()
    task = await agent_queue.queue_task(
        session,
        task_type=AgentTaskType.ROLLBACK,
        payload=payload,
        execute_after=now,
        created_by=admin_email,
        now=now,
    )
    await notify_admins(
        session,
        clock=clock,
        event=EmailEventName.ROLLBACK_STARTED,
        dedupe_key=f"rollback_started:{task.id}",
        context={
            "taskId": str(task.id),
            "targetRevision": request.target_revision,
            "targetVersion": payload["targetVersion"],
            "toPrevious": payload["toPrevious"],
            "requestedBy": admin_email,
        },
    )
    log.info(
        "deployment.rollback.accepted",
        task_id=str(task.id),
        target_revision=request.target_revision,
        target_version=payload["targetVersion"],
        to_previous=payload["toPrevious"],
        admin=admin_email,
    )
    return task


async def _rollback_payload(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    object_store: ObjectStore,
    gcc: httpx.AsyncClient,
    request: RollbackRequest,
) -> dict[str, Any]:
    """The stored payload: by revision, by version, or one step back (``toPrevious``)."""
    if request.target_revision is not None:
        return await _revision_payload(session, settings=settings, revision=request.target_revision)
    if request.target_version is None and settings.deployment_type is DeploymentType.KUBERNETES:
        # Helm knows its previous revision better than our records do.
        await repository.lock_deployments(session)
        await ensure_nothing_active(session)
        return {"targetRevision": None, "targetVersion": None, "release": None, "toPrevious": True}
    payload = await _version_payload(
        session,
        clock=clock,
        settings=settings,
        object_store=object_store,
        gcc=gcc,
        version=await _version_to_roll_back_to(session, settings=settings, request=request),
    )
    payload["toPrevious"] = request.target_version is None
    return payload


async def _version_to_roll_back_to(
    session: AsyncSession, *, settings: Settings, request: RollbackRequest
) -> str:
    """The version the request names, or else the one that ran before the current one."""
    if request.target_version is not None:
        return str(request.target_version)
    artifact_type = settings.deployment_type.artifact_type
    previous = await artifact_service.previous_version(session, artifact_type=artifact_type)
    if previous is None:
        raise NotFound(
            "There is no previous version to roll back to: this installation has recorded "
            "only one successful deployment. Name a targetVersion instead.",
            field="targetVersion",
        )
    return previous


async def _revision_payload(
    session: AsyncSession, *, settings: Settings, revision: int
) -> dict[str, Any]:
    """A rollback to a Helm revision; 422 where there are no Helm revisions, 409 while busy."""
    if settings.deployment_type is DeploymentType.DOCKER:
        raise InvalidInput(
            "Docker Compose has no revisions to roll back to; use targetVersion.",
            field="targetRevision",
        )
    if settings.deployment_type is DeploymentType.GITOPS:
        raise InvalidInput(
            "A GitOps installation has no Helm revisions here (the cluster's GitOps tool "
            "applies the commits); use targetVersion.",
            field="targetRevision",
        )
    await repository.lock_deployments(session)
    await ensure_nothing_active(session)
    return {"targetRevision": revision, "targetVersion": None, "release": None, "toPrevious": False}


async def _version_payload(
    session: AsyncSession,
    *,
    clock: Clock,
    settings: Settings,
    object_store: ObjectStore,
    gcc: httpx.AsyncClient,
    version: str,
) -> dict[str, Any]:
    """A rollback re-deploying ``version`` with the configuration it ran with; 409 while busy."""
    deployment_type = settings.deployment_type
    # Refuse early, before a download from GCC, then check again under the lock.
    await ensure_nothing_active(session)
    artifact = await available_artifact(
        session,
        clock=clock,
        object_store=object_store,
        gcc=gcc,
        version=version,
        artifact_type=deployment_type.artifact_type,
    )
    await repository.lock_deployments(session)
    await ensure_nothing_active(session)
    current_config = await config_service.ensure_essential_config(
        session, clock=clock, object_store=object_store, deployment_type=deployment_type
    )
    return {
        "targetRevision": None,
        "targetVersion": version,
        "release": await bundles.bundle_of_version(
            session,
            artifact=artifact,
            current_config=current_config,
            deployment_type=deployment_type,
        ),
    }


async def available_artifact(
    session: AsyncSession,
    *,
    clock: Clock,
    object_store: ObjectStore,
    gcc: httpx.AsyncClient,
    version: str,
    artifact_type: ArtifactType,
) -> LocalArtifact:
    """The version's artifact in the bucket, fetched again from GCC when it is gone; 404 if
    neither has it."""
    artifact = await artifact_service.get_artifact(
        session, version=version, artifact_type=artifact_type
    )
    if (
        artifact is not None
        and artifact.removed_at is None
        and await object_store.head(artifact.bucket_key) is not None
    ):
        return artifact
    known_sha256 = artifact.sha256 if artifact is not None else None
    deployment = await repository.latest_deployment_of_version(session, version)
    if deployment is not None and deployment.artifact_type == artifact_type:
        known_sha256 = deployment.expected_sha256
    return await fetch_from_gcc(
        session,
        clock=clock,
        object_store=object_store,
        gcc=gcc,
        version=version,
        artifact_type=artifact_type,
        known_sha256=known_sha256,
    )


async def fetch_from_gcc(
    session: AsyncSession,
    *,
    clock: Clock,
    object_store: ObjectStore,
    gcc: httpx.AsyncClient,
    version: str,
    artifact_type: ArtifactType,
    known_sha256: str | None,
) -> LocalArtifact:
    """Download the artifact from GCC into the bucket and record it.

    The bytes must hash to GCC's ``X-Sha256`` and, when this backend recorded the version's
    digest before, to that too; otherwise the upload is aborted and nothing is stored.
    """
    key = artifact_service.artifact_key(artifact_type, version)
    path = f"/api/artifacts/charts/{version}"
    try:
        async with gcc.stream("GET", path, params={"type": str(artifact_type)}) as response:
            if response.status_code in (404, 410):
                raise NotFound(
                    f"Version {version} is not available: the {artifact_type} artifact is "
                    "neither in this installation's bucket nor at GCC.",
                    field="targetVersion",
                )
            if response.status_code != 200:
                raise GccUnavailable(
                    f"GCC answered {response.status_code} for the {artifact_type} artifact of "
                    f"{version}; try again later."
                )
            announced = response.headers.get("X-Sha256", "").strip().lower()
            if SHA256.fullmatch(announced) is None:
                raise GccUnavailable(f"GCC sent the artifact of {version} without X-Sha256.")
            if known_sha256 is not None and announced != known_sha256:
                raise GccUnavailable(
                    f"GCC's SHA256 of {version} differs from the one received with the release."
                )
            info = await object_store.put_stream(
                key,
                _verified(response.aiter_bytes(), announced),
                content_type="application/gzip",
            )
    except httpx.HTTPError as error:
        log.warning("deployment.rollback.gcc_unreachable", version=version, error=str(error))
        raise GccUnavailable(f"GCC could not be reached for version {version}.") from None
    except ChecksumMismatch as error:
        log.error("deployment.rollback.checksum_mismatch", version=version, error=str(error))
        raise GccUnavailable(
            f"The artifact of {version} downloaded from GCC does not match its SHA256; "
            "it was not stored."
        ) from None
    log.info("deployment.rollback.artifact_fetched", version=version, key=key, size=info.size)
    return await artifact_service.record_artifact(
        session, clock=clock, version=version, artifact_type=artifact_type, info=info
    )


async def _verified(chunks: AsyncIterator[bytes], expected: str) -> AsyncIterator[bytes]:
    # Raising before the stream ends makes put_stream abort: a bad artifact is never stored.
    digest = hashlib.sha256()
    async for chunk in chunks:
        digest.update(chunk)
        yield chunk
    if digest.hexdigest() != expected:
        raise ChecksumMismatch(f"the artifact hashes to {digest.hexdigest()}, not {expected}")
