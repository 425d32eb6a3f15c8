"""The life of a release: created as a draft by CI, published to the fleet, deprecated."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import ArtifactType, ReleaseCreateRequest, ReleaseStatus
from gcc.artifacts import repository as artifact_repository
from gcc.artifacts.service import parse_version_text
from gcc.releases import repository
from gcc.releases.fanout import FanOut, plan_fan_out
from gcc.releases.models import Release
from servicekit.db import after_commit
from servicekit.errors import Conflict, InvalidInput, NotFound
from timekeeping import Clock

log = structlog.get_logger(__name__)

DISPATCH_TASK = "delivery.dispatch_due"
"""The Celery task that sends the webhooks of due deployment targets."""


async def _require_known_targets(session: AsyncSession, names: list[str] | None) -> None:
    if not names:
        return
    unknown = sorted(set(names) - await repository.active_organization_names(session, names))
    if unknown:
        raise InvalidInput(
            f"targets: no active organization is named {', '.join(unknown)}", field="targets"
        )


async def create_release(
    session: AsyncSession, *, clock: Clock, request: ReleaseCreateRequest, created_by: str
) -> Release:
    """Create a draft release, or overwrite the draft of the same version.

    A published or deprecated version cannot be recreated: 409.
    """
    version = str(request.version)
    await _require_known_targets(session, request.targets)
    now = clock.now()
    values: dict[str, Any] = {
        "image_tags": dict(request.image_tags),
        "is_forced": request.is_forced,
        "is_migration_required": request.is_migration_required,
        "estimated_downtime": request.estimated_downtime,
        "min_current_version": (
            str(request.min_current_version) if request.min_current_version else None
        ),
        "release_notes": request.release_notes,
        "new_non_essential_envs": [
            env.model_dump(mode="json") for env in request.new_non_essential_envs
        ],
        "target_organizations": list(request.targets) if request.targets else None,
        "created_by": created_by,
        "updated_at": now,
    }
    release = await repository.get_by_version(session, version, for_update=True)
    if release is None:
        release = Release(
            id=uuid.uuid4(),
            version=version,
            status=ReleaseStatus.DRAFT,
            created_at=now,
            **values,
        )
        session.add(release)
        outcome = "created"
    elif release.status == ReleaseStatus.DRAFT:
        for name, value in values.items():
            setattr(release, name, value)
        outcome = "overwritten"
    else:
        raise Conflict(
            f"Release {version} is {release.status} and cannot be changed.", field="version"
        )
    try:
        await session.flush()
    except IntegrityError:
        # Another request created the same version between our read and this insert.
        raise Conflict(
            f"Release {version} was created concurrently; retry.", field="version"
        ) from None
    log.info("release.create.completed", version=version, outcome=outcome, by=created_by)
    return release


@dataclass(frozen=True)
class PublishOutcome:
    """A published release and how its fan-out went."""

    release: Release
    fan_out: FanOut


async def publish_release(
    session: AsyncSession,
    *,
    clock: Clock,
    version_text: str,
    send_task: Callable[..., Any],
) -> PublishOutcome:
    """Publish a draft: create a deployment target per eligible organization.

    The Helm chart must have been uploaded (422). Organizations with an expired license or a
    version below ``minCurrentVersion`` get no target but an escalation. Webhook delivery is
    enqueued once the transaction commits.
    """
    version = str(parse_version_text(version_text))
    release = await repository.get_by_version(session, version, for_update=True)
    if release is None:
        raise NotFound(f"There is no release {version}.", field="version")
    if release.status != ReleaseStatus.DRAFT:
        raise Conflict(f"Release {version} is already {release.status}.", field="version")
    available = {
        ArtifactType(artifact.type)
        for artifact in await artifact_repository.for_versions(session, [version])
        if artifact.removed_at is None
    }
    if ArtifactType.HELM not in available:
        raise InvalidInput(
            f"helm: release {version} has no Helm chart; upload "
            f"charts/helm/wrktalk-{version}.tgz before publishing",
            field="helm",
        )
    now = clock.now()
    fan_out = await plan_fan_out(
        session, clock=clock, release=release, available=available, now=now
    )
    await repository.insert_targets(
        session, release_id=release.id, organization_ids=fan_out.organization_ids, now=now
    )
    release.status = ReleaseStatus.PUBLISHED
    release.published_at = now
    release.updated_at = now
    await session.flush()
    if fan_out.organization_ids:
        after_commit(session, lambda: send_task(DISPATCH_TASK))
    log.info(
        "release.publish.completed",
        version=version,
        targets=len(fan_out.organization_ids),
        license_expired=fan_out.license_expired,
        below_min_version=fan_out.below_min_version,
        without_artifact=fan_out.without_artifact,
    )
    return PublishOutcome(release=release, fan_out=fan_out)


async def deprecate_release(session: AsyncSession, *, clock: Clock, version_text: str) -> Release:
    """Deprecate a published release: it is no longer offered by the updates poll."""
    version = str(parse_version_text(version_text))
    release = await repository.get_by_version(session, version, for_update=True)
    if release is None:
        raise NotFound(f"There is no release {version}.", field="version")
    if release.status == ReleaseStatus.DRAFT:
        raise Conflict(
            f"Release {version} is a draft; only a published release can be deprecated.",
            field="version",
        )
    if release.status == ReleaseStatus.DEPRECATED:
        raise Conflict(f"Release {version} is already deprecated.", field="version")
    now = clock.now()
    release.status = ReleaseStatus.DEPRECATED
    release.deprecated_at = now
    release.updated_at = now
    await session.flush()
    log.info("release.deprecate.completed", version=version)
    return release
