"""The staging directory: a verified artifact waits there until the bucket stores it.

Spec 8.3, error 3.3: when the bucket refuses an upload (expired credentials, a full bucket, an
endpoint out of reach), the chart is kept "in temp until bucket works". A download from GCC is
written here first, hashed as it streams, and kept only when its SHA256 equals both the
release's digest and GCC's ``X-Sha256``; the file is named by that digest. Storing it in the
bucket is a separate step, tried again by beat until the bucket takes it; only then is the
staged file removed. A staged file is hashed again before it is stored, so a file damaged on
disk is dropped (and downloaded again) rather than stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Set
from datetime import datetime
from pathlib import Path

import httpx
import structlog

from contracts import ArtifactType
from customer_backend.artifacts.service import (
    ARTIFACT_CONTENT_TYPE,
    DOWNLOAD_CHUNK_BYTES,
    SHA256_HEADER,
    ArtifactFetchError,
    ChecksumMismatch,
    artifact_key,
)
from objectstore import ObjectInfo, ObjectStore, ObjectStoreError
from objectstore.atomic import AtomicFileWriter

log = structlog.get_logger(__name__)

PARTIAL_DIRECTORY = ".partial"
_ERROR_BODY_PREVIEW = 300
_HASH_CHUNK_BYTES = 1024 * 1024


class ArtifactStoreError(Exception):
    """The bucket refused a verified artifact; it stays in the staging directory."""


def staged_path(staging: Path, sha256: str) -> Path:
    """Where the verified artifact of this SHA256 waits."""
    return staging / f"{sha256.lower()}.artifact"


async def download_to_staging(
    *,
    gcc: httpx.AsyncClient,
    staging: Path,
    version: str,
    artifact_type: ArtifactType,
    expected_sha256: str,
    expected_size: int | None = None,
) -> Path:
    """Download a release artifact from GCC into the staging directory, verified.

    ``expected_sha256`` and ``expected_size`` are the signed manifest's (the release's digest
    for one accepted unsigned, and no size); the download stops as soon as it grows past the
    size. Raises :class:`ArtifactFetchError` (:class:`ChecksumMismatch` for a digest or size
    that differs) when GCC cannot be reached, answers an error, or sends other bytes; nothing
    is left behind.
    """
    expected = expected_sha256.lower()
    target = staged_path(staging, expected)
    try:
        async with gcc.stream(
            "GET", f"/api/artifacts/charts/{version}", params={"type": str(artifact_type)}
        ) as response:
            if response.status_code != httpx.codes.OK:
                await response.aread()
                raise ArtifactFetchError(
                    f"GCC answered {response.status_code} for the {artifact_type} artifact of "
                    f"{version}: {response.text[:_ERROR_BODY_PREVIEW]}"
                )
            announced = response.headers.get(SHA256_HEADER, "").strip().lower()
            if not announced:
                raise ArtifactFetchError(f"GCC sent no {SHA256_HEADER} header")
            if announced != expected:
                raise ChecksumMismatch(
                    f"GCC's {SHA256_HEADER} {announced} differs from the release's SHA256 "
                    f"{expected}"
                )
            await _write_verified(
                response, target, staging / PARTIAL_DIRECTORY, expected, expected_size
            )
    except httpx.HTTPError as error:
        raise ArtifactFetchError(f"downloading from GCC failed: {error!r}") from error
    except OSError as error:  # the staging directory is missing, read-only or full
        raise ArtifactFetchError(f"writing to the staging directory failed: {error}") from error
    return target


async def _write_verified(
    response: httpx.Response,
    target: Path,
    partial: Path,
    expected: str,
    expected_size: int | None = None,
) -> None:
    writer = await asyncio.to_thread(AtomicFileWriter, target, temp_directory=partial)
    try:
        digest = hashlib.sha256()
        received = 0
        async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK_BYTES):
            received += len(chunk)
            if expected_size is not None and received > expected_size:
                raise ChecksumMismatch(
                    f"the downloaded artifact is larger than the signed {expected_size} bytes"
                )
            digest.update(chunk)
            await asyncio.to_thread(writer.write, chunk)
        if expected_size is not None and received != expected_size:
            raise ChecksumMismatch(
                f"the downloaded artifact has {received} bytes, not the signed {expected_size}"
            )
        actual = digest.hexdigest()
        if actual != expected:
            raise ChecksumMismatch(f"the downloaded artifact hashes to {actual}, not {expected}")
        await asyncio.to_thread(writer.commit)
    except BaseException:
        await asyncio.to_thread(writer.discard)
        raise


async def staged_artifact(staging: Path, expected_sha256: str) -> Path | None:
    """The staged file of this SHA256 if it is there and intact; a damaged one is removed."""
    path = staged_path(staging, expected_sha256)
    actual = await asyncio.to_thread(_sha256_of, path)
    if actual is None:
        return None
    if actual != expected_sha256.lower():
        log.error("artifacts.staging.damaged", path=str(path), sha256=actual)
        await discard_staged(path)
        return None
    return path


def _sha256_of(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            while chunk := file.read(_HASH_CHUNK_BYTES):
                digest.update(chunk)
    except OSError:  # not staged (or unreadable: the round downloads it again)
        return None
    return digest.hexdigest()


async def store_staged(
    *,
    object_store: ObjectStore,
    path: Path,
    version: str,
    artifact_type: ArtifactType,
    expected_sha256: str,
) -> ObjectInfo:
    """Store a staged artifact in the bucket at its version's key.

    Raises :class:`ArtifactStoreError` when the bucket refuses it (the file stays staged).
    """
    key = artifact_key(artifact_type, version)
    try:
        info = await object_store.put_file(key, path, content_type=ARTIFACT_CONTENT_TYPE)
    except ObjectStoreError as error:
        raise ArtifactStoreError(f"storing in the bucket failed: {error}") from error
    except OSError as error:  # the staged file went away under us; the next round downloads
        raise ArtifactStoreError(f"reading the staged file failed: {error}") from error
    if info.sha256 != expected_sha256.lower():  # the file changed under us: never keep it
        await object_store.delete(key)
        await discard_staged(path)
        raise ArtifactStoreError(f"the staged file hashed to {info.sha256} while stored")
    return info


async def discard_staged(path: Path) -> None:
    """Remove a staged file (stored, or damaged)."""
    await asyncio.to_thread(path.unlink, missing_ok=True)


async def prune_staging(
    staging: Path, *, keep_sha256s: Set[str], partial_before: datetime
) -> list[str]:
    """Remove staged files no deployment waits for any more (cancelled, superseded, or stored
    by another worker) and partial downloads begun before ``partial_before`` (a worker that
    died mid-download); the names removed."""
    return await asyncio.to_thread(_prune, staging, keep_sha256s, partial_before.timestamp())


def _prune(staging: Path, keep_sha256s: Set[str], partial_before: float) -> list[str]:
    removed: list[str] = []
    staged = list(staging.glob("*.artifact")) if staging.is_dir() else []
    partial_directory = staging / PARTIAL_DIRECTORY
    partial = list(partial_directory.iterdir()) if partial_directory.is_dir() else []
    for path in staged:
        if path.name.removesuffix(".artifact") not in keep_sha256s:
            path.unlink(missing_ok=True)
            removed.append(path.name)
    for path in partial:
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < partial_before:
                path.unlink(missing_ok=True)
                removed.append(f"{PARTIAL_DIRECTORY}/{path.name}")
    return removed
