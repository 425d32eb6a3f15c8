"""The signed release manifest: what GCC vouches for, checked by the backend and the agent.

GCC signs a :class:`ReleaseManifest` at publish with an Ed25519 key (see the ``signing``
library's ``manifests`` module) and sends it as a :class:`SignedManifest` with the webhook, the
updates poll and the artifact download. The signature covers the manifest's canonical JSON
(``model_dump(mode="json")`` with sorted keys and no whitespace), so a receiver verifies exactly
the values it goes on to use.
"""

from __future__ import annotations

from typing import Final, Literal
from uuid import UUID

from pydantic import Field

from contracts.base import ContractModel
from contracts.enums import ArtifactType, DeploymentType
from contracts.primitives import BucketKey, ImageTags, OrganizationName, Sha256, Timestamp
from contracts.versions import Version

__all__ = [
    "KEY_ID_PATTERN",
    "MANIFEST_HEADER",
    "MANIFEST_VERSION",
    "ManifestArtifact",
    "ReleaseManifest",
    "SignedManifest",
]

MANIFEST_VERSION: Final = 1
"""The manifest format this code writes and reads."""

KEY_ID_PATTERN: Final = r"^[0-9a-f]{16}$"
"""A key id: the first 16 hexadecimal characters of the SHA256 of the raw public key."""

MANIFEST_HEADER: Final = "X-Release-Manifest"
"""Header of an artifact download carrying the release's signed manifest: the
:class:`SignedManifest` as JSON, encoded with unpadded URL-safe base64."""

_MAX_SIGNATURE_LENGTH: Final = 128


class ManifestArtifact(ContractModel):
    """One artifact of a release, as GCC stored it."""

    type: ArtifactType
    """Helm chart or Compose bundle."""
    object_name: BucketKey
    """Key of the artifact in GCC's bucket, such as `charts/helm/wrktalk-2.3.0.tgz`."""
    sha256: Sha256
    """SHA256 of the artifact's bytes."""
    size_bytes: int = Field(ge=0)
    """Size of the artifact in bytes."""


class ReleaseManifest(ContractModel):
    """What GCC vouches for about one release; valid from `issuedAt` until `expiresAt`."""

    manifest_version: Literal[1] = MANIFEST_VERSION
    """Format of the manifest, always 1."""
    release_id: UUID
    """GCC's release id."""
    version: Version
    """The release version."""
    deployment_types: list[DeploymentType] = Field(min_length=1, max_length=3)
    """Deployment types the release can be installed by: kubernetes and gitops with a Helm
    chart, docker with a Compose bundle."""
    artifacts: list[ManifestArtifact] = Field(min_length=1, max_length=2)
    """Every artifact of the release, with its digest and size."""
    image_tags: ImageTags
    """Image tag per service."""
    is_forced: bool
    """Whether the release is forced."""
    forced_deadline: Timestamp | None = None
    """When a forced release must be deployed at the latest, as GCC counts it (null unless
    forced)."""
    min_current_version: Version | None = None
    """The oldest version the release may be installed over."""
    organization: OrganizationName | None = None
    """The only organization the manifest is for (an offline bundle); null: any organization
    the release is sent to."""
    issued_at: Timestamp
    """When GCC signed the manifest."""
    expires_at: Timestamp
    """After this instant the manifest is refused; GCC signs a fresh one for later sends."""
    key_id: str = Field(pattern=KEY_ID_PATTERN)
    """Id of the key that signed the manifest."""

    def artifact_of(self, artifact_type: ArtifactType) -> ManifestArtifact | None:
        """The artifact of ``artifact_type``, None when the release has none."""
        return next((item for item in self.artifacts if item.type == artifact_type), None)


class SignedManifest(ContractModel):
    """A release manifest with GCC's Ed25519 signature over its canonical JSON."""

    manifest: ReleaseManifest
    """The manifest."""
    signature: str = Field(min_length=1, max_length=_MAX_SIGNATURE_LENGTH)
    """Base64 Ed25519 signature of the manifest's canonical JSON, by the key `manifest.keyId`."""
