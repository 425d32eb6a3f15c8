"""The one interface every object store implements."""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Set
from os import PathLike
from types import TracebackType
from typing import Self, TypeAlias

from objectstore.models import DownloadResult, ObjectInfo
from objectstore.retention import select_expired

DEFAULT_CHUNK_SIZE = 1024 * 1024
"""Bytes per chunk when reading objects and local files."""

LocalPath: TypeAlias = str | PathLike[str]
"""A local file path."""


class ObjectStore(ABC):
    """Async object storage: keys to byte objects, streamed in bounded memory.

    Build a store once (in a service's lifespan) and use it as an async context manager, or call
    :meth:`open` and :meth:`close`. Keys follow :func:`objectstore.keys.validate_key`; every
    method raises :class:`~objectstore.errors.InvalidKey` for a key outside those rules and
    :class:`~objectstore.errors.ObjectStoreError` (or a subclass) for backend failures.
    """

    async def open(self) -> None:
        """Acquire what the store needs (clients, connections); idempotent."""
        return

    async def close(self) -> None:
        """Release what :meth:`open` acquired; idempotent."""
        return

    async def __aenter__(self) -> Self:
        """Open the store and return it."""
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the store."""
        await self.close()

    @abstractmethod
    async def ensure_bucket(self) -> None:
        """Create the bucket (or root directory) when it does not exist yet."""

    @abstractmethod
    async def put_file(
        self, key: str, path: LocalPath, *, content_type: str | None = None
    ) -> ObjectInfo:
        """Upload the local file at ``path`` to ``key``, replacing any object there.

        The file is read in chunks; the returned info carries its size and SHA256. A file that
        cannot be opened raises the usual ``OSError`` (``FileNotFoundError``, ...).
        """

    @abstractmethod
    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str | None = None,
    ) -> ObjectInfo:
        """Upload the bytes of ``chunks`` to ``key``, replacing any object there.

        At most about one part of the stream is held in memory. If ``chunks`` raises, or the
        upload fails or is cancelled, nothing is left behind: no object under ``key`` (a
        previous object there stays as it was) and no pending multipart upload.
        """

    @abstractmethod
    async def get_to_file(self, key: str, path: LocalPath) -> DownloadResult:
        """Download ``key`` into the local file ``path``, computing SHA256 on the way.

        The bytes go to a temporary file next to ``path`` that is renamed into place only once
        complete, so a failed download leaves no partial file; missing parent directories are
        made. Raises :class:`~objectstore.errors.ObjectNotFound` when ``key`` does not exist,
        and the usual ``OSError`` when ``path`` cannot be written.
        """

    @abstractmethod
    def iter_chunks(
        self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncGenerator[bytes, None]:
        """Yield the object's bytes in chunks of ``chunk_size`` (the last may be shorter).

        Raises :class:`~objectstore.errors.ObjectNotFound` on the first iteration when ``key``
        does not exist; call :meth:`head` first to answer 404 before a response starts. Close
        the iterator (``aclose()``) when stopping early.
        """

    @abstractmethod
    async def head(self, key: str) -> ObjectInfo | None:
        """The object's size, last-modified time and etag, or ``None`` when it does not exist."""

    @abstractmethod
    async def list(self, prefix: str = "") -> builtins.list[ObjectInfo]:
        """Every object whose key starts with ``prefix`` (a plain string prefix), sorted by key."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Delete ``key``; deleting a key that does not exist is not an error."""

    @abstractmethod
    async def presigned_get_url(self, key: str, expires_in: int) -> str:
        """A URL that lets anyone holding it download ``key`` for ``expires_in`` seconds.

        The object's existence is not checked.
        """

    async def keep_latest(
        self, prefix: str, n: int, protect: Set[str] = frozenset()
    ) -> builtins.list[str]:
        """Delete all but the ``n`` newest objects under ``prefix``, sparing ``protect``.

        Newest means latest ``last_modified``, ties broken by key, descending. The ``n`` newest
        objects are always kept, protected or not; older objects are deleted unless their key is
        in ``protect``. So protected keys are never deleted, and one that is among the newest
        counts towards ``n``, while one that is older is kept in addition to the ``n``. Returns
        the deleted keys, oldest first, in the order they were deleted.
        """
        expired = select_expired(await self.list(prefix), n, protect)
        for key in expired:
            await self.delete(key)
        return expired
