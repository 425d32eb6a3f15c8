"""Operator (and CI) views of releases at GCC: publishing, the release list and its fan-out.

`GET /api/operator/releases` lists releases newest first with how far each one got;
`GET /api/operator/releases/{version}` shows one release with its artifacts and, per targeted
organization, the webhook delivery and the deployment status the customer reported.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from contracts.base import ContractModel
from contracts.common import NonEssentialEnv
from contracts.enums import ArtifactType, DeploymentStatus, DeploymentType, ReleaseStatus
from contracts.primitives import BucketKey, ImageTags, Sha256, Timestamp
from contracts.versions import Version

__all__ = [
    "OperatorArtifactView",
    "OperatorReleaseDetail",
    "OperatorReleaseList",
    "OperatorReleaseSummary",
    "OperatorTargetView",
    "ReleasePublishResponse",
    "ReleaseTargetCounts",
    "TargetDeliveryView",
    "TargetDeploymentView",
]


class ReleaseTargetCounts(ContractModel):
    """How the deployment targets of a release stand, counted."""

    total: int = Field(default=0, ge=0)
    """Organizations the release was sent to (one deployment target each)."""
    acknowledged: int = Field(default=0, ge=0)
    """Targets whose webhook the customer acknowledged."""
    webhook_failed: int = Field(default=0, ge=0)
    """Targets whose webhook failed every attempt (the customer's poll picks them up)."""
    succeeded: int = Field(default=0, ge=0)
    """Targets that reported `success`."""
    failed: int = Field(default=0, ge=0)
    """Targets that reported `failed`, `rolledBack` or `deadlineExceeded`."""


class OperatorReleaseSummary(ContractModel):
    """One release in the operators' list."""

    id: UUID
    """The release's id."""
    version: Version
    """The release version."""
    status: ReleaseStatus
    """`draft`, `published` or `deprecated`."""
    is_forced: bool = False
    """Must be deployed within 24 hours."""
    is_migration_required: bool = False
    """The release migrates data."""
    min_current_version: Version | None = None
    """Organizations below this version are not sent the release."""
    created_by: str
    """Who created the release (`ci` or `operator`)."""
    created_at: Timestamp
    """When the release was created (or last overwritten as a draft)."""
    published_at: Timestamp | None = None
    """When it was published."""
    deprecated_at: Timestamp | None = None
    """When it was deprecated."""
    targets: ReleaseTargetCounts = Field(default_factory=ReleaseTargetCounts)
    """How its deployment targets stand."""


class OperatorReleaseList(ContractModel):
    """Answer to `GET /api/operator/releases`: newest first."""

    releases: list[OperatorReleaseSummary] = Field(default_factory=list)
    """Every release, newest first."""


class OperatorArtifactView(ContractModel):
    """An artifact stored for a release version."""

    id: UUID
    """The artifact's id."""
    type: ArtifactType
    """Helm chart or Compose bundle."""
    bucket_path: BucketKey
    """Key in the GCC bucket."""
    sha256: Sha256
    """SHA256 of the stored bytes."""
    size_bytes: int = Field(ge=0)
    """Size in bytes."""
    uploaded_at: Timestamp
    """When it was (last) uploaded."""
    removed_at: Timestamp | None = None
    """When retention deleted the object; downloads answer 410 from then on."""


class TargetDeliveryView(ContractModel):
    """The webhook delivery of a release to one organization."""

    webhook_id: str
    """The `webhook-id` every attempt of this delivery carries."""
    sent: bool = False
    """At least one attempt was made."""
    acked: bool = False
    """The customer answered 2xx."""
    failed: bool = False
    """Every attempt failed, or the customer answered 401."""
    attempts: int = Field(default=0, ge=0)
    """Attempts made so far."""
    error: str | None = None
    """Why the last attempt failed."""
    acked_at: Timestamp | None = None
    """When the customer acknowledged."""
    next_attempt_at: Timestamp | None = None
    """When the next attempt is due, while one is."""


class TargetDeploymentView(ContractModel):
    """The deployment of a release at one organization, as the customer reported it."""

    status: DeploymentStatus
    """Where the deployment stands."""
    scheduled_for: Timestamp | None = None
    """When the customer's admin scheduled it."""
    started_at: Timestamp | None = None
    """When it started."""
    completed_at: Timestamp | None = None
    """When it ended."""
    helm_revision: int | None = None
    """Helm revision of a kubernetes deployment."""
    error_message: str | None = None
    """Why it failed."""


class OperatorTargetView(ContractModel):
    """One organization a release was sent to."""

    organization_name: str
    """The organization's name."""
    deployment_type: DeploymentType
    """How the organization deploys."""
    delivery: TargetDeliveryView
    """The webhook delivery."""
    deployment: TargetDeploymentView
    """The deployment status."""


class OperatorReleaseDetail(OperatorReleaseSummary):
    """Answer to `GET /api/operator/releases/{version}`."""

    image_tags: ImageTags
    """Image tag per service."""
    estimated_downtime: str | None = None
    """Expected downtime in words."""
    release_notes: str | None = None
    """Release notes."""
    new_non_essential_envs: list[NonEssentialEnv] = Field(default_factory=list)
    """Non-essential environment variables the release introduces."""
    target_organizations: list[str] | None = None
    """The organizations the release is limited to; null means every organization."""
    artifacts: list[OperatorArtifactView] = Field(default_factory=list)
    """The artifacts stored for this version."""
    deployment_targets: list[OperatorTargetView] = Field(default_factory=list)
    """Every organization the release was sent to, by name."""


class ReleasePublishResponse(ContractModel):
    """Answer to `POST /api/internal/releases/{version}/publish`."""

    id: UUID
    """The release's id."""
    version: Version
    """The release version."""
    status: ReleaseStatus
    """`published`."""
    published_at: Timestamp
    """When it was published."""
    targets: int = Field(ge=0)
    """Organizations a webhook is being sent to."""
    license_expired: int = Field(default=0, ge=0)
    """Organizations skipped because their license has expired (escalated)."""
    below_min_version: int = Field(default=0, ge=0)
    """Organizations skipped because they run a version below `minCurrentVersion`
    (escalated)."""
    without_artifact: int = Field(default=0, ge=0)
    """Organizations skipped because the release has no artifact for their deployment type
    (docker organizations when no Compose bundle was uploaded)."""
