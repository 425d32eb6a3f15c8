"""Reading an offline release bundle (layout in :mod:`contracts.bundles`) without trusting it.

Every member is first checked by ``archivesafety`` (no path outside the bundle, no link, no
device, bounded headers); then the set of members must be exactly the manifest's artifacts and
the two documents (and the summary), so an artifact missing or added is refused before a byte
of any artifact is read. An artifact is read later, member by member, through
:func:`verified_chunks`, which counts and hashes it as it streams and raises at the end of a
member whose SHA256 or size is not the signed one.

Every refusal is a :class:`BundleRefused` (an ``InvalidInput``: 422 with ``field`` naming
``bundle``, or ``manifest`` for a manifest that cannot be read).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tarfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import IO, Any, Final

from pydantic import ValidationError

from archivesafety import READ_ERRORS, ArchiveLimits, ArchiveRefused, safe_members
from contracts import (
    ManifestArtifact,
    ReleasePublishedWebhook,
    SignedManifest,
)
from contracts.bundles import (
    BUNDLE_MANIFEST,
    BUNDLE_RELEASE,
    BUNDLE_RELEASE_SIGNATURE,
    BUNDLE_SUMMARY,
    MAX_BUNDLE_DOCUMENT_BYTES,
    BundleDocumentSignature,
    bundle_artifact_name,
)
from servicekit.errors import InvalidInput

READ_CHUNK_BYTES: Final = 1024 * 1024
"""Bytes read from the bundle at a time: memory stays at about this, whatever its size."""
MAX_BUNDLE_BYTES: Final = 64 * 1024**3
"""Largest bundle taken (artifacts included)."""
_LIMITS: Final = ArchiveLimits(max_entries=32, max_bytes=MAX_BUNDLE_BYTES)
_DOCUMENTS: Final = frozenset(
    {BUNDLE_MANIFEST, BUNDLE_RELEASE, BUNDLE_RELEASE_SIGNATURE, BUNDLE_SUMMARY}
)


class BundleRefused(InvalidInput):
    """The bundle is refused; ``detail`` says why, for the person importing it."""

    def __init__(self, detail: str, *, field: str = "bundle") -> None:
        super().__init__(detail, field=field)


@dataclass(frozen=True)
class BundleContents:
    """What a bundle says: the signed manifest, the release as the webhook describes it (with
    that manifest), ``release.json``'s bytes and signature, and the member of each artifact."""

    signed: SignedManifest
    webhook: ReleasePublishedWebhook
    release_data: dict[str, Any]
    release_bytes: bytes
    release_signature: BundleDocumentSignature
    artifact_members: dict[str, tarfile.TarInfo]


