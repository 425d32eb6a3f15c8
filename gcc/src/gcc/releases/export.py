"""Offline bundles: a published release written to one tar file for an installation that has
no network path to GCC (the layout is :mod:`contracts.bundles`).

The bundle's manifest is the release's stored manifest signed afresh for the one organization
(``organization`` set), so a bundle carried to another customer is refused there. Each artifact
is read from the bucket into the bundle's directory and checked against the manifest's SHA256
and size before it is written: GCC never hands over a bundle its own manifest would refuse. The
bundle is written beside its destination and renamed into place once complete.
"""

from __future__ import annotations

import asyncio
import io
import os
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from contracts import ArtifactType, ReleasePublishedWebhook, ReleaseStatus, SignedManifest
from contracts.bundles import (
    BUNDLE_MANIFEST,
    BUNDLE_RELEASE,
    BUNDLE_RELEASE_SIGNATURE,
    BUNDLE_SUMMARY,
    bundle_artifact_name,
)
from gcc.artifacts import service as artifact_service
from gcc.organizations import service as organization_service
from gcc.releases import manifests
from gcc.releases import service as release_service
from gcc.releases.manifests import ManifestSigner
from gcc.releases.models import Release
from gcc.releases.webhook_body import build_webhook_body
from objectstore import ObjectStore
from servicekit.errors import Conflict
from signing import SigningKey, sign_document
from timekeeping import Clock

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ExportedBundle:
    """A bundle written: where, for whom, and what it holds."""

    path: Path
    signed: SignedManifest
    size_bytes: int
    summary: str


async def export_release(
    session: AsyncSession,
    *,
    clock: Clock,
    signer: ManifestSigner | None,
    object_store: ObjectStore,
    version_text: str,
    organization_name: str,
    output: Path,
) -> ExportedBundle:
    """Write the offline bundle of a published release for one organization to ``output``.

    409 when GCC signs no manifests, the release is a draft or was published unsigned, it is
    targeted at other organizations, or an artifact is gone or no longer matches the manifest;
    404 for an unknown release or organization. Nothing is left at ``output`` on failure.
    """
    if signer is None:
        raise Conflict(
            "GCC has no manifest signing key (GCC_MANIFEST_SIGNING_KEYS): a bundle must carry "
            "a signed manifest.",
            field="manifest",
        )
    release = await release_service.get_release(session, version_text=version_text)
    organization = await organization_service.get_organization(session, name=organization_name)
    _require_exportable(release, organization_name=organization.name)
    stored = manifests.stored_manifest(release)
    if stored is None:
        raise Conflict(
            f"Release {release.version} was published without a signed manifest; it cannot be "
            "exported.",
            field="version",
        )
    signed = signer.sign(
        stored.manifest.model_copy(update={"organization": organization.name}), now=clock.now()
    )
    webhook = build_webhook_body(
        release,
        chart_sha256=_sha256_of(signed, ArtifactType.HELM) or "",
        compose_sha256=_sha256_of(signed, ArtifactType.COMPOSE),
    )
    summary = bundle_summary(release, signed, organization=organization.name)
    await _require_artifacts_kept(session, release=release, signed=signed)
    documents = _documents(signed, webhook, summary=summary, key=signer.key)
    size = await _write_bundle(object_store, output=output, signed=signed, documents=documents)
    log.info(
        "release.bundle.exported",
        version=release.version,
        organization=organization.name,
        key_id=signed.manifest.key_id,
        path=str(output),
        size_bytes=size,
    )
    return ExportedBundle(path=output, signed=signed, size_bytes=size, summary=summary)


def _documents(
    signed: SignedManifest, webhook: ReleasePublishedWebhook, *, summary: str, key: SigningKey
) -> dict[str, bytes]:
    """The bundle's documents by member name; ``release.json`` signed with the manifest's key."""
    release_json = webhook.model_dump_json(indent=2, exclude={"manifest"}).encode()
    return {
        BUNDLE_MANIFEST: signed.model_dump_json(indent=2).encode(),
        BUNDLE_RELEASE: release_json,
        BUNDLE_RELEASE_SIGNATURE: sign_document(release_json, key).model_dump_json().encode(),
        BUNDLE_SUMMARY: summary.encode(),
    }


