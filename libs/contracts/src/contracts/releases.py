"""CI to GCC: artifact uploads and release creation (spec 5.1 and 14.1)."""

from __future__ import annotations

from typing import Final
from uuid import UUID

from pydantic import Field, ValidationInfo, field_validator

from contracts.base import ContractModel
from contracts.common import (
    WELL_KNOWN_SERVICES,
    NonEssentialEnv,
    ensure_unique_env_keys,
    missing_well_known_services,
)
from contracts.enums import ArtifactType, ReleaseStatus
from contracts.limits import MAX_ESTIMATED_DOWNTIME_LENGTH
from contracts.primitives import BucketKey, ImageTags, OrganizationName, Sha256
from contracts.versions import Version

__all__ = [
    "MAX_RELEASE_NOTES_LENGTH",
    "ArtifactUploadResponse",
    "ReleaseCreateRequest",
    "ReleaseCreateResponse",
]

MAX_RELEASE_NOTES_LENGTH: Final = 65_536
"""Longest accepted release notes."""


class ArtifactUploadResponse(ContractModel):
    """Answer to `POST /api/internal/artifacts`: where GCC stored the upload and its digest."""

    id: UUID
    """The artifact's id."""
    type: ArtifactType
    """Helm chart or Compose bundle."""
    version: Version
    """The release version the artifact belongs to."""
    bucket_path: BucketKey
    """Key in the GCC bucket, such as `charts/helm/wrktalk-2.3.0.tgz`."""
    sha256: Sha256
    """SHA256 of the stored bytes, computed by GCC while receiving them."""
    size_bytes: int = Field(ge=0)
    """Size of the stored object in bytes."""


class ReleaseCreateRequest(ContractModel):
    """Body of `POST /api/internal/releases`: a draft release and its ruleset.

    `imageTags` must name the well-known services `backend`, `media`, `controlTower` and `agent`,
    and may add more.
    """

    version: Version
    """The release version; the artifacts are uploaded under the same version."""
    image_tags: ImageTags = Field(json_schema_extra={"required": list(WELL_KNOWN_SERVICES)})
    """Image tag per service: `backend`, `media`, `controlTower`, `agent` and any more."""
    is_forced: bool = False
    """A forced release must be deployed within 24 hours of its receipt."""
    is_migration_required: bool = False
    """The release migrates data; admins are warned of downtime."""
    estimated_downtime: str | None = Field(default=None, max_length=MAX_ESTIMATED_DOWNTIME_LENGTH)
    """Expected downtime in words, such as `"15 minutes"`."""
    release_notes: str | None = Field(default=None, max_length=MAX_RELEASE_NOTES_LENGTH)
    """Release notes shown to customer admins."""
    new_non_essential_envs: list[NonEssentialEnv] = Field(default_factory=list)
    """Non-essential environment variables this release introduces, with defaults."""
    min_current_version: Version | None = None
    """Organizations running an older version are not offered the release (escalated)."""
    targets: list[OrganizationName] | None = Field(default=None, min_length=1)
    """Names of the organizations to offer the release to; omitted or null means all."""

    @field_validator("image_tags")
    @classmethod
    def _require_well_known_services(cls, image_tags: ImageTags) -> ImageTags:
        missing = missing_well_known_services(image_tags)
        if missing:
            raise ValueError(f"an image tag is required for {', '.join(missing)}")
        return image_tags

    @field_validator("new_non_essential_envs")
    @classmethod
    def _require_unique_env_keys(cls, envs: list[NonEssentialEnv]) -> list[NonEssentialEnv]:
        ensure_unique_env_keys(envs)
        return envs

    @field_validator("min_current_version")
    @classmethod
    def _require_older_minimum(
        cls, minimum: Version | None, info: ValidationInfo
    ) -> Version | None:
        version = info.data.get("version")
        if minimum is not None and isinstance(version, Version) and not minimum < version:
            raise ValueError(f"must be lower than the release version {version}")
        return minimum

    @field_validator("targets")
    @classmethod
    def _require_unique_targets(cls, targets: list[str] | None) -> list[str] | None:
        if targets is not None and len(set(targets)) != len(targets):
            raise ValueError("an organization is named more than once")
        return targets


class ReleaseCreateResponse(ContractModel):
    """Answer to `POST /api/internal/releases`."""

    id: UUID
    """The release's id, the `releaseId` of every later report."""
    version: Version
    """The release version."""
    status: ReleaseStatus
    """`draft` until it is published."""