def read_bundle(archive: tarfile.TarFile) -> BundleContents:
    """Check a bundle's members and read its documents; :class:`BundleRefused` otherwise."""
    files = _checked_files(archive)
    for required in (BUNDLE_MANIFEST, BUNDLE_RELEASE, BUNDLE_RELEASE_SIGNATURE):
        if required not in files:
            raise BundleRefused(f"The bundle has no {required}; it is not a release bundle.")
    signed = _signed_manifest(_document(archive, files[BUNDLE_MANIFEST]))
    release_bytes = _document(archive, files[BUNDLE_RELEASE])
    release_signature = _release_signature(_document(archive, files[BUNDLE_RELEASE_SIGNATURE]))
    release_data = _release_document(release_bytes, signed)
    try:
        webhook = ReleasePublishedWebhook.model_validate(release_data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BundleRefused(
            f"{BUNDLE_RELEASE} is not a release: {where}: {first['msg']}."
        ) from None
    expected = {bundle_artifact_name(item): item for item in signed.manifest.artifacts}
    artifacts = {name: info for name, info in files.items() if name not in _DOCUMENTS}
    missing = sorted(set(expected) - set(artifacts))
    extra = sorted(set(artifacts) - set(expected))
    if missing:
        raise BundleRefused(
            f"The bundle lacks {', '.join(missing)}, which its signed manifest lists."
        )
    if extra:
        raise BundleRefused(
            f"The bundle holds {', '.join(extra)}, which its signed manifest does not list."
        )
    for name, item in expected.items():
        if artifacts[name].size != item.size_bytes:
            raise BundleRefused(
                f"{name} has {artifacts[name].size} bytes, not the signed {item.size_bytes}; "
                "the artifact was altered."
            )
    return BundleContents(
        signed=signed,
        webhook=webhook,
        release_data=release_data,
        release_bytes=release_bytes,
        release_signature=release_signature,
        artifact_members=artifacts,
    )


def unreadable(error: ArchiveRefused) -> BundleRefused:
    """The refusal of a bundle ``archivesafety`` refused."""
    if isinstance(error, ArchiveRefused) and error.member is not None:
        return BundleRefused(f"The bundle's member {error.member} is refused: {error.reason}.")
    return BundleRefused(
        f"The file is not a complete release bundle (a tar file): {error}. It may be cut "
        "short; copy it again."
    )


def _checked_files(archive: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    files: dict[str, tarfile.TarInfo] = {}
    try:
        for member in safe_members(archive, _LIMITS):
            if member.info.isdir():
                continue
            if not member.info.isreg():
                raise BundleRefused(
                    f"The bundle's member {member.name} is a link; a bundle holds files only."
                )
            files[member.name] = member.info
    except ArchiveRefused as error:
        raise unreadable(error) from None
    return files


def _document(archive: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    if info.size > MAX_BUNDLE_DOCUMENT_BYTES:
        raise BundleRefused(
            f"{info.name} has {info.size} bytes, more than {MAX_BUNDLE_DOCUMENT_BYTES}."
        )
    try:
        reader = archive.extractfile(info)
        data = reader.read() if reader is not None else b""
    except READ_ERRORS as error:
        raise unreadable(ArchiveRefused(str(error))) from None
    if len(data) != info.size:
        raise unreadable(ArchiveRefused(f"{info.name} is cut short"))
    return data


def _signed_manifest(data: bytes) -> SignedManifest:
    try:
        return SignedManifest.model_validate_json(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the document"
        raise BundleRefused(
            f"{BUNDLE_MANIFEST} is not a signed manifest: {where}: {first['msg']}.",
            field="manifest",
        ) from None


def _release_signature(data: bytes) -> BundleDocumentSignature:
    try:
        return BundleDocumentSignature.model_validate_json(data)
    except ValidationError:
        raise BundleRefused(
            f"{BUNDLE_RELEASE_SIGNATURE} is not a signature.", field="manifest"
        ) from None


def _release_document(data: bytes, signed: SignedManifest) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except ValueError as error:
        raise BundleRefused(f"{BUNDLE_RELEASE} is not JSON: {error}.") from None
    if not isinstance(document, dict):
        raise BundleRefused(f"{BUNDLE_RELEASE} is not a JSON object.")
    return {**document, "manifest": signed.model_dump(mode="json")}


async def verified_chunks(
    archive: tarfile.TarFile, info: tarfile.TarInfo, artifact: ManifestArtifact
) -> AsyncIterator[bytes]:
    """The bytes of an artifact's member, counted and hashed on the way; after the last one,
    :class:`BundleRefused` unless they are the signed size and SHA256 (so an upload fed by
    this iterator is abandoned, and nothing is stored).

    The next chunk is read and hashed in a thread while the consumer stores the current one,
    so hashing here overlaps the store's own hashing and writing (two cores, not one).
    """
    reader = archive.extractfile(info)
    if reader is None:
        raise BundleRefused(f"{info.name} cannot be read as a file.")
    digest = hashlib.sha256()
    size = 0
    ahead = asyncio.ensure_future(asyncio.to_thread(_read_and_hash, reader, digest, info.name))
    try:
        while chunk := await ahead:
            size += len(chunk)
            if size > artifact.size_bytes:
                break
            ahead = asyncio.ensure_future(
                asyncio.to_thread(_read_and_hash, reader, digest, info.name)
            )
            yield chunk
    finally:
        # the thread reads the archive: let it finish before the archive may be closed
        await asyncio.wait([ahead])
    if size != artifact.size_bytes or digest.hexdigest() != artifact.sha256:
        raise BundleRefused(
            f"{info.name} does not match its signed manifest (SHA256 {artifact.sha256}, "
            f"{artifact.size_bytes} bytes); the artifact was altered."
        )


def _read_and_hash(reader: IO[bytes], digest: Any, name: str) -> bytes:
    chunk = _read(reader, name)
    digest.update(chunk)
    return chunk


def _read(reader: IO[bytes], name: str) -> bytes:
    try:
        return reader.read(READ_CHUNK_BYTES)
    except READ_ERRORS as error:
        raise unreadable(ArchiveRefused(f"{name}: {error}")) from None
