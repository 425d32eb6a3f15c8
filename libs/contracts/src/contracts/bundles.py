"""The offline release bundle: how a release reaches an installation with no path to GCC.

``gcc release export`` writes an uncompressed tar file; ``customer-backend release import`` and
the Control Tower's upload form read it. Its members, and nothing else:

- ``manifest.json``: the :class:`~contracts.manifests.SignedManifest`, signed for the one
  organization the bundle is for (``manifest.organization``);
- ``release.json``: the release as the webhook describes it
  (:class:`~contracts.webhooks.ReleasePublishedWebhook` without its ``manifest``): what the
  admins read, checked against the signed manifest as a webhook's fields are;
- ``release.json.sig``: a :class:`BundleDocumentSignature` of ``release.json``'s exact bytes by
  the manifest's key, since no webhook secret authenticates a file carried by hand (its release
  notes and new non-essential settings are not in the manifest);
- ``SUMMARY.txt``: a plain-text summary for the people who carry the bundle (never read back);
- ``artifacts/<type>/<file name>``: each artifact the manifest lists, byte for byte.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Final

from pydantic import Field

from contracts.base import ContractModel
from contracts.manifests import KEY_ID_PATTERN, ManifestArtifact

__all__ = [
    "BUNDLE_ARTIFACTS_DIRECTORY",
    "BUNDLE_MANIFEST",
    "BUNDLE_RELEASE",
    "BUNDLE_RELEASE_SIGNATURE",
    "BUNDLE_SUMMARY",
    "MAX_BUNDLE_DOCUMENT_BYTES",
    "BundleDocumentSignature",
    "bundle_artifact_name",
]

BUNDLE_MANIFEST: Final = "manifest.json"
"""Member holding the signed manifest."""
BUNDLE_RELEASE: Final = "release.json"
"""Member holding the release's webhook body, without its manifest."""
BUNDLE_RELEASE_SIGNATURE: Final = "release.json.sig"
"""Member holding the signature of ``release.json``."""
BUNDLE_SUMMARY: Final = "SUMMARY.txt"
"""Member holding the plain-text summary."""
BUNDLE_ARTIFACTS_DIRECTORY: Final = "artifacts"
"""Directory of the artifacts in the bundle."""
MAX_BUNDLE_DOCUMENT_BYTES: Final = 1024 * 1024
"""Largest ``manifest.json``, ``release.json`` or ``SUMMARY.txt`` a reader accepts."""


def bundle_artifact_name(artifact: ManifestArtifact) -> str:
    """The member an artifact is stored under: ``artifacts/<type>/<file name of its object>``."""
    file_name = PurePosixPath(artifact.object_name).name
    return f"{BUNDLE_ARTIFACTS_DIRECTORY}/{artifact.type}/{file_name}"


class BundleDocumentSignature(ContractModel):
    """A detached Ed25519 signature of a bundle document's exact bytes."""

    key_id: str = Field(pattern=KEY_ID_PATTERN)
    """Id of the key that signed the document (the manifest's)."""
    signature: str = Field(min_length=1, max_length=128)
    """Base64 Ed25519 signature of the signing context followed by the document's bytes."""
