"""The offline release bundle: how a release reaches an installation with no path to GCC.

``gcc release export`` writes an uncompressed tar file; ``customer-backend release import`` and
the Control Tower's upload form read it. Its members, and nothing else:

- ``manifest.json``: the :class:`~contracts.manifests.SignedManifest`, signed for the one
  organization the bundle is for (``manifest.organization``);
- ``release.json``: the release as the webhook describes it
  (:class:`~contracts.webhooks.ReleasePublishedWebhook` without its ``manifest``): what the
  admins read, checked against the signed manifest as a webhook's fields are;
- ``SUMMARY.txt``: a plain-text summary for the people who carry the bundle (never read back);
- ``artifacts/<type>/<file name>``: each artifact the manifest lists, byte for byte.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Final

from contracts.manifests import ManifestArtifact

__all__ = [
    "BUNDLE_ARTIFACTS_DIRECTORY",
    "BUNDLE_MANIFEST",
    "BUNDLE_RELEASE",
    "BUNDLE_SUMMARY",
    "MAX_BUNDLE_DOCUMENT_BYTES",
    "bundle_artifact_name",
]

BUNDLE_MANIFEST: Final = "manifest.json"
"""Member holding the signed manifest."""
BUNDLE_RELEASE: Final = "release.json"
"""Member holding the release's webhook body, without its manifest."""
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