def _require_exportable(release: Release, *, organization_name: str) -> None:
    if release.status == ReleaseStatus.DRAFT:
        raise Conflict(
            f"Release {release.version} is a draft; publish it before exporting it.",
            field="version",
        )
    targets = release.target_organizations
    if targets is not None and organization_name not in targets:
        raise Conflict(
            f"Release {release.version} is targeted at other organizations, not "
            f"{organization_name}.",
            field="org",
        )


def _sha256_of(signed: SignedManifest, artifact_type: ArtifactType) -> str | None:
    artifact = signed.manifest.artifact_of(artifact_type)
    return artifact.sha256 if artifact else None


async def _require_artifacts_kept(
    session: AsyncSession, *, release: Release, signed: SignedManifest
) -> None:
    stored = {
        artifact.type: artifact
        for artifact in await artifact_service.artifacts_of_version(session, release.version)
    }
    for item in signed.manifest.artifacts:
        row = stored.get(str(item.type))
        if row is None or row.removed_at is not None:
            raise Conflict(
                f"The {item.type} artifact of {release.version} was removed by retention; the "
                "release can no longer be exported.",
                field="version",
            )


def bundle_summary(release: Release, signed: SignedManifest, *, organization: str) -> str:
    """The plain-text summary written into a bundle, for the people who carry it."""
    manifest = signed.manifest
    forced = (
        f"yes, to be deployed by {_moment(manifest.forced_deadline)}"
        if manifest.is_forced and manifest.forced_deadline
        else "no"
    )
    lines = [
        f"WrkTalk release bundle: {manifest.version}",
        "",
        f"Organization:      {organization} (the only installation that accepts this bundle)",
        f"Release id:        {manifest.release_id}",
        f"Deployment types:  {', '.join(str(kind) for kind in manifest.deployment_types)}",
        f"Forced:            {forced}",
        f"Minimum version:   {manifest.min_current_version or 'none'}",
        f"Migration:         {'required' if release.is_migration_required else 'none'}",
        f"Signed by key:     {manifest.key_id}",
        f"Issued at:         {_moment(manifest.issued_at)}",
        f"Import before:     {_moment(manifest.expires_at)} (the manifest expires then)",
        "",
        "Artifacts:",
        *(
            f"  {bundle_artifact_name(item)}  {item.size_bytes} bytes  sha256 {item.sha256}"
            for item in manifest.artifacts
        ),
        "",
        "Import: customer-backend release import <this file>,",
        "or the Control Tower's Releases page (Import a release bundle).",
    ]
    if release.release_notes:
        notes = release.release_notes.splitlines()
        lines += ["", "Release notes:", *(f"  {line}" for line in notes)]
    return "\n".join(lines) + "\n"


def _moment(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


async def _write_bundle(
    object_store: ObjectStore,
    *,
    output: Path,
    signed: SignedManifest,
    documents: dict[str, bytes],
) -> int:
    """Write the bundle beside ``output`` and rename it into place; its size in bytes."""
    directory = await asyncio.to_thread(lambda: output.resolve().parent)
    with tempfile.TemporaryDirectory(prefix=".bundle-", dir=directory) as scratch:
        artifacts: list[tuple[str, Path]] = []
        for item in signed.manifest.artifacts:
            local = Path(scratch) / f"{item.type}.artifact"
            result = await object_store.get_to_file(item.object_name, local)
            if (result.sha256, result.size) != (item.sha256, item.size_bytes):
                raise Conflict(
                    f"The stored {item.type} artifact ({result.size} bytes, sha256 "
                    f"{result.sha256}) differs from the signed manifest; it is not exported.",
                    field="version",
                )
            artifacts.append((bundle_artifact_name(item), local))
        partial = Path(scratch) / "bundle.tar"
        return await asyncio.to_thread(_write_tar, partial, documents, artifacts, output)


def _write_tar(
    path: Path, documents: dict[str, bytes], artifacts: list[tuple[str, Path]], output: Path
) -> int:
    """Write the tar at ``path``, rename it to ``output``; its size."""
    # Uncompressed: the artifacts are compressed already, and a plain tar can be read member by
    # member at the importer without decompressing what comes before.
    with tarfile.open(path, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in documents.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
        for name, local in artifacts:
            info = tarfile.TarInfo(name)
            info.size = local.stat().st_size
            info.mode = 0o644
            with local.open("rb") as source:
                archive.addfile(info, source)
    os.replace(path, output)
    return output.stat().st_size
