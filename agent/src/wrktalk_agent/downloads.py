"""Downloading a task's files into a private directory, verified, and wiping them afterwards.

Files come from short-lived presigned URLs (``file://`` for a filesystem store). Each is written
with mode 0600 into a directory of mode 0700 while its SHA256 is computed; a digest or size
that differs from the task's fails the task before anything runs. Afterwards every file is
overwritten with random bytes and removed, as the seeds' secure cleanup asks.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from contracts import FileRef
from logconfig import get_logger
from wrktalk_agent.errors import ChecksumMismatch, TaskFailure

log = get_logger(__name__)

CHUNK_BYTES = 1024 * 1024
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")


class PrivateDirectory:
    """A fresh directory only the agent's user can enter, wiped by :meth:`wipe`."""

    def __init__(self, parent: str | None = None) -> None:
        if parent is not None:
            Path(parent).mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix="wrktalk-task-", dir=parent))
        self.path.chmod(0o700)

    def file_path(self, role: str, bucket_path: str) -> Path:
        """A path in the directory for the file at ``bucket_path`` (``role`` keeps a
        release's and the previous release's files apart)."""
        base = _UNSAFE_NAME_CHARACTERS.sub("_", bucket_path.rsplit("/", 1)[-1]) or "file"
        path = self.path / f"{role}-{base}"
        counter = 1
        while path.exists():
            counter += 1
            path = self.path / f"{role}-{counter}-{base}"
        return path

    def subdirectory(self, name: str) -> Path:
        """A fresh private subdirectory."""
        directory = self.path / name
        directory.mkdir(mode=0o700)
        return directory

    def wipe(self) -> None:
        """Overwrite every file with random bytes, then remove the whole directory."""
        wipe_tree(self.path)


def wipe_file(path: Path) -> None:
    """Overwrite a regular file with random bytes of its size, flush it to disk, remove it."""
    try:
        if path.is_symlink() or not path.is_file():
            path.unlink(missing_ok=True)
            return
        size = path.stat().st_size
        with path.open("r+b") as handle:
            remaining = size
            while remaining > 0:
                step = min(remaining, CHUNK_BYTES)
                handle.write(secrets.token_bytes(step))
                remaining -= step
            handle.flush()
            os.fsync(handle.fileno())
        path.unlink()
    except OSError as exc:
        log.warning("cleanup.wipe.failed", path=str(path), error=str(exc))


def wipe_tree(root: Path) -> None:
    """Wipe every regular file under ``root`` (links are not followed), then remove it."""
    if not root.exists():
        return
    for directory, _, names in os.walk(root, followlinks=False):
        for name in names:
            wipe_file(Path(directory) / name)
    shutil.rmtree(root, ignore_errors=True)


class Downloader:
    """Downloads task files; never sends the agent secret (the URLs carry their own rights)."""

    def __init__(self, *, timeout: float) -> None:
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    async def download(self, reference: FileRef, destination: Path) -> Path:
        """Download ``reference`` to ``destination`` (mode 0600) and verify it.

        Raises :class:`ChecksumMismatch` when the bytes differ from the task's SHA256 or
        size (the file is wiped), :class:`TaskFailure` (retryable) when the download fails.
        """
        digest = hashlib.sha256()
        written = 0
        limit = reference.size_bytes
        descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                async for chunk in self._chunks(reference):
                    written += len(chunk)
                    if limit is not None and written > limit:
                        raise ChecksumMismatch(
                            f"{reference.bucket_path}: download is larger than the expected "
                            f"{limit} bytes"
                        )
                    digest.update(chunk)
                    handle.write(chunk)
            actual = digest.hexdigest()
            if not hmac.compare_digest(actual, reference.sha256):
                raise ChecksumMismatch(
                    f"{reference.bucket_path}: SHA256 mismatch (expected {reference.sha256}, "
                    f"got {actual}); nothing was executed"
                )
            if limit is not None and written != limit:
                raise ChecksumMismatch(
                    f"{reference.bucket_path}: {written} bytes downloaded, {limit} expected"
                )
        except BaseException:
            wipe_file(destination)
            raise
        log.info("download.verified", bucket_path=reference.bucket_path, size=written)
        return destination

    async def _chunks(self, reference: FileRef) -> AsyncIterator[bytes]:
        url = reference.download_url
        if url.startswith("file://"):
            async for chunk in _file_chunks(Path(unquote(urlsplit(url).path))):
                yield chunk
            return
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise TaskFailure(
                        f"{reference.bucket_path}: download failed with HTTP "
                        f"{response.status_code}",
                        retryable=True,
                    )
                async for chunk in response.aiter_bytes(CHUNK_BYTES):
                    yield chunk
        except httpx.HTTPError as exc:
            raise TaskFailure(
                f"{reference.bucket_path}: download failed: {type(exc).__name__}: {exc}",
                retryable=True,
            ) from exc


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk
    except OSError as exc:
        raise TaskFailure(f"{path}: cannot read: {exc.strerror}", retryable=True) from exc
