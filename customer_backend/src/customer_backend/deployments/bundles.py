"""The payloads of agent tasks, as stored in ``agent_task.payload``.

They have the shape of the contract's ``DeployPayload`` and ``RollbackPayload`` (camelCase)
except that no file reference carries a ``downloadUrl``: the claim adds a fresh presigned URL to
each one when the agent takes the task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import DeploymentType, NonEssentialEnv
from customer_backend.artifacts import service as artifacts
from customer_backend.artifacts.models import LocalArtifact
from customer_backend.config import service as config_service
from customer_backend.config.models import EssentialConfigVersion
from customer_backend.deployments import repository
from customer_backend.deployments.models import ScheduledDeployment
from objectstore import ObjectStore
from timekeeping import Clock

log = structlog.get_logger(__name__)

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class ReleaseFacts:
    """What the stored release payload (``release_data``) says about a release."""

    image_tags: dict[str, str] = field(default_factory=dict)
    new_non_essential_envs: list[NonEssentialEnv] = field(default_factory=list)
    is_migration_required: bool = False
    estimated_downtime: str | None = None
    release_notes: str | None = None
    manifest: JsonObject | None = None
    """The signed manifest that came with the release (None for one accepted unsigned)."""


def release_facts(deployment: ScheduledDeployment | None) -> ReleaseFacts:
    """Read ``release_data`` (the webhook body: ``{"release": …, "ruleset": …}``) leniently."""
    if deployment is None:
        return ReleaseFacts()
    data = deployment.release_data or {}
    release = data.get("release") if isinstance(data.get("release"), dict) else data
    ruleset = data.get("ruleset") if isinstance(data.get("ruleset"), dict) else {}
    assert isinstance(release, dict)
    assert isinstance(ruleset, dict)
    tags = _first(release, "imageTags", "image_tags")
    image_tags = {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}
    envs: list[NonEssentialEnv] = []
    for item in _first(release, "newNonEssentialEnvs", "new_non_essential_envs") or []:
        try:
            envs.append(NonEssentialEnv.model_validate(item))
        except ValidationError:
            log.warning("deployment.release_data.invalid_env", deployment_id=str(deployment.id))
    return ReleaseFacts(
        image_tags=image_tags,
        new_non_essential_envs=envs,
        is_migration_required=bool(_first(ruleset, "isMigrationRequired", "is_migration_required")),
        estimated_downtime=_first(ruleset, "estimatedDowntime", "estimated_downtime"),
        release_notes=_first(ruleset, "releaseNotes", "release_notes"),
        manifest=data.get("manifest") if isinstance(data.get("manifest"), dict) else None,
    )


def artifact_ref(artifact: LocalArtifact) -> JsonObject:
    """An ``ArtifactRef`` without its download URL."""
    return {
        "bucketPath": artifact.bucket_key,
        "sha256": artifact.sha256,
        "sizeBytes": artifact.size_bytes,
        "type": artifact.type,
        "version": artifact.version,
    }


def config_ref(config: EssentialConfigVersion) -> JsonObject:
    """A ``FileRef`` to an essential configuration revision, without its download URL."""
    return {"bucketPath": config.bucket_key, "sha256": config.sha256, "sizeBytes": None}


def release_bundle(
    *,
    artifact: LocalArtifact,
    image_tags: dict[str, str],
    config: EssentialConfigVersion,
    deployment_type: DeploymentType,
    manifest: JsonObject | None = None,
) -> JsonObject:
    """A ``ReleaseBundle``: chart, image tags, values (Helm) or env (Compose), and the
    release's signed manifest as it was received, which the agent verifies itself."""
    is_compose = deployment_type is DeploymentType.DOCKER
    return {
        "version": artifact.version,
        "chart": artifact_ref(artifact),
        "imageTags": dict(image_tags),
        "values": None if is_compose else config_ref(config),
        "env": config_ref(config) if is_compose else None,
        "manifest": manifest,
    }


async def bundle_of_version(
    session: AsyncSession,
    *,
    artifact: LocalArtifact,
    current_config: EssentialConfigVersion,
    deployment_type: DeploymentType,
) -> JsonObject:
    """The bundle that re-runs ``artifact``'s version with the configuration it ran with.

    Image tags come from the release as received; the configuration is the revision of the
    version's last successful deployment, or the current one when that is unknown.
    """
    deployment = await repository.latest_deployment_of_version(session, artifact.version)
    if deployment is None:
        log.warning("deployment.bundle.image_tags_unknown", version=artifact.version)
    config = current_config
    revision = await repository.config_revision_of_version(session, artifact.version)
    if revision is not None:
        config = await config_service.essential_config_by_revision(session, revision) or config
    facts = release_facts(deployment)
    return release_bundle(
        artifact=artifact,
        image_tags=facts.image_tags,
        config=config,
        deployment_type=deployment_type,
        manifest=facts.manifest,
    )


async def deploy_payload(
    session: AsyncSession,
    *,
    clock: Clock,
    object_store: ObjectStore,
    deployment: ScheduledDeployment,
    artifact: LocalArtifact,
    deployment_type: DeploymentType,
) -> JsonObject:
    """The ``DeployPayload`` of a scheduled deployment: its bundle, the current essential
    configuration, the release's new variables, and the running version as ``previous``."""
    config = await config_service.ensure_essential_config(
        session, clock=clock, object_store=object_store, deployment_type=deployment_type
    )
    facts = release_facts(deployment)
    payload = release_bundle(
        artifact=artifact,
        image_tags=facts.image_tags,
        config=config,
        deployment_type=deployment_type,
        manifest=facts.manifest,
    )
    payload["newNonEssentialEnvs"] = [
        env.model_dump(mode="json") for env in facts.new_non_essential_envs
    ]
    running = await artifacts.current_artifact(session, artifact_type=deployment_type.artifact_type)
    payload["previous"] = (
        await bundle_of_version(
            session, artifact=running, current_config=config, deployment_type=deployment_type
        )
        if running is not None
        else None
    )
    return payload


def _first(mapping: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in mapping:
            return mapping[name]
    return None
