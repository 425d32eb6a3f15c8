"""The life of a release: created as a draft by CI, published to the fleet, deprecated; and
what operators and customers read of it.

The functions the routes call answer with contracts (mapped by :mod:`gcc.releases.views`).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import (
    ArtifactType,
    AuditAction,
    InvalidVersionError,
    OperatorReleaseDetail,
    OperatorReleaseList,
    OperatorReleaseSummary,
    ReleaseCreateRequest,
    ReleaseCreateResponse,
    ReleasePublishResponse,
    ReleaseStatus,
    RolloutPlan,
    SignedManifest,
    parse_version_text,
)
from gcc.artifacts import service as artifact_service
from gcc.audit import service as audit_service
from gcc.audit.service import Actor
from gcc.organizations import service as organization_service
from gcc.releases import manifests, repository, views, waves
from gcc.releases.fanout import plan_fan_out
from gcc.releases.manifests import ManifestSigner
from gcc.releases.models import Release
from servicekit.db import after_commit
from servicekit.errors import Conflict, InvalidInput, NotFound
from telemetry import current_traceparent, span
from timekeeping import Clock

log = structlog.get_logger(__name__)

DISPATCH_TASK = "delivery.dispatch_due"
"""The Celery task that sends the webhooks of due deployment targets."""


class CreateOutcome(enum.StrEnum):
    """What creating a release did to the stored draft."""

    CREATED = "created"
    OVERWRITTEN = "overwritten"


def _version_text(version_text: str) -> str:
    """The canonical text of a version from a path or a command line; 422 when it is none."""
    try:
        return str(parse_version_text(version_text))
    except InvalidVersionError as exc:
        raise InvalidInput(f"version: {exc}", field="version") from None


async def get_release(
    session: AsyncSession, *, version_text: str, for_update: bool = False
) -> Release:
    """The release of that version; 422 for a text that is no version, 404 for no release."""
    version = _version_text(version_text)
    release = await repository.get_by_version(session, version, for_update=for_update)
    if release is None:
        raise NotFound(f"There is no release {version}.", field="version")
    return release


async def get_release_by_id(session: AsyncSession, *, release_id: uuid.UUID) -> Release:
    """The release of that id; 404 naming ``releaseId`` (the field reports carry it in)."""
    release = await repository.get_by_id(session, release_id)
    if release is None:
        raise NotFound(f"There is no release with id {release_id}.", field="releaseId")
    return release


async def release_status(
    session: AsyncSession, *, version: str, lock: bool = False
) -> ReleaseStatus | None:
    """The status of the release of ``version`` (canonical text), None when there is none.

    With ``lock`` the release stays locked until the transaction ends: an artifact upload
    holds it so that the release is not published in the middle of the upload.
    """
    release = await repository.get_by_version(session, version, for_update=lock)
    return None if release is None else ReleaseStatus(release.status)


async def manifest_of_version(
    session: AsyncSession, *, version: str, signer: ManifestSigner | None, now: datetime
) -> SignedManifest | None:
    """The manifest of the release of ``version`` (canonical text) as sent now; None when
    there is no such release or it was published unsigned."""
    release = await repository.get_by_version(session, version)
    if release is None:
        return None
    return manifests.current_manifest(release, signer=signer, now=now)


async def release_status_seen_by(
    session: AsyncSession, *, version: str, organization_name: str
) -> ReleaseStatus | None:
    """The status of the release of ``version`` as one organization may know it: None when
    there is none, and when the release names its targets and the organization is not among
    them (its artifacts are then another customer's business, so not even their existence is
    told)."""
    release = await repository.get_by_version(session, version)
    if release is None:
        return None
    targets = release.target_organizations
    if targets is not None and organization_name not in targets:
        return None
    return ReleaseStatus(release.status)


async def _require_known_targets(session: AsyncSession, names: list[str] | None) -> None:
    if not names:
        return
    unknown = sorted(
        set(names) - await organization_service.active_organization_names(session, names)
    )
    if unknown:
        raise InvalidInput(
            f"targets: no active organization is named {', '.join(unknown)}", field="targets"
        )


async def _refuse_same_precedence_as_published(session: AsyncSession, version: str) -> None:
    """409 when a published release equals ``version`` by precedence: ``1.1.0+other`` beside a
    published ``1.1.0`` would be the same version to every comparison, so neither could be
    told apart as newer."""
    published = await repository.published_of_same_precedence(session, version)
    if published is not None:
        raise Conflict(
            f"Release {published} is published and {version} differs from it only in build "
            "metadata, which semantic versioning ignores; choose another version.",
            field="version",
        )


async def create_release(
    session: AsyncSession, *, clock: Clock, request: ReleaseCreateRequest, created_by: str
) -> ReleaseCreateResponse:
    """Create a draft release, or overwrite the draft of the same version.

    A published or deprecated version cannot be recreated, nor one that differs from it only
    in build metadata: 409.
    """
    version = str(request.version)
    await _require_known_targets(session, request.targets)
    await _refuse_same_precedence_as_published(session, version)
    now = clock.now()
    values = _draft_values(request, created_by=created_by)
    values["updated_at"] = now
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
        outcome = CreateOutcome.CREATED
    elif release.status == ReleaseStatus.DRAFT:
        for name, value in values.items():
            setattr(release, name, value)
        outcome = CreateOutcome.OVERWRITTEN
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
    log.info("release.create.completed", version=version, outcome=str(outcome), by=created_by)
    return views.created_view(release)


def _draft_values(request: ReleaseCreateRequest, *, created_by: str) -> dict[str, Any]:
    """The columns of a draft as the request gives them."""
    return {
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
    }


async def publish_release(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Actor,
    version_text: str,
    send_task: Callable[..., Any],
    signer: ManifestSigner | None = None,
    forced_deadline: timedelta = timedelta(hours=24),
    plan: RolloutPlan | None = None,
    rings: Sequence[str] = (),
) -> ReleasePublishResponse:
    """Publish a draft: create a deployment target per eligible organization.

    With a rollout ``plan`` (naming only ``rings``) each target joins its wave and only the
    first wave is notified now; the rollout (:mod:`gcc.rollouts`) notifies the others.

    The Helm chart must have been uploaded (422); a published release that differs only in
    build metadata is a 409. Organizations with an expired license or a version below
    ``minCurrentVersion`` get no target but an escalation. With ``signer`` the release's
    manifest is signed and stored with it (``forced_deadline`` after now is the deadline a
    forced one states). Webhook delivery is enqueued once the transaction commits. The
    ``release.publish`` span, which the release keeps, carries its trace to every customer.
    """
    with span("release.publish", attributes={"release.version": version_text}):
        return await _publish_release(
            session,
            clock=clock,
            actor=actor,
            version_text=version_text,
            send_task=send_task,
            signer=signer,
            forced_deadline=forced_deadline,
            plan=plan,
            rings=rings,
        )


async def _publishable_draft(
    session: AsyncSession, version_text: str
) -> tuple[Release, set[ArtifactType]]:
    """The draft to publish, locked, with its artifact types; 409 when it is no draft or a
    published release has its precedence, 422 without a Helm chart."""
    release = await get_release(session, version_text=version_text, for_update=True)
    version = release.version
    if release.status != ReleaseStatus.DRAFT:
        raise Conflict(f"Release {version} is already {release.status}.", field="version")
    await _refuse_same_precedence_as_published(session, version)
    available = (await artifact_service.available_types(session, [version])).get(version, set())
    if ArtifactType.HELM not in available:
        raise InvalidInput(
            f"helm: release {version} has no Helm chart; upload "
            f"charts/helm/wrktalk-{version}.tgz before publishing",
            field="helm",
        )
    return release, available


async def _publish_release(
    session: AsyncSession,
    *,
    clock: Clock,
    actor: Actor,
    version_text: str,
    send_task: Callable[..., Any],
    signer: ManifestSigner | None,
    forced_deadline: timedelta,
    plan: RolloutPlan | None,
    rings: Sequence[str],
) -> ReleasePublishResponse:
    if plan is not None:
        waves.check_rings(plan, rings)
    release, available = await _publishable_draft(session, version_text)
    version = release.version
    now = clock.now()
    fan_out = await plan_fan_out(
        session, clock=clock, release=release, available=available, now=now
    )
    await waves.create_targets(session, release=release, fan_out=fan_out, plan=plan, now=now)
    release.status = ReleaseStatus.PUBLISHED
    release.published_at = now
    release.updated_at = now
    release.trace_parent = current_traceparent()
    await manifests.sign_at_publish(
        session, release=release, signer=signer, forced_deadline=forced_deadline, now=now
    )
    await session.flush()
    if fan_out.organization_ids:
        after_commit(session, lambda: send_task(DISPATCH_TASK))
    await audit_service.record(
        session,
        clock=clock,
        actor=actor,
        action=AuditAction.RELEASE_PUBLISH,
        release_version=version,
        details=fan_out.counts(),
    )
    log.info(
        "release.publish.completed",
        release_id=str(release.id),
        version=version,
        targets=len(fan_out.organization_ids),
        license_expired=fan_out.license_expired,
        below_min_version=fan_out.below_min_version,
        without_artifact=fan_out.without_artifact,
        is_signed=release.signed_manifest is not None,
    )
    return views.published_view(release, fan_out)


async def deprecate_release(
    session: AsyncSession, *, clock: Clock, actor: Actor, version_text: str
) -> OperatorReleaseSummary:
    """Deprecate a published release: it is no longer offered by the updates poll."""
    release = await get_release(session, version_text=version_text, for_update=True)
    version = release.version
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
    await audit_service.record(
        session,
        clock=clock,
        actor=actor,
        action=AuditAction.RELEASE_DEPRECATE,
        release_version=version,
    )
    log.info("release.deprecate.completed", version=version)
    return views.summary_view(release)


async def list_releases(session: AsyncSession) -> OperatorReleaseList:
    """Every release, newest first, with its target counts."""
    releases = await repository.list_newest_first(session)
    counts = await repository.target_counts(session, (release.id for release in releases))
    return views.list_view(releases, counts)


async def release_detail(session: AsyncSession, *, version_text: str) -> OperatorReleaseDetail:
    """One release with its artifacts and the delivery and deployment of every target."""
    release = await get_release(session, version_text=version_text)
    counts = await repository.target_counts(session, [release.id])
    artifacts = await artifact_service.artifacts_of_version(session, release.version)
    targets = await repository.targets_with_organizations(session, release.id)
    return views.detail_view(release, counts.get(release.id), artifacts, targets)


async def statuses_of_versions(session: AsyncSession, versions: Iterable[str]) -> dict[str, str]:
    """The status of the release of each of ``versions`` that has one."""
    return await repository.statuses_of_versions(session, versions)
