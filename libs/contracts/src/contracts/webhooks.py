"""GCC to customer backend: the `release.published` webhook and the updates poll (spec 5.2).

The webhook body is sent signed with the Standard Webhooks headers (see the `signing`
library); the updates poll returns the very same bodies for releases whose webhook was missed.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field, field_validator

from contracts.base import ContractModel
from contracts.common import NonEssentialEnv, ensure_unique_env_keys
from contracts.enums import ArtifactType
from contracts.limits import MAX_ESTIMATED_DOWNTIME_LENGTH
from contracts.manifests import SignedManifest
from contracts.primitives import ImageTags, Sha256
from contracts.releases import MAX_RELEASE_NOTES_LENGTH
from contracts.rollouts import ReleaseWithdrawnWebhook
from contracts.versions import Version

__all__ = [
    "RELEASE_PUBLISHED",
    "PublishedRelease",
    "ReleasePublishedWebhook",
    "ReleaseRuleset",
    "UpdatesPollResponse",
]

RELEASE_PUBLISHED: Literal["release.published"] = "release.published"
"""The `eventType` of :class:`ReleasePublishedWebhook`."""


class PublishedRelease(ContractModel):
    """The `release` part of the webhook: what to download and deploy."""

    id: UUID
    """GCC's release id, quoted back in the scheduled and status reports."""
    version: Version
    """The release version."""
    chart_version: Version
    """Version of the Helm chart (and of the Compose bundle)."""
    chart_sha256: Sha256
    """SHA256 of the Helm chart; kubernetes and gitops organizations verify against it."""
    compose_sha256: Sha256 | None = None
    """SHA256 of the Compose bundle, when the release has one; docker organizations verify
    against it."""
    image_tags: ImageTags
    """Image tag per service."""
    new_non_essential_envs: list[NonEssentialEnv] = Field(default_factory=list)
    """Non-essential environment variables the release introduces."""

    @field_validator("new_non_essential_envs")
    @classmethod
    def _require_unique_env_keys(cls, envs: list[NonEssentialEnv]) -> list[NonEssentialEnv]:
        ensure_unique_env_keys(envs)
        return envs

    def sha256_for(self, artifact_type: ArtifactType) -> str | None:
        """The expected SHA256 of the artifact of `artifact_type`, None if there is none."""
        if artifact_type is ArtifactType.HELM:
            return self.chart_sha256
        return self.compose_sha256


class ReleaseRuleset(ContractModel):
    """The `ruleset` part of the webhook: how the release must be rolled out."""

    is_forced: bool = False
    """Must be deployed within 24 hours of receipt; reminders at 12 h and 20 h."""
    is_migration_required: bool = False
    """The release migrates data; admins are warned of downtime."""
    estimated_downtime: str | None = Field(default=None, max_length=MAX_ESTIMATED_DOWNTIME_LENGTH)
    """Expected downtime in words."""
    release_notes: str | None = Field(default=None, max_length=MAX_RELEASE_NOTES_LENGTH)
    """Release notes shown to admins."""
    min_current_version: Version | None = None
    """The oldest version the release may be installed over."""


class ReleasePublishedWebhook(ContractModel):
    """Body of `POST /api/deployment/webhook` and one entry of the updates poll."""

    event_type: Literal["release.published"] = RELEASE_PUBLISHED
    """Always `release.published`."""
    release: PublishedRelease
    """What was released."""
    ruleset: ReleaseRuleset
    """How it must be rolled out."""
    manifest: SignedManifest | None = None
    """The release's manifest signed by GCC, which the backend verifies before it accepts the
    release; null only for a release published before GCC signed manifests."""


class UpdatesPollResponse(ContractModel):
    """Answer to `GET /api/v1/organizations/{name}/updates`: releases the webhook missed."""

    releases: list[ReleasePublishedWebhook] = Field(default_factory=list)
    """Published releases targeted at the organization that it has neither acknowledged nor
    reported a status for, oldest first."""
    withdrawn: list[ReleaseWithdrawnWebhook] = Field(default_factory=list)
    """Releases GCC withdrew after the organization was notified of them."""
