"""An object store in a local directory, for the embedded local stack and tests."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
import stat
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, ParamSpec, TypeVar

from objectstore.atomic import AtomicFileWriter
from objectstore.errors import InvalidKey, ObjectNotFound, ObjectStoreError
from objectstore.interface import DEFAULT_CHUNK_SIZE, LocalPath, ObjectStore
from objectstore.keys import validate_key, validate_prefix
from objectstore.models import DownloadResult, ObjectInfo

STAGING_DIRECTORY = ".objectstore-staging"
"""Directory under the root that holds uploads in progress; no key may start with it."""

_P = ParamSpec("_P")
_T = TypeVar("_T")


async def _in_thread(
    key: str, function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """Run blocking file work in a thread, reporting operating-system errors as store errors."""
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except OSError as exc:
        raise ObjectStoreError(f"filesystem operation on {key!r} failed: {exc}") from exc


class FilesystemObjectStore(ObjectStore):
    """Objects as files under ``root``: key ``a/b.tgz`` is the file ``root/a/b.tgz``.

    Uploads are written to a staging directory under the root and renamed into place, so a
    reader never sees half an object and a failed upload leaves nothing visible. Directories
    left empty by :meth:`delete` are removed. ``content_type`` is accepted and not kept;
    ``head`` and ``list`` report no etag. :meth:`presigned_get_url` returns a ``file://`` URL,
    which does not expire. Blocking file operations run in worker threads.
    """

    def __init__(self, root: LocalPath) -> None:
        """Use the directory ``root`` (made by :meth:`ensure_bucket` or the first upload)."""
        self.root = Path(root).resolve()
        self._staging = self.root / STAGING_DIRECTORY

    def path_for(self, key: str) -> Path:
        """The file that holds ``key``; raises :class:`InvalidKey` for keys outside the rules."""
        segments = validate_key(key)
        if segments[0] == STAGING_DIRECTORY:
            raise InvalidKey(key, f"{STAGING_DIRECTORY!r} is reserved")
        return self.root.joinpath(*segments)

    async def ensure_bucket(self) -> None:
        """Create the root directory when missing."""
        await _in_thread(str(self.root), self._staging.mkdir, parents=True, exist_ok=True)

    async def put_file(
        self, key: str, path: LocalPath, *, content_type: str | None = None
    ) -> ObjectInfo:
        """Copy the local file at ``path`` to ``key``; see :meth:`ObjectStore.put_file`."""
        target = self.path_for(key)
        # Opened outside _in_thread: a missing or unreadable source is the caller's OSError.
        source = await asyncio.to_thread(Path(path).open, "rb")
        try:
            return await _in_thread(key, self._copy_in, key, target, source)
        finally:
            source.close()

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str | None = None,
    ) -> ObjectInfo:
        """Write ``chunks`` to ``key``; see :meth:`ObjectStore.put_stream`."""
        target = self.path_for(key)
        writer = await _in_thread(key, AtomicFileWriter, target, temp_directory=self._staging)
        try:
            async for chunk in chunks:
                if chunk:
                    await _in_thread(key, writer.write, chunk)
            result = await _in_thread(key, writer.commit)
        except BaseException:
            # Synchronous on purpose: close and unlink are quick, and an await here could be
            # cancelled again before the temporary file is gone.
            writer.discard()
            raise
        return await _in_thread(key, self._stored_info, key, target, result)

    async def get_to_file(self, key: str, path: LocalPath) -> DownloadResult:
        """Copy ``key`` to the local file ``path``; see :meth:`ObjectStore.get_to_file`."""
        source = self.path_for(key)
        return await asyncio.to_thread(self._copy_out, key, source, Path(path))

    async def iter_chunks(
        self, key: str, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> AsyncGenerator[bytes, None]:
        """Yield the file's bytes; see :meth:`ObjectStore.iter_chunks`."""
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        source = self.path_for(key)
        try:
            handle = await asyncio.to_thread(source.open, "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise ObjectNotFound(key) from exc
        except OSError as exc:
            raise ObjectStoreError(f"cannot read {key!r}: {exc}") from exc
        try:
            while chunk := await _in_thread(key, handle.read, chunk_size):
                yield chunk
        finally:
            handle.close()

    async def head(self, key: str) -> ObjectInfo | None:
        """The file's size and modification time, or ``None`` when it does not exist."""
        path = self.path_for(key)
        return await _in_thread(key, self._info_or_none, key, path)

    async def list(self, prefix: str = "") -> builtins.list[ObjectInfo]:
        """Every file whose key starts with ``prefix``, sorted by key."""
        return await _in_thread(prefix, self._list, prefix)

    async def delete(self, key: str) -> None:
        """Remove the file and any directories the removal leaves empty."""
        path = self.path_for(key)
        await _in_thread(key, self._delete, path)

    async def presigned_get_url(self, key: str, expires_in: int) -> str:
        """The ``file://`` URL of the object's file (``expires_in`` is checked, not enforced)."""
        if expires_in <= 0:
            raise ValueError("expires_in must be a positive number of seconds")
        return self.path_for(key).as_uri()

    def _copy_in(self, key: str, target: Path, source: BinaryIO) -> ObjectInfo:
        writer = AtomicFileWriter(target, temp_directory=self._staging)
        try:
            while chunk := source.read(DEFAULT_CHUNK_SIZE):
                writer.write(chunk)
            result = writer.commit()
        except BaseException:
            writer.discard()
            raise
        return self._stored_info(key, target, result)

    def _copy_out(self, key: str, source: Path, destination: Path) -> DownloadResult:
        # Only reading the object counts as a store error; writing ``destination`` raises the
        # caller's OSError, as with the S3 store.
        try:
            handle = source.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise ObjectNotFound(key) from exc
        except OSError as exc:
            raise ObjectStoreError(f"cannot read {key!r}: {exc}") from exc
        with handle:
            writer = AtomicFileWriter(destination)
            try:
                while chunk := handle.read(DEFAULT_CHUNK_SIZE):
                    writer.write(chunk)
                return writer.commit()
            except BaseException:
                writer.discard()
                raise

    def _stored_info(self, key: str, target: Path, result: DownloadResult) -> ObjectInfo:
        modified = datetime.fromtimestamp(target.stat().st_mtime, tz=UTC)
        return ObjectInfo(key=key, size=result.size, last_modified=modified, sha256=result.sha256)

    def _info_or_none(self, key: str, path: Path) -> ObjectInfo | None:
        try:
            status = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not stat.S_ISREG(status.st_mode):
            return None
        return _info(key, status)

    def _list(self, prefix: str) -> builtins.list[ObjectInfo]:
        directory_segments = validate_prefix(prefix)
        if directory_segments[:1] == [STAGING_DIRECTORY]:
            return []
        start = self.root.joinpath(*directory_segments)
        found: builtins.list[ObjectInfo] = []
        for directory, subdirectories, filenames in os.walk(start):
            relative = Path(directory).relative_to(self.root).as_posix()
            key_base = "" if relative == "." else f"{relative}/"
            # Descend only into directories that can hold matching keys.
            subdirectories[:] = [
                name
                for name in subdirectories
                if _may_contain(f"{key_base}{name}/", prefix)
                and f"{key_base}{name}" != STAGING_DIRECTORY
            ]
            for name in filenames:
                key = f"{key_base}{name}"
                if not key.startswith(prefix):
                    continue
                try:
                    status = os.stat(os.path.join(directory, name))
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(status.st_mode):
                    found.append(_info(key, status))
        found.sort(key=lambda info: info.key)
        return found

    def _delete(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
            path.unlink()
        parent = path.parent
        while parent != self.root and parent.is_relative_to(self.root):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent


def _may_contain(directory_key: str, prefix: str) -> bool:
    return directory_key.startswith(prefix) or prefix.startswith(directory_key)


def _info(key: str, status: os.stat_result) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=status.st_size,
        last_modified=datetime.fromtimestamp(status.st_mtime, tz=UTC),
    )
